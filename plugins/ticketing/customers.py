"""The data-subject hooks: a customer's orders and tickets in their timeline, their
export, and their erasure (orders are money records: kept, anonymised)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from kernel.api import Customer, db
from plugins.ticketing.models import Event, Order, Ticket

ERASED_NAME = "Erased customer"


def _orders(customer_id: uuid.UUID) -> list[tuple[Order, str]]:
    return [(o, title) for o, title in db.session.execute(
        sa.select(Order, Event.title).join(Event, Event.id == Order.event_id)
        .where(Order.customer_id == customer_id).order_by(Order.created_at))]


def timeline(customer_id: uuid.UUID) -> list[dict[str, Any]]:
    entries = []
    for order, title in _orders(customer_id):
        data = {"code": order.code, "status": order.status, "amount": order.total_amount,
                "currency": order.currency}
        entries.append({"at": order.created_at, "type": "ticketing.order.placed",
                        "title": f"Order {order.code} for {title}", "ref": str(order.id), "data": data})
        if order.paid_at:
            entries.append({"at": order.paid_at, "type": "ticketing.order.paid",
                            "title": f"Order {order.code} paid", "ref": str(order.id), "data": data})
    return entries


def export(customer_id: uuid.UUID) -> dict[str, Any] | None:
    found = _orders(customer_id)
    if not found:
        return None
    return {"orders": [{
        "id": str(o.id), "code": o.code, "event": title, "status": o.status, "email": o.email,
        "name": o.name, "total": {"amount": o.total_amount, "currency": o.currency},
        "created_at": o.created_at.isoformat(), "paid_at": o.paid_at.isoformat() if o.paid_at else None,
        "tickets": [{"id": str(t.id), "attendee_name": t.attendee_name, "attendee_email": t.attendee_email}
                    for t in db.session.scalars(sa.select(Ticket).where(Ticket.order_id == o.id))],
    } for o, title in found]}


def erase(customer_id: uuid.UUID) -> None:
    """Drop names and e-mails from the person's orders and tickets (also tickets others
    bought for them); amounts, codes and statuses stay for the books."""
    customer = db.session.get(Customer, customer_id)
    order_ids = [o.id for o, _title in _orders(customer_id)]
    if order_ids:
        db.session.execute(sa.update(Order).where(Order.id.in_(order_ids))
                           .values(email=f"erased-{customer_id.hex[:12]}@invalid", name=ERASED_NAME))
        db.session.execute(sa.update(Ticket).where(Ticket.order_id.in_(order_ids))
                           .values(attendee_name=None, attendee_email=None))
    if customer is not None and customer.email:
        db.session.execute(sa.update(Ticket).where(Ticket.attendee_email == customer.email)
                           .values(attendee_name=None, attendee_email=None))
    db.session.flush()
