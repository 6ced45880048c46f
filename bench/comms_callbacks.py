"""Twilio status callbacks ingested per second on PostgreSQL: verified, stored, none lost.

    python -m bench.comms_callbacks [--messages 3000] [--connections 16]

Seeds a tenant with comms enabled and ``--messages`` sent texts (each with a Twilio SID),
starts gunicorn (``harness.GUNICORN_ARGS``: 2 workers x 4 threads, production profile,
PostgreSQL with row-level security, Redis), and posts every text's ``sent`` and
``delivered`` callbacks, shuffled (so they arrive out of order) plus 10 % repeats, each
signed with twilio's ``RequestValidator.compute_signature`` for the URL the server sees.
Then it counts what PostgreSQL holds: one callback row per (SID, status), every text
``delivered``. Writes ``bench/results/comms_callbacks.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import random
import time
import urllib.parse
from typing import Any

import sqlalchemy as sa

from bench.harness import RESULTS_DIR, BenchDatabase, CpuMeter, Server, Tally, machine, run_threads
from kernel.services import kernel_services

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token-" + "x" * 15
GOAL = 500.0


def seed(env: dict[str, str], messages: int) -> str:
    """Migrate, register a tenant, enable and configure comms, store ``messages`` sent texts."""
    from kernel import create_app, migrate
    from kernel.api import db, tenant_scope
    from plugins.comms.models import Message

    config = {k.removeprefix("PLUGBOARD_").lower(): v for k, v in env.items() if k.startswith("PLUGBOARD_")}
    app = create_app({**config, "log_level": "WARNING"})
    with app.app_context():
        migrate.upgrade(app)
    client = app.test_client()
    body = client.post(
        "/api/v1/auth/register",
        json={
            "email": "owner@comms.bench",
            "password": "bench password 123",
            "name": "Bench",
            "tenant_name": "Bench",
            "tenant_slug": "bench",
        },
    ).get_json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert (
        client.put("/api/v1/plugins/comms/activation", headers=headers, json={"enabled": True}).status_code
        == 200
    )
    resp = client.put(
        "/api/v1/plugins/comms/config",
        headers=headers,
        json={
            "twilio": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": "+15005550006"}
        },
    )
    assert resp.status_code == 200, resp.get_json()
    tenant_id = body["tenant"]["id"]
    with app.app_context(), tenant_scope(tenant_id):
        db.session.add_all(
            Message(
                direction="outbound",
                to_number="+263771234567",
                body="bench",
                status="queued",
                provider_sid=f"SM{n:032x}",
            )
            for n in range(messages)
        )
        db.session.commit()
    kernel_services(app).engine.dispose()
    return str(tenant_id)


def callbacks(base: str, tenant_id: str, messages: int, repeats: float) -> list[tuple[bytes, dict[str, str]]]:
    """Every text's sent and delivered callback, shuffled, plus repeats; signed for ``base``."""
    from twilio.request_validator import RequestValidator

    validator, path = RequestValidator(AUTH_TOKEN), f"/api/v1/webhooks/comms/twilio/{tenant_id}/status"
    forms = [
        {
            "MessageSid": f"SM{n:032x}",
            "MessageStatus": s,
            "AccountSid": ACCOUNT_SID,
            "To": "+263771234567",
            "From": "+15005550006",
            "ApiVersion": "2010-04-01",
        }
        for n in range(messages)
        for s in ("sent", "delivered")
    ]
    forms += random.sample(forms, int(len(forms) * repeats))
    random.shuffle(forms)
    return [
        (
            urllib.parse.urlencode(f).encode(),
            {
                "X-Twilio-Signature": validator.compute_signature(base + path, f),
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Path": path,
            },
        )
        for f in forms
    ]


def post_all(port: int, work: list[tuple[bytes, dict[str, str]]], connections: int) -> dict[str, Any]:
    todo: queue.SimpleQueue[tuple[bytes, dict[str, str]]] = queue.SimpleQueue()
    for item in work:
        todo.put(item)
    tally, started = Tally(), time.monotonic()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, errors = [], []
        while True:
            try:
                body, headers = todo.get_nowait()
            except queue.Empty:
                break
            headers = dict(headers)
            path = headers.pop("X-Path")
            start = time.monotonic()
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                conn.close()
                continue
            latencies.append(time.monotonic() - start)
            if status != 204:
                errors.append(f"{status}")
        conn.close()
        tally.add(latencies, errors)

    run_threads(client, connections)
    return tally.summary(time.monotonic() - started)


def stored(url: str, tenant_id: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('plugboard.tenant_id', :t, true)"), {"t": tenant_id})
        counts = {
            "callbacks": conn.scalar(sa.text("SELECT count(*) FROM comms_status_callbacks")),
            "delivered": conn.scalar(
                sa.text("SELECT count(*) FROM comms_messages WHERE status = 'delivered'")
            ),
            "events": conn.scalar(sa.text("SELECT count(*) FROM outbox_events")),
        }
    engine.dispose()
    return {k: int(v or 0) for k, v in counts.items()}


def run(messages: int, connections: int, repeats: float = 0.1) -> dict[str, Any]:
    database = BenchDatabase("plugboard_bench_comms")
    try:
        env = database.env()
        env["PLUGBOARD_LOG_LEVEL"] = "WARNING"
        tenant_id = seed(env, messages)
        server = Server("kernel:create_app()", env)
        try:
            server.wait_ready("/health", {})
            work = callbacks(server.url, tenant_id, messages, repeats)
            meter = CpuMeter(server)
            result = post_all(server.port, work, connections)
            result["cpu_seconds"] = meter.spent()
        finally:
            server.stop()
        counts = stored(database.url, tenant_id)
    finally:
        database.drop()
    unique = messages * 2
    return {
        "machine": machine(),
        "messages": messages,
        "callbacks_posted": len(work),
        "unique_callbacks": unique,
        "connections": connections,
        **result,
        **counts,
        "lost": unique - counts["callbacks"],
        "not_delivered": messages - counts["delivered"],
        "goal_rps": GOAL,
        "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.comms_callbacks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    out = run(args.messages, args.connections)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "comms_callbacks.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(
        json.dumps(
            {
                k: out[k]
                for k in (
                    "rps",
                    "requests",
                    "p50_ms",
                    "p99_ms",
                    "errors",
                    "lost",
                    "not_delivered",
                    "callbacks",
                    "events",
                )
            },
            indent=2,
        )
    )
    return 0 if out["lost"] == 0 and out["errors"] == 0 and out["not_delivered"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
