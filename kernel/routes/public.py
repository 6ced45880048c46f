"""``/api/v1/public``: storefront-facing kernel routes; the tenant comes from Host/X-Tenant."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask_smorest import Blueprint

from kernel.errors import problem
from kernel.tenants import TenantInfo

blp = Blueprint("public", __name__, url_prefix="/api/v1/public", description="Storefront (public)")


class PublicTenantSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


def public_tenant() -> TenantInfo:
    """The active tenant a storefront request addresses; 404 problem when there is none."""
    info = current_app.extensions["plugboard.tenants"].for_public_request(request)
    if info is None:
        problem(404, "unknown-tenant", title="Unknown tenant",
                detail="No active tenant answers to this Host or X-Tenant header.")
    assert info is not None
    return info


@blp.get("/tenant")
@blp.doc(parameters=[{"in": "header", "name": "X-Tenant", "required": False,
                      "schema": {"type": "string"}, "description": "tenant slug (else Host)"}])
@blp.response(200, PublicTenantSchema)
def tenant() -> dict[str, Any]:
    """The tenant this storefront host (or ``X-Tenant``) resolves to."""
    info = public_tenant()
    return {"slug": info.slug, "name": info.name}
