from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kernel.api import Base, TenantOwned


class FullNote(TenantOwned, Base):
    __tablename__ = "full_notes"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    text: Mapped[str] = mapped_column(sa.String(200))
