"""Jobs: transactional enqueue, retries, skips, cron fan-out, failed vs errored, admin API.

On the production profile jobs go through real Redis and an rq worker (run in burst
mode in this process); on the embedded profile they run inline after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data.session import db
from kernel.runtime.jobs import JobRun, make_worker
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope, tenant_scope
from tests.helpers import Account, Api, assert_problem
from tests.testplugins.full import plugin as full
from tests.testplugins.full.models import FullNote


@pytest.fixture
def world(plugin_app: Callable[..., Flask]) -> dict[str, Any]:
    app = plugin_app(full)
    api = Api(app.test_client(), app)
    accounts = {s: api.register(s) for s in ("alpha", "bravo", "charlie")}
    for slug in ("alpha", "bravo"):
        api.put("/api/v1/plugins/full/activation", accounts[slug], json={"enabled": True})
    full.CALLS.clear()
    full.ATTEMPTS.clear()
    return {"app": app, "api": api, **accounts}


def work(app: Flask) -> None:
    """Drain the queues: a real rq worker in burst mode (no-op inline, jobs already ran)."""
    if kernel_services(app).jobs.inline:
        return
    with app.app_context():
        make_worker(app).work(burst=True, with_scheduler=True)


def runs(app: Flask, job: str) -> list[tuple[str | None, str, int]]:
    with app.app_context(), platform_scope():
        rows = db.session.scalars(sa.select(JobRun).where(JobRun.job == job).order_by(JobRun.created_at))
        return [(str(r.tenant_id) if r.tenant_id else None, r.status, r.attempts) for r in rows]


def notes(app: Flask, account: Account) -> list[str]:
    with app.app_context(), tenant_scope(uuid.UUID(account.tenant_id)):
        return sorted(db.session.scalars(sa.select(FullNote.text)))


def enqueue(app: Flask, name: str, account: Account | None, commit: bool = True, **kwargs: Any) -> None:
    with app.app_context():
        jobs = kernel_services(app).jobs
        db.session.execute(sa.select(1))  # an open transaction, as in a request
        jobs.enqueue(name, uuid.UUID(account.tenant_id) if account else None, **kwargs)
        if commit:
            db.session.commit()
        else:
            db.session.rollback()


def test_enqueue_waits_for_commit_and_a_rollback_drops_it(world: dict[str, Any]) -> None:
    app, alpha = world["app"], world["alpha"]
    enqueue(app, "full.cleanup", alpha, commit=False)
    work(app)
    assert runs(app, "full.cleanup") == []
    enqueue(app, "full.cleanup", alpha)
    work(app)
    assert runs(app, "full.cleanup") == [(alpha.tenant_id, "succeeded", 1)]
    assert len([n for n in notes(app, alpha) if n.startswith("cleanup:")]) == 1


def test_a_job_is_retried_then_succeeds(world: dict[str, Any]) -> None:
    app, alpha = world["app"], world["alpha"]
    enqueue(app, "full.flaky", alpha, label="x", fail_times=2)
    work(app)
    assert runs(app, "full.flaky") == [(alpha.tenant_id, "succeeded", 3)]
    # the failed attempts' writes were rolled back; only the third attempt's remains
    assert [n for n in notes(app, alpha) if n.startswith("attempt:")] == ["attempt:x:3"]


def test_an_expected_failure_that_asks_for_a_retry_is_retried(world: dict[str, Any]) -> None:
    app, alpha = world["app"], world["alpha"]
    enqueue(app, "full.flaky", alpha, label="r", fail_times=2, expected=True)
    work(app)
    assert runs(app, "full.flaky") == [(alpha.tenant_id, "succeeded", 3)]
    assert [n for n in notes(app, alpha) if n.startswith("attempt:")] == ["attempt:r:3"]
    enqueue(app, "full.flaky", alpha, label="s", fail_times=10, expected=True)
    work(app)  # out of retries: it ends failed, with the job's reason
    assert (alpha.tenant_id, "failed", 4) in runs(app, "full.flaky")
    assert full.ATTEMPTS["s"] == 4


def test_a_job_that_keeps_erroring_ends_errored(world: dict[str, Any]) -> None:
    app, alpha = world["app"], world["alpha"]
    enqueue(app, "full.flaky", alpha, label="y", fail_times=10)
    work(app)
    assert runs(app, "full.flaky") == [(alpha.tenant_id, "errored", 4)]
    assert full.ATTEMPTS["y"] == 4


def test_expected_failure_ends_failed_not_errored(world: dict[str, Any]) -> None:
    app, alpha = world["app"], world["alpha"]
    enqueue(app, "full.expected_failure", alpha)
    work(app)
    assert runs(app, "full.expected_failure") == [(alpha.tenant_id, "failed", 1)]
    assert "never stored" not in notes(app, alpha)


def test_a_job_for_a_tenant_that_disabled_the_plugin_is_skipped(world: dict[str, Any]) -> None:
    app, api, alpha = world["app"], world["api"], world["alpha"]
    if kernel_services(app).jobs.inline:
        enqueue(app, "full.cleanup", world["charlie"])  # never enabled there
        assert runs(app, "full.cleanup") == [(world["charlie"].tenant_id, "skipped", 1)]
        return
    enqueue(app, "full.cleanup", alpha)
    api.put("/api/v1/plugins/full/activation", alpha, json={"enabled": False})
    work(app)
    assert runs(app, "full.cleanup") == [(alpha.tenant_id, "skipped", 1)]
    assert [("disabled", {"tenant_id": uuid.UUID(alpha.tenant_id)})] == full.CALLS


def test_cron_fans_out_once_per_enabled_tenant_even_when_fired_twice(world: dict[str, Any]) -> None:
    app = world["app"]
    with app.app_context():
        jobs = kernel_services(app).jobs
        jobs.submit("kernel.cron", None, None, {"job": "full.cleanup"})
        jobs.submit("kernel.cron", None, None, {"job": "full.cleanup"})
    work(app)
    done = sorted(r for r in runs(app, "full.cleanup"))
    assert done == sorted([(world["alpha"].tenant_id, "succeeded", 1),
                           (world["bravo"].tenant_id, "succeeded", 1)])
    assert len([c for c in full.CALLS if c[0] == "job"]) == 2


def test_admin_sees_failed_jobs_and_can_requeue(world: dict[str, Any]) -> None:
    app, api, alpha = world["app"], world["api"], world["alpha"]
    enqueue(app, "full.flaky", alpha, label="z", fail_times=4)
    work(app)
    admin = api.make_admin()
    overview = api.get("/api/v1/admin/jobs", admin).get_json()
    assert overview["mode"] == ("inline" if kernel_services(app).jobs.inline else "rq")
    (failed,) = [f for f in overview["failed"] if f["job"] == "full.flaky"]
    assert failed["status"] == "errored" and "transient failure" in failed["error"]
    assert overview["counts"]["errored"] == 1
    resp = api.post(f"/api/v1/admin/jobs/{failed['id']}/requeue", admin)
    assert resp.status_code == 202
    work(app)
    statuses = [r[1] for r in runs(app, "full.flaky")]
    assert statuses == ["errored", "succeeded"]
    assert_problem(api.post(f"/api/v1/admin/jobs/{uuid.uuid4()}/requeue", admin), 404)
    assert_problem(api.get("/api/v1/admin/jobs", alpha), 403)
    listing = api.get("/api/v1/admin/jobs/runs?status=succeeded&job=full.flaky", admin)
    assert [r["status"] for r in listing.get_json()] == ["succeeded"]
    errored = api.get("/api/v1/admin/jobs/runs?status=errored", admin).get_json()
    assert [r["job"] for r in errored] == ["full.flaky"]
