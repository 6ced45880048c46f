"""Invoices: built per tenant and month, finalised with a gapless number, voided, credited.

An invoice is built once per (tenant, period): a unique constraint, and a look-up before
building, make a second run of the generation job find the first one's invoice. Lines:
recurring fees of the plan(s) in effect (a first partial month prorated, see
:mod:`.plans`), one usage line per metered charge, credits applied (negative), tax.
Totals follow :mod:`plugins.billing.money`'s rounding rule.

Numbers are taken at finalisation from the platform's counter row, locked
``SELECT … FOR UPDATE`` in the finalising transaction: concurrent finalisations queue on
the lock, and a rolled-back one gives its number back with the rollback, so numbers are
sequential, never skipped and never reused (SQLite serialises writers anyway).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kernel.api import db, emit, enqueue
from plugins.billing import money, pricing, transitions
from plugins.billing.errors import NotFound
from plugins.billing.models import INVOICE_COUNTER, Counter, Credit, Invoice, InvoiceLine, Plan, Subscription
from plugins.billing.periods import label, next_month
from plugins.billing.services import plans, usage

NUMBER_FORMAT = "INV-{:06d}"


def get(tenant_id: uuid.UUID | None, invoice_id: uuid.UUID, *, lock: bool = False) -> Invoice:
    query = sa.select(Invoice).where(Invoice.id == invoice_id)
    if tenant_id is not None:
        query = query.where(Invoice.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    found = db.session.scalars(query).one_or_none()
    if found is None:
        raise NotFound(f"No invoice {invoice_id}.")
    return found


def lines(invoice: Invoice) -> list[InvoiceLine]:
    return list(db.session.scalars(sa.select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)
                                   .order_by(InvoiceLine.position)))


def for_period(tenant_id: uuid.UUID, start: dt.datetime) -> Invoice | None:
    return db.session.scalars(sa.select(Invoice).where(Invoice.tenant_id == tenant_id,
                                                       Invoice.period_start == start)).one_or_none()


def build(tenant_id: uuid.UUID, start: dt.datetime) -> Invoice | None:
    """The draft invoice of month ``start`` (existing, or built now); None: nothing to bill."""
    existing = for_period(tenant_id, start)
    if existing is not None:
        return existing
    end = next_month(start)
    subs = plans.in_effect(tenant_id, start, end)
    if not subs:
        return None
    account = plans.account(tenant_id)
    invoice = Invoice(tenant_id=tenant_id, currency=account.currency, period_start=start,
                      period_end=end, tax_rate_bp=account.tax_rate_bp)
    drafted: list[tuple[str, str, str | None, str, int]] = []
    for sub, plan in subs:
        drafted += _fee_lines(sub, plan, start, end) + _usage_lines(tenant_id, sub, plan, start, end)
    try:
        with db.session.begin_nested():  # a twin run built it meanwhile: use that one
            db.session.add(invoice)
            db.session.flush()
    except sa.exc.IntegrityError:
        return for_period(tenant_id, start)
    _write_lines(invoice, drafted)
    return invoice


def _fee_lines(sub: Subscription, plan: Plan, start: dt.datetime,
               end: dt.datetime) -> list[tuple[str, str, str | None, str, int]]:
    out = []
    overrides = (sub.overrides or {}).get("fees", {})
    share = _share(sub, start, end)
    for fee in plan.fees:
        if fee["interval"] == "year" and sub.starts_at.month != start.month:
            continue  # yearly fees fall in the month of the subscription's anniversary
        amount = int(overrides.get(fee["name"], fee["amount"]))
        text = f"{plan.name}: {fee['name']} ({label(start)})"
        if share < 1:
            text += f", prorated {share:.4f}"
        out.append(("fee", text, None, "1", money.prorate(amount, share)))
    return out


def _share(sub: Subscription, start: dt.datetime, end: dt.datetime) -> Decimal:
    """The part of the month the subscription covers, in whole days (its first day counts)."""
    if sub.starts_at <= start:
        return Decimal(1)
    days = (end.date() - start.date()).days
    return Decimal((end.date() - sub.starts_at.date()).days) / Decimal(days)


def _usage_lines(tenant_id: uuid.UUID, sub: Subscription, plan: Plan, start: dt.datetime,
                 end: dt.datetime) -> list[tuple[str, str, str | None, str, int]]:
    out = []
    overrides = (sub.overrides or {}).get("charges", {})
    begin, finish = max(start, sub.starts_at), min(end, sub.ends_at or end)
    for charge in plan.charges:
        qty = usage.quantity(tenant_id, charge, begin, finish)
        amount = pricing.price(charge, qty, overrides.get(charge["metric"]))
        out.append(("usage", f"{charge['metric']} ({charge['aggregation']}, {charge['model']})",
                    charge["metric"], _qty(qty), amount))
    return out


def _qty(qty: Decimal) -> str:
    return format(qty.normalize(), "f") if qty != qty.to_integral() else str(int(qty))


def _write_lines(invoice: Invoice, drafted: list[tuple[str, str, str | None, str, int]]) -> None:
    position = 0
    for kind, text, metric, qty, amount in drafted:
        position += 1
        db.session.add(InvoiceLine(tenant_id=invoice.tenant_id, invoice_id=invoice.id, position=position,
                                   kind=kind, description=text[:300], metric=metric, quantity=qty,
                                   amount=amount))
    invoice.subtotal = sum(d[4] for d in drafted)
    credit = _apply_credits(invoice, invoice.subtotal, position)
    invoice.credit_applied = credit
    net = invoice.subtotal - credit
    invoice.tax = money.tax_of(net, invoice.tax_rate_bp)
    if invoice.tax:
        db.session.add(InvoiceLine(tenant_id=invoice.tenant_id, invoice_id=invoice.id,
                                   position=position + 100, kind="tax", quantity="1", amount=invoice.tax,
                                   description=f"Tax {Decimal(invoice.tax_rate_bp) / 100}%"))
    invoice.total = net + invoice.tax
    db.session.flush()


def _apply_credits(invoice: Invoice, due: int, position: int) -> int:
    """Consume the tenant's credit (oldest first, same currency) up to ``due``."""
    applied = 0
    credits = db.session.scalars(
        sa.select(Credit).where(Credit.tenant_id == invoice.tenant_id, Credit.remaining > 0,
                                Credit.currency == invoice.currency)
        .order_by(Credit.created_at).with_for_update())
    for credit in credits:
        take = min(credit.remaining, due - applied)
        if take <= 0:
            break
        credit.remaining -= take
        applied += take
        position += 1
        db.session.add(InvoiceLine(tenant_id=invoice.tenant_id, invoice_id=invoice.id, position=position,
                                   kind="credit", description=f"Credit: {credit.reason}"[:300],
                                   quantity="1", amount=-take, credit_id=credit.id))
    return applied


def next_number() -> str:
    """Take the next invoice number; the counter row stays locked until the caller commits."""
    counter = db.session.scalars(sa.select(Counter).where(Counter.name == INVOICE_COUNTER)
                                 .with_for_update()).one_or_none()
    if counter is None:
        try:
            with db.session.begin_nested():
                db.session.add(Counter(name=INVOICE_COUNTER, value=0))
        except sa.exc.IntegrityError:
            pass  # another transaction created it: lock that one
        counter = db.session.scalars(sa.select(Counter).where(Counter.name == INVOICE_COUNTER)
                                     .with_for_update()).one()
    counter.value += 1
    db.session.flush()
    return NUMBER_FORMAT.format(counter.value)


def finalize(invoice: Invoice, now: dt.datetime) -> Invoice:
    """Number it, date it, announce it; the PDF and the mail follow in a job."""
    transitions.check("invoice", invoice.status, "finalized")
    account = plans.account(invoice.tenant_id)
    invoice.number = next_number()
    invoice.status = "finalized"
    invoice.issued_at = now
    invoice.due_at = now + dt.timedelta(days=account.net_days)
    db.session.flush()
    emit("billing.invoice.issued", {"invoice_id": str(invoice.id), "number": invoice.number,
                                    "amount": invoice.total, "currency": invoice.currency,
                                    "due_at": invoice.due_at.isoformat()})
    enqueue("billing.deliver_invoice", key=f"billing:deliver:{invoice.id}", invoice_id=str(invoice.id))
    if invoice.total <= 0:
        from plugins.billing.services import collect

        collect.settle(invoice, now)
    return invoice


def void(invoice: Invoice, reason: str, now: dt.datetime) -> Invoice:
    """Cancel it; credits it consumed are given back. A voided number stays used."""
    transitions.check("invoice", invoice.status, "void")
    for line in lines(invoice):
        if line.kind == "credit" and line.credit_id is not None:
            credit = db.session.get(Credit, line.credit_id)
            if credit is not None:
                credit.remaining -= line.amount  # amount is negative
    invoice.status, invoice.voided_at, invoice.void_reason = "void", now, reason
    db.session.flush()
    return invoice


def issue_credit(tenant_id: uuid.UUID, amount: int, currency: str, reason: str, actor: str) -> Credit:
    credit = Credit(tenant_id=tenant_id, amount=amount, remaining=amount, currency=currency,
                    reason=reason, created_by=actor)
    plans.account(tenant_id)
    db.session.add(credit)
    db.session.flush()
    return credit


def credit_balance(tenant_id: uuid.UUID, currency: str) -> int:
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Credit.remaining), 0))
                                 .where(Credit.tenant_id == tenant_id, Credit.currency == currency)) or 0)


def estimate(tenant_id: uuid.UUID, start: dt.datetime) -> dict[str, Any] | None:
    """What the month would bill today: fees and usage (credits and tax left out)."""
    end = next_month(start)
    subs = plans.in_effect(tenant_id, start, end)
    if not subs:
        return None
    drafted = []
    for sub, plan in subs:
        drafted += _fee_lines(sub, plan, start, end) + _usage_lines(tenant_id, sub, plan, start, end)
    return {"amount": sum(d[4] for d in drafted), "currency": plans.account(tenant_id).currency}
