"""marshmallow schemas of the kernel's API (request bodies reject unknown fields)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from kernel.identity.rbac import ROLES
from kernel.tenancy.directory import HOSTNAME_RE, RESERVED_SLUGS, SLUG_RE

Email = fields.Email
_password = validate.Length(min=10, max=256)
# Reserved labels never resolve as storefront subdomains, so no tenant may take one.
_slug = [
    validate.Regexp(SLUG_RE, error="lowercase letters, digits and inner hyphens, 1-63 chars"),
    validate.NoneOf(sorted(RESERVED_SLUGS), error="is reserved; choose another slug"),
]
_role = validate.OneOf(ROLES)


class Strict(ma.Schema):
    """Request bodies: unknown fields are an error, strings are stripped of nothing."""

    class Meta:
        unknown = ma.RAISE


def _lower(value: str) -> str:
    return value.strip().lower()


class EmailField(fields.Email):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        result = super()._deserialize(value, attr, data, **kwargs)
        return _lower(result)


class UserSchema(ma.Schema):
    id = fields.UUID()
    email = fields.String()
    name = fields.String()
    email_verified = fields.Boolean()
    is_platform_admin = fields.Boolean()
    created_at = fields.DateTime()


class TenantSchema(ma.Schema):
    id = fields.UUID()
    slug = fields.String()
    name = fields.String()
    status = fields.String()
    settings = fields.Dict()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class TokenPairSchema(ma.Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class RegisterSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=_password)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    tenant_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    tenant_slug = fields.String(required=True, validate=_slug)


class RegisterResultSchema(TokenPairSchema):
    user = fields.Nested(UserSchema, required=True)
    tenant = fields.Nested(TenantSchema, required=True)


class LoginSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=256))
    tenant = fields.String(validate=validate.Length(min=1, max=63))


class RefreshSchema(Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=256))


class SwitchTenantSchema(Strict):
    tenant = fields.String(required=True, validate=validate.Length(min=1, max=63))


class ForgotSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=320))


class ResetSchema(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=256))
    password = fields.String(required=True, load_only=True, validate=_password)


class VerifyEmailSchema(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=256))


class MembershipBriefSchema(ma.Schema):
    tenant = fields.Nested(TenantSchema)
    role = fields.String()


class MeSchema(ma.Schema):
    user = fields.Nested(UserSchema, required=True)
    tenant = fields.Nested(TenantSchema, allow_none=True)
    role = fields.String(allow_none=True)
    permissions = fields.List(fields.String())
    memberships = fields.List(fields.Nested(MembershipBriefSchema))
    auth = fields.String(metadata={"description": "user or api_key"})


class TenantPatchSchema(Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    settings = fields.Dict(keys=fields.String(validate=validate.Length(max=100)))


class MemberSchema(ma.Schema):
    id = fields.UUID()
    user_id = fields.UUID()
    email = fields.String()
    name = fields.String()
    role = fields.String()
    created_at = fields.DateTime()


class MemberCreateSchema(Strict):
    email = EmailField(required=True, validate=validate.Length(max=320))
    name = fields.String(validate=validate.Length(min=1, max=200))
    role = fields.String(required=True, validate=_role)


class MemberPatchSchema(Strict):
    role = fields.String(required=True, validate=_role)


class DomainSchema(ma.Schema):
    id = fields.UUID()
    hostname = fields.String()
    created_at = fields.DateTime()


class DomainCreateSchema(Strict):
    hostname = fields.String(
        required=True,
        validate=[validate.Length(max=253), validate.Regexp(HOSTNAME_RE, error="not a hostname")],
    )

    @ma.pre_load
    def _normalise(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("hostname"), str):
            data = {**data, "hostname": data["hostname"].strip().lower().rstrip(".")}
        return data


class ApiKeySchema(ma.Schema):
    id = fields.UUID()
    name = fields.String()
    prefix = fields.String(metadata={"description": "identifies the key; the secret is never shown again"})
    role = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(metadata={"description": "the secret; shown once, store it now"})


class ApiKeyCreateSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    role = fields.String(load_default="admin", validate=_role)
    expires_at = fields.AwareDateTime(allow_none=True, default_timezone=None)


class AdminTenantCreateSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    slug = fields.String(required=True, validate=_slug)
    owner_email = EmailField(validate=validate.Length(max=320))


class AdminTenantPatchSchema(Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    status = fields.String(validate=validate.OneOf(["active", "suspended"]))
    settings = fields.Dict(keys=fields.String(validate=validate.Length(max=100)))


class AdminTenantQuerySchema(Strict):
    q = fields.String(validate=validate.Length(max=100), metadata={"description": "search slug or name"})
    status = fields.String(validate=validate.OneOf(["active", "suspended"]))


class AuditEntrySchema(ma.Schema):
    id = fields.UUID()
    tenant_id = fields.UUID(allow_none=True)
    actor_type = fields.String()
    actor_id = fields.String(allow_none=True)
    action = fields.String()
    entity_type = fields.String(allow_none=True)
    entity_id = fields.String(allow_none=True)
    status = fields.Integer()
    ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    details = fields.Dict()
    created_at = fields.DateTime()


class AuditQuerySchema(Strict):
    tenant = fields.UUID()
    actor = fields.String(validate=validate.Length(max=64))
    action = fields.String(validate=validate.Length(max=120))
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
