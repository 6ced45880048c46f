"""``/api/v1/public``: storefront-facing kernel routes; the tenant comes from Host/X-Tenant.

Public assets (``/api/v1/public/assets/<tenant id>/…``) carry the tenant in the URL instead.
"""

from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import Response, current_app, has_request_context, request
from flask_smorest import Blueprint

from kernel.errors import problem
from kernel.storage import ObjectNotFound
from kernel.tenants import TenantInfo

blp = Blueprint("public", __name__, url_prefix="/api/v1/public", description="Storefront (public)")


class PublicTenantSchema(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)


def public_tenant() -> TenantInfo:
    """The active tenant a storefront request addresses; 404 problem when there is none."""
    info: TenantInfo | None = current_app.extensions["plugboard.tenants"].for_public_request(request)
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


# -- public tenant assets ---------------------------------------------------------------
#
# Files a tenant publishes with its storefront content (images in pages, ...). Plugins
# store them with the app's storage under public_asset_key(); this route serves them to
# any browser, with the tenant in the URL (an <img> cannot send X-Tenant). Only keys under
# tenants/<id>/public/ are reachable here: the rest of a tenant's files stay private.
# Names are content-addressed by convention (a sha256 in the name), hence immutable.

ASSET_CACHE_CONTROL = "public, max-age=31536000, immutable"


def public_asset_key(tenant_id: uuid.UUID, name: str) -> str:
    """The storage key of a public asset ``name`` (e.g. ``pages/<sha256>.png``) of a tenant.

    .. versionadded:: 1.0
    """
    return f"tenants/{tenant_id}/public/{name}"


def public_asset_url(tenant_id: uuid.UUID, name: str) -> str:
    """The absolute URL that serves :func:`public_asset_key` ``(tenant_id, name)`` to anyone.

    .. versionadded:: 1.0
    """
    return f"{public_base_url()}/api/v1/public/assets/{tenant_id}/{name}"


def public_base_url() -> str:
    """The API's public address: ``PLUGBOARD_PUBLIC_URL`` when set, else the request's own
    scheme, host and port (as the client reached it; behind ``PLUGBOARD_TRUSTED_PROXIES``
    the proxy's ``X-Forwarded-*``), else the development address (no request: jobs, CLI).
    """
    settings = current_app.extensions["plugboard.settings"]
    if settings.public_url:
        return str(settings.public_url).rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return str(settings.public_url_or_default)


@blp.get("/assets/<uuid:tenant_id>/<path:name>")
@blp.doc(responses={"200": {"description": "the file", "content": {"application/octet-stream": {}}},
                    "304": {"description": "not modified (If-None-Match)"}})
def asset(tenant_id: uuid.UUID, name: str) -> Response:
    """A tenant's public asset (e.g. an image placed in a page); immutable, strong ETag."""
    info = current_app.extensions["plugboard.tenants"].by_id(tenant_id)
    try:
        found = None if info is None or info.status != "active" else (
            current_app.extensions["plugboard.storage"].get(public_asset_key(tenant_id, name)))
    except (ObjectNotFound, ValueError):
        found = None
    if found is None:
        problem(404, "not-found", title="Not found", detail="No such asset.")
    etag = found.info.etag
    headers = {"ETag": f'"{etag}"', "Cache-Control": ASSET_CACHE_CONTROL,
               "X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*"}
    if request.if_none_match.contains_weak(etag):
        return Response(status=304, headers=headers)
    return Response(found.data, headers=headers, content_type=found.info.content_type)
