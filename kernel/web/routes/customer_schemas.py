"""marshmallow schemas of the customer API (staff and storefront account routes).

.. versionadded:: 1.1
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from kernel.identity.customers import normalise_phone
from kernel.web.schemas import EmailField, Strict

_password = validate.Length(min=10, max=256)
_name = validate.Length(max=200)


class PhoneField(fields.String):
    """A phone number, normalised to E.164 with phonenumbers; ``null`` clears it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(min=3, max=32), allow_none=True,
                         metadata={"description": "international form, e.g. +14155550123 (stored E.164)",
                                   "example": "+14155550123"}, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_phone(text)
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from exc


class CustomerSchema(ma.Schema):
    id = fields.UUID()
    email = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    email_verified = fields.Function(lambda c: c.email_verified_at is not None, dump_only=True)
    marketing_consent = fields.Boolean()
    has_account = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class CustomerCreateSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=320))
    name = fields.String(load_default="", validate=_name)
    phone = PhoneField()
    marketing_consent = fields.Boolean(load_default=False)


class CustomerPatchSchema(Strict):
    email = EmailField(validate=validate.Length(max=320))
    name = fields.String(validate=_name)
    phone = PhoneField()
    marketing_consent = fields.Boolean()


class CustomerQuerySchema(Strict):
    q = fields.String(validate=validate.Length(min=1, max=200),
                      metadata={"description": "matches e-mail, name or phone"})
    email = EmailField()


class TimelineEntrySchema(ma.Schema):
    at = fields.DateTime(required=True)
    plugin = fields.String(required=True)
    type = fields.String(required=True)
    title = fields.String(required=True)
    ref = fields.String(allow_none=True)
    data = fields.Dict()


class ExportSchema(ma.Schema):
    customer = fields.Dict(required=True)
    plugins = fields.Dict(keys=fields.String(), values=fields.Raw(), required=True)
    exported_at = fields.String(required=True)


class AccountRegisterSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, validate=_password, load_only=True)
    name = fields.String(load_default="", validate=_name)
    phone = PhoneField()
    marketing_consent = fields.Boolean(load_default=False)


class AccountLoginSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class AccountRefreshSchema(Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class AccountForgotSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=320))


class AccountResetSchema(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))
    password = fields.String(required=True, validate=_password, load_only=True)


class AccountPatchSchema(Strict):
    name = fields.String(validate=_name)
    phone = PhoneField()
    marketing_consent = fields.Boolean()


class CustomerTokenPairSchema(ma.Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class AccountRegisteredSchema(CustomerTokenPairSchema):
    customer = fields.Nested(CustomerSchema, required=True)
