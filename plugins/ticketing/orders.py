"""Orders: placing them without overselling, expiry, staff cancel and refund.

No Flask in here; flushes, never commits. Payments cooperation (starting a payment,
refunds, and the payments plugin's events) is in :mod:`.paying`.

Placing an order does everything that needs no lock first (validation, prices, the
buyer's customer record), then takes the quota locks (:func:`.capacity.take`) and writes
the order and its tickets; the caller commits at once, releasing the locks.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kernel.api import Customer, db, emit, enqueue, find_or_create_customer, next_number, utcnow
from plugins.ticketing import capacity, services, states
from plugins.ticketing.errors import EventNotOnSale, Invalid, NotFound, PaymentsNotEnabled, SalesClosed
from plugins.ticketing.models import Event, Order, Ticket, TicketType

KIND = "ticketing.order"
ORDER_NUMBERS = "ticketing.order"  # the tenant's sequence of order numbers
# order codes people read out: no 0/O, 1/I/L; 10 characters = 50 bits
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


@dataclass(frozen=True)
class Item:
    ticket_type_id: uuid.UUID
    quantity: int
    attendee_name: str | None = None
    attendee_email: str | None = None


@dataclass(frozen=True)
class Settings:
    expiry_minutes: int = 15
    max_tickets: int = 50

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        return cls(int(config.get("order_expiry_minutes", 15)),
                   int(config.get("max_tickets_per_order", 50)))


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_secret() -> str:
    return secrets.token_urlsafe(24)


# -- placing ---------------------------------------------------------------------------------


def _event_on_sale(ref: str, now: dt.datetime) -> Event:
    event = services.published_event(ref)
    if event is None:
        raise NotFound("No such event on this storefront.")
    if event.status != states.PUBLISHED or event.ends_at <= now:
        why = "cancelled" if event.status != states.PUBLISHED else "over"
        raise EventNotOnSale(f"{event.title} is {why}; tickets are no longer sold.")
    return event


def _types_for(event: Event, items: Sequence[Item], now: dt.datetime) -> dict[uuid.UUID, TicketType]:
    wanted = {i.ticket_type_id for i in items}
    found = {t.id: t for t in db.session.scalars(sa.select(TicketType).where(
        TicketType.event_id == event.id, TicketType.id.in_(wanted), TicketType.hidden.is_(False)))}
    for n, item in enumerate(items):
        if item.ticket_type_id not in found:
            raise Invalid("Not a ticket type on sale for this event.", field=f"items.{n}.ticket_type")
    for tt in found.values():
        if (tt.sales_start and now < tt.sales_start) or (tt.sales_end and now >= tt.sales_end):
            raise SalesClosed(f"{tt.name} is not on sale now.", ticket_type=str(tt.id))
    return found


def _quantities(items: Sequence[Item], types: dict[uuid.UUID, TicketType], settings: Settings
                ) -> dict[uuid.UUID, int]:
    totals: dict[uuid.UUID, int] = {}
    for item in items:
        totals[item.ticket_type_id] = totals.get(item.ticket_type_id, 0) + item.quantity
    for n, item in enumerate(items):
        tt, count = types[item.ticket_type_id], totals[item.ticket_type_id]
        if not tt.min_per_order <= count <= tt.max_per_order:
            raise Invalid(f"{tt.name}: between {tt.min_per_order} and {tt.max_per_order} per order.",
                          field=f"items.{n}.quantity")
    if sum(totals.values()) > settings.max_tickets:
        raise Invalid(f"At most {settings.max_tickets} tickets per order.", field="items")
    return totals


def place(tenant_id: uuid.UUID, event_ref: str, items: Sequence[Item], email: str, name: str,
          customer: Customer | None, settings: Settings, can_collect: bool) -> Order:
    """A new order: paid at once when it costs nothing, else pending until ``expires_at``.

    Raises :class:`~.errors.SoldOut` when a quota is short, and
    :class:`~.errors.PaymentsNotEnabled` for a paid order when ``can_collect`` is false.
    """
    now = utcnow()
    event = _event_on_sale(event_ref, now)
    types = _types_for(event, items, now)
    quantities = _quantities(items, types, settings)
    return _write(tenant_id, event, items, types, quantities, email, name, customer, settings,
                  can_collect, box_office=False)


def box_office(tenant_id: uuid.UUID, event_id: uuid.UUID, item: Item, email: str, name: str,
               settings: Settings) -> Order:
    """Staff sell ``item`` on the spot (cash, card terminal, complimentary): paid at once.

    Sales windows, hidden types and per-order limits do not apply; quotas do.
    """
    now = utcnow()
    event = services.get_event(event_id)
    if event.status != states.PUBLISHED or event.ends_at <= now:
        raise EventNotOnSale(f"{event.title} is not on sale (it is {event.status} or over).")
    types = {item.ticket_type_id: services.get_ticket_type(event_id, item.ticket_type_id)}
    return _write(tenant_id, event, [item], types, {item.ticket_type_id: item.quantity}, email, name,
                  None, settings, True, box_office=True)


def _write(tenant_id: uuid.UUID, event: Event, items: Sequence[Item], types: dict[uuid.UUID, TicketType],
           quantities: dict[uuid.UUID, int], email: str, name: str, customer: Customer | None,
           settings: Settings, can_collect: bool, box_office: bool) -> Order:
    now = utcnow()
    total = sum(types[t].price_amount * n for t, n in quantities.items())
    if total > 0 and not can_collect:
        raise PaymentsNotEnabled("Paid tickets need the payments plugin: the organiser has not "
                                 "enabled it. Free tickets can still be ordered.", plugin="payments")
    buyer = customer or find_or_create_customer(email, name)
    order = Order(id=uuid.uuid4(), tenant_id=tenant_id, event_id=event.id, code=new_code(),
                  secret=new_secret(), customer_id=buyer.id, email=email.strip().lower(),
                  name=name or buyer.name, total_amount=total, status=states.PENDING,
                  currency=next(iter(types.values())).currency,
                  expires_at=now + dt.timedelta(minutes=settings.expiry_minutes))
    paid_now = total == 0 or box_office
    if paid_now:  # set before the first flush: one INSERT
        states.move("order", order, states.PAID)
        order.paid_at = now
        order.payment_provider = "box_office" if box_office else None
    db.session.add(order)
    db.session.add_all(_tickets(tenant_id, order, items, types))
    emit("ticketing.order.placed", event_payload(order))
    db.session.flush()
    # Everything is written; the quota locks come last and are held only for the count,
    # the paid-seat counter and the commit. A refusal rolls all of it back.
    need = capacity.take(quantities, {t: tt.name for t, tt in types.items()}, exclude=order.id)
    if paid_now:
        capacity.add_sold(quantities, 1, need)
        order.number = next_number(ORDER_NUMBERS)  # the last lock taken: quotas, then the number
        _announce_paid(order, None)
    return order


def _tickets(tenant_id: uuid.UUID, order: Order, items: Sequence[Item],
             types: dict[uuid.UUID, TicketType]) -> list[Ticket]:
    return [Ticket(tenant_id=tenant_id, order_id=order.id, event_id=order.event_id,
                   ticket_type_id=item.ticket_type_id, price_amount=types[item.ticket_type_id].price_amount,
                   attendee_name=item.attendee_name, attendee_email=item.attendee_email,
                   secret=new_secret())
            for item in items for _ in range(item.quantity)]


def event_payload(order: Order, **extra: Any) -> dict[str, Any]:
    """What ticketing's events carry: ids and money, never secrets."""
    return {"order_id": str(order.id), "code": order.code, "number": order.number,
            "event_id": str(order.event_id),
            "customer_id": str(order.customer_id) if order.customer_id else None,
            "amount": order.total_amount, "currency": order.currency, "status": order.status, **extra}


def quantities_of(order_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Ticket type → tickets of that type in the order."""
    return {t: int(n) for t, n in db.session.execute(
        sa.select(Ticket.ticket_type_id, sa.func.count(Ticket.id)).where(Ticket.order_id == order_id)
        .group_by(Ticket.ticket_type_id))}


def locked(order_id: uuid.UUID) -> tuple[Order, dict[uuid.UUID, int]]:
    """The order's row locked for a change of seats, after its quotas (the lock order)."""
    quantities = quantities_of(get_order(order_id).id)
    capacity.lock_for(quantities)
    return get_order(order_id, lock=True), quantities


def mark_paid(order: Order, payment_id: str | None = None, provider: str | None = None,
              quantities: dict[uuid.UUID, int] | None = None) -> None:
    """pending or expired → paid. The caller holds the order's quota locks."""
    _paid(order, payment_id, provider)
    capacity.add_sold(quantities if quantities is not None else quantities_of(order.id), 1)
    db.session.flush()


def _paid(order: Order, payment_id: str | None, provider: str | None) -> None:
    states.move("order", order, states.PAID)
    if order.number is None:  # the caller holds the quota and order locks: the number comes last
        order.number = next_number(ORDER_NUMBERS)
    order.paid_at = order.updated_at = utcnow()
    if payment_id:
        order.payment_id, order.payment_provider = payment_id, provider
    _announce_paid(order, payment_id)


def _announce_paid(order: Order, payment_id: str | None) -> None:
    emit("ticketing.order.paid", event_payload(order, payment_id=payment_id))
    enqueue("ticketing.send_confirmation", key=f"ticketing-confirm-{order.id}", order_id=str(order.id))


# -- reading ---------------------------------------------------------------------------------


def orders_query(event_id: uuid.UUID | None = None, status: str | None = None,
                 email: str | None = None, q: str | None = None) -> sa.Select[Any]:
    stmt = sa.select(Order)
    if event_id:
        stmt = stmt.where(Order.event_id == event_id)
    if status:
        stmt = stmt.where(Order.status == status)
    if email:
        stmt = stmt.where(Order.email == email.strip().lower())
    if q:
        stmt = stmt.where(sa.or_(Order.code == q.strip().upper(),
                                 sa.func.lower(Order.name).contains(q.lower(), autoescape=True)))
    return stmt.order_by(Order.created_at.desc(), Order.id)


def get_order(order_id: uuid.UUID, lock: bool = False) -> Order:
    stmt = sa.select(Order).where(Order.id == order_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    order = db.session.scalars(stmt).one_or_none()
    if order is None:
        raise NotFound("No such order.")
    return order


def by_code(code: str, secret: str | None) -> Order:
    """The order with ``code``, if ``secret`` is its secret (compared in constant time)."""
    order = db.session.scalars(sa.select(Order).where(Order.code == code.upper())).one_or_none()
    if order is None or not secret or not secrets.compare_digest(order.secret, secret):
        raise NotFound("No order with this code and secret.")
    return order


def tickets_of(order_id: uuid.UUID) -> list[Ticket]:
    return list(db.session.scalars(sa.select(Ticket).where(Ticket.order_id == order_id)
                                   .order_by(Ticket.created_at, Ticket.id)))


# -- staff actions and expiry ----------------------------------------------------------------


def cancel(order_id: uuid.UUID, reason: str | None) -> Order:
    """pending or paid → cancelled; the tickets stop admitting. Money moves only by refund."""
    order, quantities = locked(order_id)
    was_paid = order.status == states.PAID
    states.move("order", order, states.CANCELLED)
    if was_paid:
        capacity.add_sold(quantities, -1)
    order.cancelled_at = order.updated_at = utcnow()
    db.session.flush()
    emit("ticketing.order.cancelled", event_payload(order, reason=reason))
    return order


def expire_due(limit: int = 1000) -> int:
    """pending orders past ``expires_at`` → expired. Their seats were free from that moment
    on (see :mod:`.capacity`); this records it. Rows another transaction holds (a payment
    being applied) are skipped and picked up next minute."""
    now = utcnow()
    due = list(db.session.scalars(
        sa.select(Order).where(Order.status == states.PENDING, Order.expires_at <= now)
        .order_by(Order.expires_at).limit(limit).with_for_update(skip_locked=True)))
    for order in due:
        states.move("order", order, states.EXPIRED)
        order.expired_at = order.updated_at = now
        emit("ticketing.order.expired", event_payload(order))
    db.session.flush()
    return len(due)


def attendees(event_id: uuid.UUID) -> list[dict[str, Any]]:
    """The event's tickets in valid (paid) orders, with buyer and check-in time."""
    from plugins.ticketing.models import Checkin

    first_ok = (sa.select(Checkin.ticket_id, sa.func.min(Checkin.scanned_at).label("at"))
                .where(Checkin.result == "ok").group_by(Checkin.ticket_id).subquery())
    rows = db.session.execute(
        sa.select(Ticket, Order, TicketType.name, first_ok.c.at)
        .join(Order, Order.id == Ticket.order_id)
        .join(TicketType, TicketType.id == Ticket.ticket_type_id)
        .outerjoin(first_ok, first_ok.c.ticket_id == Ticket.id)
        .where(Ticket.event_id == event_id, Order.status == states.PAID)
        .order_by(Order.created_at, Ticket.id))
    return [{"ticket_id": str(t.id), "order_code": o.code, "ticket_type": name,
             "attendee_name": t.attendee_name or o.name, "attendee_email": t.attendee_email or o.email,
             "buyer_email": o.email, "price": t.price_amount, "currency": o.currency,
             "paid_at": o.paid_at, "checked_in_at": at}
            for t, o, name, at in rows]
