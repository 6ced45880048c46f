"""Events, ticket types, quotas, orders, tickets and check-ins.

A quota's seats in use are its ``sold`` counter (paid orders) plus the tickets of
pending orders not yet past ``expires_at``, read while the quota rows are locked (see
:mod:`.capacity`). A ticket type with its own
``capacity`` gets a quota of its own (``Quota.ticket_type_id``), so every capacity
check is a quota check.

Money is integer minor units (``*_amount``) beside an ISO 4217 ``currency``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kernel.api import Base, TenantOwned, utcnow


def _pk() -> Mapped[uuid.UUID]:
    return mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


def _event_fk() -> Mapped[uuid.UUID]:
    return mapped_column(sa.ForeignKey("ticketing_events.id", ondelete="CASCADE"), index=True)


class Event(TenantOwned, Base):
    """Something people buy tickets for; ``slug`` is unique per tenant."""

    __tablename__ = "ticketing_events"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "slug"),)

    id: Mapped[uuid.UUID] = _pk()
    title: Mapped[str] = mapped_column(sa.String(200))
    slug: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    venue: Mapped[str] = mapped_column(sa.String(300), default="")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    #: storage key of the cover image (under the tenant's public prefix), if any
    cover_key: Mapped[str | None] = mapped_column(sa.String(300))
    published_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TicketType(TenantOwned, Base):
    """A kind of ticket of an event, with its price and per-order limits."""

    __tablename__ = "ticketing_ticket_types"

    id: Mapped[uuid.UUID] = _pk()
    event_id: Mapped[uuid.UUID] = _event_fk()
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    price_amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    #: the type's own limit (kept as its own quota); None: only shared quotas limit it
    capacity: Mapped[int | None]
    min_per_order: Mapped[int] = mapped_column(default=1)
    max_per_order: Mapped[int] = mapped_column(default=10)
    sales_start: Mapped[dt.datetime | None]
    sales_end: Mapped[dt.datetime | None]
    #: not shown on, nor sold through, the storefront
    hidden: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Quota(TenantOwned, Base):
    """Seats shared by ticket types: a type counts against every quota it is in."""

    __tablename__ = "ticketing_quotas"

    id: Mapped[uuid.UUID] = _pk()
    event_id: Mapped[uuid.UUID] = _event_fk()
    name: Mapped[str] = mapped_column(sa.String(200))
    size: Mapped[int]
    #: seats of paid orders; changed only under the row's lock (see :mod:`.capacity`)
    sold: Mapped[int] = mapped_column(default=0)
    #: set for the quota that holds a ticket type's own ``capacity``
    ticket_type_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("ticketing_ticket_types.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class QuotaMember(TenantOwned, Base):
    """Ticket type ``ticket_type_id`` counts against quota ``quota_id``."""

    __tablename__ = "ticketing_quota_members"
    __table_args__ = (sa.UniqueConstraint("quota_id", "ticket_type_id"),)

    id: Mapped[uuid.UUID] = _pk()
    quota_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("ticketing_quotas.id", ondelete="CASCADE"), index=True)
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("ticketing_ticket_types.id", ondelete="CASCADE"), index=True)


class Order(TenantOwned, Base):
    """A buyer's order: pending until paid (or expired), then maybe cancelled or refunded."""

    __tablename__ = "ticketing_orders"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "code"),
        sa.UniqueConstraint("tenant_id", "number"),
        sa.Index("ix_ticketing_orders_tenant_event_status", "tenant_id", "event_id", "status"),
        sa.Index("ix_ticketing_orders_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = _pk()
    event_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("ticketing_events.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(sa.String(16))
    #: the number people read (1, 2, 3… per tenant), given when the order is paid
    number: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: the buyer's credential to read the order (compared in constant time)
    secret: Mapped[str] = mapped_column(sa.String(64))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL"), index=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    total_amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    expires_at: Mapped[dt.datetime]
    payment_id: Mapped[str | None] = mapped_column(sa.String(64))
    payment_provider: Mapped[str | None] = mapped_column(sa.String(40))
    refunded_amount: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    paid_at: Mapped[dt.datetime | None]
    expired_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    refunded_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Ticket(TenantOwned, Base):
    """One seat of an order (an order position); ``secret`` is what its QR code carries."""

    __tablename__ = "ticketing_tickets"
    __table_args__ = (sa.Index("ix_ticketing_tickets_tenant_type", "tenant_id", "ticket_type_id"),)

    id: Mapped[uuid.UUID] = _pk()
    order_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("ticketing_orders.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("ticketing_events.id", ondelete="RESTRICT"),
                                                index=True)
    ticket_type_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("ticketing_ticket_types.id", ondelete="RESTRICT"))
    price_amount: Mapped[int] = mapped_column(sa.BigInteger)
    attendee_name: Mapped[str | None] = mapped_column(sa.String(200))
    attendee_email: Mapped[str | None] = mapped_column(sa.String(320))
    secret: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CheckinList(TenantOwned, Base):
    """Who may enter where: all of an event's tickets, or those of some ticket types."""

    __tablename__ = "ticketing_checkin_lists"

    id: Mapped[uuid.UUID] = _pk()
    event_id: Mapped[uuid.UUID] = _event_fk()
    name: Mapped[str] = mapped_column(sa.String(200))
    all_types: Mapped[bool] = mapped_column(default=True)
    #: the ticket type ids (strings) admitted when ``all_types`` is false
    ticket_type_ids: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Checkin(TenantOwned, Base):
    """One scan and its answer; ``nonce`` (unique per tenant) makes scanner retries safe."""

    __tablename__ = "ticketing_checkins"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "nonce"),)

    id: Mapped[uuid.UUID] = _pk()
    nonce: Mapped[str] = mapped_column(sa.String(100))
    list_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("ticketing_checkin_lists.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("ticketing_tickets.id", ondelete="CASCADE"), index=True)
    result: Mapped[str] = mapped_column(sa.String(24))
    #: when the scanner saw the ticket (offline scans are uploaded later)
    scanned_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
