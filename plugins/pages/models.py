"""Pages and their immutable published versions.

Puck documents are stored in a plain ``JSON`` column (PostgreSQL ``json``, not
``jsonb``): ``json`` keeps the editor's text as it came, key order included, so a
document reads back exactly as it was written. Nothing queries inside documents.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kernel.api import Base, TenantOwned, utcnow

#: Puck data as written; see the module docstring for why not JSONB.
Document = sa.JSON()

DRAFT = "draft"
PUBLISHED = "published"


class Page(TenantOwned, Base):
    """A page's draft (edited freely) and a pointer to its live version, if any."""

    __tablename__ = "pages"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "path"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    path: Mapped[str] = mapped_column(sa.String(255))
    title: Mapped[str] = mapped_column(sa.String(200))
    data: Mapped[dict[str, Any]] = mapped_column(Document)
    #: the draft's version counter: +1 on every draft change (optimistic concurrency)
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(16), default=DRAFT)
    #: the number of the live :class:`PageVersion`; None while unpublished
    published_version: Mapped[int | None]
    published_at: Mapped[dt.datetime | None]
    created_by: Mapped[str | None] = mapped_column(sa.String(64))
    updated_by: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PageVersion(TenantOwned, Base):
    """A snapshot of a page's draft, taken when it was published. Never changed."""

    __tablename__ = "page_versions"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "page_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    page_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(200))
    data: Mapped[dict[str, Any]] = mapped_column(Document)
    #: the draft version this snapshot was taken from
    draft_version: Mapped[int]
    author: Mapped[str | None] = mapped_column(sa.String(64))
    message: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
