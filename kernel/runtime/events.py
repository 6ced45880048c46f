"""Domain events through a transactional outbox, delivered at least once, applied once.

``emit(tenant_id, "payments.payment.succeeded", payload)`` adds an ``outbox_events`` row to the
caller's transaction; nothing is sent if it rolls back. After commit a dispatch job
fans the event out to one ``event_deliveries`` row per handler of the plugins enabled
for the tenant (unique per event and handler: the idempotency key) and enqueues them in
batches of ``DELIVERY_BATCH`` per job (rq's bookkeeping costs dozens of Redis round trips a
job; a batch shares them). Each delivery still runs the handler and marks itself delivered
in its own transaction, so a handler's database work happens exactly once even when the
dispatcher runs twice or a worker dies mid-delivery (the sweep re-enqueues it).
Failed deliveries are retried with back-off, then parked for an admin to retry.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from hookspecs import EventHandler, JobSpec
from kernel.data.base import Base, TenantOwned, utcnow
from kernel.data.session import after_commit, db, insert_on_conflict
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope, tenant_scope

log = logging.getLogger("plugboard.events")

MAX_ATTEMPTS = 5
LEASE = 60  # seconds a delivery handed to the queue is left alone by the sweep
DISPATCH_QUEUED = "events:dispatch-queued"  # Redis flag: a dispatch run waits in the queue
DISPATCH_FLAG_TTL = 10  # seconds
BACKOFF = (5, 30, 120, 600)
DELIVERY_BATCH = 25  # deliveries per job: enough to amortise rq, few enough to share workers


class OutboxEvent(TenantOwned, Base):
    __tablename__ = "outbox_events"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(120))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(index=True)


class EventDelivery(TenantOwned, Base):
    __tablename__ = "event_deliveries"
    __table_args__ = (sa.UniqueConstraint("event_id", "handler"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("outbox_events.id", ondelete="CASCADE"))
    plugin: Mapped[str] = mapped_column(sa.String(40))
    handler: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    next_attempt_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def handler_name(plugin: str, handler: EventHandler) -> str:
    func = handler.func
    return handler.name or f"{plugin}:{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', '')}"


def emit(tenant_id: uuid.UUID, name: str, payload: dict[str, Any]) -> uuid.UUID:
    """Record event ``name`` in the current transaction; dispatched after commit."""
    event = OutboxEvent(tenant_id=tenant_id, name=name, payload=payload)
    with tenant_scope(tenant_id):
        db.session.add(event)
        db.session.flush()
    jobs = kernel_services().jobs
    if jobs.inline:
        jobs.enqueue("kernel.dispatch_events")
    else:
        after_commit(db.session(), lambda: _request_dispatch(jobs), key=DISPATCH_QUEUED)
    return event.id


def _request_dispatch(jobs: Any) -> None:
    """Queue a dispatch run unless one is queued already and has not started.

    One run takes every undispatched event, so events emitted while a run waits in the
    queue ride along with it: one job per burst instead of one per event. The run clears
    the flag when it starts (an event committed after that queues the next run); the
    flag expires on its own if the queued run is lost, and the cron sweep runs anyway.
    """
    if jobs.connection().set(f"{jobs.namespace}:{DISPATCH_QUEUED}", 1, nx=True, ex=DISPATCH_FLAG_TTL):
        jobs.submit("kernel.dispatch_events", None, None, {})


def _handlers(name: str) -> list[tuple[str, EventHandler]]:
    return kernel_services().event_handlers.get(name, [])


def dispatch_events(limit: int = 500) -> int:
    """Fan undispatched events out to deliveries; re-enqueue stale or due deliveries."""
    jobs = kernel_services().jobs
    activations = kernel_services().activations
    if not jobs.inline:  # events committed from now on queue the next run
        jobs.connection().delete(f"{jobs.namespace}:{DISPATCH_QUEUED}")
    with platform_scope():
        events = list(db.session.scalars(
            sa.select(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))
            .order_by(OutboxEvent.created_at).limit(limit).with_for_update(skip_locked=True)
        ))
        wanted: list[dict[str, Any]] = []
        for event in events:
            enabled = activations.snapshot.enabled(event.tenant_id)
            wanted += [{"id": uuid.uuid4(), "tenant_id": event.tenant_id, "event_id": event.id,
                        "plugin": plugin, "handler": handler_name(plugin, handler)}
                       for plugin, handler in _handlers(event.name) if plugin in enabled]
            event.dispatched_at = utcnow()
        created = _create_deliveries(wanted)
        db.session.commit()
        due = list(db.session.scalars(
            sa.select(EventDelivery.id).where(
                EventDelivery.status == "pending",
                sa.or_(EventDelivery.next_attempt_at.is_(None),
                       EventDelivery.next_attempt_at <= utcnow()),
                EventDelivery.id.not_in(created) if created else sa.true(),
            ).limit(limit)
        ))
        _lease([*created, *due])
    ids = [str(delivery_id) for delivery_id in [*created, *due]]
    for start in range(0, len(ids), DELIVERY_BATCH):
        jobs.submit("kernel.deliver_events", None, None,
                    {"delivery_ids": ids[start:start + DELIVERY_BATCH]})
    return len(ids)


def _create_deliveries(rows: list[dict[str, Any]]) -> list[uuid.UUID]:
    """The delivery rows of (event, handler) pairs, created once whatever the dispatcher does.

    One multi-row ``INSERT … ON CONFLICT DO NOTHING`` (a second dispatcher, or this one
    run again after a crash, finds the rows there), then the ids of every pair, new or not.
    """
    if not rows:
        return []
    db.session.execute(insert_on_conflict(EventDelivery).values(rows)
                       .on_conflict_do_nothing(index_elements=["event_id", "handler"]))
    event_ids = {row["event_id"] for row in rows}
    pairs = {(row["event_id"], row["handler"]) for row in rows}
    found = db.session.execute(sa.select(EventDelivery.id, EventDelivery.event_id, EventDelivery.handler)
                               .where(EventDelivery.event_id.in_(event_ids)))
    return [delivery_id for delivery_id, event_id, handler in found if (event_id, handler) in pairs]


def _lease(delivery_ids: list[uuid.UUID]) -> None:
    """Mark deliveries as handed to the queue until ``LEASE`` from now.

    Without it every dispatch run (one per emitted event) would hand every delivery still
    waiting in the queue to it again: n events, up to n² jobs. A delivery whose job is
    lost (a worker killed) is still pending when its lease ends, and the next sweep
    re-enqueues it.
    """
    if delivery_ids:
        db.session.execute(sa.update(EventDelivery).where(EventDelivery.id.in_(delivery_ids))
                           .values(next_attempt_at=utcnow() + dt.timedelta(seconds=LEASE)))
        db.session.commit()


def deliver_event(delivery_id: str) -> str:
    """Run one handler for one event, at most once (the row is locked and marked)."""
    with platform_scope():
        row = db.session.scalars(
            sa.select(EventDelivery).where(EventDelivery.id == uuid.UUID(delivery_id))
            .with_for_update()
        ).one_or_none()
        if row is None or row.status != "pending":
            db.session.rollback()
            return "nothing to do"
        event = db.session.get(OutboxEvent, row.event_id)
        row_id, tenant_id, plugin, name = row.id, row.tenant_id, row.plugin, row.handler
    assert event is not None
    if not kernel_services().activations.is_enabled(tenant_id, plugin):
        _finish(row, "skipped", None)
        return "skipped"
    handler = next((h for p, h in _handlers(event.name) if handler_name(p, h) == name), None)
    if handler is None:
        _finish(row, "parked", f"handler {name!r} is no longer registered")
        return "parked"
    try:
        with tenant_scope(tenant_id):
            _invoke(handler, tenant_id, event)
            row.status, row.delivered_at = "delivered", utcnow()
            row.attempts += 1
            db.session.commit()
    except Exception:
        db.session.rollback()
        _failed(row_id, traceback.format_exc(limit=5)[-4000:])
        return "failed"
    return "delivered"


def deliver_events(delivery_ids: list[str]) -> str:
    """Run a batch of deliveries, each in its own transaction (see :func:`deliver_event`).

    A batch killed half-way leaves its undelivered rows pending: the sweep hands them out
    again when their lease ends, and the delivered ones are never run twice.
    """
    outcomes: dict[str, int] = {}
    for delivery_id in delivery_ids:
        outcome = deliver_event(delivery_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))


def _invoke(handler: EventHandler, tenant_id: uuid.UUID, event: OutboxEvent) -> None:
    import inspect

    params = inspect.signature(handler.func).parameters
    available = {"tenant_id": tenant_id, "payload": dict(event.payload), "event_id": event.id,
                 "event": event.name}
    handler.func(**{k: v for k, v in available.items() if k in params})


def _finish(row: EventDelivery, status: str, error: str | None) -> None:
    with platform_scope():
        row.status, row.last_error = status, error
        db.session.commit()


def _failed(delivery_id: uuid.UUID, error: str) -> None:
    with platform_scope():
        row = db.session.get(EventDelivery, delivery_id)
        assert row is not None
        row.attempts += 1
        row.last_error = error
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "parked"
            log.error("event delivery parked", extra={"delivery": str(row.id), "handler": row.handler})
        else:
            delay = BACKOFF[min(row.attempts - 1, len(BACKOFF) - 1)]
            row.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
        db.session.commit()


def retry_parked(delivery_id: uuid.UUID) -> EventDelivery | None:
    """Give a parked delivery another round of attempts (admin action)."""
    row = db.session.get(EventDelivery, delivery_id)
    if row is None or row.status != "parked":
        return None
    row.status, row.attempts, row.next_attempt_at = "pending", 0, None
    db.session.commit()
    kernel_services().jobs.submit(
        "kernel.deliver_event", None, None, {"delivery_id": str(row.id)})
    return row


def kernel_job_specs() -> list[JobSpec]:
    return [
        JobSpec("kernel.dispatch_events", dispatch_events, queue="events", timeout=300,
                cron="* * * * *"),
        JobSpec("kernel.deliver_event", deliver_event, queue="events", timeout=300),
        JobSpec("kernel.deliver_events", deliver_events, queue="events", timeout=600),
    ]

