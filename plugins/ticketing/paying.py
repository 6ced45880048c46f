"""Getting paid through whichever plugin collects money (the payments plugin), by contract only.

* :func:`payable` answers ``plugboard_resolve_payable`` for ``ticketing.order``: the amount
  always comes from the stored order, never from a caller;
* :func:`start` asks ``plugboard_start_payment``; no answer means no payments plugin;
* :func:`on_succeeded` / :func:`on_refunded` apply the payments plugin's events (the
  outbox delivers each once; they flush and the delivery commits);
* :func:`refund` asks ``plugboard_refund_payment``.

A payment that arrives for an order that is no longer holding its seats (expired, or
pending past ``expires_at``) is accepted only if the seats are still free, checked under
the same quota locks a new order takes; otherwise, and for cancelled or already paid
orders, it is refunded automatically. No Flask in here.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from hookspecs import Payable, PayableRefusal, PluginRefusal
from kernel.api import current_tenant_id, db, emit, tenant_hook, utcnow
from plugins.ticketing import capacity, orders, states
from plugins.ticketing.errors import PaymentRefused, PaymentsNotEnabled, SoldOut
from plugins.ticketing.models import Order

log = logging.getLogger("plugins.ticketing")

KIND = orders.KIND


# -- plugboard_resolve_payable -------------------------------------------------------------------


def payable(ref: str) -> Payable | PayableRefusal | None:
    """What order ``ref`` is due now, a refusal when it is not payable, None if unknown."""
    try:
        order = db.session.get(Order, uuid.UUID(ref))
    except ValueError:
        return None
    if order is None:
        return None
    refusal = _refusal(order)
    if refusal is not None:
        return PayableRefusal(*refusal)
    return Payable(order.total_amount, order.currency, f"Order {order.code}", customer_id=order.customer_id,
                   account="tenant", metadata={"order_code": order.code})


def _refusal(order: Order) -> tuple[str, str] | None:
    if order.status == states.PENDING and order.expires_at <= utcnow():
        return "expired", f"Order {order.code} expired; place a new order."
    if order.status != states.PENDING:
        return order.status, f"Order {order.code} is {order.status}."
    if order.total_amount <= 0:
        return "paid", f"Order {order.code} costs nothing."
    return None


# -- starting a payment ----------------------------------------------------------------------------


def can_collect() -> bool:
    """Whether an enabled plugin of the tenant collects payments at all."""
    return bool(tenant_hook("plugboard_start_payment").get_hookimpls())


def start(order: Order, provider: str | None, return_url: str | None) -> dict[str, Any]:
    """Start paying ``order``; what the buyer's client needs next (no secrets of ours)."""
    try:
        answer = tenant_hook("plugboard_start_payment")(
            tenant_id=current_tenant_id(), kind=KIND, ref=str(order.id), provider=provider,
            return_url=return_url)
    except PluginRefusal as refusal:
        raise PaymentRefused(refusal.reason, status=refusal.status, reason=refusal.type_) from refusal
    if answer is None:
        raise PaymentsNotEnabled("Paid tickets need the payments plugin: the organiser has not "
                                 "enabled it.", plugin="payments")
    order.payment_id = str(answer.get("payment_id")) if answer.get("payment_id") else None
    order.payment_provider = answer.get("provider")
    db.session.flush()
    keys = ("payment_id", "status", "provider", "amount", "currency", "client_secret", "redirect_url")
    return {k: answer[k] for k in keys if answer.get(k) is not None}


# -- the payments plugin's events ------------------------------------------------------------------


def _ours(payload: Mapping[str, Any]) -> Order | None:
    if payload.get("kind") != KIND:
        return None
    try:
        order_id = uuid.UUID(str(payload.get("ref")))
    except ValueError:
        return None
    return db.session.get(Order, order_id)


def on_succeeded(payload: Mapping[str, Any]) -> str:
    """``payments.payment.succeeded``: mark the order paid, or give the money back."""
    order = _ours(payload)
    if order is None:
        return "not ours"
    payment_id = str(payload["payment_id"])
    if order.status == states.PAID and order.payment_id == payment_id:
        return "already applied"
    if (int(payload.get("amount", -1)), payload.get("currency")) != (order.total_amount, order.currency):
        return _give_back(order, payment_id, "the amount paid does not match the order")
    if order.status not in (states.PENDING, states.EXPIRED):
        return _give_back(order, payment_id, f"the order is {order.status}")
    order, quantities = orders.locked(order.id)  # quotas first, then the order row
    if order.status == states.PAID and order.payment_id == payment_id:
        return "already applied"
    types = capacity.type_names(quantities)
    if order.status == states.PENDING and order.expires_at > utcnow():
        orders.mark_paid(order, payment_id, payload.get("provider"), quantities)  # seats still held
        return "paid"
    if order.status not in (states.PENDING, states.EXPIRED):
        return _give_back(order, payment_id, f"the order is {order.status}")
    return _late(order, payment_id, payload.get("provider"), quantities, types)


def _late(order: Order, payment_id: str, provider: str | None, quantities: dict[uuid.UUID, int],
          names: dict[uuid.UUID, str]) -> str:
    """A payment after expiry: accepted if the seats are free (the quotas are locked)."""
    try:
        capacity.take(quantities, names, exclude=order.id)  # re-locking is a no-op
    except SoldOut:
        if order.status == states.PENDING:
            states.move("order", order, states.EXPIRED)
            order.expired_at = utcnow()
        return _give_back(order, payment_id, "the order expired and its seats were sold meanwhile")
    orders.mark_paid(order, payment_id, provider, quantities)
    log.info("late payment accepted", extra={"order": order.code})
    return "paid late"


def _give_back(order: Order, payment_id: str, why: str) -> str:
    """Refund a payment the order cannot take; the delivery is retried if that fails."""
    log.warning("refunding a payment the order cannot take", extra={"order": order.code, "why": why})
    answer = tenant_hook("plugboard_refund_payment")(
        tenant_id=current_tenant_id(), payment_id=payment_id, amount=None,
        reason=f"Order {order.code}: {why}")
    if answer is None:  # the money must not be kept: fail, and the outbox retries later
        raise RuntimeError(f"no enabled plugin refunds payment {payment_id} of order {order.code}")
    order.updated_at = utcnow()
    db.session.flush()
    return "refunded"


def on_refunded(payload: Mapping[str, Any]) -> str:
    """``payments.payment.refunded``: record the money returned; fully refunded → refunded."""
    order = _ours(payload)
    if order is None:
        return "not ours"
    order, quantities = orders.locked(order.id)
    if order.payment_id not in (None, str(payload["payment_id"])):
        return "another payment"  # e.g. a late payment given back: the order is not touched
    total = payload.get("total_refunded")
    order.refunded_amount = (int(total) if total is not None
                             else order.refunded_amount + int(payload.get("amount_refunded", 0)))
    if order.refunded_amount >= order.total_amount and order.status in (states.PAID, states.CANCELLED):
        _mark_refunded(order, str(payload["payment_id"]), quantities)
    db.session.flush()
    return "recorded"


def _mark_refunded(order: Order, payment_id: str | None, quantities: dict[uuid.UUID, int]) -> None:
    """paid or cancelled → refunded; a paid order's seats go back (its quotas are locked)."""
    if order.status == states.PAID:
        capacity.add_sold(quantities, -1)
    states.move("order", order, states.REFUNDED)
    order.refunded_at = order.updated_at = utcnow()
    emit("ticketing.order.refunded", orders.event_payload(order, payment_id=payment_id))


# -- staff refunds ---------------------------------------------------------------------------------


def refund(order_id: uuid.UUID, reason: str | None) -> Order:
    """paid (or cancelled after paying) → refunded, the money returned through payments."""
    order, quantities = orders.locked(order_id)
    states.check("order", order.status, states.REFUNDED)
    if order.status == states.CANCELLED and order.paid_at is None:
        raise states.IllegalTransition("order", "cancelled (never paid)", states.REFUNDED)
    if order.total_amount > 0 and order.payment_id:
        _ask_refund(order, reason)
    _mark_refunded(order, order.payment_id, quantities)
    db.session.flush()
    return order


def _ask_refund(order: Order, reason: str | None) -> None:
    try:
        answer = tenant_hook("plugboard_refund_payment")(
            tenant_id=current_tenant_id(), payment_id=order.payment_id, amount=None,
            reason=reason or f"Order {order.code} refunded")
    except PluginRefusal as refusal:
        raise PaymentRefused(refusal.reason, status=refusal.status, reason=refusal.type_) from refusal
    if answer is None:
        raise PaymentsNotEnabled("Refunds go through the payments plugin: enable it to refund "
                                 "this order.", plugin="payments")
