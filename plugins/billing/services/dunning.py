"""Dunning: the account's status follows its unpaid invoices; reminders go out once each.

Status rule (daily job, and at once after a payment), in whole UTC days: an invoice due
on the 15th may be paid all that day; an account with an open invoice is ``overdue`` from
the day after its due date, and ``suspended`` once more than its grace days have passed
since (grace 14, due the 15th: overdue on the 16th, suspended on the 30th); with no
open invoice past its due date it is ``active``. The job only moves accounts it moved
itself: one an admin suspended or closed stays so until an admin changes it (a payment
still clears an admin's ``overdue``). Reminders: at due date +1, +7 and +14 days, each
stage mailed once per invoice (a ``billing_reminders`` row per stage, unique); a run
that missed days sends only the latest stage due and records the earlier ones as passed.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa

from kernel.api import db, emit, enqueue
from plugins.billing import guard, transitions
from plugins.billing.models import Account, Invoice, Reminder
from plugins.billing.services import plans

STAGES = (1, 7, 14)
OPEN = ("finalized", "uncollectible")


def set_status(account: Account, status: str, by: str, now: dt.datetime) -> Account:
    """Move ``account`` to ``status`` (checked against the transition table)."""
    if account.status == status:
        account.status_by = by
        return account
    transitions.check("account", account.status, status)
    before = account.status
    account.status, account.status_by, account.updated_at = status, by, now
    account.suspended_at = now if status == "suspended" else None
    db.session.flush()
    if status == "suspended":
        emit("billing.account.suspended", {"account_id": str(account.id), "previous": before})
    elif before == "suspended" and status in ("active", "overdue"):
        emit("billing.account.reactivated", {"account_id": str(account.id), "status": status})
    guard.announce(account.tenant_id)
    return account


def _oldest_due(tenant_id: uuid.UUID) -> dt.datetime | None:
    return db.session.scalar(sa.select(sa.func.min(Invoice.due_at))
                             .where(Invoice.tenant_id == tenant_id, Invoice.status.in_(OPEN)))


def wanted(account: Account, now: dt.datetime) -> str:
    """The status the rule gives ``account`` now."""
    due = _oldest_due(account.tenant_id)
    late = 0 if due is None else (now.date() - due.date()).days
    if late < 1:
        return "active"
    return "suspended" if late > account.grace_days else "overdue"


def refresh(tenant_id: uuid.UUID, now: dt.datetime, *, paid: bool = False) -> Account:
    """Apply the status rule; ``paid``: after a payment (may lift an admin's overdue)."""
    account = plans.account(tenant_id, lock=True)
    if account.status == "closed" or (account.status_by == "admin" and not paid):
        return account
    if account.status_by == "admin" and account.status == "suspended":
        return account  # an admin's suspension is lifted by an admin
    target = wanted(account, now)
    return set_status(account, target, "dunning", now)


def remind(tenant_id: uuid.UUID, now: dt.datetime) -> list[tuple[uuid.UUID, int]]:
    """Queue the reminder mails due today; ``[(invoice id, stage)]`` queued."""
    sent: list[tuple[uuid.UUID, int]] = []
    overdue = db.session.scalars(sa.select(Invoice).where(
        Invoice.tenant_id == tenant_id, Invoice.status.in_(OPEN), Invoice.due_at < now))
    for invoice in overdue:
        stage = _stage_due(invoice, now)
        if stage is not None:
            enqueue("billing.mail_reminder", key=f"billing:remind:{invoice.id}:{stage}",
                    invoice_id=str(invoice.id), stage=stage)
            sent.append((invoice.id, stage))
    return sent


def _stage_due(invoice: Invoice, now: dt.datetime) -> int | None:
    assert invoice.due_at is not None
    late = (now.date() - invoice.due_at.date()).days
    done = set(db.session.scalars(sa.select(Reminder.stage).where(Reminder.invoice_id == invoice.id)))
    reached = [s for s in STAGES if s <= late]
    if not reached or reached[-1] in done:
        return None
    for stage in reached:
        if stage not in done:
            db.session.add(Reminder(tenant_id=invoice.tenant_id, invoice_id=invoice.id, stage=stage,
                                    sent_at=now))
    db.session.flush()
    return reached[-1]


def overview(tenant_id: uuid.UUID) -> dict[str, Any]:
    account = plans.account(tenant_id)
    open_total = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Invoice.total - Invoice.amount_paid), 0))
        .where(Invoice.tenant_id == tenant_id, Invoice.status.in_(OPEN))) or 0
    return {"account": account, "balance": int(open_total)}
