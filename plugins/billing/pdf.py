"""An invoice as a PDF (fpdf2, pure Python), in the platform's branding.

The brand is the platform operator's, not the tenant's (the platform bills its tenants):
``PLUGBOARD_BILLING_BRAND`` (name), ``PLUGBOARD_BILLING_BRAND_ADDRESS`` and
``PLUGBOARD_BILLING_BRAND_COLOR`` (``#rrggbb``). The document is rendered from stored
invoice data only, so rendering it again gives the same invoice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from fpdf import FPDF

from plugins.billing.models import Account, Invoice, InvoiceLine
from plugins.billing.money import display


@dataclass(frozen=True)
class Brand:
    name: str
    address: str
    color: tuple[int, int, int]

    @classmethod
    def from_env(cls) -> Brand:
        color = os.environ.get("PLUGBOARD_BILLING_BRAND_COLOR", "#3b5bdb").lstrip("#")
        try:
            rgb = (int(color[0:2], 16), int(color[2:4], 16), int(color[4:6], 16))
        except ValueError:
            rgb = (59, 91, 219)
        return cls(os.environ.get("PLUGBOARD_BILLING_BRAND", "Plugboard"),
                   os.environ.get("PLUGBOARD_BILLING_BRAND_ADDRESS", ""), rgb)


def _latin(text: str) -> str:
    """The core PDF fonts are Latin-1: anything else is shown as '?' rather than failing."""
    return text.encode("latin-1", "replace").decode("latin-1")


def render(invoice: Invoice, lines: Sequence[InvoiceLine], account: Account,
           brand: Brand | None = None) -> bytes:
    brand = brand or Brand.from_env()
    pdf = FPDF(format="A4")
    pdf.set_creation_date(invoice.issued_at or invoice.created_at)
    pdf.set_title(f"Invoice {invoice.number or 'draft'}")
    pdf.set_author(_latin(brand.name))
    pdf.add_page()
    _header(pdf, invoice, account, brand)
    _table(pdf, invoice, lines, brand)
    return bytes(pdf.output())


def _header(pdf: FPDF, invoice: Invoice, account: Account, brand: Brand) -> None:
    pdf.set_text_color(*brand.color)
    pdf.set_font("helvetica", "B", 20)
    pdf.cell(0, 10, _latin(brand.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("helvetica", "", 9)
    if brand.address:
        pdf.multi_cell(0, 4, _latin(brand.address), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("helvetica", "B", 14)
    pdf.cell(0, 8, _latin(f"Invoice {invoice.number or '(draft)'}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 10)
    rows = [("Billed to", account.name or f"Tenant {account.tenant_id}"), ("Address", account.address or ""),
            ("Tax id", account.tax_id or ""), ("Period", f"{invoice.period_start:%Y-%m-%d} to "
                                                         f"{invoice.period_end:%Y-%m-%d}"),
            ("Issued", f"{invoice.issued_at:%Y-%m-%d}" if invoice.issued_at else ""),
            ("Due", f"{invoice.due_at:%Y-%m-%d}" if invoice.due_at else ""),
            ("Status", invoice.status)]
    for label, value in rows:
        if value:
            pdf.cell(30, 6, label)
            pdf.multi_cell(0, 6, _latin(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _table(pdf: FPDF, invoice: Invoice, lines: Sequence[InvoiceLine], brand: Brand) -> None:
    currency = invoice.currency
    pdf.set_fill_color(*brand.color)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("helvetica", "B", 10)
    for width, title, align in ((110, "Description", "L"), (30, "Quantity", "R"), (40, "Amount", "R")):
        pdf.cell(width, 8, title, fill=True, align=align)
    pdf.ln()
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("helvetica", "", 10)
    for line in lines:
        if line.kind == "tax":
            continue
        pdf.cell(110, 7, _latin(line.description[:70]))
        pdf.cell(30, 7, line.quantity, align="R")
        pdf.cell(40, 7, _latin(display(line.amount, currency)), align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    totals = [("Subtotal", invoice.subtotal), ("Credit applied", -invoice.credit_applied),
              (f"Tax ({invoice.tax_rate_bp / 100:g}%)", invoice.tax), ("Total", invoice.total),
              ("Paid", invoice.amount_paid), ("Amount due", max(invoice.total - invoice.amount_paid, 0))]
    for label, amount in totals:
        pdf.set_font("helvetica", "B" if label in ("Total", "Amount due") else "", 10)
        pdf.cell(140, 7, label, align="R")
        pdf.cell(40, 7, _latin(display(amount, currency)), align="R", new_x="LMARGIN", new_y="NEXT")
