"""Domain events: outbox in the caller's transaction, exactly-once effects, parking, crashes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data.base import utcnow
from kernel.data.session import db
from kernel.runtime.events import EventDelivery, OutboxEvent, emit
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope, tenant_scope
from tests.helpers import Account, Api, assert_problem
from tests.kernel.test_jobs import work
from tests.testplugins import others
from tests.testplugins.full import plugin as full
from tests.testplugins.full.models import FullNote

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(plugin_app: Callable[..., Flask]) -> dict[str, Any]:
    app = plugin_app(full, others.Ledger())
    api = Api(app.test_client(), app)
    alpha, bravo = api.register("alpha"), api.register("bravo")
    admin = api.make_admin()
    for name in ("full", "ledger"):
        api.put(f"/api/v1/admin/tenants/{alpha.tenant_id}/plugins/{name}", admin, json={"enabled": True})
    api.put("/api/v1/plugins/full/activation", bravo, json={"enabled": True})
    return {"app": app, "api": api, "alpha": alpha, "bravo": bravo, "admin": admin}


def fire(app: Flask, account: Account, commit: bool = True, **payload: Any) -> uuid.UUID:
    with app.app_context():
        event_id = emit(uuid.UUID(account.tenant_id), "payments.payment.succeeded", payload)
        if commit:
            db.session.commit()
        else:
            db.session.rollback()
    return event_id


def dispatch(app: Flask) -> None:
    with app.app_context():
        kernel_services(app).jobs.submit("kernel.dispatch_events", None, None, {})


def notes(app: Flask, account: Account) -> list[str]:
    with app.app_context(), tenant_scope(uuid.UUID(account.tenant_id)):
        return sorted(db.session.scalars(sa.select(FullNote.text)))


def deliveries(app: Flask) -> list[tuple[str, str, int]]:
    with app.app_context(), platform_scope():
        rows = db.session.scalars(sa.select(EventDelivery).order_by(EventDelivery.handler))
        return [(r.handler, r.status, r.attempts) for r in rows]


def test_each_handler_applies_an_event_exactly_once_even_when_dispatched_twice(
    world: dict[str, Any],
) -> None:
    app, alpha = world["app"], world["alpha"]
    event_id = fire(app, alpha, amount=1200)
    dispatch(app)
    dispatch(app)
    work(app)
    dispatch(app)
    work(app)
    assert notes(app, alpha) == sorted([f"full:{event_id}", f"ledger:{event_id}"])
    assert deliveries(app) == [("full.on_payment", "delivered", 1), ("ledger.record", "delivered", 1)]


def test_only_plugins_enabled_for_the_tenant_receive_the_event(world: dict[str, Any]) -> None:
    app, bravo = world["app"], world["bravo"]
    event_id = fire(app, bravo, amount=5)
    work(app)
    assert notes(app, bravo) == [f"full:{event_id}"]
    assert [d[0] for d in deliveries(app)] == ["full.on_payment"]


def test_a_rolled_back_emit_sends_nothing(world: dict[str, Any]) -> None:
    app, alpha = world["app"], world["alpha"]
    fire(app, alpha, commit=False, amount=1)
    dispatch(app)
    work(app)
    with app.app_context(), platform_scope():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 0
    assert notes(app, alpha) == []


def test_failing_deliveries_are_retried_then_parked_and_admins_can_retry(world: dict[str, Any]) -> None:
    app, api, alpha, admin = world["app"], world["api"], world["alpha"], world["admin"]
    fire(app, alpha, explode=True)
    work(app)
    for _ in range(6):  # make each back-off due now, then sweep
        with app.app_context(), platform_scope():
            db.session.execute(sa.update(EventDelivery).values(next_attempt_at=utcnow()))
            db.session.commit()
        dispatch(app)
        work(app)
    assert ("ledger.record", "parked", 5) in deliveries(app)
    assert ("full.on_payment", "delivered", 1) in deliveries(app)
    parked = api.get("/api/v1/admin/events/deliveries?status=parked", admin).get_json()
    assert [p["handler"] for p in parked] == ["ledger.record"] and "ledger is down" in parked[0]["last_error"]
    resp = api.post(f"/api/v1/admin/events/deliveries/{parked[0]['id']}/retry", admin)
    assert resp.status_code == 202 and resp.get_json()["status"] == "pending"
    assert_problem(api.post(f"/api/v1/admin/events/deliveries/{uuid.uuid4()}/retry", admin), 404)
    assert_problem(api.get("/api/v1/admin/events/deliveries", alpha), 403)


WORKER = """
import json, sys
from kernel import create_app
from kernel.runtime.jobs import make_worker
from tests.testplugins import others
from tests.testplugins.full import plugin as full

config = json.loads(sys.argv[1])
app = create_app({**config, "extra_plugins": [full, others.Ledger()], "load_builtin_plugins": False,
                  "load_entry_points": False})
with app.app_context():
    make_worker(app).work(burst=False, with_scheduler=True)
"""


@pytest.mark.postgres_only
def test_a_worker_killed_mid_delivery_loses_nothing(world: dict[str, Any], tmp_path: Path) -> None:
    app, alpha = world["app"], world["alpha"]
    marker = tmp_path / "ledger-started"
    event_id = fire(app, alpha, block_once=str(marker))
    settings = {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(kernel_services(app).settings).items()}
    # its own process group: rq's scheduler runs in a child process that must die too
    with subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(settings)], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          start_new_session=True) as worker:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the worker never reached the ledger handler"
        os.killpg(worker.pid, signal.SIGKILL)  # mid-delivery, its transaction open
        worker.wait()
    assert ("ledger.record", "pending", 0) in deliveries(app)
    with app.app_context(), platform_scope():  # its lease (LEASE seconds) has run out
        db.session.execute(sa.update(EventDelivery).values(next_attempt_at=utcnow()))
        db.session.commit()
    dispatch(app)  # the periodic sweep re-enqueues what is still pending
    work(app)
    assert notes(app, alpha) == sorted([f"full:{event_id}", f"ledger:{event_id}"])
    assert deliveries(app) == [("full.on_payment", "delivered", 1), ("ledger.record", "delivered", 1)]


def test_deliveries_go_out_in_batches_and_one_failure_does_not_stop_its_batch(
        world: dict[str, Any]) -> None:
    from kernel.runtime import events as events_module
    from tests.kernel.test_jobs import runs

    app, alpha = world["app"], world["alpha"]
    with app.app_context():  # emitted together, dispatched by one run
        ids = [emit(uuid.UUID(alpha.tenant_id), "payments.payment.succeeded",
                    {"n": n, "explode": n == 7}) for n in range(30)]
        db.session.commit()
    dispatch(app)
    work(app)
    expected = {f"full:{i}" for i in ids} | {f"ledger:{i}" for n, i in enumerate(ids) if n != 7}
    assert set(notes(app, alpha)) == expected and len(notes(app, alpha)) == len(expected)
    rows = deliveries(app)
    assert rows.count(("full.on_payment", "delivered", 1)) == 30
    assert rows.count(("ledger.record", "delivered", 1)) == 29
    assert ("ledger.record", "pending", 1) in rows  # the failure waits for its back-off
    if not kernel_services(app).jobs.inline:
        # 60 deliveries in ceil(60 / DELIVERY_BATCH) jobs, not one job each
        batches = runs(app, "kernel.deliver_events")
        assert len(batches) == -(-60 // events_module.DELIVERY_BATCH)
        assert runs(app, "kernel.deliver_event") == []
