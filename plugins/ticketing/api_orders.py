"""``/api/v1/ticketing``: orders (search, cancel, refund), attendees and check-in.

Same blueprint as :mod:`.api`; staff with ``ticketing.read`` see orders, ``ticketing.write``
cancels and refunds, ``ticketing.checkin`` (support and up) scans tickets.
"""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from flask import Response, request

from kernel.api import auth_required, current_tenant_id, paginate
from plugins.ticketing import checkin, orders, paying, services
from plugins.ticketing.api import EVENT, _done, blp
from plugins.ticketing.models import Order
from plugins.ticketing.schemas import (
    AttendeeQuerySchema,
    BoxOfficeSchema,
    CheckinBatchSchema,
    CheckinCreateSchema,
    OrderQuerySchema,
    OrderSchema,
    ReasonSchema,
)
from plugins.ticketing.web import domain_errors, settings

CSV_COLUMNS = ("ticket_id", "order_code", "ticket_type", "attendee_name", "attendee_email",
               "buyer_email", "price", "currency", "paid_at", "checked_in_at")


def _order_detail(order: Order) -> dict[str, Any]:
    body: dict[str, Any] = OrderSchema().dump(order)
    body["tickets"] = [{"id": str(t.id), "ticket_type": str(t.ticket_type_id),
                        "attendee": {"name": t.attendee_name, "email": t.attendee_email},
                        "price": {"amount": t.price_amount, "currency": order.currency}}
                       for t in orders.tickets_of(order.id)]
    return body


@blp.get("/orders")
@auth_required("ticketing.read")
@blp.arguments(OrderQuerySchema, location="query")
@blp.response(200, OrderSchema(many=True))
@blp.paginate()
def list_orders(query: dict[str, Any], pagination_parameters: Any) -> list[Order]:
    """Orders, newest first; filter ``event``, ``status``, ``email``; ``q`` matches code or name."""
    return paginate(orders.orders_query(query.get("event"), query.get("status"), query.get("email"),
                                        query.get("q")), pagination_parameters)


@blp.get("/orders/<uuid:order_id>")
@auth_required("ticketing.read")
@blp.response(200)
@domain_errors
def get_order(order_id: uuid.UUID) -> dict[str, Any]:
    """One order with its tickets (their secrets are the buyer's: not shown here)."""
    return _order_detail(orders.get_order(order_id))


@blp.post("/orders/<uuid:order_id>/cancel")
@auth_required("ticketing.write")
@blp.arguments(ReasonSchema)
@blp.response(200)
@blp.alt_response(409, description="Not pending or paid (illegal-transition)")
@domain_errors
def cancel_order(data: dict[str, Any], order_id: uuid.UUID) -> dict[str, Any]:
    """pending or paid → cancelled: its tickets stop admitting. No money moves (see refund)."""
    order = orders.cancel(order_id, data["reason"])
    _done("order.cancel", "order", order_id)
    return _order_detail(order)


@blp.post("/orders/<uuid:order_id>/refund")
@auth_required("ticketing.write")
@blp.arguments(ReasonSchema)
@blp.response(200)
@blp.alt_response(409, description="Not paid (illegal-transition), payments not enabled, or refused")
@domain_errors
def refund_order(data: dict[str, Any], order_id: uuid.UUID) -> dict[str, Any]:
    """paid (or cancelled after paying) → refunded: the payment is refunded through payments."""
    order = paying.refund(order_id, data["reason"])
    _done("order.refund", "order", order_id, amount=order.total_amount)
    return _order_detail(order)


@blp.post(f"{EVENT}/ticket-types/<uuid:type_id>/orders")
@auth_required("ticketing.write")
@blp.arguments(BoxOfficeSchema)
@blp.response(201)
@blp.alt_response(409, description="sold-out, event-not-on-sale")
@domain_errors
def box_office(data: dict[str, Any], event_id: uuid.UUID, type_id: uuid.UUID) -> tuple[dict[str, Any], int]:
    """Box office: sell ``quantity`` tickets of this type on the spot, paid at once (cash,
    card terminal, complimentary). Quotas apply; sales windows and per-order limits do not."""
    attendee = data["attendee"] or {}
    item = orders.Item(type_id, data["quantity"], attendee.get("name"), attendee.get("email"))
    order = orders.box_office(current_tenant_id(), event_id, item, data["email"], data["name"], settings())
    _done("order.box_office", "order", order.id, total=order.total_amount)
    return {**_order_detail(order), "secret": order.secret}, 201


@blp.get(f"{EVENT}/attendees")
@auth_required("ticketing.read")
@blp.arguments(AttendeeQuerySchema, location="query")
@blp.response(200)
@blp.doc(responses={"200": {"description": "JSON list, or CSV with Accept: text/csv or format=csv",
                            "content": {"application/json": {}, "text/csv": {}}}})
@domain_errors
def attendees(query: dict[str, Any], event_id: uuid.UUID) -> Any:
    """Tickets of paid orders: attendee, buyer, type, price and first check-in."""
    services.get_event(event_id)
    rows = orders.attendees(event_id)
    wants_csv = query["format"] == "csv" or (
        query["format"] is None and request.accept_mimetypes.best_match(["application/json", "text/csv"])
        == "text/csv")
    if not wants_csv:
        return [{**r, "paid_at": _iso(r["paid_at"]), "checked_in_at": _iso(r["checked_in_at"])}
                for r in rows]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row[k]) for k in CSV_COLUMNS})
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="attendees-{event_id}.csv"'})


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _cell(value: Any) -> Any:
    """A CSV cell; text starting like a formula is quoted so spreadsheets do not run it."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _scan(data: dict[str, Any]) -> checkin.Scan:
    return checkin.Scan(secret=data["secret"], nonce=data["nonce"], list_id=data["list"],
                        scanned_at=data["scanned_at"])


@blp.post("/checkins")
@auth_required("ticketing.checkin")
@blp.arguments(CheckinCreateSchema)
@blp.response(200)
@domain_errors
def scan(data: dict[str, Any]) -> dict[str, Any]:
    """Scan a ticket: ``result`` is ok, already_redeemed, unpaid, cancelled or unknown.

    Send the same ``nonce`` again (a retry) and you get the first answer back.
    """
    row, ticket = checkin.scan(current_tenant_id(), _scan(data))
    answer = checkin.describe(row, ticket)
    _done("checkin", "checkin", row.id, result=row.result)
    return answer


@blp.post("/checkins/batch")
@auth_required("ticketing.checkin")
@blp.arguments(CheckinBatchSchema)
@blp.response(200)
@domain_errors
def scan_batch(data: dict[str, Any]) -> dict[str, Any]:
    """An offline scanner's upload (≤ 500 scans, each with its ``scanned_at``); answers in order."""
    found = checkin.scan_many(current_tenant_id(), [_scan(s) for s in data["scans"]])
    answers = [checkin.describe(row, ticket) for row, ticket in found]
    _done("checkin.batch", "checkin", None, count=len(answers))
    return {"results": answers}
