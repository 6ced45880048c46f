"""``plugboard demo`` seeds billing once: plans, an account on a plan, usage, an invoice."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from kernel.api import db, platform_scope
from kernel.tenancy.demo import seed_demo
from plugins.billing.models import Invoice, Plan, UsageEvent


def _counts(app: Flask) -> tuple[int, int, int]:
    with app.app_context(), platform_scope():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(m)) or 0  # type: ignore[return-value]
                     for m in (Plan, UsageEvent, Invoice))


def test_demo_seeds_billing_once(app: Flask) -> None:
    with app.app_context():
        seed_demo("demo@example.com", "demo-password-123")
    first = _counts(app)
    assert first == (2, 150, 1)
    with app.app_context():
        seed_demo("demo@example.com", "demo-password-123")
    assert _counts(app) == first
    with app.app_context(), platform_scope():
        invoice = db.session.scalars(sa.select(Invoice)).one()
        assert invoice.number == "INV-000001" and invoice.total == 2900 + 12  # 120 calls x 0.1
