"""Plans, billing accounts and subscribed services.

**Plan changes** (docs/billing.md): a tenant's *first* plan starts at once and its
recurring fees for that first, partial month are prorated by the days left (the start
day counts). A *change* of plan takes effect at the start of the next billing period:
the current period is billed entirely on the old plan (no proration, no refund), the new
one is billed from the 1st. Changing again before then replaces the pending change.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa

from kernel.api import db, utcnow
from plugins.billing import transitions
from plugins.billing.errors import Conflict, NotFound
from plugins.billing.models import Account, Invoice, Plan, Subscription
from plugins.billing.periods import month_start, next_month

ACCOUNT_FIELDS = ("name", "email", "address", "tax_id", "tax_rate_bp", "net_days", "grace_days")


def create_plan(data: dict[str, Any]) -> Plan:
    """A new plan (``data`` validated by the schema); the code must be new."""
    if db.session.scalars(sa.select(Plan.id).where(Plan.code == data["code"])).first():
        raise Conflict(f"A plan with code {data['code']!r} exists already; plans are never "
                       "changed once created: create one with another code.")
    plan = Plan(**data)
    db.session.add(plan)
    db.session.flush()
    return plan


def plan_by_code(code: str) -> Plan:
    plan = db.session.scalars(sa.select(Plan).where(Plan.code == code)).one_or_none()
    if plan is None:
        raise NotFound(f"No plan with code {code!r}.")
    return plan


def plans() -> list[Plan]:
    return list(db.session.scalars(sa.select(Plan).order_by(Plan.code)))


def account(tenant_id: uuid.UUID, *, lock: bool = False) -> Account:
    """The tenant's account, created (active) on first use."""
    query = sa.select(Account).where(Account.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    found = db.session.scalars(query).one_or_none()
    if found is not None:
        return found
    created = Account(tenant_id=tenant_id)
    try:
        with db.session.begin_nested():
            db.session.add(created)
    except sa.exc.IntegrityError:  # created concurrently
        return db.session.scalars(query).one()
    return created


def update_account(tenant_id: uuid.UUID, changes: dict[str, Any], now: dt.datetime) -> Account:
    """Apply an admin's changes: terms and contact fields, ``plan``; not ``status``."""
    found = account(tenant_id, lock=True)
    for name in ACCOUNT_FIELDS:
        if name in changes:
            setattr(found, name, changes[name])
    if changes.get("plan"):
        subscribe(tenant_id, plan_by_code(changes["plan"]), now, changes.get("overrides") or {})
    found.updated_at = now
    db.session.flush()
    return found


def subscriptions(tenant_id: uuid.UUID) -> list[Subscription]:
    return list(db.session.scalars(
        sa.select(Subscription).where(Subscription.tenant_id == tenant_id)
        .order_by(Subscription.starts_at)))


def subscribe(tenant_id: uuid.UUID, plan: Plan, now: dt.datetime,
              overrides: dict[str, Any]) -> Subscription:
    """Put the tenant on ``plan`` per the plan-change rule in the module docstring."""
    found = account(tenant_id)
    _match_currency(found, plan)
    current = [s for s in subscriptions(tenant_id) if s.status == "active"]
    starts = now
    if current:
        starts = next_month(month_start(now))
        for sub in current:
            if sub.starts_at >= starts:  # a pending change: replaced
                transitions.check("subscription", sub.status, "ended")
                sub.status, sub.ends_at = "ended", sub.starts_at
            elif sub.ends_at is None or sub.ends_at > starts:
                sub.ends_at = starts
    sub = Subscription(tenant_id=tenant_id, plan_id=plan.id, starts_at=starts, overrides=overrides)
    db.session.add(sub)
    db.session.flush()
    return sub


def _match_currency(found: Account, plan: Plan) -> None:
    if found.currency == plan.currency:
        return
    invoiced = db.session.scalars(sa.select(Invoice.id).where(Invoice.tenant_id == found.tenant_id)
                                  .limit(1)).first()
    if invoiced:
        raise Conflict(f"Plan {plan.code!r} is in {plan.currency} but the account is billed in "
                       f"{found.currency}; pick a plan in {found.currency}.",
                       account_currency=found.currency, plan_currency=plan.currency)
    found.currency = plan.currency


def in_effect(tenant_id: uuid.UUID, start: dt.datetime, end: dt.datetime) -> list[tuple[Subscription, Plan]]:
    """Subscriptions that overlap ``[start, end)``, with their plans."""
    rows = db.session.execute(
        sa.select(Subscription, Plan).join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.tenant_id == tenant_id, Subscription.starts_at < end,
               sa.or_(Subscription.ends_at.is_(None), Subscription.ends_at > start),
               Subscription.status == "active")
        .order_by(Subscription.starts_at))
    return [(s, p) for s, p in rows]


def current_plan(tenant_id: uuid.UUID, now: dt.datetime | None = None) -> Plan | None:
    at = now or utcnow()
    found = in_effect(tenant_id, at, at + dt.timedelta(microseconds=1))
    return found[-1][1] if found else None
