"""The plugin's table. Tenant-owned models mix in ``TenantOwned``: the kernel adds the
``tenant_id`` column and filters every query by the tenant in scope."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kernel.api import Base, TenantOwned, utcnow


class HelloMessage(TenantOwned, Base):
    """A message on a tenant's board."""

    # Table names share one database with the kernel and every plugin: prefix them.
    __tablename__ = "hello_messages"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    text: Mapped[str] = mapped_column(sa.String(280))
    #: who wrote it: the actor id of the caller, or ``"hello"`` for the plugin's own messages
    author: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
