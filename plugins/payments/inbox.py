"""Provider notifications, verified elsewhere, applied here exactly once. No Flask in here.

Each event is first recorded under its provider event id (unique per tenant): a second
delivery of the same event, concurrent or years later, stops at that constraint. The
payment it concerns is then moved through the state machine, which ignores news that
arrives late (a ``processing`` after ``succeeded``), so any arrival order ends in the same
state with each outcome emitted once.
"""

from __future__ import annotations

import sqlalchemy as sa

from hookspecs import WebhookEvent
from kernel.api import db
from plugins.payments import refunds, services
from plugins.payments.models import Payment, WebhookEventRecord


def record(provider: str, event: WebhookEvent) -> WebhookEventRecord | None:
    """The event's record, or None when it was processed already (a duplicate)."""
    row = WebhookEventRecord(provider=provider, event_id=event.event_id[:255], kind=event.kind,
                             outcome="received")
    try:
        with db.session.begin_nested():  # a savepoint: the duplicate's failure stays local
            db.session.add(row)
    except sa.exc.IntegrityError:
        return None
    return row


def apply(provider: str, account: str, event: WebhookEvent) -> str:
    """Process one verified event for the tenant in scope; what happened, in a word."""
    row = record(provider, event)
    if row is None:
        return "duplicate"
    payment = services.by_provider_ref(provider, event.payment_ref)
    if payment is None or payment.account != account:
        row.outcome = "unknown-payment"  # not ours (or not this endpoint's): acknowledged
        db.session.flush()
        return row.outcome
    row.payment_id = payment.id
    row.outcome = _dispatch(payment, event)
    db.session.flush()
    return row.outcome


def _dispatch(payment: Payment, event: WebhookEvent) -> str:
    if event.kind == "refund":
        return refunds.from_event(payment, event)
    if event.kind == "dispute":
        return refunds.dispute_from_event(payment, event)
    if event.status == payment.status:
        return "unchanged"
    changed = services.apply_status(payment, event.status, event.amount)
    return event.status if changed else "stale"
