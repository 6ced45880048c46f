"""Billing benchmarks on PostgreSQL: usage ingestion and the monthly invoice run.

    python -m bench.billing [--events 200000] [--tenants 100,1000,3000]

* ``ingest``: batches of 1,000 usage events, a tenth of each batch repeating
  ``transaction_id``s already stored (duplicates included), (a) through the service
  (``services.usage.ingest`` + commit: the multi-row ``INSERT … ON CONFLICT DO NOTHING``)
  and (b) through the HTTP route in process (Flask test client: JSON, the API key, the
  kernel's gate, marshmallow validation of every event, the insert, the commit).
* ``monthly``: N tenants on a plan with a fee and a metered charge, 20 usage events each;
  the invoice job (``billing.generate_invoices`` through the kernel's job wrapper: build,
  finalise with a locked counter, the outbox event, commit) timed per tenant for growing
  N. Delivery (PDF, mail) is a separate queued job (Redis), timed on its own for a sample.

Needs the local PostgreSQL (``PLUGBOARD_BENCH_PG``, default the suite's). A fresh
database is made and dropped. Results: stdout and ``bench/results/billing.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from kernel.services import kernel_services

PG = os.environ.get("PLUGBOARD_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("PLUGBOARD_BENCH_REDIS", "redis://127.0.0.1:6379/0")
RESULTS = Path(__file__).resolve().parent / "results"
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def _database() -> tuple[str, Any]:
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    name = f"plugboard_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return sa.make_url(PG).set(database=name).render_as_string(False), (admin, name)


def _drop(handle: Any) -> None:
    admin, name = handle
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _app(url: str, tmp: str) -> Flask:
    """The production shape: PostgreSQL, and Redis so follow-up jobs (PDF, mail, event
    dispatch) are queued for workers instead of running inline inside the timed run."""
    from kernel import create_app, migrate

    app = create_app({"env": "test", "database_url": url, "data_dir": tmp, "log_level": "WARNING",
                      "secret_key": "bench-secret-" + "x" * 40, "redis_url": REDIS,
                      "redis_namespace": f"pbbench-{uuid.uuid4().hex[:8]}"})
    with app.app_context():
        migrate.upgrade(app)
    return app


def _tenants(app: Flask, count: int, plan_code: str | None) -> list[uuid.UUID]:
    """``count`` tenants with billing on (rows written directly: this times billing, not signup)."""
    from kernel.api import db, platform_scope
    from kernel.data.models import Tenant
    from kernel.registry.activation import PluginActivation
    from plugins.billing.models import Account, Plan, Subscription

    ids = []
    with app.app_context(), platform_scope():
        plan = db.session.scalars(sa.select(Plan).where(Plan.code == plan_code)).one() if plan_code else None
        for _ in range(count):
            tenant = Tenant(slug=f"b-{uuid.uuid4().hex[:10]}", name="Bench", settings={})
            db.session.add(tenant)
            db.session.flush()
            db.session.add(PluginActivation(tenant_id=tenant.id, plugin="billing", enabled=True, config={}))
            db.session.add(Account(tenant_id=tenant.id, currency="EUR", email=None))
            if plan:
                db.session.add(Subscription(tenant_id=tenant.id, plan_id=plan.id,
                                            starts_at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC)))
            ids.append(tenant.id)
        db.session.commit()
    return ids


def _batches(events: int, size: int = 1000, repeat: float = 0.1) -> list[list[dict[str, Any]]]:
    out, seq = [], 0
    for b in range(events // size):
        batch = []
        for i in range(size):
            # the first tenth of every batch after the first repeats the previous batch's
            tx = f"tx-{(b - 1) * size + i}" if b and i < size * repeat else f"tx-{seq}"
            seq += 1
            batch.append({"transaction_id": tx, "metric": "api_calls",
                          "timestamp": (NOW - dt.timedelta(seconds=i)).isoformat(),
                          "properties": {"endpoint": "/v1/things", "ms": i % 97}})
        out.append(batch)
    return out


def bench_ingest(app: Flask, events: int) -> dict[str, Any]:
    import time_machine

    from kernel.api import db, tenant_scope
    from plugins.billing.schemas import BillingUsageBatchSchema
    from plugins.billing.services import usage

    [service_tenant, http_tenant] = _tenants(app, 2, None)
    batches = _batches(events)
    out: dict[str, Any] = {"events": events, "batch": 1000, "duplicates_per_batch": 100}
    with time_machine.travel(NOW, tick=True), app.app_context(), tenant_scope(service_tenant):
        loaded = [BillingUsageBatchSchema().load({"events": b})["events"] for b in batches]
        start = time.perf_counter()
        for batch in loaded:
            usage.ingest(service_tenant, batch, NOW)
            db.session.commit()
        took = time.perf_counter() - start
    out["service_events_per_s"] = round(events / took)
    out["http_events_per_s"] = _http(app, http_tenant, batches)
    return out


def _http(app: Flask, tenant: uuid.UUID, batches: list[list[dict[str, Any]]]) -> int:
    """The same batches through ``POST /api/v1/billing/usage/events`` with an API key."""
    import time_machine

    from kernel.api import db, tenant_scope
    from kernel.data.models import ApiKey
    from kernel.identity.credentials import new_api_key

    with app.app_context(), tenant_scope(tenant):
        key, prefix, digest = new_api_key()
        db.session.add(ApiKey(name="bench", prefix=prefix, key_hash=digest, role="manager"))
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    bodies = [json.dumps({"events": b}) for b in batches]
    with time_machine.travel(NOW, tick=True):
        start = time.perf_counter()
        for body in bodies:
            resp = client.post("/api/v1/billing/usage/events", data=body, headers=headers,
                               content_type="application/json")
            assert resp.status_code == 200, resp.get_data(as_text=True)
        took = time.perf_counter() - start
    return round(len(batches) * 1000 / took)


def bench_monthly(app: Flask, sizes: list[int]) -> list[dict[str, Any]]:
    from kernel.api import db, platform_scope
    from kernel.runtime.jobs import execute
    from plugins.billing.models import UsageEvent
    from plugins.billing.services import plans

    with app.app_context():
        plans.create_plan({"code": "bench", "name": "Bench", "currency": "EUR",
                           "fees": [{"name": "Platform", "amount": 2900, "interval": "month"}],
                           "charges": [{"metric": "api_calls", "aggregation": "count", "model": "graduated",
                                        "tiers": [{"up_to": 10, "unit_amount": 0},
                                                  {"up_to": None, "unit_amount": "0.5"}]}]})
        db.session.commit()
    results, made = [], 0
    for size in sizes:
        tenants = _tenants(app, size - made, "bench")
        with app.app_context(), platform_scope():
            for tenant in tenants:
                db.session.add_all(UsageEvent(tenant_id=tenant, transaction_id=f"m{n}", metric="api_calls",
                                              timestamp=dt.datetime(2026, 10, 2, n, tzinfo=dt.UTC))
                                   for n in range(20))
            db.session.commit()
        made = size
        period = "2026-10"
        with app.app_context():
            from sqlalchemy import delete

            from plugins.billing.models import Counter, Invoice

            with platform_scope():
                db.session.execute(delete(Invoice))
                db.session.execute(delete(Counter))
                db.session.commit()
            ids = list(_all_tenants(app))
            start = time.perf_counter()
            for tenant in ids:
                execute("billing.generate_invoices", str(tenant), {"period": period},
                        f"bench:{size}:{tenant}")
            took = time.perf_counter() - start
        results.append({"tenants": len(ids), "seconds": round(took, 2),
                        "ms_per_tenant": round(took * 1000 / len(ids), 2)})
        print(results[-1], flush=True)
    return results


def _all_tenants(app: Flask) -> list[uuid.UUID]:
    from kernel.api import db, platform_scope
    from plugins.billing.models import Subscription

    with platform_scope():
        return list(db.session.scalars(sa.select(Subscription.tenant_id).order_by(Subscription.tenant_id)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--tenants", default="100,1000,3000")
    parser.add_argument("--only", default="ingest,monthly")
    args = parser.parse_args()
    url, handle = _database()
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = _app(url, tmp)
            results: dict[str, Any] = {"machine_cpus": os.cpu_count()}
            if "ingest" in args.only:
                results["ingest"] = bench_ingest(app, args.events)
                print(results["ingest"], flush=True)
            if "monthly" in args.only:
                results["monthly"] = bench_monthly(app, [int(n) for n in args.tenants.split(",")])
            kernel_services(app).engine.dispose()
    finally:
        _drop(handle)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "billing.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
