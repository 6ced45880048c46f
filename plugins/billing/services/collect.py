"""Getting paid: what an invoice still owes, paying through payments, money recorded.

Billing never imports payments. It answers ``plugboard_resolve_payable`` for kind
``billing.invoice``, asks ``plugboard_start_payment`` / ``plugboard_payment_link`` of the
tenant's enabled plugins, and applies ``payments.payment.succeeded`` / ``.refunded``
events. Each payment or refund is recorded once (unique per tenant by the payment's or
refund's id), so a redelivered event changes nothing; partial payments add up, and the
invoice is paid once they reach its total. Paying reactivates a suspended account at
once (:mod:`.dunning`).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from kernel.api import db, emit, tenant_hook
from plugins.billing import transitions
from plugins.billing.errors import NotPayable, PaymentsUnavailable
from plugins.billing.models import Invoice, Payment
from plugins.billing.services import dunning, invoices

log = logging.getLogger("plugboard.billing")

KIND = "billing.invoice"
OPEN = ("finalized", "uncollectible")


def amount_due(invoice: Invoice) -> int:
    return max(invoice.total - invoice.amount_paid, 0)


def payable(tenant_id: uuid.UUID, ref: str) -> dict[str, Any]:
    """The ``plugboard_resolve_payable`` answer for invoice ``ref`` (NotPayable if none)."""
    invoice = invoices.get(tenant_id, _uuid(ref))
    if invoice.status not in OPEN or amount_due(invoice) <= 0:
        raise NotPayable(f"Invoice {invoice.number or invoice.id} is {invoice.status}: nothing to pay.",
                         current=invoice.status)
    return {"amount": amount_due(invoice), "currency": invoice.currency,
            "description": f"Invoice {invoice.number}", "customer_id": None,
            "receiving_account": "platform"}


def _uuid(ref: str) -> uuid.UUID:
    try:
        return uuid.UUID(ref)
    except ValueError:
        raise NotPayable(f"{ref!r} is not an invoice id.") from None


def start_payment(tenant_id: uuid.UUID, invoice_id: uuid.UUID, provider: str | None,
                  return_url: str | None) -> Mapping[str, Any]:
    """Start paying through the tenant's collecting plugin (payments)."""
    payable(tenant_id, str(invoice_id))  # refuse early, with billing's own words
    answer = tenant_hook("plugboard_start_payment")(
        tenant_id=tenant_id, kind=KIND, ref=str(invoice_id), provider=provider, return_url=return_url)
    if answer is None:
        raise PaymentsUnavailable("No enabled plugin collects invoices: ask the platform to enable "
                                  "the 'payments' plugin for your tenant.", plugin="payments")
    return answer


def payment_link(tenant_id: uuid.UUID, invoice: Invoice) -> str | None:
    """A link to pay ``invoice`` without logging in, when a collector offers one."""
    answer = tenant_hook("plugboard_payment_link")(tenant_id=tenant_id, kind=KIND,
                                                   ref=str(invoice.id), expires_at=None)
    return str(answer["url"]) if answer else None


def record(tenant_id: uuid.UUID, invoice_id: uuid.UUID, *, kind: str, external_id: str, amount: int,
           currency: str, provider: str | None, now: dt.datetime, note: str | None = None) -> bool:
    """Record money in (``amount`` > 0) or back out (< 0) once; False if seen before."""
    invoice = invoices.get(tenant_id, invoice_id, lock=True)
    if currency != invoice.currency:
        log.warning("billing: payment in another currency ignored",
                    extra={"invoice": str(invoice.id), "currency": currency})
        return False
    seen = db.session.scalars(sa.select(Payment.id).where(Payment.tenant_id == tenant_id,
                                                          Payment.external_id == external_id)).first()
    if seen:
        return False
    db.session.add(Payment(tenant_id=tenant_id, invoice_id=invoice.id, kind=kind, external_id=external_id,
                           amount=amount, currency=currency, provider=provider, note=note))
    invoice.amount_paid += amount
    db.session.flush()
    if amount > 0 and invoice.status in OPEN and invoice.amount_paid >= invoice.total:
        settle(invoice, now)
    elif amount < 0 and invoice.status == "paid" and invoice.amount_paid < invoice.total:
        transitions.check("invoice", invoice.status, "finalized")
        invoice.status, invoice.paid_at = "finalized", None
    db.session.flush()
    return True


def settle(invoice: Invoice, now: dt.datetime) -> None:
    """Mark ``invoice`` paid, announce it, and lift a suspension it caused."""
    transitions.check("invoice", invoice.status, "paid")
    invoice.status, invoice.paid_at = "paid", now
    db.session.flush()
    emit("billing.invoice.paid", {"invoice_id": str(invoice.id), "number": invoice.number,
                                  "amount": invoice.total, "currency": invoice.currency})
    dunning.refresh(invoice.tenant_id, now, paid=True)


def on_payment_event(tenant_id: uuid.UUID, payload: Mapping[str, Any], now: dt.datetime) -> None:
    """Apply ``payments.payment.succeeded`` / ``.refunded`` for our invoices."""
    if payload.get("kind") != KIND:
        return
    try:
        invoice_id = uuid.UUID(str(payload.get("ref")))
    except ValueError:
        log.warning("billing: payment event with a bad ref", extra={"ref": payload.get("ref")})
        return
    if db.session.scalars(sa.select(Invoice.id).where(Invoice.tenant_id == tenant_id,
                                                      Invoice.id == invoice_id)).first() is None:
        log.warning("billing: payment event for an unknown invoice", extra={"ref": str(invoice_id)})
        return
    if payload.get("refund_id"):
        record(tenant_id, invoice_id, kind="refund", external_id=f"refund:{payload['refund_id']}",
               amount=-int(payload["amount_refunded"]), currency=str(payload["currency"]),
               provider=payload.get("provider"), now=now)
        return
    record(tenant_id, invoice_id, kind="payment", external_id=f"payment:{payload['payment_id']}",
           amount=int(payload["amount"]), currency=str(payload["currency"]),
           provider=payload.get("provider"), now=now)


def payments_of(invoice: Invoice) -> list[Payment]:
    return list(db.session.scalars(sa.select(Payment).where(Payment.invoice_id == invoice.id)
                                   .order_by(Payment.created_at)))
