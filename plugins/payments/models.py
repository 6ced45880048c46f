"""Payments, refunds, disputes, payment links and the provider events already processed.

Every table is tenant-owned (a payment to the platform's own account, e.g. billing's
invoice to a tenant, still belongs to the tenant it bills). Money is integer minor units
plus an ISO 4217 code. The database guards what must happen once: a provider event is
recorded once per tenant (``uq_payment_webhook_events_…``), a provider's payment, refund
and dispute references are unique per tenant and provider.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kernel.api import Base, TenantOwned, utcnow


class Payment(TenantOwned, Base):
    """One attempt to collect what a payable (``kind``/``ref``) is due."""

    __tablename__ = "payments"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "provider", "provider_ref"),
        sa.Index("ix_payments_tenant_id_kind_ref", "tenant_id", "kind", "ref"),
        sa.Index("ix_payments_status_created_at", "status", "created_at"),
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint("amount_refunded >= 0 AND amount_refunded <= amount",
                           name="refunds_within_amount"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(sa.String(80))
    ref: Mapped[str] = mapped_column(sa.String(120))
    provider: Mapped[str] = mapped_column(sa.String(40))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(255))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_refunded: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    description: Mapped[str] = mapped_column(sa.String(500), default="")
    customer_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    #: ``tenant`` (the tenant's provider account) or ``platform`` (the platform's)
    account: Mapped[str] = mapped_column(sa.String(10), default="tenant")
    client_secret: Mapped[str | None] = mapped_column(sa.String(255))
    redirect_url: Mapped[str | None] = mapped_column(sa.String(2000))
    return_url: Mapped[str | None] = mapped_column(sa.String(2000))
    #: the provider's own follow-up data (Paynow's poll URL)
    provider_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    note: Mapped[str | None] = mapped_column(sa.String(1000))
    failure_reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    settled_at: Mapped[dt.datetime | None]


class Refund(TenantOwned, Base):
    """Money given back from a payment; refunds of a payment add up to at most its amount."""

    __tablename__ = "payment_refunds"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "provider", "provider_ref"),
                      sa.CheckConstraint("amount > 0", name="amount_positive"))

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    payment_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("payments.id", ondelete="CASCADE"),
                                                  index=True)
    provider: Mapped[str] = mapped_column(sa.String(40))
    provider_ref: Mapped[str | None] = mapped_column(sa.String(255))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Dispute(TenantOwned, Base):
    """A chargeback the payer opened with their bank, as the provider reports it."""

    __tablename__ = "payment_disputes"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "provider", "provider_ref"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    payment_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("payments.id", ondelete="CASCADE"),
                                                  index=True)
    provider: Mapped[str] = mapped_column(sa.String(40))
    provider_ref: Mapped[str] = mapped_column(sa.String(255))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    status: Mapped[str] = mapped_column(sa.String(40))
    reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PaymentLink(TenantOwned, Base):
    """A link (``/pay/<token>``) anyone holding it may use to pay a payable.

    Only the token's SHA-256 is stored: a database leak gives no working links.
    """

    __tablename__ = "payment_links"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(sa.String(8))
    kind: Mapped[str] = mapped_column(sa.String(80))
    ref: Mapped[str] = mapped_column(sa.String(120))
    expires_at: Mapped[dt.datetime | None]
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookEventRecord(TenantOwned, Base):
    """A provider event already processed: the same event id again is a duplicate."""

    __tablename__ = "payment_webhook_events"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "provider", "event_id"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    provider: Mapped[str] = mapped_column(sa.String(40))
    event_id: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(20))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    outcome: Mapped[str] = mapped_column(sa.String(40))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
