"""Texts, their status callbacks, templates, opt-outs and calls: every row a tenant's.

Phone numbers are stored in E.164 (``+263771234567``). ``customer_id`` refers to the
kernel's customer record (contract 1.1); it is a plain nullable UUID column, with no
foreign key, until that table exists.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kernel.api import Base, TenantOwned, utcnow

OUTBOUND = "outbound"
INBOUND = "inbound"
NUMBER = sa.String(20)  # E.164: at most 15 digits and the plus


class Message(TenantOwned, Base):
    """One text, sent or received. Outbound ones move forward through :data:`STATUS_RANK`."""

    __tablename__ = "comms_messages"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "provider_sid"),
        sa.UniqueConstraint("tenant_id", "idempotency_key"),
        sa.Index("ix_comms_messages_tenant_created", "tenant_id", "created_at"),
        sa.Index("ix_comms_messages_tenant_to", "tenant_id", "to_number"),
        sa.Index("ix_comms_messages_tenant_from", "tenant_id", "from_number"),
        sa.Index("ix_comms_messages_tenant_customer", "tenant_id", "customer_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    direction: Mapped[str] = mapped_column(sa.String(8))
    to_number: Mapped[str] = mapped_column(NUMBER)
    from_number: Mapped[str | None] = mapped_column(NUMBER)
    body: Mapped[str] = mapped_column(sa.Text)
    template: Mapped[str | None] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))
    error_code: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(sa.String(500))
    #: Twilio's message SID (SM…/MM…), once Twilio accepted the text
    provider_sid: Mapped[str | None] = mapped_column(sa.String(64))
    segments: Mapped[int] = mapped_column(default=1)
    encoding: Mapped[str] = mapped_column(sa.String(8), default="GSM-7")
    customer_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    #: what the text is about, ``<plugin>.<entity>:<id>`` (plugboard_send_sms)
    ref: Mapped[str | None] = mapped_column(sa.String(200))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: when a send job claimed the text (once: a second job for it does nothing)
    send_started_at: Mapped[dt.datetime | None]
    submitted_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]


class StatusCallback(TenantOwned, Base):
    """A Twilio status callback, once per (message SID, status): the deduplication record."""

    __tablename__ = "comms_status_callbacks"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "provider_sid", "status"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    provider_sid: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[str] = mapped_column(sa.String(16))
    error_code: Mapped[int | None]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Template(TenantOwned, Base):
    """A named text with Jinja2 placeholders, rendered in a sandbox."""

    __tablename__ = "comms_templates"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(sa.String(64))
    body: Mapped[str] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OptOut(TenantOwned, Base):
    """A number that asked not to be texted (STOP) by this tenant; never sent to."""

    __tablename__ = "comms_opt_outs"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    number: Mapped[str] = mapped_column(NUMBER)
    #: ``keyword`` (they texted STOP), ``staff`` (added through the API), ``provider``
    #: (Twilio refused: 21610 unsubscribed)
    source: Mapped[str] = mapped_column(sa.String(16))
    keyword: Mapped[str | None] = mapped_column(sa.String(32))
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Call(TenantOwned, Base):
    """An AI voice call through Vapi, with what Vapi reported once it ended."""

    __tablename__ = "comms_calls"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "provider_call_id"),
        sa.UniqueConstraint("tenant_id", "idempotency_key"),
        sa.Index("ix_comms_calls_tenant_created", "tenant_id", "created_at"),
        sa.Index("ix_comms_calls_tenant_customer", "tenant_id", "customer_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    direction: Mapped[str] = mapped_column(sa.String(8))
    number: Mapped[str | None] = mapped_column(NUMBER)  # the other party
    status: Mapped[str] = mapped_column(sa.String(16))
    provider_call_id: Mapped[str | None] = mapped_column(sa.String(64))
    assistant_id: Mapped[str | None] = mapped_column(sa.String(64))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    call_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    transcript: Mapped[str | None] = mapped_column(sa.Text)
    summary: Mapped[str | None] = mapped_column(sa.Text)
    recording_url: Mapped[str | None] = mapped_column(sa.String(2000))
    duration_seconds: Mapped[float | None]
    #: Vapi's cost in US dollars, to the micro-dollar (costs have fractions of a cent)
    cost: Mapped[decimal.Decimal | None] = mapped_column(sa.Numeric(14, 6))
    ended_reason: Mapped[str | None] = mapped_column(sa.String(120))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(255))
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
