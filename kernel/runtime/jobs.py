"""Background jobs on rq, with one wrapper for every way a job runs.

``enqueue(name, tenant=…, **kwargs)`` is transactional: the job is handed to rq (or, in
embedded mode without Redis, run inline) only once the caller's transaction commits.
The wrapper, :func:`execute`, re-enters the tenant scope, skips the run when the
plugin is no longer enabled for the tenant, runs the job in a transaction and records
the outcome in ``job_runs``: ``succeeded``, ``skipped``, ``failed`` (an expected outcome,
:class:`~hookspecs.JobFailed`) or ``errored`` (a bug; retried per the JobSpec).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import logging
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import redis
import sqlalchemy as sa
from flask import Flask, g
from rq import Queue, Retry
from rq.worker import SimpleWorker
from sqlalchemy.orm import Mapped, mapped_column

from hookspecs import JobFailed, JobSpec
from kernel.data.base import Base, TenantOwned, utcnow
from kernel.data.session import NO_READ_MODE, after_commit, db
from kernel.services import JobTable, kernel_services
from kernel.tenancy.scope import platform_scope, tenant_scope

log = logging.getLogger("plugboard.jobs")

KERNEL = "kernel"


class JobRun(TenantOwned, Base):
    """One run (or skip) of a job; ``key`` makes a run happen at most once."""

    __tablename__ = "job_runs"
    __tenant_nullable__ = True
    __table_args__ = (sa.Index("ix_job_runs_status_created", "status", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(  # type: ignore[assignment]
        sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    job: Mapped[str] = mapped_column(sa.String(120))
    key: Mapped[str | None] = mapped_column(sa.String(255), unique=True)
    kwargs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="running")
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    rq_job_id: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]


class Jobs:
    """The app's job table (kernel jobs and every plugin's) and the way to run them."""

    def __init__(self, app: Flask, redis_url: str, namespace: str) -> None:
        self._app = app
        self.redis_url = redis_url
        self.namespace = namespace
        self.specs: JobTable = kernel_services(app).job_specs
        self._redis: redis.Redis | None = None

    def register_kernel(self, spec: JobSpec) -> None:
        self.specs[spec.name] = (KERNEL, spec)

    @property
    def inline(self) -> bool:
        return not self.redis_url

    def connection(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.redis_url)
        return self._redis

    def queue(self, name: str) -> Queue:
        return Queue(f"{self.namespace}:{name}", connection=self.connection())

    def queue_names(self) -> list[str]:
        return sorted({spec.queue for _, spec in self.specs.values()} | {"default"})

    def spec(self, name: str) -> tuple[str, JobSpec]:
        try:
            return self.specs[name]
        except KeyError:
            raise LookupError(f"No job named {name!r}; plugins declare jobs in plugboard_jobs.") from None

    def enqueue(self, name: str, tenant: uuid.UUID | None = None, *, key: str | None = None,
                **kwargs: Any) -> None:
        """Run job ``name`` for ``tenant`` after the current transaction commits."""
        self.spec(name)  # fail now, in the caller, for an unknown job
        after_commit(db.session(), lambda: self.submit(name, tenant, key, kwargs))

    def submit(self, name: str, tenant: uuid.UUID | None, key: str | None,
               kwargs: dict[str, Any]) -> None:
        """Hand the job to rq, or run it inline in embedded mode (no transaction wait)."""
        _, spec = self.spec(name)
        if self.inline:
            with self._app.app_context():
                g.setdefault(NO_READ_MODE, True)  # even when it runs inside a GET request
                run_inline(name, tenant, key, kwargs, spec.retry)
            return
        options: dict[str, Any] = {"job_timeout": spec.timeout}
        if spec.retry:
            intervals = list(spec.retry_intervals)[: spec.retry] or [0]
            options["retry"] = Retry(max=spec.retry, interval=intervals)
        if key:
            # rq ids allow [A-Za-z0-9_-]; a digest keeps them short and deterministic
            options["job_id"] = "pb-" + hashlib.sha256(f"{self.namespace}|{key}".encode()).hexdigest()[:40]
        self.queue(spec.queue).enqueue(
            "kernel.runtime.jobs.execute", name, str(tenant) if tenant else None, kwargs, key, **options
        )


def run_inline(name: str, tenant: uuid.UUID | None, key: str | None, kwargs: dict[str, Any],
               retries: int) -> str:
    """Embedded mode: run now, retrying at once on errors (no back-off without Redis)."""
    key = key or f"inline:{uuid.uuid4().hex}"  # lets a retry pick up its own run row
    for attempt in range(retries + 1):
        try:
            return execute(name, str(tenant) if tenant else None, kwargs, key,
                           last_attempt=attempt == retries)
        except Exception:
            if attempt == retries:
                log.exception("inline job errored", extra={"job": name})
    return "errored"


def _record(run_id: uuid.UUID, **values: Any) -> None:
    with platform_scope():
        db.session.execute(sa.update(JobRun).where(JobRun.id == run_id).values(**values))
        db.session.commit()


def _start(name: str, tenant_id: uuid.UUID | None, key: str | None,
           kwargs: dict[str, Any], rq_id: str | None) -> JobRun | None:
    """The run's row (created, or picked up again on retry); None if already done."""
    with platform_scope():
        run = None
        if key:
            run = db.session.scalars(sa.select(JobRun).where(JobRun.key == key)).one_or_none()
        elif rq_id:  # rq retrying the same job
            run = db.session.scalars(sa.select(JobRun).where(JobRun.rq_job_id == rq_id)).first()
        if run is not None and (
            run.status in ("succeeded", "skipped", "failed")
            or (run.status == "running" and run.rq_job_id != rq_id)  # a twin is running it
        ):
            return None
        if run is None:
            run = JobRun(job=name, tenant_id=tenant_id, key=key, kwargs=kwargs, rq_job_id=rq_id,
                         attempts=0)
            db.session.add(run)
        run.status, run.attempts = "running", run.attempts + 1
        try:
            db.session.commit()
        except sa.exc.IntegrityError:  # a concurrent twin took the key: it runs, we don't
            db.session.rollback()
            return None
        return run


def _call(func: Callable[..., Any], tenant_id: uuid.UUID | None, kwargs: dict[str, Any]) -> Any:
    params = inspect.signature(func).parameters
    args = dict(kwargs)
    if "tenant_id" in params:
        args["tenant_id"] = tenant_id
    return func(**args)


def execute(name: str, tenant: str | None, kwargs: dict[str, Any], key: str | None = None,
            last_attempt: bool | None = None) -> str:
    """The job wrapper; rq calls this by name. Needs an application context.

    ``last_attempt`` says whether a failure now is final (inline mode knows); under rq
    it is read from the job's retries left.
    """
    jobs: Jobs = kernel_services().jobs
    plugin, spec = jobs.spec(name)
    tenant_id = uuid.UUID(tenant) if tenant else None
    rq_id = _current_rq_id()
    run = _start(name, tenant_id, key, kwargs, rq_id)
    if run is None:
        return "duplicate"
    run_id = run.id  # the row is expired by rollbacks below; keep its key
    activations = kernel_services().activations
    if tenant_id is not None and plugin != KERNEL and not activations.is_enabled(tenant_id, plugin):
        _record(run_id, status="skipped", finished_at=utcnow(),
                error=f"plugin {plugin!r} is not enabled for the tenant")
        return "skipped"
    try:
        if tenant_id is not None:
            with tenant_scope(tenant_id):
                _call(spec.func, tenant_id, kwargs)
                db.session.commit()
        else:
            _call(spec.func, None, kwargs)
            db.session.commit()
    except JobFailed as failed:
        db.session.rollback()
        again = failed.retry and not (_last_attempt() if last_attempt is None else last_attempt)
        # a failure that will be retried stays re-runnable ("errored"), or the retry would
        # find a finished run and end as a duplicate without running
        _record(run_id, status="errored" if again else "failed", error=failed.reason,
                finished_at=utcnow())
        if again:
            raise
        return "failed"
    except Exception:
        db.session.rollback()
        _record(run_id, status="errored", error=traceback.format_exc(limit=5)[-4000:],
                finished_at=utcnow())
        raise
    _record(run_id, status="succeeded", error=None, finished_at=utcnow())
    return "succeeded"


def _last_attempt() -> bool:
    from rq import get_current_job

    job = get_current_job()
    return job is None or not job.retries_left


def _current_rq_id() -> str | None:
    from rq import get_current_job

    job = get_current_job()
    return job.id if job else None


class AppWorker(SimpleWorker):
    """An rq worker that runs each job inside the Plugboard app's context (no fork)."""

    app: Flask

    def execute_job(self, job: Any, queue: Queue) -> Any:
        with self.app.app_context():
            return super().execute_job(job, queue)


def make_worker(app: Flask, queues: list[str] | None = None) -> AppWorker:
    jobs: Jobs = kernel_services(app).jobs
    if jobs.inline:
        raise RuntimeError(
            "PLUGBOARD_REDIS_URL is not set: jobs run inline in this mode and no worker is "
            "needed. Set it (e.g. redis://localhost:6379/0) to run a worker."
        )
    names = queues or jobs.queue_names()
    worker = AppWorker([jobs.queue(n) for n in names], connection=jobs.connection())
    worker.app = app
    return worker


def cron_fanout(job: str) -> int:
    """One run of ``job`` per tenant that has its plugin enabled, once per cron period.

    The run key names (job, tenant, period), so a double fire of the schedule, or a
    second scheduler, enqueues runs that end as duplicates instead of running twice.
    """
    from croniter import croniter

    from kernel.registry.activation import PluginActivation

    jobs: Jobs = kernel_services().jobs
    plugin, spec = jobs.spec(job)
    if not spec.cron:
        raise JobFailed(f"{job} has no cron schedule")
    period = croniter(spec.cron, utcnow() + dt.timedelta(seconds=1)).get_prev(dt.datetime)
    with platform_scope():
        tenants = list(db.session.scalars(
            sa.select(PluginActivation.tenant_id)
            .where(PluginActivation.plugin == plugin, PluginActivation.enabled.is_(True))
        ))
    for tenant_id in tenants:
        jobs.submit(job, tenant_id, f"cron:{job}:{tenant_id}:{period:%Y%m%dT%H%M}", {})
    return len(tenants)


def kernel_job_specs() -> list[JobSpec]:
    return [JobSpec("kernel.cron", cron_fanout, queue="default", timeout=600)]


def make_cron_scheduler(app: Flask) -> Any:
    """rq's CronScheduler with one entry per cron JobSpec (each fans out per tenant)."""
    from rq.cron import CronScheduler

    jobs: Jobs = kernel_services(app).jobs
    if jobs.inline:
        raise RuntimeError("PLUGBOARD_REDIS_URL is not set: the cron scheduler needs Redis.")
    scheduler = CronScheduler(connection=jobs.connection(), name=f"{jobs.namespace}-cron")
    for name, (plugin, spec) in sorted(jobs.specs.items()):
        if not spec.cron:
            continue
        # plugin jobs fan out per tenant; the kernel's own run once, platform-wide
        kwargs = ({"name": name, "tenant": None, "kwargs": {}} if plugin == KERNEL else
                  {"name": "kernel.cron", "tenant": None, "kwargs": {"job": name}})
        scheduler.register(execute, queue_name=jobs.queue(spec.queue).name, cron=spec.cron,
                           kwargs=kwargs, name=name)
    return scheduler
