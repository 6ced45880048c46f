"""Numbers people read (order, invoice, ticket numbers): gapless sequences per tenant.

``next_number("ticketing.order")`` takes the next number of that sequence for the tenant
in scope: 1, 2, 3… It is one statement, an upsert that increments the sequence's row
and returns the new value, so the row stays locked until the caller's transaction ends:
concurrent callers queue behind it, a rollback gives the number back (numbers are never
skipped or reused) and a commit makes it final. Take the number last in a transaction,
when the document is final, to hold the lock for as little time as possible.

.. versionadded:: 1.1 in :mod:`kernel.api`
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kernel.data.base import Base, TenantOwned
from kernel.data.session import db, insert_on_conflict
from kernel.tenancy.scope import current_tenant_id

NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class NumberSequence(TenantOwned, Base):
    """The last number given out by a tenant's sequence ``name``."""

    __tablename__ = "number_sequences"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(sa.String(80))
    last_value: Mapped[int] = mapped_column(sa.BigInteger)


def next_number(name: str) -> int:
    """The next number (from 1) of sequence ``name`` (``<plugin>.<thing>``) for the tenant
    in scope, taken in the caller's transaction. Raises ``ValueError`` for a bad name and
    ``TenantScopeError`` outside a tenant scope."""
    if not NAME.match(name) or len(name) > 80:
        raise ValueError(f"sequence name {name!r} must look like '<plugin>.<thing>'")
    tenant_id = current_tenant_id()
    table = NumberSequence.__table__
    values = {"tenant_id": tenant_id, "name": name, "last_value": 1}
    statement = (insert_on_conflict(table).values(values)
                 .on_conflict_do_update(index_elements=["tenant_id", "name"],
                                        set_={"last_value": table.c.last_value + 1})
                 .returning(table.c.last_value))
    return int(db.session.execute(statement).scalar_one())
