"""Signed Stripe webhooks processed end to end per second (PostgreSQL, Redis, rq workers).

    python -m bench.payments_webhooks [--payments 6000] [--connections 16] [--workers 2]

End to end means: the webhook is verified (the SDK's ``construct_event``, HMAC-SHA256),
deduplicated and stored, the payment settled, ``payments.payment.succeeded`` written to
the outbox, dispatched and delivered by an rq worker to a handler (``benchpay``'s, which
counts each delivery per payment in a Redis hash). The clock runs from the first webhook
sent to the last handler call; the webhooks are signed before it starts.

Checks: every payment is settled, every handler count is exactly 1 (0 lost, 0 duplicated),
and a second delivery of 5% of the webhooks changes nothing. Everything runs on this
machine: gunicorn with ``bench.harness.GUNICORN_ARGS``, ``--workers`` rq worker processes,
PostgreSQL, Redis and the load generator share its CPUs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

from flask import Flask

from bench.harness import (
    GUNICORN_ARGS,
    RESULTS_DIR,
    ROOT,
    BenchDatabase,
    CpuMeter,
    Server,
    machine,
    run_threads,
)
from kernel.services import kernel_services

WEBHOOK_SECRET = "whsec_bench_" + "b" * 24
HANDLED = "benchpay:handled"


def app(**overrides: Any) -> Flask:
    """The deployed app plus ``benchpay`` (a payable plugin with a counting handler)."""
    from bench import benchpay
    from kernel import create_app

    return create_app({"extra_plugins": [benchpay], **overrides})


def _config(env: dict[str, str]) -> dict[str, Any]:
    return {k.removeprefix("PLUGBOARD_").lower(): v for k, v in env.items() if k.startswith("PLUGBOARD_")}


def seed(env: dict[str, str], count: int) -> str:
    """Migrate, register the tenant, enable payments, configure Stripe, add ``count``
    pending payments (rows as ``POST /api/v1/payments`` leaves them). Returns the tenant id."""
    from kernel.data import migrate

    flask_app = app(**{**_config(env), "log_level": "WARNING"})
    with flask_app.app_context():
        migrate.upgrade(flask_app)
    client = flask_app.test_client()
    resp = client.post("/api/v1/auth/register", json={
        "email": "owner@bench.example", "password": "bench password 123", "name": "Bench",
        "tenant_name": "Bench", "tenant_slug": "bench"})
    assert resp.status_code == 201, resp.get_json()
    headers = {"Authorization": f"Bearer {resp.get_json()['access_token']}"}
    tenant_id = resp.get_json()["tenant"]["id"]
    for name in ("payments", "benchpay"):
        assert client.put(f"/api/v1/plugins/{name}/activation", headers=headers,
                          json={"enabled": True}).status_code == 200
    assert client.put("/api/v1/plugins/payments/config", headers=headers, json={"stripe": {
        "secret_key": "sk_test_bench", "webhook_secret": WEBHOOK_SECRET}}).status_code == 200
    _insert_payments(flask_app, uuid.UUID(tenant_id), count)
    kernel_services(flask_app).engine.dispose()
    return tenant_id


def _insert_payments(flask_app: Flask, tenant_id: uuid.UUID, count: int) -> None:
    from kernel.api import db, tenant_scope
    from plugins.payments.models import Payment

    with flask_app.app_context(), tenant_scope(tenant_id):
        db.session.add_all([Payment(tenant_id=tenant_id, kind="benchpay.order", ref=str(i),
                                    provider="stripe", provider_ref=f"pi_bench_{i:08d}", amount=1000,
                                    currency="USD", status="pending", account="tenant")
                            for i in range(count)])
        db.session.commit()


def webhook(i: int) -> tuple[bytes, str]:
    """A signed ``payment_intent.succeeded`` for payment ``i`` (Stripe's real scheme)."""
    from stripe import WebhookSignature

    body = json.dumps({
        "id": f"evt_bench_{i:08d}", "object": "event", "type": "payment_intent.succeeded",
        "created": int(time.time()), "livemode": False,
        "data": {"object": {"id": f"pi_bench_{i:08d}", "object": "payment_intent", "amount": 1000,
                            "amount_received": 1000, "currency": "usd", "status": "succeeded"}}})
    return body.encode(), WebhookSignature.generate_signature_header(body, WEBHOOK_SECRET)


def send(port: int, path: str, bodies: list[tuple[bytes, str]], connections: int) -> dict[str, Any]:
    """POST every body once, from ``connections`` keep-alive clients."""
    queue = list(reversed(bodies))
    statuses: dict[int, int] = {}
    errors: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            try:
                body, signature = queue.pop()
            except IndexError:
                break
            try:
                conn.request("POST", path, body=body, headers={
                    "Content-Type": "application/json", "Stripe-Signature": signature})
                resp = conn.getresponse()
                resp.read()
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                conn.close()
                queue.append((body, signature))  # retried, as Stripe would
        conn.close()

    run_threads(client, connections)
    return {"statuses": statuses, "errors": len(errors)}


def start_workers(env: dict[str, str], count: int, log: Any) -> list[subprocess.Popen[bytes]]:
    """``count`` worker processes (each an rq SimpleWorker on every queue), output to ``log``."""
    return [subprocess.Popen([sys.executable, "-m", "bench.payments_webhooks", "worker"],
                             cwd=ROOT, env=env, stdout=log, stderr=log)
            for _ in range(count)]


def wait_for_workers(env: dict[str, str], count: int, procs: list[subprocess.Popen[bytes]],
                     timeout: float = 120) -> None:
    """Block until ``count`` workers listen on this run's queues (booting the app takes
    seconds: the clock must not count it as delivery time)."""
    import redis
    from rq import Worker

    client = redis.Redis.from_url(env["PLUGBOARD_REDIS_URL"])
    prefix = f"{env['PLUGBOARD_REDIS_NAMESPACE']}:"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = [w for w in Worker.all(connection=client)
                 if any(q.startswith(prefix) for q in w.queue_names())]
        if len(ready) >= count:
            return
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError("an rq worker exited while starting")
        time.sleep(0.1)
    raise RuntimeError(f"{count} rq workers did not start within {timeout} s")


def worker_main() -> None:
    from kernel.runtime.jobs import make_worker

    flask_app = app()
    with flask_app.app_context():
        make_worker(flask_app).work(with_scheduler=False, logging_level="WARNING")


def handled(env: dict[str, str]) -> dict[bytes, bytes]:
    import redis

    client = redis.Redis.from_url(env["PLUGBOARD_REDIS_URL"])
    return client.hgetall(f"{env['PLUGBOARD_REDIS_NAMESPACE']}:{HANDLED}")


def run(count: int, connections: int, workers: int, timeout: float) -> dict[str, Any]:
    database = BenchDatabase("plugboard_bench_pay")
    env = database.env()
    procs: list[subprocess.Popen[bytes]] = []
    server = None
    worker_log = tempfile.TemporaryFile()  # noqa: SIM115 - read back on failure
    try:
        tenant_id = seed(env, count)
        server = Server("bench.payments_webhooks:app()", env)
        server.wait_ready("/health", {})
        procs = start_workers(env, workers, worker_log)
        wait_for_workers(env, workers, procs)
        path = f"/api/v1/webhooks/payments/stripe/{tenant_id}"
        bodies = [webhook(i) for i in range(count)]
        meter = CpuMeter(server)
        started = time.monotonic()
        sent = send(server.port, path, bodies, connections)
        http_done = time.monotonic() - started
        while len(handled(env)) < count and time.monotonic() - started < timeout:
            time.sleep(0.05)
        total = time.monotonic() - started
        cpu = meter.spent()
        counts = handled(env)
        if len(counts) < count:
            worker_log.seek(0)
            print(worker_log.read().decode(errors="replace")[-3000:], file=sys.stderr)
        replay = send(server.port, path, bodies[: count // 20], connections)
        time.sleep(2)
        after_replay = handled(env)
        return {
            "payments": count, "connections": connections, "rq_workers": workers,
            "gunicorn": list(GUNICORN_ARGS), "http_seconds": round(http_done, 2),
            "webhooks_per_second_http": round(count / http_done, 1),
            "end_to_end_seconds": round(total, 2), "end_to_end_per_second": round(len(counts) / total, 1),
            "statuses": sent["statuses"], "client_errors_retried": sent["errors"],
            "handled_payments": len(counts), "lost": count - len(counts),
            "duplicated": sum(int(v) - 1 for v in after_replay.values() if int(v) > 1),
            "replayed": count // 20, "replay_statuses": replay["statuses"],
            "cpu_seconds": {k: round(v, 1) for k, v in cpu.items()}, "machine": machine(),
        }
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        if server is not None:
            server.stop()
        database.drop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="bench", choices=("bench", "worker"))
    parser.add_argument("--payments", type=int, default=6000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    if args.mode == "worker":
        worker_main()
        return
    result = run(args.payments, args.connections, args.workers, args.timeout)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "payments_webhooks.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    if result["lost"] or result["duplicated"]:
        sys.exit(1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
