"""Billing's tables: platform plans and the invoice counter, and per tenant its account,
subscribed services, usage events, invoices, credits, payments and reminders sent.

Plans and the invoice-number counter belong to the platform (no ``tenant_id``: every
tenant's invoices are numbered from one sequence). Everything else is tenant-owned, with
``tenant_id`` leading its keys, and row-level security on PostgreSQL. Money is an
integer of minor units beside an ISO 4217 code.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kernel.api import Base, TenantOwned, utcnow

INVOICE_COUNTER = "invoice_number"


class Plan(Base):
    """What the platform sells: recurring ``fees`` and metered ``charges`` (JSON lists,
    validated by :mod:`.schemas`). Platform-wide, read by every tenant's invoice run."""

    __tablename__ = "billing_plans"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    currency: Mapped[str] = mapped_column(sa.String(3))
    fees: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    charges: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Counter(Base):
    """A platform-wide sequence, locked ``FOR UPDATE`` by the transaction that takes a number."""

    __tablename__ = "billing_counters"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Account(TenantOwned, Base):
    """A tenant's billing account (one per tenant)."""

    __tablename__ = "billing_accounts"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    #: who put the account in its status: "dunning" (the daily job) or "admin"
    status_by: Mapped[str] = mapped_column(sa.String(16), default="dunning")
    currency: Mapped[str] = mapped_column(sa.String(3), default="USD")
    #: the billed organisation's legal name, printed on invoices
    name: Mapped[str | None] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    address: Mapped[str | None] = mapped_column(sa.String(1000))
    tax_id: Mapped[str | None] = mapped_column(sa.String(64))
    #: tax rate in basis points (1/100 of a percent): 1900 = 19 %
    tax_rate_bp: Mapped[int] = mapped_column(default=0)
    net_days: Mapped[int] = mapped_column(default=14)
    grace_days: Mapped[int] = mapped_column(default=14)
    suspended_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Subscription(TenantOwned, Base):
    """A subscribed service: the tenant's plan from ``starts_at`` until ``ends_at``.

    ``overrides``: ``{"fees": {<fee name>: amount}, "charges": {<metric>: unit_amount}}``.
    """

    __tablename__ = "billing_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("billing_plans.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime | None]
    overrides: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class UsageEvent(TenantOwned, Base):
    """One metered event; ``transaction_id`` is unique per tenant (repeats are ignored)."""

    __tablename__ = "billing_usage_events"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "transaction_id"),
        sa.Index("ix_billing_usage_events_tenant_metric_ts", "tenant_id", "metric", "timestamp"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    transaction_id: Mapped[str] = mapped_column(sa.String(200))
    metric: Mapped[str] = mapped_column(sa.String(100))
    timestamp: Mapped[dt.datetime]
    properties: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Invoice(TenantOwned, Base):
    """A tenant's invoice; ``number`` is given when it is finalised (platform-wide sequence)."""

    __tablename__ = "billing_invoices"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "period_start"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    number: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="draft")
    currency: Mapped[str] = mapped_column(sa.String(3))
    period_start: Mapped[dt.datetime]
    period_end: Mapped[dt.datetime]
    subtotal: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    credit_applied: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    tax_rate_bp: Mapped[int] = mapped_column(default=0)
    tax: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    amount_paid: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    issued_at: Mapped[dt.datetime | None]
    due_at: Mapped[dt.datetime | None]
    paid_at: Mapped[dt.datetime | None]
    voided_at: Mapped[dt.datetime | None]
    void_reason: Mapped[str | None] = mapped_column(sa.String(500))
    pdf_key: Mapped[str | None] = mapped_column(sa.String(300))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InvoiceLine(TenantOwned, Base):
    """A line: ``fee``, ``usage``, ``credit`` (negative) or ``tax``."""

    __tablename__ = "billing_invoice_lines"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("billing_invoices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(16))
    description: Mapped[str] = mapped_column(sa.String(300))
    metric: Mapped[str | None] = mapped_column(sa.String(100))
    quantity: Mapped[str] = mapped_column(sa.String(40), default="1")
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    credit_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)


class Credit(TenantOwned, Base):
    """Credit issued by an admin; ``remaining`` is consumed by the next invoices."""

    __tablename__ = "billing_credits"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    remaining: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    reason: Mapped[str] = mapped_column(sa.String(500))
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Payment(TenantOwned, Base):
    """Money in (or back out) on an invoice; ``external_id`` dedupes payment events."""

    __tablename__ = "billing_payments"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "external_id"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("billing_invoices.id", ondelete="CASCADE"), index=True)
    #: payment, refund or manual
    kind: Mapped[str] = mapped_column(sa.String(16))
    external_id: Mapped[str] = mapped_column(sa.String(200))
    #: positive for money in, negative for a refund
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    provider: Mapped[str | None] = mapped_column(sa.String(40))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Reminder(TenantOwned, Base):
    """An overdue reminder mailed (``stage`` = days after the due date): once per stage."""

    __tablename__ = "billing_reminders"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "invoice_id", "stage"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    invoice_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("billing_invoices.id", ondelete="CASCADE"), index=True)
    stage: Mapped[int]
    sent_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
