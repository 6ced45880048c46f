"""Billing's jobs. The scheduled ones fan out per tenant (the kernel's cron) and are
idempotent per period; the others are queued by services with a key (one run each).

* ``billing.generate_invoices`` — 1st of the month 00:00 UTC: last month's invoice,
  finalised (numbered), then delivered.
* ``billing.send_reminders`` — daily 09:00 UTC: overdue reminders at due +1, +7, +14 days.
* ``billing.update_status`` — daily 00:30 UTC: overdue / suspended / active.
* ``billing.deliver_invoice`` — render the PDF, store it, mail it with a payment link.
* ``billing.mail_reminder`` — mail one reminder.

Jobs run in the billed tenant's scope (the kernel re-enters it) and commit through the
kernel's wrapper.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from hookspecs import JobSpec
from kernel.api import db, mailer, storage, utcnow
from plugins.billing import pdf
from plugins.billing.models import Invoice
from plugins.billing.money import display
from plugins.billing.periods import label, month_start, parse, previous_month
from plugins.billing.services import collect, dunning, invoices, plans

log = logging.getLogger("plugboard.billing")


def generate_invoices(tenant_id: uuid.UUID, period: str | None = None) -> str | None:
    """Build and finalise the invoice of ``period`` (default: last month); its number."""
    start = parse(period) if period else previous_month(month_start(utcnow()))
    invoice = invoices.build(tenant_id, start)
    if invoice is None:
        return None
    if invoice.status == "draft":
        invoices.finalize(invoice, utcnow())
    return invoice.number


def update_status(tenant_id: uuid.UUID) -> str:
    return dunning.refresh(tenant_id, utcnow()).status


def send_reminders(tenant_id: uuid.UUID) -> int:
    return len(dunning.remind(tenant_id, utcnow()))


def pdf_key(invoice: Invoice) -> str:
    return f"tenants/{invoice.tenant_id}/billing/invoices/{invoice.number or invoice.id}.pdf"


def store_pdf(invoice: Invoice) -> bytes:
    """Render the invoice's PDF and keep it in object storage (under the tenant's prefix)."""
    data = pdf.render(invoice, invoices.lines(invoice), plans.account(invoice.tenant_id))
    key = pdf_key(invoice)
    storage().put(key, data, "application/pdf")
    invoice.pdf_key = key
    db.session.flush()
    return data


def _mail_context(tenant_id: uuid.UUID, invoice: Invoice) -> dict[str, object]:
    """What the invoice and reminder mails show; the payment link only while it is open."""
    account = plans.account(tenant_id)
    assert invoice.due_at is not None
    return {"name": account.name, "number": invoice.number, "invoice_id": str(invoice.id),
            "amount": display(collect.amount_due(invoice), invoice.currency),
            "due_date": f"{invoice.due_at:%Y-%m-%d}", "period": label(invoice.period_start),
            "pay_url": collect.payment_link(tenant_id, invoice) if invoice.status in collect.OPEN
            else None}


def deliver_invoice(tenant_id: uuid.UUID, invoice_id: str) -> None:
    invoice = invoices.get(tenant_id, uuid.UUID(invoice_id))
    store_pdf(invoice)
    account = plans.account(tenant_id)
    if not account.email:
        log.warning("billing: no billing e-mail, invoice not mailed", extra={"invoice": invoice_id})
        return
    mailer().send(account.email, "billing_invoice", **_mail_context(tenant_id, invoice))


def mail_reminder(tenant_id: uuid.UUID, invoice_id: str, stage: int) -> None:
    invoice = invoices.get(tenant_id, uuid.UUID(invoice_id))
    account = plans.account(tenant_id)
    if invoice.status not in collect.OPEN or not account.email:
        return  # paid meanwhile, or nobody to tell
    assert invoice.due_at is not None
    suspend = invoice.due_at + dt.timedelta(days=account.grace_days + 1)  # see dunning
    mailer().send(account.email, "billing_reminder", days_late=stage,
                  suspend_date=f"{suspend:%Y-%m-%d}" if account.status != "suspended" else None,
                  **_mail_context(tenant_id, invoice))


def specs() -> list[JobSpec]:
    return [
        JobSpec("billing.generate_invoices", generate_invoices, cron="0 0 1 * *", timeout=600, retry=3),
        JobSpec("billing.send_reminders", send_reminders, cron="0 9 * * *", retry=3),
        JobSpec("billing.update_status", update_status, cron="30 0 * * *", retry=3),
        JobSpec("billing.deliver_invoice", deliver_invoice, retry=3),
        JobSpec("billing.mail_reminder", mail_reminder, retry=3),
    ]
