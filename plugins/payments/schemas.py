"""marshmallow schemas of the payments API. Request bodies reject unknown fields.

Amounts are integer minor units with an ISO 4217 currency. Secrets never appear here;
``client_secret`` is Stripe's per-payment browser token (it can only confirm that
payment), handed to the payer's client as Stripe intends.
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from plugins.payments import money, states

KIND = validate.Regexp(r"^[a-z][a-z0-9_]{0,39}\.[a-z][a-z0-9_]{0,38}$",
                       error="kind is '<plugin>.<entity>', e.g. 'billing.invoice'")
_ref = fields.String(required=True, validate=validate.Length(min=1, max=120))
_kind = fields.String(required=True, validate=KIND)
_url = fields.Url(load_default=None, schemes={"http", "https"}, validate=validate.Length(max=2000))
MAX_AMOUNT = 10**15


class Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


# The codes money.is_currency accepts, listed so the document states them.
_currency = validate.OneOf(sorted(c for c in money.list_currencies() if money.is_currency(c)),
                           error="an ISO 4217 code in capitals, e.g. USD")


class PaymentCreateSchema(Strict):
    kind = _kind
    ref = _ref
    provider = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    return_url = _url
    email = fields.Email(load_default=None)
    method = fields.String(load_default=None, validate=validate.OneOf(("ecocash", "onemoney")),
                           metadata={"description": "Paynow mobile money; needs phone"})
    phone = fields.String(load_default=None, validate=validate.Regexp(r"^\+?[0-9]{7,15}$"))


class ManualPaymentSchema(Strict):
    kind = fields.String(required=True, validate=KIND, metadata={"example": "ticketing.order"})
    ref = fields.String(required=True, validate=validate.Length(min=1, max=120))
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT),
                            metadata={"example": 1500, "description": "minor units; exactly what is due"})
    currency = fields.String(required=True, validate=_currency, metadata={"example": "EUR"})
    note = fields.String(load_default=None, validate=validate.Length(max=1000),
                         metadata={"example": "cash at the desk"})


class RefundCreateSchema(Strict):
    amount = fields.Integer(load_default=None, strict=True,
                            validate=validate.Range(min=1, max=MAX_AMOUNT),
                            metadata={"description": "minor units; absent: all that is left"})
    reason = fields.String(load_default=None, validate=validate.Length(max=500))


class LinkCreateSchema(Strict):
    kind = _kind
    ref = _ref
    expires_at = fields.AwareDateTime(load_default=None, default_timezone=None)


class PublicPaySchema(Strict):
    provider = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    return_url = _url
    email = fields.Email(load_default=None)
    method = fields.String(load_default=None, validate=validate.OneOf(("ecocash", "onemoney")))
    phone = fields.String(load_default=None, validate=validate.Regexp(r"^\+?[0-9]{7,15}$"))


class PaymentQuerySchema(Strict):
    kind = fields.String(validate=validate.Length(max=80))
    ref = fields.String(validate=validate.Length(max=120))
    status = fields.String(validate=validate.OneOf(states.STATUSES))
    provider = fields.String(validate=validate.Length(max=40))


class AdminPaymentQuerySchema(PaymentQuerySchema):
    tenant_id = fields.UUID()
    account = fields.String(validate=validate.OneOf(("tenant", "platform")))


class RefundSchema(ma.Schema):
    id = fields.UUID()
    payment_id = fields.UUID()
    amount = fields.Integer()
    currency = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    provider_ref = fields.String(allow_none=True)
    created_at = fields.DateTime()


class DisputeSchema(ma.Schema):
    id = fields.UUID()
    payment_id = fields.UUID()
    amount = fields.Integer()
    currency = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    provider_ref = fields.String()
    created_at = fields.DateTime()


class PaymentSchema(ma.Schema):
    id = fields.UUID()
    tenant_id = fields.UUID()
    kind = fields.String()
    ref = fields.String()
    provider = fields.String()
    provider_ref = fields.String(allow_none=True)
    amount = fields.Integer()
    currency = fields.String()
    amount_refunded = fields.Integer()
    status = fields.String()
    description = fields.String()
    customer_id = fields.UUID(allow_none=True)
    account = fields.String()
    client_secret = fields.String(allow_none=True)
    redirect_url = fields.String(allow_none=True)
    return_url = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    failure_reason = fields.String(allow_none=True)
    metadata = fields.Dict(attribute="meta")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    settled_at = fields.DateTime(allow_none=True)


class PublicPaymentSchema(ma.Schema):
    """What a payer without an account sees of a payment."""

    id = fields.UUID()
    status = fields.String()
    provider = fields.String()
    amount = fields.Integer()
    currency = fields.String()
    description = fields.String()
    client_secret = fields.String(allow_none=True)
    redirect_url = fields.String(allow_none=True)


class AdminPaymentSchema(PaymentSchema):
    class Meta:
        exclude = ("client_secret",)


class PaymentDetailSchema(PaymentSchema):
    refunds = fields.List(fields.Nested(RefundSchema))
    disputes = fields.List(fields.Nested(DisputeSchema))


class ProviderInfoSchema(ma.Schema):
    name = fields.String()
    title = fields.String()
    configured = fields.Boolean()
    webhook_url = fields.String(allow_none=True)
    publishable_key = fields.String(allow_none=True)


class LinkSchema(ma.Schema):
    id = fields.UUID()
    kind = fields.String()
    ref = fields.String()
    token_prefix = fields.String()
    expires_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class LinkCreatedSchema(LinkSchema):
    token = fields.String()
    url = fields.String()


class DueSchema(ma.Schema):
    kind = fields.String()
    ref = fields.String()
    amount = fields.Integer()
    currency = fields.String()
    description = fields.String()
    expires_at = fields.DateTime(allow_none=True)
    providers = fields.List(fields.Nested(ProviderInfoSchema))
    payment = fields.Nested(PublicPaymentSchema, allow_none=True)


class WebhookAnswerSchema(ma.Schema):
    received = fields.Integer()
    outcomes = fields.List(fields.String())
