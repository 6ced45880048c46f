"""Ticketing under load: orders placed per second by 200 concurrent buyers, and the public
event page against a bare Flask app.

    python -m bench.ticketing [--duration 20] [--buyers 200] [--rounds 3] [--connections 32]

Set-up: a throw-away PostgreSQL database and Redis namespace (``bench.harness``), the
production profile, ``kernel:create_app()`` under ``bench.harness.GUNICORN_ARGS``. A tenant
``bench`` enables ticketing and publishes one event with two free ticket types sharing one
quota (free: an order is paid at once, so every order does the whole path: customer,
quota lock, order, tickets, outbox events, the confirmation job enqueued, the audit row).

* **orders**: ``--buyers`` client threads (keep-alive connections) each POST
  ``/api/v1/public/ticketing/orders`` (one ticket, a new buyer e-mail each time) in a loop
  for ``--duration`` s: orders/s, p50/p99 latency, errors (anything but 201). Every order
  contends for the same quota row: the worst case for the lock.
* **oversell**: the quota is then resized to what is sold plus 50 and ``--buyers`` buyers
  POST once each, released together: exactly 50 must get 201, the rest 409 ``sold-out``;
  and the tickets in the database must equal the 201s of both phases (0 oversold).
* **event page**: ``GET /api/v1/public/ticketing/events/<slug>`` with ``X-Tenant`` (warm:
  the kernel's public edge answers from the in-process cache) against
  ``bench.ticketing:bare_app()`` serving the same bytes; ``--rounds`` rounds rotating the
  order, the ratio is the median of the per-round ratios (goal ≥ 0.85).

Results: a table on stdout and ``bench/results/ticketing.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from flask import Flask, Response

from bench.harness import (
    GUNICORN_ARGS,
    RESULTS_DIR,
    BenchDatabase,
    CpuMeter,
    Server,
    Tally,
    machine,
    python_load,
)

TENANT = "bench"
SLUG = "bench-night"
EVENT_PATH = f"/api/v1/public/ticketing/events/{SLUG}"
ORDERS_PATH = "/api/v1/public/ticketing/orders"
RESULTS = RESULTS_DIR / "ticketing.json"
TARGETS = {"orders_per_second": 300, "event_page_ratio": 0.85}


def bare_app() -> Flask:
    """The baseline: the event page's exact bytes from a bare Flask route."""
    body = Path(os.environ["PLUGBOARD_BENCH_BODY"]).read_bytes()
    flask_app = Flask("bare")

    @flask_app.get("/api/v1/public/ticketing/events/<slug>")
    def event(slug: str) -> Response:
        return Response(body, mimetype="application/json")

    return flask_app


# -- set-up ----------------------------------------------------------------------------------


def seed(env: dict[str, str]) -> dict[str, Any]:
    """Migrate, register ``bench``, enable ticketing, publish an event; the ids and page bytes."""
    from kernel import create_app
    from kernel.data import migrate
    from kernel.services import kernel_services

    config = {k.removeprefix("PLUGBOARD_").lower(): v for k, v in env.items() if k.startswith("PLUGBOARD_")}
    flask_app = create_app({**config, "log_level": "WARNING"})
    with flask_app.app_context():
        migrate.upgrade(flask_app)
    client = flask_app.test_client()
    body = _ok(client.post("/api/v1/auth/register", json={
        "email": "owner@bench.example", "password": "bench password 123", "name": "Bench",
        "tenant_name": "Bench", "tenant_slug": TENANT}), 201)
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    _ok(client.put("/api/v1/plugins/ticketing/activation", headers=auth, json={"enabled": True}), 200)
    start = time.time() + 30 * 86400
    event = _ok(client.post("/api/v1/ticketing/events", headers=auth, json={
        "title": "Bench Night", "slug": SLUG, "venue": "Loopback Hall", "timezone": "UTC",
        "starts_at": _iso(start), "ends_at": _iso(start + 4 * 3600)}), 201)
    types = [_ok(client.post(f"/api/v1/ticketing/events/{event['id']}/ticket-types", headers=auth, json={
        "name": name, "price": {"amount": 0, "currency": "EUR"}, "max_per_order": 4}), 201)
        for name in ("Floor", "Balcony")]
    quota = _ok(client.post(f"/api/v1/ticketing/events/{event['id']}/quotas", headers=auth, json={
        "name": "Hall", "size": 1_000_000, "ticket_types": [t["id"] for t in types]}), 201)
    _ok(client.post(f"/api/v1/ticketing/events/{event['id']}/publish", headers=auth), 200)
    page = client.get(EVENT_PATH, headers={"X-Tenant": TENANT})
    assert page.status_code == 200, page.get_data()
    kernel_services(flask_app).engine.dispose()
    return {"auth": auth, "event": event["id"], "types": [t["id"] for t in types],
            "quota": quota["id"], "page": page.get_data(), "config": config}


def _iso(ts: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def _ok(resp: Any, status: int) -> Any:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
    return resp.get_json()


# -- load ------------------------------------------------------------------------------------


def _order_body(types: list[str], buyer: str) -> bytes:
    return json.dumps({"event": SLUG, "email": f"{buyer}@buyers.example", "name": "Bench Buyer",
                       "items": [{"ticket_type": types[hash(buyer) % 2], "quantity": 1}]}).encode()


def orders_load(port: int, types: list[str], duration: float, buyers: int) -> dict[str, Any]:
    """``buyers`` threads POSTing orders for ``duration`` s on keep-alive connections."""
    headers = {"Content-Type": "application/json", "X-Tenant": TENANT}
    tally, created = Tally(), [0]
    lock, barrier = threading.Lock(), threading.Barrier(buyers)
    stop: list[float] = []

    def buyer(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies: list[float] = []
        errors: list[str] = []
        done = 0
        if barrier.wait() == 0:
            stop.append(time.monotonic() + duration)
        while not stop:
            time.sleep(0.001)
        while (began := time.monotonic()) < stop[0]:
            try:
                conn.request("POST", ORDERS_PATH, body=_order_body(types, f"b{n}-{done}"), headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                conn.close()
                continue
            latencies.append(time.monotonic() - began)
            done += 1
            if resp.status != 201:
                errors.append(f"POST: {resp.status}")
        conn.close()
        with lock:
            created[0] += done - sum(1 for e in errors if e.startswith("POST"))
        tally.add(latencies, errors)

    threads = [threading.Thread(target=buyer, args=(n,), daemon=True) for n in range(buyers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    summary = tally.summary(duration)
    summary["created"] = created[0]
    return summary


def oversell_burst(port: int, types: list[str], buyers: int) -> dict[str, int]:
    """``buyers`` single orders released together for the quota's last 50 seats."""
    barrier, statuses, lock = threading.Barrier(buyers), [], threading.Lock()

    def buyer(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        conn.request("POST", ORDERS_PATH, body=_order_body(types, f"last{n}-{uuid.uuid4().hex[:6]}"),
                     headers={"Content-Type": "application/json", "X-Tenant": TENANT})
        status = conn.getresponse().status
        conn.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=buyer, args=(n,), daemon=True) for n in range(buyers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {str(s): statuses.count(s) for s in sorted(set(statuses))}


def _database_counts(config: dict[str, Any], quota: str, size: int | None = None) -> int:
    """Tickets holding seats of the quota; with ``size``, resize the quota first."""
    import sqlalchemy as sa

    from kernel import create_app
    from kernel.services import kernel_services
    from kernel.tenancy.scope import platform_scope
    from plugins.ticketing import capacity
    from plugins.ticketing.models import Quota

    flask_app = create_app({**config, "log_level": "WARNING"})
    with flask_app.app_context(), platform_scope():
        from kernel.api import db

        quota_id = uuid.UUID(quota)
        held = capacity.used([quota_id])[quota_id]
        if size is not None:
            db.session.execute(sa.update(Quota).where(Quota.id == quota_id).values(size=held + size))
            db.session.commit()
    kernel_services(flask_app).engine.dispose()
    return held


# -- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    db = BenchDatabase("plugboard_bench_ticketing")
    servers: dict[str, Server] = {}
    try:
        seeded = seed(db.env())
        body_file = f"{db.data_dir}/event-body.json"
        Path(body_file).write_bytes(seeded["page"])
        env = {**db.env(), "PLUGBOARD_BENCH_BODY": body_file}
        servers["ticketing"] = Server("kernel:create_app()", env)
        servers["bare"] = Server("bench.ticketing:bare_app()", env)
        for server in servers.values():
            server.wait_ready(EVENT_PATH, {"X-Tenant": TENANT})
        app_server = servers["ticketing"]
        python_load(app_server.url + ORDERS_PATH.replace("orders", "events"), {"X-Tenant": TENANT}, 2, 4)
        meter = CpuMeter(app_server)
        orders = orders_load(app_server.port, seeded["types"], args.duration, args.buyers)
        cpu = meter.spent()
        orders["cpu_ms_per_order"] = {k: v * 1000 / max(1, orders["requests"]) for k, v in cpu.items()}
        held_before = _database_counts(seeded["config"], seeded["quota"], size=50)
        burst = oversell_burst(app_server.port, seeded["types"], args.buyers)
        held_after = _database_counts(seeded["config"], seeded["quota"])
        oversell = {"burst": burst, "tickets_before_burst": held_before, "tickets_after": held_after,
                    "created_in_load": orders["created"],
                    "oversold": held_after - held_before - 50 if burst.get("201", 0) == 50 else None}
        pages = _page_rounds(servers, args)
        return {"machine": machine(), "gunicorn": list(GUNICORN_ARGS), "args": vars(args),
                "orders": orders, "oversell": oversell, "event_page": pages, "targets": TARGETS}
    finally:
        for server in servers.values():
            server.stop()
        db.drop()


def _page_rounds(servers: dict[str, Server], args: argparse.Namespace) -> dict[str, Any]:
    names = ["ticketing", "bare"]
    rounds: list[dict[str, Any]] = []
    for n in range(args.rounds):
        order = names if n % 2 == 0 else list(reversed(names))
        result = {}
        for name in order:
            url = servers[name].url + EVENT_PATH
            python_load(url, {"X-Tenant": TENANT}, 2, args.connections)  # warm-up
            result[name] = python_load(url, {"X-Tenant": TENANT}, args.page_duration, args.connections)
        rounds.append(result)
    ratios = [r["ticketing"]["rps"] / r["bare"]["rps"] for r in rounds]
    return {"rounds": rounds, "ratio": statistics.median(ratios),
            "ticketing_rps": statistics.median(r["ticketing"]["rps"] for r in rounds),
            "bare_rps": statistics.median(r["bare"]["rps"] for r in rounds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--page-duration", type=float, default=10)
    args = parser.parse_args()
    result = run(args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str))
    o, s, p = result["orders"], result["oversell"], result["event_page"]
    print(f"orders: {o['rps']:.0f}/s (goal ≥ {TARGETS['orders_per_second']}), p50 {o['p50_ms']:.1f} ms, "
          f"p99 {o['p99_ms']:.1f} ms, errors {o['errors']} {o.get('error_samples', [])[:3]}")
    print(f"  CPU per order (ms): {o['cpu_ms_per_order']}")
    print(f"oversell burst: {s['burst']}, oversold: {s['oversold']}")
    print(f"event page: ticketing {p['ticketing_rps']:.0f} req/s, bare {p['bare_rps']:.0f} req/s, "
          f"ratio {p['ratio']:.3f} (goal ≥ {TARGETS['event_page_ratio']})")


if __name__ == "__main__":
    main()
