"""marshmallow schemas of the comms API. Request bodies reject unknown fields."""

from __future__ import annotations

import decimal
from typing import Any

import marshmallow as ma
from babel.numbers import get_currency_precision
from marshmallow import fields, validate

NAME = validate.Regexp(r"^[a-z0-9][a-z0-9_.-]{0,63}$",
                       error="Use 1-64 lowercase letters, digits, '.', '_' or '-'.")
NUMBER = fields.String(required=True, validate=validate.Length(min=3, max=32),
                       metadata={"description": "E.164, e.g. +263771234567", "example": "+263771234567"})
VARIABLES = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), load_default=dict,
                        metadata={"description": "values for the template's placeholders"})


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class CommsSmsSchema(Strict):
    """``{to, body}`` or ``{to, template, variables}``."""

    to = NUMBER
    body = fields.String(validate=validate.Length(min=1, max=1600), metadata={"example": "See you at 10:00"})
    template = fields.String(validate=NAME)
    variables = VARIABLES
    customer_id = fields.UUID(load_default=None)
    ref = fields.String(validate=validate.Length(max=200), load_default=None)

    @ma.validates_schema
    def _one_source(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("body" in data) == ("template" in data):
            raise ma.ValidationError("Give either body or template (with variables).", "body")


class CommsPreviewSchema(CommsSmsSchema):
    to = fields.String(validate=validate.Length(min=3, max=32), load_default=None)


class CommsPreviewAnswerSchema(ma.Schema):
    body = fields.String()
    encoding = fields.String(metadata={"description": "GSM-7 or UCS-2"})
    segments = fields.Integer()
    units = fields.Integer(metadata={"description": "septets (GSM-7) or UTF-16 code units (UCS-2)"})
    to = fields.String(allow_none=True)


class CommsMessageSchema(ma.Schema):
    id = fields.UUID()
    direction = fields.String()
    to = fields.String(attribute="to_number")
    from_ = fields.String(attribute="from_number", data_key="from", allow_none=True)
    body = fields.String()
    template = fields.String(allow_none=True)
    status = fields.String()
    error_code = fields.Integer(allow_none=True)
    error_message = fields.String(allow_none=True)
    provider_sid = fields.String(allow_none=True)
    segments = fields.Integer()
    encoding = fields.String()
    customer_id = fields.UUID(allow_none=True)
    ref = fields.String(allow_none=True)
    attempts = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)


class CommsMessageFilterSchema(Strict):
    direction = fields.String(validate=validate.OneOf(["inbound", "outbound"]))
    status = fields.String(validate=validate.Length(max=16))
    number = fields.String(validate=validate.Length(min=3, max=32))
    customer_id = fields.UUID()


class CommsTemplateSchema(ma.Schema):
    name = fields.String()
    body = fields.String()
    description = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CommsTemplateCreateSchema(Strict):
    name = fields.String(required=True, validate=NAME)
    body = fields.String(required=True, validate=validate.Length(min=1, max=1600))
    description = fields.String(validate=validate.Length(max=500), load_default=None)


class CommsTemplatePutSchema(Strict):
    body = fields.String(required=True, validate=validate.Length(min=1, max=1600))
    description = fields.String(validate=validate.Length(max=500), load_default=None)


class CommsOptOutSchema(ma.Schema):
    number = fields.String()
    source = fields.String(metadata={"description": "keyword, staff or provider"})
    keyword = fields.String(allow_none=True)
    created_at = fields.DateTime()


class CommsOptOutCreateSchema(Strict):
    number = NUMBER


class CommsCallCreateSchema(Strict):
    to = NUMBER
    assistant_id = fields.String(validate=validate.Length(min=1, max=64), load_default=None)
    customer_id = fields.UUID(load_default=None)
    metadata = fields.Dict(keys=fields.String(validate=validate.Length(max=64)), load_default=dict)


class CostField(fields.Field):
    """Vapi's cost (US dollars): ``{amount, currency, exact}``.

    ``amount`` is in minor units rounded half up (the one rounding rule), ``exact`` the
    decimal Vapi reported: provider costs carry fractions of a cent.
    """

    CURRENCY = "USD"

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        exact = decimal.Decimal(value)
        minor = exact.scaleb(get_currency_precision(self.CURRENCY))
        amount = int(minor.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP))
        return {"amount": amount, "currency": self.CURRENCY, "exact": format(exact.normalize(), "f")}


class CommsCallSchema(ma.Schema):
    id = fields.UUID()
    direction = fields.String()
    to = fields.String(attribute="number", allow_none=True)
    status = fields.String()
    provider_call_id = fields.String(allow_none=True)
    assistant_id = fields.String(allow_none=True)
    customer_id = fields.UUID(allow_none=True)
    metadata = fields.Dict(attribute="call_metadata")
    transcript = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)
    recording_url = fields.String(allow_none=True)
    duration_seconds = fields.Float(allow_none=True)
    cost = CostField(metadata={"description": "{amount: minor units, currency: USD, exact}"})
    ended_reason = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)


class CommsCallFilterSchema(Strict):
    status = fields.String(validate=validate.Length(max=16))
    direction = fields.String(validate=validate.OneOf(["inbound", "outbound"]))
    number = fields.String(validate=validate.Length(min=3, max=32))
    customer_id = fields.UUID()
    ended_reason = fields.String(validate=validate.Length(max=120))


class CommsSetupSchema(ma.Schema):
    twilio_status_callback = fields.String()
    twilio_inbound = fields.String()
    vapi_server_url = fields.String()
    twilio_configured = fields.Boolean()
    vapi_configured = fields.Boolean()
