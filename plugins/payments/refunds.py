"""Refunds (partial or full, never more than was paid) and disputes. No Flask in here.

A refund locks its payment row (``SELECT … FOR UPDATE``) before adding up what was
already refunded, so two refunds at the same moment cannot both take the last of the
money; the table's check constraint (``amount_refunded <= amount``) backs that up. Refunds
and disputes the provider reports (made in its dashboard, or ours confirmed later) arrive
through webhooks and are recorded once, by the provider's reference.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from hookspecs import WebhookEvent
from kernel.api import db, emit
from plugins.payments import config, providers, services, states
from plugins.payments.errors import NotFound, NotRefundable, OverRefund, UnknownProvider
from plugins.payments.models import Dispute, Payment, Refund

COUNTED = ("pending", "succeeded")  # a refund that has not failed holds its share


def committed(payment_id: uuid.UUID) -> int:
    """What refunds of the payment take or hold (pending and succeeded)."""
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Refund.amount), 0)).where(
        Refund.payment_id == payment_id, Refund.status.in_(COUNTED))) or 0)


def refund(payment_id: uuid.UUID, amount: int | None, reason: str | None, actor: str) -> Refund:
    """Refund ``amount`` (all that is left when None) of a paid payment."""
    payment = services.locked(payment_id)
    if payment.status not in (states.SUCCEEDED, states.PARTIALLY_REFUNDED):
        raise NotRefundable(f"Payment {payment.id} is {payment.status}; only a paid payment "
                            "can be refunded.", status_now=payment.status)
    left = payment.amount - committed(payment.id)
    amount = left if amount is None else amount
    if amount <= 0 or amount > left:
        raise OverRefund(f"{left} {payment.currency} (minor units) is left to refund of "
                         f"{payment.amount}; {amount} was asked.", refundable=left)
    provider = providers.for_account(payment.account).get(payment.provider)
    if provider is None:
        raise UnknownProvider(f"Provider {payment.provider!r} is not available to refund through.")
    row = Refund(payment_id=payment.id, provider=payment.provider, amount=amount,
                 currency=payment.currency, reason=reason, created_by=actor, status="pending")
    db.session.add(row)
    db.session.flush()
    answer = provider.refund(config.provider_settings(payment.provider, payment.account),
                             payment.provider_ref or "", amount, payment.currency,
                             f"plugboard-refund-{row.id}", reason)
    row.provider_ref = answer.reference
    db.session.flush()
    set_refund_status(payment, row, answer.status)
    return row


def set_refund_status(payment: Payment, row: Refund, status: str) -> None:
    """Move a refund to ``status``; on success count it on the payment and emit, once."""
    if row.status != "pending" or status == "pending":
        return
    row.status = status
    db.session.flush()
    if status != "succeeded":
        return
    refunded = payment.amount_refunded + row.amount
    new = states.REFUNDED if refunded >= payment.amount else states.PARTIALLY_REFUNDED
    if payment.status == new:  # a second partial refund: same status, more refunded
        payment.amount_refunded = refunded
        db.session.flush()
    else:
        services.move(payment, new, amount_refunded=refunded)
    emit("payments.payment.refunded", services.event_payload(
        payment, refund_id=str(row.id), amount_refunded=row.amount, total_refunded=refunded))


def from_event(payment: Payment, event: WebhookEvent) -> str:
    """A refund the provider reports: ours (by reference) or one made in its dashboard."""
    payment = services.locked(payment.id)
    row = db.session.scalars(sa.select(Refund).where(
        Refund.provider == payment.provider, Refund.provider_ref == event.object_ref)).first()
    status = event.status if event.status in ("succeeded", "failed") else "pending"
    if row is None:
        if payment.status not in (states.SUCCEEDED, states.PARTIALLY_REFUNDED):
            return "refund-ignored"
        amount = event.amount or payment.amount - committed(payment.id)
        if amount <= 0 or amount > payment.amount - committed(payment.id):
            return "refund-exceeds-payment"
        row = Refund(payment_id=payment.id, provider=payment.provider, provider_ref=event.object_ref,
                     amount=amount, currency=payment.currency, reason=event.reason, status="pending")
        db.session.add(row)
        db.session.flush()
    before = row.status
    set_refund_status(payment, row, status)
    return f"refund-{row.status}" if row.status != before else "refund-unchanged"


def dispute_from_event(payment: Payment, event: WebhookEvent) -> str:
    """Record or update a dispute; a new one emits ``payments.payment.disputed`` once."""
    ref = event.object_ref or event.event_id
    row = db.session.scalars(sa.select(Dispute).where(
        Dispute.provider == payment.provider, Dispute.provider_ref == ref)).first()
    if row is not None:
        row.status, row.reason = event.status or row.status, event.reason or row.reason
        db.session.flush()
        return "dispute-updated"
    row = Dispute(payment_id=payment.id, provider=payment.provider, provider_ref=ref,
                  amount=event.amount or payment.amount, currency=payment.currency,
                  status=event.status or "needs_response", reason=event.reason)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except sa.exc.IntegrityError:  # a concurrent delivery recorded it first
        return "dispute-duplicate"
    emit("payments.payment.disputed", services.event_payload(
        payment, dispute_id=str(row.id), amount_disputed=row.amount, reason=row.reason))
    return "dispute-opened"


def refunds_of(payment_id: uuid.UUID) -> list[Refund]:
    return list(db.session.scalars(sa.select(Refund).where(Refund.payment_id == payment_id)
                                   .order_by(Refund.created_at)))


def disputes_of(payment_id: uuid.UUID) -> list[Dispute]:
    return list(db.session.scalars(sa.select(Dispute).where(Dispute.payment_id == payment_id)
                                   .order_by(Dispute.created_at)))


def get_refund(refund_id: uuid.UUID) -> Refund:
    row = db.session.get(Refund, refund_id)
    if row is None:
        raise NotFound(f"No refund {refund_id} in this tenant.")
    return row
