"""``/api/v1/api-keys``: tenant API keys, shown once, stored hashed."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint

from kernel.data.base import utcnow
from kernel.data.models import ApiKey
from kernel.data.session import db
from kernel.identity.auth import auth_required, current_principal
from kernel.identity.credentials import new_api_key
from kernel.identity.rbac import may_grant
from kernel.problems import problem
from kernel.runtime import audit
from kernel.web.pagination import paginate
from kernel.web.schemas import ApiKeyCreatedSchema, ApiKeyCreateSchema, ApiKeySchema

blp = Blueprint("api_keys", __name__, url_prefix="/api/v1/api-keys", description="API keys")


@blp.route("")
class ApiKeys(MethodView):
    @auth_required("api_keys.read")
    @blp.response(200, ApiKeySchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[ApiKey]:
        """The tenant's keys, newest first; only their prefixes, never the secrets."""
        stmt = sa.select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)
        return paginate(stmt, pagination_parameters)

    @auth_required("api_keys.write")
    @blp.arguments(ApiKeyCreateSchema)
    @blp.response(201, ApiKeyCreatedSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a key with a role no higher than yours; the secret is in this answer only."""
        principal = current_principal()
        assert principal is not None and principal.role is not None
        if not may_grant(principal.role, data["role"]):
            problem(403, "forbidden", title="Forbidden",
                    detail=f"Your role ({principal.role}) cannot create {data['role']} keys.")
        if data.get("expires_at") is not None and data["expires_at"] <= utcnow():
            problem(422, "validation-error", title="Validation failed",
                    detail="expires_at must be in the future.",
                    errors=[{"field": "expires_at", "pointer": "/expires_at", "location": "json",
                             "message": "must be in the future"}])
        key, prefix, digest = new_api_key()
        row = ApiKey(name=data["name"], prefix=prefix, key_hash=digest, role=data["role"],
                     created_by=principal.user_id, expires_at=data.get("expires_at"))
        db.session.add(row)
        db.session.commit()
        audit.describe("api_keys.create", "api_key", row.id, name=row.name, role=row.role)
        return {**{name: getattr(row, name) for name in ApiKeySchema().fields}, "key": key}


@blp.route("/<uuid:key_id>")
class ApiKeyItem(MethodView):
    @auth_required("api_keys.read")
    @blp.response(200, ApiKeySchema)
    def get(self, key_id: uuid.UUID) -> ApiKey:
        """One key (its prefix, never its secret)."""
        row = db.session.get(ApiKey, key_id)
        if row is None:
            problem(404, "not-found", title="Not found", detail="No such key in this tenant.")
        assert row is not None
        return row

    @auth_required("api_keys.write")
    @blp.response(204)
    def delete(self, key_id: uuid.UUID) -> None:
        """Revoke a key; it stops working at once."""
        row = db.session.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            problem(404, "not-found", title="Not found", detail="No such active key in this tenant.")
        assert row is not None
        row.revoked_at = utcnow()
        db.session.commit()
        audit.describe("api_keys.revoke", "api_key", key_id)
