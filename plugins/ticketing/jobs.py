"""Background jobs: releasing expired orders every minute, and the confirmation mail.

Jobs take ids; the kernel's job wrapper opens the tenant's scope and commits.
"""

from __future__ import annotations

import uuid

from kernel.api import db, mailer
from plugins.ticketing import capacity, documents, money, orders, states
from plugins.ticketing.models import Event, Order, TicketType

CONFIRMATION = "ticketing_order_confirmation"


def expire_orders(tenant_id: uuid.UUID) -> int:
    """Cron, every minute per tenant: pending orders past ``expires_at`` become expired."""
    return orders.expire_due()


def send_confirmation(tenant_id: uuid.UUID, order_id: str) -> None:
    """Mail the buyer their tickets (and store each ticket's PDF ahead of its download)."""
    order = db.session.get(Order, uuid.UUID(order_id))
    if order is None or order.status != states.PAID:
        return  # cancelled or refunded before the mail went out: nothing to confirm
    event = db.session.get(Event, order.event_id)
    assert event is not None
    tickets = orders.tickets_of(order.id)
    names = capacity.type_names({t.ticket_type_id for t in tickets})
    for ticket in tickets:
        ticket_type = db.session.get(TicketType, ticket.ticket_type_id)
        assert ticket_type is not None
        documents.stored_pdf(tenant_id, event, order, ticket, ticket_type)
    mailer().send(order.email, CONFIRMATION, tenant_id,
                  buyer_name=order.name, order_code=order.code, event_title=event.title,
                  event_venue=event.venue, event_starts_at=event.starts_at.isoformat(),
                  total=money.display(order.total_amount, order.currency),
                  tickets=[{"ticket_type": names[t.ticket_type_id],
                            "attendee": t.attendee_name or order.name,
                            "code": t.secret[:8]} for t in tickets],
                  order_path=f"/api/v1/public/ticketing/orders/{order.code}?secret={order.secret}")
