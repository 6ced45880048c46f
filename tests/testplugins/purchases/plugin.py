"""``purchases``: a third-party-style plugin that stores money rows about customers.

It answers the data-subject hooks (timeline, export, erase) the way a real plugin should:
erase drops what identifies the person and keeps amounts. ``FAIL`` makes a hook raise.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from hookspecs import PluginInfo, hookimpl
from kernel.api import Base, TenantOwned, db, find_or_create_customer, utcnow

plugin_info = PluginInfo(
    name="purchases", version="1.0.0", title="Purchases",
    description="Customer-linked money rows (test plugin).",
    migrations=str(Path(__file__).parent / "migrations"),
)

FAIL: set[str] = set()  # hook names that should raise


class Purchase(TenantOwned, Base):
    __tablename__ = "purchases_rows"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)
    buyer_email: Mapped[str | None] = mapped_column(sa.String(320))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def buy(email: str, name: str, amount: int, currency: str = "EUR") -> Purchase:
    """Checkout as a guest: the buyer becomes (or is found as) the tenant's customer."""
    customer = find_or_create_customer(email, name)
    row = Purchase(customer_id=customer.id, buyer_email=customer.email, amount=amount,
                   currency=currency)
    db.session.add(row)
    db.session.flush()
    return row


def _rows(customer_id: uuid.UUID) -> list[Purchase]:
    return list(db.session.scalars(
        sa.select(Purchase).where(Purchase.customer_id == customer_id).order_by(Purchase.created_at)))


def _maybe_fail(hook: str) -> None:
    if hook in FAIL:
        raise RuntimeError(f"{hook} is broken")


@hookimpl
def plugboard_customer_timeline(customer_id: uuid.UUID) -> list[dict[str, Any]]:
    _maybe_fail("timeline")
    return [{"at": r.created_at, "type": "purchases.purchase.made", "title": f"Bought for {r.amount}",
             "ref": str(r.id), "data": {"amount": r.amount, "currency": r.currency}}
            for r in _rows(customer_id)]


@hookimpl
def plugboard_customer_export(tenant_id: uuid.UUID, customer_id: uuid.UUID) -> dict[str, Any] | None:
    _maybe_fail("export")
    rows = _rows(customer_id)
    if not rows:
        return None
    return {"purchases": [{"id": str(r.id), "email": r.buyer_email, "amount": r.amount,
                           "currency": r.currency, "at": r.created_at.isoformat()} for r in rows]}


@hookimpl
def plugboard_customer_erase(customer_id: uuid.UUID) -> None:
    _maybe_fail("erase")
    db.session.execute(sa.update(Purchase).where(Purchase.customer_id == customer_id)
                       .values(buyer_email=None))
