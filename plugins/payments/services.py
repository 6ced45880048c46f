"""Payments: from a payable to a settled payment, emitted once. No Flask in here.

Everything runs in the caller's tenant scope and flushes; the view, job or webhook that
called it commits. Amounts come from the payable's resolver (``plugboard_resolve_payable``),
never from the caller. A payment changes state only through :func:`move`, a
compare-and-set ``UPDATE … WHERE status = <seen>``: of two requests settling the same
payment at the same moment (the client's confirm and the provider's webhook), exactly one
changes the row, and only that one emits the event.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from hookspecs import Payable, PayableRefusal, PaymentProvider, PaymentRequest, ProviderStatus
from kernel.api import current_tenant_id, db, emit, tenant_hook, utcnow
from plugins.payments import config, money, providers, states
from plugins.payments.errors import (
    IllegalTransition,
    InvalidAmount,
    NotFound,
    NotPayable,
    PayableRefused,
    ProviderNotConfigured,
    UnknownProvider,
)
from plugins.payments.models import Payment

EVENTS = {states.SUCCEEDED: "payments.payment.succeeded", states.FAILED: "payments.payment.failed",
          states.EXPIRED: "payments.payment.failed", states.CANCELLED: "payments.payment.failed"}


def resolve(kind: str, ref: str) -> Payable:
    """What ``kind``/``ref`` is due, asked of the tenant's enabled plugins."""
    answer = tenant_hook("plugboard_resolve_payable")(tenant_id=current_tenant_id(), kind=kind, ref=ref)
    if answer is None:
        raise NotPayable(f"No enabled plugin knows a payable {kind!r} {ref!r}; check kind and ref, "
                         "and that the plugin owning it is enabled.", kind=kind, ref=ref)
    if isinstance(answer, PayableRefusal):
        raise PayableRefused(answer.detail, reason=answer.reason, kind=kind, ref=ref)
    payable = answer if isinstance(answer, Payable) else _from_mapping(answer)
    if payable.amount <= 0 or not money.is_currency(payable.currency):
        raise InvalidAmount(f"The payable {kind!r} {ref!r} resolved to {payable.amount} "
                            f"{payable.currency!r}: not a positive amount in an ISO 4217 currency.")
    return payable


def _from_mapping(answer: Mapping[str, Any]) -> Payable:
    """Contract 1.0 resolvers answer a mapping: ``{"amount", "currency", "description"}``."""
    customer = answer.get("customer_id")
    return Payable(int(answer["amount"]), str(answer["currency"]), str(answer.get("description", "")),
                   uuid.UUID(str(customer)) if customer else None, answer.get("account", "tenant"))


def provider_for(name: str | None, account: str) -> tuple[PaymentProvider, Mapping[str, Any]]:
    """The provider to use (``name`` or the tenant's default) and its settings."""
    offered = providers.for_account(account)
    name = name or config.tenant_config().get("default_provider") or _first_configured(offered, account)
    if name is None:
        raise ProviderNotConfigured("No payment provider is configured: set one up in "
                                    + _where(account) + ".")
    provider = offered.get(name or "")
    if provider is None or provider.name == "manual":
        raise UnknownProvider(f"No payment provider {name!r} here; use one of "
                              f"{', '.join(sorted(n for n in offered if n != 'manual'))}.")
    settings = config.provider_settings(provider.name, account)
    if not provider.configured(settings):
        raise ProviderNotConfigured(f"{provider.name} is not configured; set it up in {_where(account)}.")
    return provider, settings


def _where(account: str) -> str:
    return ("the platform's PLUGBOARD_PAYMENTS_* settings" if account == "platform"
            else "PUT /api/v1/plugins/payments/config")


def _first_configured(offered: Mapping[str, PaymentProvider], account: str) -> str | None:
    for name, provider in offered.items():
        if name != "manual" and provider.configured(config.provider_settings(name, account)):
            return name
    return None


def create_payment(kind: str, ref: str, actor: str | None, *, provider: str | None = None,
                   return_url: str | None = None,
                   result_url: Callable[[str, str], str] | None = None,
                   email: str | None = None, options: Mapping[str, str] | None = None) -> Payment:
    """A payment of what ``kind``/``ref`` is due, started at the provider.

    ``result_url(provider, account)`` is where that provider posts results (Paynow).
    """
    payable = resolve(kind, ref)
    chosen, settings = provider_for(provider, payable.account)
    payment = Payment(kind=kind, ref=ref, provider=chosen.name, amount=payable.amount,
                      currency=payable.currency, description=payable.description[:500],
                      customer_id=payable.customer_id, account=payable.account,
                      meta=dict(payable.metadata), return_url=return_url, created_by=actor,
                      status=states.PENDING)
    db.session.add(payment)
    db.session.flush()
    answer = chosen.create(settings, PaymentRequest(
        payment_id=payment.id, tenant_id=current_tenant_id(), amount=payment.amount,
        currency=payment.currency, description=payment.description,
        idempotency_key=f"plugboard-payment-{payment.id}", return_url=return_url,
        result_url=result_url(chosen.name, payment.account) if result_url else None,
        email=email, options=dict(options or {})))
    payment.provider_ref, payment.client_secret = answer.reference, answer.client_secret
    payment.redirect_url, payment.provider_data = answer.redirect_url, dict(answer.data)
    db.session.flush()
    if answer.status != states.PENDING:
        apply_status(payment, answer.status)
    return payment


def record_manual(kind: str, ref: str, amount: int, currency: str, note: str | None,
                  actor: str) -> Payment:
    """A cash or bank payment staff received: it must be exactly what is due."""
    payable = resolve(kind, ref)
    if (amount, currency) != (payable.amount, payable.currency):
        raise InvalidAmount(f"{kind} {ref} is due {payable.amount} {payable.currency} (minor units); "
                            f"record exactly that (got {amount} {currency}).",
                            due={"amount": payable.amount, "currency": payable.currency})
    payment = Payment(kind=kind, ref=ref, provider="manual", amount=amount, currency=currency,
                      description=payable.description[:500], customer_id=payable.customer_id,
                      account=payable.account, note=note, created_by=actor, status=states.PENDING)
    db.session.add(payment)
    db.session.flush()
    payment.provider_ref = f"manual-{payment.id}"
    apply_status(payment, states.SUCCEEDED)
    return payment


def get(payment_id: uuid.UUID) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"No payment {payment_id} in this tenant.")
    return payment


def locked(payment_id: uuid.UUID) -> Payment:
    """The payment, re-read and row-locked (``SELECT … FOR UPDATE``) until commit."""
    payment = db.session.scalars(sa.select(Payment).where(Payment.id == payment_id)
                                 .with_for_update().execution_options(populate_existing=True)).first()
    if payment is None:
        raise NotFound(f"No payment {payment_id} in this tenant.")
    return payment


def by_provider_ref(provider: str, reference: str) -> Payment | None:
    return db.session.scalars(sa.select(Payment).where(
        Payment.provider == provider, Payment.provider_ref == reference)).first()


def move(payment: Payment, new: str, **values: Any) -> bool:
    """Change ``payment``'s status if the table allows it and nobody changed it meanwhile."""
    seen = payment.status
    if not states.allowed(seen, new):
        return False
    values = {"status": new, "updated_at": utcnow(), **values}
    result = db.session.execute(
        sa.update(Payment).where(Payment.id == payment.id, Payment.status == seen).values(**values)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.session.expire(payment)  # someone else moved it: re-read when next used
        return False
    for key, value in values.items():  # what the row now holds, without reading it back
        set_committed_value(payment, key, value)
    return True


def apply_status(payment: Payment, new: str, amount_received: int | None = None,
                 reason: str | None = None) -> bool:
    """Apply a provider's news about ``payment``; emit the outcome if this call made it."""
    if new == states.SUCCEEDED and amount_received not in (None, payment.amount):
        payment.failure_reason = f"provider reports {amount_received}, {payment.amount} was due"
        db.session.flush()
        return False
    values: dict[str, Any] = {}
    if new == states.SUCCEEDED:
        values["settled_at"] = utcnow()
    elif new in (states.FAILED, states.EXPIRED, states.CANCELLED) and reason:
        values["failure_reason"] = reason[:500]
    if not move(payment, new, **values):
        return False
    if new in EVENTS:
        emit(EVENTS[new], event_payload(payment, status=new))
    return True


def event_payload(payment: Payment, **extra: Any) -> dict[str, Any]:
    return {"payment_id": str(payment.id), "kind": payment.kind, "ref": payment.ref,
            "amount": payment.amount, "currency": payment.currency, "provider": payment.provider,
            "account": payment.account, **extra}


def read_from_provider(payment: Payment) -> ProviderStatus:
    provider = providers.for_account(payment.account).get(payment.provider)
    if provider is None or not payment.provider_ref:
        raise IllegalTransition(f"Payment {payment.id} cannot be read from {payment.provider!r} "
                                "(provider not available to this tenant).")
    settings = config.provider_settings(payment.provider, payment.account)
    return provider.status(settings, payment.provider_ref, payment.provider_data or {})


def confirm(payment_id: uuid.UUID) -> Payment:
    """The client says it confirmed: read the truth from the provider and apply it."""
    payment = get(payment_id)
    if payment.status in states.OPEN:
        found = read_from_provider(payment)
        apply_status(payment, found.status, found.amount_received)
    return payment


def reconcile(grace: dt.timedelta = dt.timedelta(minutes=10), limit: int = 200) -> dict[str, int]:
    """Settle open payments whose news never came; expire the ones left unpaid too long."""
    now = utcnow()
    expire_before = now - dt.timedelta(minutes=config.pending_expiry_minutes())
    open_ids = list(db.session.scalars(
        sa.select(Payment.id).where(Payment.status.in_(states.OPEN), Payment.created_at <= now - grace,
                                    Payment.provider != "manual")
        .order_by(Payment.created_at).limit(limit)))
    counts = {"checked": 0, "settled": 0, "expired": 0}
    for payment_id in open_ids:
        payment = locked(payment_id)
        counts["checked"] += 1
        found = read_from_provider(payment)
        if found.status != payment.status and apply_status(payment, found.status, found.amount_received):
            counts["settled"] += 1
        elif payment.status in states.OPEN and payment.status != states.PROCESSING and (
                payment.created_at <= expire_before):
            counts["expired"] += apply_status(payment, states.EXPIRED, reason="expired unpaid")
    return counts


def list_payments(filters: Mapping[str, Any]) -> sa.Select[tuple[Payment]]:
    stmt = sa.select(Payment).order_by(Payment.created_at.desc(), Payment.id)
    for name in ("kind", "ref", "status", "provider", "account", "customer_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(getattr(Payment, name) == filters[name])
    if filters.get("tenant_id") is not None:
        stmt = stmt.where(Payment.tenant_id == filters["tenant_id"])
    return stmt
