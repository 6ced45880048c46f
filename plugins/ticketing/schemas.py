"""marshmallow schemas of the ticketing API. Request bodies reject unknown fields;
timestamps must carry their UTC offset (``2026-07-01T19:00:00+02:00``)."""

from __future__ import annotations

import zoneinfo
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from kernel.api import public_asset_url
from plugins.ticketing import money

MAX_AMOUNT = 10**12  # minor units; far above any ticket, far below a 64-bit overflow
SLUG = validate.Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
                       error="lower-case letters, digits and single hyphens, e.g. 'summer-fest-2026'")


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# The zones services accept (ZoneInfo loads them), listed so the document says so.
_ZONE = validate.OneOf(sorted(zoneinfo.available_timezones()), error="Unknown time zone {input!r}; "
                       "use an IANA name such as 'Europe/Berlin'.")

def _when(**kw: Any) -> fields.AwareDateTime:
    return fields.AwareDateTime(format="iso", **kw)


def _text(max_len: int, **kw: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=max_len), **kw)


def _name(**kw: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=200), **kw)


class MoneySchema(Strict):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_AMOUNT),
                            metadata={"description": "minor units (cents)"})
    currency = fields.String(required=True, validate=validate.OneOf(sorted(money.currencies())),
                             metadata={"description": "ISO 4217, e.g. EUR"})


# -- events -------------------------------------------------------------------------------------


class EventCreateSchema(Strict):
    title = _name(required=True)
    slug = fields.String(required=True, validate=[validate.Length(min=1, max=100), SLUG])
    description = _text(20_000)
    venue = _text(300)
    timezone = fields.String(validate=_ZONE,
                             metadata={"description": "IANA zone, e.g. Europe/Berlin (default UTC)"})
    starts_at = _when(required=True)
    ends_at = _when(required=True)


class EventPatchSchema(Strict):
    title = _name()
    slug = fields.String(validate=[validate.Length(min=1, max=100), SLUG])
    description = _text(20_000)
    venue = _text(300)
    timezone = fields.String(validate=_ZONE)
    starts_at = _when()
    ends_at = _when()


class EventSchema(ma.Schema):
    id = fields.UUID()
    title = fields.String()
    slug = fields.String()
    description = fields.String()
    venue = fields.String()
    timezone = fields.String()
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    status = fields.String(metadata={"description": "draft, published or cancelled"})
    cover_url = fields.Method("_cover", allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _cover(self, event: Any) -> str | None:
        return cover_url(event)


def cover_url(event: Any) -> str | None:
    """The public URL of the event's cover image (stored under the tenant's public prefix)."""
    if not event.cover_key:
        return None
    return public_asset_url(event.tenant_id, event.cover_key.split("/public/", 1)[1])


class EventQuerySchema(Strict):
    status = fields.String(validate=validate.OneOf(["draft", "published", "cancelled"]))
    q = _text(200)


class CoverUploadSchema(ma.Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


# -- ticket types and quotas ------------------------------------------------------------------------


class TicketTypeCreateSchema(Strict):
    name = _name(required=True)
    description = _text(5000)
    price = fields.Nested(MoneySchema, required=True)
    capacity = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=1_000_000))
    min_per_order = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))
    max_per_order = fields.Integer(strict=True, validate=validate.Range(min=1, max=100))
    sales_start = _when(allow_none=True)
    sales_end = _when(allow_none=True)
    hidden = fields.Boolean()
    position = fields.Integer(strict=True, validate=validate.Range(min=0, max=10_000))


class TicketTypePatchSchema(TicketTypeCreateSchema):
    name = _name()
    price = fields.Nested(MoneySchema)


class TicketTypeSchema(ma.Schema):
    id = fields.UUID()
    event_id = fields.UUID()
    name = fields.String()
    description = fields.String()
    price = fields.Method("_price")
    capacity = fields.Integer(allow_none=True)
    min_per_order = fields.Integer()
    max_per_order = fields.Integer()
    sales_start = fields.DateTime(allow_none=True)
    sales_end = fields.DateTime(allow_none=True)
    hidden = fields.Boolean()
    position = fields.Integer()

    def _price(self, row: Any) -> dict[str, Any]:
        return {"amount": row.price_amount, "currency": row.currency}


class QuotaCreateSchema(Strict):
    name = _name(required=True)
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=1_000_000))
    ticket_types = fields.List(fields.UUID(), required=True, validate=validate.Length(max=100),
                               metadata={"description": "may start empty and be filled by PATCH"})


class QuotaPatchSchema(Strict):
    name = _name()
    size = fields.Integer(strict=True, validate=validate.Range(min=0, max=1_000_000))
    ticket_types = fields.List(fields.UUID(), validate=validate.Length(min=1, max=100))


class QuotaSchema(ma.Schema):
    id = fields.UUID()
    event_id = fields.UUID()
    name = fields.String()
    size = fields.Integer()
    ticket_types = fields.List(fields.UUID())
    used = fields.Integer(metadata={"description": "seats held by paid and unexpired pending orders"})
    available = fields.Integer()


class CheckinListCreateSchema(Strict):
    name = _name(required=True)
    ticket_types = fields.List(fields.UUID(), validate=validate.Length(max=100),
                               metadata={"description": "absent or empty: every ticket type"})


class CheckinListSchema(ma.Schema):
    id = fields.UUID()
    event_id = fields.UUID()
    name = fields.String()
    all_types = fields.Boolean()
    ticket_types = fields.List(fields.String(), attribute="ticket_type_ids")


# -- orders ------------------------------------------------------------------------------------------


class AttendeeSchema(Strict):
    name = _name(load_default=None)
    email = fields.Email(validate=validate.Length(max=320), load_default=None)


class OrderItemSchema(Strict):
    ticket_type = fields.UUID(required=True)
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))
    attendee = fields.Nested(AttendeeSchema, load_default=None)


class OrderCreateSchema(Strict):
    event = fields.String(required=True, validate=validate.Length(min=1, max=100),
                          metadata={"description": "the event's slug (or id)"})
    items = fields.List(fields.Nested(OrderItemSchema), required=True,
                        validate=validate.Length(min=1, max=50))
    email = fields.Email(required=True, validate=validate.Length(max=320))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    provider = fields.String(validate=validate.Length(min=1, max=40), load_default=None,
                             metadata={"description": "payment provider (default: the tenant's)"})
    return_url = fields.Url(validate=validate.Length(max=2000), load_default=None,
                            metadata={"description": "where a redirecting provider sends the buyer back"})


class OrderQuerySchema(Strict):
    event = fields.UUID()
    status = fields.String(validate=validate.OneOf(["pending", "paid", "expired", "cancelled", "refunded"]))
    email = fields.String(validate=validate.Length(max=320))
    q = _text(200)


class BoxOfficeSchema(Strict):
    quantity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))
    email = fields.Email(required=True, validate=validate.Length(max=320))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    attendee = fields.Nested(AttendeeSchema, load_default=None)


class ReasonSchema(Strict):
    reason = _text(500, load_default=None)


class OrderSchema(ma.Schema):
    id = fields.UUID()
    code = fields.String()
    number = fields.Integer(allow_none=True, metadata={
        "description": "The order's number (1, 2, 3… per organiser), given when it is paid."})
    event_id = fields.UUID()
    customer_id = fields.UUID(allow_none=True)
    email = fields.String()
    name = fields.String()
    status = fields.String()
    total = fields.Method("_total")
    refunded = fields.Method("_refunded")
    expires_at = fields.DateTime()
    payment_id = fields.String(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)
    refunded_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()

    def _total(self, row: Any) -> dict[str, Any]:
        return {"amount": row.total_amount, "currency": row.currency}

    def _refunded(self, row: Any) -> dict[str, Any]:
        return {"amount": row.refunded_amount, "currency": row.currency}


class AttendeeQuerySchema(Strict):
    format = fields.String(validate=validate.OneOf(["json", "csv"]), load_default=None,
                           metadata={"description": "or send Accept: text/csv"})


# -- check-in ------------------------------------------------------------------------------------------


class CheckinCreateSchema(Strict):
    secret = fields.String(required=True, validate=validate.Length(min=1, max=200))
    nonce = fields.String(required=True, validate=validate.Length(min=8, max=100),
                          metadata={"description": "the scanner's id of this scan; send it again on retry"})
    list = fields.UUID(load_default=None, metadata={"description": "check-in list (default: the event)"})
    scanned_at = _when(load_default=None, metadata={"description": "offline scans: when it was scanned"})


class CheckinBatchSchema(Strict):
    scans = fields.List(fields.Nested(CheckinCreateSchema), required=True,
                        validate=validate.Length(min=1, max=500))


class PublicOrderQuerySchema(Strict):
    secret = fields.String(required=True, validate=validate.Length(min=1, max=100))


class QrQuerySchema(PublicOrderQuerySchema):
    format = fields.String(validate=validate.OneOf(["svg", "png"]), load_default="svg")
