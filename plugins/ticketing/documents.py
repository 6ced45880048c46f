"""Ticket documents: the QR code of a ticket's secret (segno) and the ticket PDF (fpdf2).

PDFs are made once per ticket and kept in object storage under the tenant's prefix
(``tenants/<tenant>/ticketing/tickets/<ticket>.pdf``); the confirmation job makes them
ahead of the first download. fpdf2's built-in fonts cover Latin-1 only: other
characters print as ``?`` (the QR code, which is what the door scans, is unaffected).
"""

from __future__ import annotations

import io
import uuid
import zoneinfo

import segno
from fpdf import FPDF

from kernel.api import storage
from plugins.ticketing import money
from plugins.ticketing.models import Event, Order, Ticket, TicketType

QR_KINDS = {"svg": "image/svg+xml", "png": "image/png"}


def qr(secret: str, kind: str = "svg", scale: int = 6) -> bytes:
    """The QR code (error correction M) carrying ``secret``, as SVG or PNG."""
    out = io.BytesIO()
    segno.make(secret, error="m").save(out, kind=kind, scale=scale, border=2)
    return out.getvalue()


def pdf_key(tenant_id: uuid.UUID, ticket_id: uuid.UUID) -> str:
    return f"tenants/{tenant_id}/ticketing/tickets/{ticket_id}.pdf"


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _when(event: Event) -> str:
    zone = zoneinfo.ZoneInfo(event.timezone)
    start, end = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    return f"{start:%a %d %b %Y, %H:%M} - {end:%H:%M} ({event.timezone})"


def render_pdf(event: Event, order: Order, ticket: Ticket, ticket_type: TicketType) -> bytes:
    pdf = FPDF(format=(148, 210))  # A5, in mm
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 18)
    pdf.multi_cell(0, 9, _latin1(event.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    for line in (_when(event), event.venue, "",
                 f"Ticket: {ticket_type.name}",
                 f"Attendee: {ticket.attendee_name or order.name}",
                 f"Price: {money.display(ticket.price_amount, order.currency)}",
                 f"Order: {order.code}" + (f" (no. {order.number})" if order.number else "")):
        pdf.cell(0, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.image(io.BytesIO(qr(ticket.secret, "png", scale=10)), x=34, y=pdf.get_y() + 6, w=80)
    return bytes(pdf.output())


def stored_pdf(tenant_id: uuid.UUID, event: Event, order: Order, ticket: Ticket,
               ticket_type: TicketType) -> bytes:
    """The ticket's PDF from storage, made and stored on the first call."""
    key = pdf_key(tenant_id, ticket.id)
    if storage().stat(key) is not None:
        return storage().get(key).data
    data = render_pdf(event, order, ticket, ticket_type)
    storage().put(key, data, "application/pdf")
    return data
