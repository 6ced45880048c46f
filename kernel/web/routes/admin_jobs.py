"""``/api/v1/admin/jobs`` and ``/api/v1/admin/events``: queues, failures, retries."""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from kernel.data.session import db
from kernel.identity.auth import platform_admin_required
from kernel.problems import problem
from kernel.runtime import audit
from kernel.runtime.events import EventDelivery, retry_parked
from kernel.runtime.jobs import JobRun, Jobs
from kernel.services import kernel_services
from kernel.web.pagination import paginate
from kernel.web.schemas import Strict

blp = Blueprint("admin_jobs", __name__, url_prefix="/api/v1/admin",
                description="Jobs and events (platform admin)")

RUN_STATUSES = ["running", "succeeded", "skipped", "failed", "errored"]


class QueueSchema(ma.Schema):
    name = fields.String()
    queued = fields.Integer()
    started = fields.Integer()
    scheduled = fields.Integer()
    failed = fields.Integer()


class JobRunSchema(ma.Schema):
    id = fields.UUID()
    job = fields.String()
    tenant_id = fields.UUID(allow_none=True)
    status = fields.String()
    attempts = fields.Integer()
    error = fields.String(allow_none=True)
    kwargs = fields.Dict()
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class JobsOverviewSchema(ma.Schema):
    mode = fields.String(metadata={"description": "rq or inline"})
    queues = fields.List(fields.Nested(QueueSchema))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    failed = fields.List(fields.Nested(JobRunSchema),
                         metadata={"description": "latest failed and errored runs"})


class RunQuerySchema(Strict):
    status = fields.String(validate=validate.OneOf(RUN_STATUSES))
    job = fields.String(validate=validate.Length(max=120))


class DeliverySchema(ma.Schema):
    id = fields.UUID()
    event_id = fields.UUID()
    tenant_id = fields.UUID()
    plugin = fields.String()
    handler = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class DeliveryQuerySchema(Strict):
    status = fields.String(validate=validate.OneOf(["pending", "delivered", "skipped", "parked"]))
    tenant = fields.UUID()


def _jobs() -> Jobs:
    return kernel_services().jobs


def _queues(jobs: Jobs) -> list[dict[str, Any]]:
    if jobs.inline:
        return []
    out = []
    for name in jobs.queue_names():
        queue = jobs.queue(name)
        out.append({"name": name, "queued": queue.count,
                    "started": queue.started_job_registry.count,
                    "scheduled": queue.scheduled_job_registry.count,
                    "failed": queue.failed_job_registry.count})
    return out


@blp.route("/jobs")
class JobsOverview(MethodView):
    @platform_admin_required
    @blp.response(200, JobsOverviewSchema)
    def get(self) -> dict[str, Any]:
        """Queues with their counts, run counts by status, and the latest failures."""
        jobs = _jobs()
        counts = dict(db.session.execute(
            sa.select(JobRun.status, sa.func.count()).group_by(JobRun.status)).all())
        failed = db.session.scalars(
            sa.select(JobRun).where(JobRun.status.in_(["failed", "errored"]))
            .order_by(JobRun.created_at.desc()).limit(50))
        return {"mode": "inline" if jobs.inline else "rq", "queues": _queues(jobs),
                "counts": counts, "failed": list(failed)}


@blp.route("/jobs/runs")
class JobRuns(MethodView):
    @platform_admin_required
    @blp.arguments(RunQuerySchema, location="query")
    @blp.response(200, JobRunSchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[JobRun]:
        """Job runs, newest first; filter by status and job name."""
        stmt = sa.select(JobRun).order_by(JobRun.created_at.desc(), JobRun.id)
        if "status" in query:
            stmt = stmt.where(JobRun.status == query["status"])
        if "job" in query:
            stmt = stmt.where(JobRun.job == query["job"])
        return paginate(stmt, pagination_parameters)


@blp.route("/jobs/<uuid:run_id>/requeue")
class Requeue(MethodView):
    @platform_admin_required
    @blp.response(202, JobRunSchema)
    @blp.alt_response(409, description="The run did not fail")
    def post(self, run_id: uuid.UUID) -> JobRun:
        """Run a failed or errored job again, with the same arguments."""
        run = db.session.get(JobRun, run_id)
        if run is None:
            problem(404, "not-found", title="Not found", detail="No such job run.")
        assert run is not None
        if run.status not in ("failed", "errored"):
            problem(409, "not-failed", title="Job did not fail",
                    detail=f"Only failed or errored runs can be requeued; this one is {run.status}.")
        _jobs().submit(run.job, run.tenant_id, None, dict(run.kwargs))
        audit.describe("admin.jobs.requeue", "job_run", run.id, job=run.job)
        return run


@blp.route("/events/deliveries")
class Deliveries(MethodView):
    @platform_admin_required
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, DeliverySchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[EventDelivery]:
        """Event deliveries, newest first; ``status=parked`` lists those that gave up."""
        stmt = sa.select(EventDelivery).order_by(EventDelivery.created_at.desc(), EventDelivery.id)
        if "status" in query:
            stmt = stmt.where(EventDelivery.status == query["status"])
        if "tenant" in query:
            stmt = stmt.where(EventDelivery.tenant_id == query["tenant"])
        return paginate(stmt, pagination_parameters)


@blp.route("/events/deliveries/<uuid:delivery_id>/retry")
class RetryDelivery(MethodView):
    @platform_admin_required
    @blp.response(202, DeliverySchema)
    def post(self, delivery_id: uuid.UUID) -> EventDelivery:
        """Give a parked delivery a new round of attempts."""
        row = retry_parked(delivery_id)
        if row is None:
            problem(404, "not-found", title="Not found", detail="No parked delivery with this id.")
        assert row is not None
        audit.describe("admin.events.retry", "event_delivery", row.id)
        return row

