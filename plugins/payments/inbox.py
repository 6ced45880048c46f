"""Provider notifications, verified elsewhere, applied here exactly once. No Flask in here.

Each event is first recorded under its provider event id (unique per tenant): a second
delivery of the same event, concurrent or years later, stops at that constraint. The
payment it concerns is then moved through the state machine, which ignores news that
arrives late (a ``processing`` after ``succeeded``), so any arrival order ends in the same
state with each outcome emitted once.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hookspecs import WebhookEvent
from kernel.api import current_tenant_id, db, utcnow
from plugins.payments import refunds, services
from plugins.payments.models import Payment, WebhookEventRecord


def record(provider: str, event: WebhookEvent, payment_id: uuid.UUID | None,
           outcome: str) -> uuid.UUID | None:
    """Record the event; its row's id, or None when it was recorded already (a duplicate).

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING id``: a concurrent twin waits on the
    unique index until the first commits, then inserts nothing.
    """
    dialect = db.session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = {"id": uuid.uuid4(), "tenant_id": current_tenant_id(), "provider": provider,
           "event_id": event.event_id[:255], "kind": event.kind, "payment_id": payment_id,
           "outcome": outcome, "received_at": utcnow()}
    stmt = insert(WebhookEventRecord).on_conflict_do_nothing(
        index_elements=["tenant_id", "provider", "event_id"]).returning(WebhookEventRecord.id)
    # the row as a one-item list: the kernel's tenant check then reads it without compiling
    return db.session.scalars(stmt, [row]).first()


def apply(provider: str, account: str, event: WebhookEvent) -> str:
    """Process one verified event for the tenant in scope; what happened, in a word."""
    payment = services.by_provider_ref(provider, event.payment_ref)
    if payment is None or payment.account != account:
        # not this endpoint's payment: acknowledged (the provider stops retrying) but not
        # recorded, so it cannot shadow the same event arriving where it belongs
        return "unknown-payment"
    row_id = record(provider, event, payment.id, "received")
    if row_id is None:
        return "duplicate"
    outcome = _dispatch(payment, event)
    db.session.execute(sa.update(WebhookEventRecord).where(WebhookEventRecord.id == row_id)
                       .values(outcome=outcome))
    return outcome


def _dispatch(payment: Payment, event: WebhookEvent) -> str:
    if event.kind == "refund":
        return refunds.from_event(payment, event)
    if event.kind == "dispute":
        return refunds.dispute_from_event(payment, event)
    if event.status == payment.status:
        return "unchanged"
    changed = services.apply_status(payment, event.status, event.amount)
    return event.status if changed else "stale"
