"""``/api/v1/public/ticketing``: the storefront. Published events with availability
(cached, see :mod:`.cache`), placing an order, and the buyer's order and tickets.

The kernel's public gate has resolved the tenant (Host or ``X-Tenant``), opened its scope
and answered 404 if the tenant has not enabled ``ticketing``. Drafts never appear. A
buyer reads their order with its code and secret (``?secret=``); a logged-in customer
(customer token) also lists their orders. Warm event fetches are answered at the
kernel's public edge (:func:`responder`) without entering Flask's request cycle.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, current_app, request, url_for
from flask_smorest import Blueprint
from werkzeug.datastructures import Headers
from werkzeug.http import parse_etags

from kernel.api import (
    EdgeResponse,
    audit_describe,
    current_customer,
    current_tenant_id,
    customer_required,
    db,
    plugin_config,
    problem,
    utcnow,
)
from plugins.ticketing import cache, capacity, documents, orders, paying, services, states
from plugins.ticketing.errors import NotFound, TicketingError
from plugins.ticketing.models import Event, Order, Ticket, TicketType
from plugins.ticketing.schemas import (
    EventSchema,
    OrderCreateSchema,
    PublicOrderQuerySchema,
    QrQuerySchema,
    TicketTypeSchema,
)
from plugins.ticketing.web import domain_errors, settings

blp = Blueprint("ticketing_public", __name__, url_prefix="/api/v1/public/ticketing",
                description="The ticket shop: published events, orders and tickets "
                            "(tenant from Host or X-Tenant)")

PUBLIC_EVENT_FIELDS = ("id", "slug", "title", "description", "venue", "timezone", "starts_at",
                       "ends_at", "status", "cover_url")
CACHED_ENDPOINTS = {f"{blp.name}.events": lambda args: cache.LISTING,
                    f"{blp.name}.event": lambda args: "e:" + str(args.get("slug", ""))}


# -- events (cached) -----------------------------------------------------------------------------


def _ttl() -> int:
    return int(plugin_config("ticketing").get("availability_ttl", 5))


def _headers(found: cache.Entry, ttl: int) -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), ("ETag", f'"{found.etag}"'),
            ("Cache-Control", f"public, max-age={ttl}"), ("Vary", "X-Tenant"),
            ("Access-Control-Allow-Origin", "*")]


def _public_types(types: list[TicketType]) -> list[dict[str, Any]]:
    now = utcnow()
    left = capacity.availability([t.id for t in types], now)
    shown = []
    for tt in types:
        body = TicketTypeSchema(only=("id", "name", "description", "price", "min_per_order", "max_per_order",
                                      "sales_start", "sales_end")).dump(tt)
        on_sale = not ((tt.sales_start and now < tt.sales_start) or (tt.sales_end and now >= tt.sales_end))
        body.update(available=left[tt.id], sold_out=left[tt.id] == 0, on_sale=on_sale)
        shown.append(body)
    return shown


def event_body(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = EventSchema(only=PUBLIC_EVENT_FIELDS).dump(event)
    types = [t for t in services.ticket_types(event.id) if not t.hidden]
    body["ticket_types"] = _public_types(types) if event.status == states.PUBLISHED else []
    return body


def _encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _build(key: str) -> cache.Entry:
    ttl = _ttl()
    if key == cache.LISTING:
        return cache.entry(200, _encode([event_body(e) for e in services.listed_events()]), ttl)
    event = services.published_event(key[2:])
    if event is None or event.slug != key[2:]:
        return cache.entry(404, b"", ttl)
    return cache.entry(200, _encode(event_body(event)), ttl)


def _store() -> cache.StoreCache:
    found: cache.StoreCache = current_app.extensions[cache.EXTENSION]
    return found


def _send(key: str) -> Response:
    tenant_id = current_tenant_id()
    found = cache.load(_store(), tenant_id, key, lambda: _build(key))
    if found.status != 200:
        problem(404, "not-found", title="Not found", detail="No published event with this slug.")
    headers = _headers(found, _ttl())
    if parse_etags(request.headers.get("If-None-Match")).contains_weak(found.etag):
        return Response(status=304, headers=headers)
    return Response(found.body, headers=headers)


def responder(store: cache.StoreCache) -> Callable[..., EdgeResponse | None]:
    """Warm event fetches from memory at the kernel's public edge; None: take the views."""

    def respond(tenant_id: uuid.UUID, endpoint: str, args: Mapping[str, Any],
                headers: Headers) -> EdgeResponse | None:
        key_of = CACHED_ENDPOINTS.get(endpoint)
        found = store.get(tenant_id, key_of(args)) if key_of else None
        if found is None or found.status != 200:
            return None
        # the entry's own remaining life bounds max-age; reading config here would need the DB
        sent = _headers(found, max(0, int(found.expires - time.monotonic())))
        if parse_etags(headers.get("If-None-Match")).contains_weak(found.etag):
            return EdgeResponse(304, sent)
        return EdgeResponse(200, sent, found.body)

    return respond


@blp.get("/events", endpoint="events")
@blp.response(200)
def list_events() -> Response:
    """Published events that have not ended, with their ticket types and seats left."""
    return _send(cache.LISTING)


@blp.get("/events/<string:slug>", endpoint="event")
@blp.response(200)
def get_event(slug: str) -> Response:
    """A published event (a cancelled one shows ``status: cancelled``); drafts: 404."""
    return _send("e:" + slug)


# -- orders ----------------------------------------------------------------------------------------


def _optional_customer() -> Any:
    """The logged-in customer when a customer token is sent (401 if it is not valid)."""
    if "Authorization" not in request.headers:
        return None
    customer_required(lambda: None)()
    return current_customer()


def _items(data: dict[str, Any]) -> list[orders.Item]:
    return [orders.Item(i["ticket_type"], i["quantity"],
                        (i["attendee"] or {}).get("name"), (i["attendee"] or {}).get("email"))
            for i in data["items"]]


@blp.post("/orders")
@blp.arguments(OrderCreateSchema)
@blp.response(201)
@blp.alt_response(409, description="sold-out, sales-closed, event-not-on-sale, payments-not-enabled")
@blp.alt_response(401, description="A customer token was sent and is not valid for this storefront")
@domain_errors
def place_order(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Order tickets: 201 with the order's code and secret (keep it) and, if it costs
    something, the payment the buyer completes before ``expires_at``."""
    customer = _optional_customer()
    order = orders.place(current_tenant_id(), data["event"], _items(data), data["email"], data["name"],
                         customer, settings(), paying.can_collect())
    db.session.commit()  # the order holds its seats; the quota locks are released
    payment = None
    if order.status == states.PENDING:
        payment = _start_payment(order, data["provider"], data["return_url"])
    audit_describe("ticketing.order.place", "order", order.id, total=order.total_amount)
    return {"id": str(order.id), "code": order.code, "number": order.number, "secret": order.secret,
            "status": order.status, "expires_at": order.expires_at.isoformat(),
            "total": {"amount": order.total_amount, "currency": order.currency}, "payment": payment}, 201


def _start_payment(order: Order, provider: str | None, return_url: str | None) -> dict[str, Any]:
    try:
        payment = paying.start(order, provider, return_url)
        db.session.commit()
        return payment
    except TicketingError:  # no payment, no reservation: give the seats back at once
        db.session.rollback()
        orders.cancel(order.id, "the payment could not be started")
        db.session.commit()
        raise


def _order_for_buyer(code: str, secret: str) -> Order:
    return orders.by_code(code, secret)


def _ticket_json(order: Order, ticket: Ticket, names: dict[uuid.UUID, str]) -> dict[str, Any]:
    link = {"code": order.code, "ticket_id": ticket.id, "secret": order.secret}
    return {"id": str(ticket.id), "ticket_type": str(ticket.ticket_type_id),
            "ticket_type_name": names.get(ticket.ticket_type_id),
            "attendee": {"name": ticket.attendee_name, "email": ticket.attendee_email},
            "secret": ticket.secret,
            "qr_url": url_for(f"{blp.name}.ticket_qr", _external=True, **link),
            "pdf_url": url_for(f"{blp.name}.ticket_pdf", _external=True, **link)}


@blp.get("/orders/<string:code>")
@blp.arguments(PublicOrderQuerySchema, location="query")
@blp.response(200)
@domain_errors
def read_order(query: dict[str, Any], code: str) -> dict[str, Any]:
    """The buyer's order (code and ``?secret=``); once paid, its tickets with QR and PDF links."""
    order = _order_for_buyer(code, query["secret"])
    event = db.session.get(Event, order.event_id)
    assert event is not None
    body: dict[str, Any] = {
        "id": str(order.id), "code": order.code, "number": order.number, "status": order.status,
        "expires_at": order.expires_at.isoformat(), "email": order.email, "name": order.name,
        "total": {"amount": order.total_amount, "currency": order.currency},
        "event": {"slug": event.slug, "title": event.title, "starts_at": event.starts_at.isoformat(),
                  "venue": event.venue}}
    if order.status == states.PAID:
        tickets = orders.tickets_of(order.id)
        names = capacity.type_names({t.ticket_type_id for t in tickets})
        body["tickets"] = [_ticket_json(order, t, names) for t in tickets]
    return body


def _paid_ticket(code: str, ticket_id: uuid.UUID, secret: str) -> tuple[Order, Ticket]:
    order = _order_for_buyer(code, secret)
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or ticket.order_id != order.id or order.status != states.PAID:
        raise NotFound("No such ticket in a paid order.")
    return order, ticket


@blp.get("/orders/<string:code>/tickets/<uuid:ticket_id>/qr", endpoint="ticket_qr")
@blp.doc(responses={"200": {"content": {"image/svg+xml": {}, "image/png": {}}}})
@blp.arguments(QrQuerySchema, location="query")
@blp.response(200)
@domain_errors
def ticket_qr(query: dict[str, Any], code: str, ticket_id: uuid.UUID) -> Response:
    """The ticket's QR code (``format=svg`` or ``png``) carrying its secret."""
    _order, ticket = _paid_ticket(code, ticket_id, query["secret"])
    kind = query["format"]
    return Response(documents.qr(ticket.secret, kind), mimetype=documents.QR_KINDS[kind],
                    headers={"Cache-Control": "private, max-age=3600"})


@blp.get("/orders/<string:code>/tickets/<uuid:ticket_id>/pdf", endpoint="ticket_pdf")
@blp.doc(responses={"200": {"content": {"application/pdf": {}}}})
@blp.arguments(PublicOrderQuerySchema, location="query")
@blp.response(200)
@domain_errors
def ticket_pdf(query: dict[str, Any], code: str, ticket_id: uuid.UUID) -> Response:
    """The ticket as a PDF (event, attendee, QR code)."""
    order, ticket = _paid_ticket(code, ticket_id, query["secret"])
    event = db.session.get(Event, order.event_id)
    ticket_type = db.session.get(TicketType, ticket.ticket_type_id)
    assert event is not None and ticket_type is not None
    data = documents.stored_pdf(current_tenant_id(), event, order, ticket, ticket_type)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="ticket-{order.code}-{ticket.id.hex[:8]}.pdf"',
        "Cache-Control": "private, max-age=3600"})


@blp.get("/orders")
@customer_required
@blp.response(200)
def my_orders() -> list[dict[str, Any]]:
    """The logged-in customer's orders, newest first (customer token)."""
    customer = current_customer()
    assert customer is not None
    rows = db.session.scalars(orders.orders_query().where(Order.customer_id == customer.id).limit(200))
    return [{"id": str(o.id), "code": o.code, "status": o.status, "event_id": str(o.event_id),
             "total": {"amount": o.total_amount, "currency": o.currency},
             "created_at": o.created_at.isoformat()} for o in rows]
