"""``plugboard demo``: demo plans, and for the demo tenant an account on the starter plan
since last month, usage in both months and last month's invoice, once.

Billing is restricted: a platform admin enables it for the demo tenant
(``PUT /api/v1/admin/tenants/{id}/plugins/billing``) to see it in the API.
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from kernel.api import db, utcnow
from plugins.billing.models import Plan, Subscription, UsageEvent
from plugins.billing.periods import month_start, previous_month
from plugins.billing.services import invoices, plans

PLANS = [
    {"code": "starter", "name": "Starter", "currency": "EUR",
     "fees": [{"name": "Platform", "amount": 2900, "interval": "month"}],
     "charges": [{"metric": "api_calls", "aggregation": "count", "model": "per_unit",
                  "unit_amount": "0.1"}]},
    {"code": "pro", "name": "Pro", "currency": "EUR",
     "fees": [{"name": "Platform", "amount": 9900, "interval": "month"},
              {"name": "Support", "amount": 50000, "interval": "year"}],
     "charges": [{"metric": "api_calls", "aggregation": "count", "model": "graduated",
                  "tiers": [{"up_to": 100000, "unit_amount": 0}, {"up_to": None, "unit_amount": "0.05"}]},
                 {"metric": "storage_gb", "aggregation": "max", "property": "gb", "model": "package",
                  "package_size": 10, "unit_amount": 500}]},
]


def seed(tenant_id: uuid.UUID) -> None:
    """Idempotent: plans by code, usage by transaction id, the invoice by period."""
    for data in PLANS:
        if not db.session.scalars(sa.select(Plan.id).where(Plan.code == data["code"])).first():
            plans.create_plan(dict(data))
    account = plans.account(tenant_id)
    account.name = account.name or "Demo Company"
    account.email = account.email or "billing@demo.example.com"
    account.currency = "EUR"
    this_month = month_start(utcnow())
    last_month = previous_month(this_month)
    if not plans.subscriptions(tenant_id):
        db.session.add(Subscription(tenant_id=tenant_id, plan_id=plans.plan_by_code("starter").id,
                                    starts_at=last_month))
    _usage(tenant_id, last_month, 120)
    _usage(tenant_id, this_month, 30)
    db.session.flush()
    invoice = invoices.build(tenant_id, last_month)
    if invoice is not None and invoice.status == "draft":
        invoices.finalize(invoice, utcnow())
    db.session.commit()


def _usage(tenant_id: uuid.UUID, start: dt.datetime, count: int) -> None:
    seen = set(db.session.scalars(sa.select(UsageEvent.transaction_id).where(
        UsageEvent.transaction_id.like(f"demo-{start:%Y%m}-%"))))
    for n in range(count):
        tx = f"demo-{start:%Y%m}-{n}"
        if tx not in seen:
            db.session.add(UsageEvent(tenant_id=tenant_id, transaction_id=tx, metric="api_calls",
                                      timestamp=start + dt.timedelta(hours=n), properties={"n": n}))
