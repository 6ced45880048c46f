"""``/api/v1/pages``: the tenant's pages, their drafts, publishing, history and assets.

The kernel's gate has authenticated the caller, opened the tenant's scope and checked
that the tenant enabled ``pages``; each view checks its permission (``pages.read``,
``pages.write``, ``pages.publish``), leaves the work to :mod:`.services` (which flush)
and commits it. This is the template for a plugin's views: permissions, the acting
principal and field errors come from ``kernel.api``.

Responses that carry a Puck document are encoded here, not by Flask's JSON provider,
because that one sorts keys: the editor gets its document back byte for byte.
Concurrency: every page response has ``ETag: "<draft version>"``; send it back as
``If-Match`` (or ``version`` in the body) and a stale edit gets 412.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from kernel.api import (
    acting_principal,
    audit_describe,
    auth_required,
    current_tenant_id,
    db,
    field_error,
    paginate,
    plugin_config,
    problem,
    require_permission,
    validation_problem,
)
from plugins.pages import assets, services
from plugins.pages.models import Page, PageVersion
from plugins.pages.schemas import (
    PageAssetSchema,
    PageAssetUploadSchema,
    PageCreateSchema,
    PagePatchSchema,
    PagePublishSchema,
    PageRestoreSchema,
    PageSchema,
    PageSummarySchema,
    PageVersionSchema,
    PageVersionSummarySchema,
)

F = TypeVar("F", bound=Callable[..., Any])

#: the largest body any pages route reads (documents and assets); tenants' own limits,
#: checked in services and assets, are lower. The kernel's default (1 MiB) is too small.
MAX_REQUEST_BYTES = 17 * 1024 * 1024
MAX_INT = 2**31 - 1  # version numbers are SQL integers
VERSION = f"<int(min=1, max={MAX_INT}):number>"

blp = Blueprint("pages", __name__, url_prefix="/api/v1/pages",
                description="Pages made with the Puck editor: drafts, publishing, history, assets")

IF_MATCH = [{"in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
             "description": 'the ETag of the draft you edited, e.g. "3"; a newer draft: 412'}]
STALE = "The draft changed since the version given (If-Match or version): reload and retry"
ERRORS: dict[type[Exception], tuple[int, str, str]] = {
    services.PageNotFound: (404, "page-not-found", "Page not found"),
    services.VersionNotFound: (404, "version-not-found", "Version not found"),
    services.PathTaken: (409, "page-path-taken", "Path already used"),
}


@blp.url_value_preprocessor
def _allow_large_bodies(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # A URL value preprocessor, not before_request: these run before every before_request
    # function, and the kernel's may read the body (its NUL check) before ours would run.
    request.max_content_length = MAX_REQUEST_BYTES


def domain_errors(view: F) -> F:
    """Turn :mod:`.services` and :mod:`.assets` failures into problem responses."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except services.InvalidPage as exc:
            validation_problem([field_error(p.pointer, p.message) for p in exc.problems],
                               detail=str(exc))
        except services.StaleVersion as exc:
            problem(412, "precondition-failed", title="The draft has changed", detail=str(exc),
                    current_version=exc.current, headers={"ETag": f'"{exc.current}"'})
        except assets.AssetRefused as exc:
            kind = "asset-too-large" if exc.status == 413 else "asset-type-refused"
            problem(exc.status, kind, title="Asset refused", detail=str(exc))
        except services.PagesError as exc:
            status, kind, title = ERRORS[type(exc)]
            problem(status, kind, title=title, detail=str(exc))

    return cast(F, wrapper)


def _json(payload: Any, status: int = 200, etag: int | None = None) -> Response:
    headers = {"ETag": f'"{etag}"'} if etag is not None else {}
    return Response(json.dumps(payload, ensure_ascii=False), status=status,
                    mimetype="application/json", headers=headers)


def _page(page: Page, status: int = 200) -> Response:
    return _json(PageSchema().dump(page), status, etag=page.version)


def _settings() -> services.Settings:
    return services.Settings.from_config(plugin_config("pages"))


def _actor() -> str:
    return acting_principal().actor_id


def _expected(body_version: int | None) -> int | None:
    """The draft version the caller edited: ``version`` in the body, else ``If-Match``."""
    if body_version is not None or not request.if_match or request.if_match.star_tag:
        return body_version
    tags = list(request.if_match.as_set())
    tag = tags[0] if len(tags) == 1 else None  # werkzeug reads '""' as None
    if tag and tag.isascii() and tag.isdigit() and int(tag) <= MAX_INT:
        return int(tag)
    problem(412, "precondition-failed", title="The draft has changed",
            detail='If-Match must be one page ETag, e.g. "3" (weak ETags never match).')


@blp.route("")
class Pages(MethodView):
    @auth_required("pages.read")
    @blp.response(200, PageSummarySchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[Page]:
        """The tenant's pages by path (drafts and published), without their documents."""
        return paginate(services.pages_query(), pagination_parameters)

    @auth_required("pages.write")
    @blp.arguments(PageCreateSchema)
    @blp.response(201, PageSchema)
    @blp.alt_response(409, description="Another page of the tenant has this path")
    @domain_errors
    def post(self, data: dict[str, Any]) -> Response:
        """Create a page (a draft; ``data`` defaults to an empty Puck document)."""
        page = services.create_page(current_tenant_id(), _actor(), _settings(), **data)
        db.session.commit()
        audit_describe("pages.page.create", "page", page.id, path=page.path)
        return _page(page, 201)


@blp.route("/<uuid:page_id>")
class PageItem(MethodView):
    @auth_required("pages.read")
    @blp.response(200, PageSchema)
    @domain_errors
    def get(self, page_id: uuid.UUID) -> Response:
        """The page with its draft document, exactly as last saved."""
        return _page(services.get_page(current_tenant_id(), page_id))

    @auth_required("pages.write")
    @blp.arguments(PagePatchSchema)
    @blp.doc(parameters=IF_MATCH)
    @blp.response(200, PageSchema)
    @blp.alt_response(409, description="Another page of the tenant has this path")
    @blp.alt_response(412, description=STALE)
    @domain_errors
    def patch(self, data: dict[str, Any], page_id: uuid.UUID) -> Response:
        """Change the draft's path, title or document; the draft version goes up by one."""
        expected = _expected(data.pop("version", None))
        page = services.update_draft(current_tenant_id(), page_id, _actor(), _settings(), data, expected)
        db.session.commit()
        audit_describe("pages.page.update", "page", page.id, fields=sorted(data), version=page.version)
        return _page(page)

    @auth_required("pages.write")
    @blp.response(204)
    @domain_errors
    def delete(self, page_id: uuid.UUID) -> None:
        """Delete the page and its history (a published page needs ``pages.publish``)."""
        if services.get_page(current_tenant_id(), page_id).published_version is not None:
            require_permission("pages.publish")
        services.delete_page(current_tenant_id(), page_id)
        db.session.commit()
        audit_describe("pages.page.delete", "page", page_id)


@blp.post("/<uuid:page_id>/publish")
@auth_required("pages.publish")
@blp.arguments(PagePublishSchema)
@blp.doc(parameters=IF_MATCH)
@blp.response(200, PageSchema)
@blp.alt_response(412, description=STALE)
@domain_errors
def publish(data: dict[str, Any], page_id: uuid.UUID) -> Response:
    """Snapshot the draft as the next version and serve it to storefronts."""
    tenant_id = current_tenant_id()
    version = services.publish(tenant_id, page_id, _actor(), _settings(), message=data["message"],
                               expected=_expected(data.get("version")))
    db.session.commit()
    audit_describe("pages.page.publish", "page", page_id, version=version.number)
    return _page(services.get_page(tenant_id, page_id))


@blp.post("/<uuid:page_id>/unpublish")
@auth_required("pages.publish")
@blp.response(200, PageSchema)
@domain_errors
def unpublish(page_id: uuid.UUID) -> Response:
    """Take the page off storefronts (its draft and history stay)."""
    page = services.unpublish(current_tenant_id(), page_id)
    db.session.commit()
    audit_describe("pages.page.unpublish", "page", page_id)
    return _page(page)


@blp.get("/<uuid:page_id>/versions")
@auth_required("pages.read")
@blp.response(200, PageVersionSummarySchema(many=True))
@blp.paginate()
@domain_errors
def versions(page_id: uuid.UUID, pagination_parameters: Any) -> list[PageVersion]:
    """The page's published versions, newest first (without documents)."""
    services.get_page(current_tenant_id(), page_id)
    return paginate(services.versions_query(page_id), pagination_parameters)


@blp.get(f"/<uuid:page_id>/versions/{VERSION}")
@auth_required("pages.read")
@blp.response(200, PageVersionSchema)
@domain_errors
def version(page_id: uuid.UUID, number: int) -> Response:
    """One published version with its document."""
    return _json(PageVersionSchema().dump(services.version_of(current_tenant_id(), page_id, number)))


@blp.post(f"/<uuid:page_id>/versions/{VERSION}/restore")
@auth_required("pages.write")
@blp.arguments(PageRestoreSchema)
@blp.doc(parameters=IF_MATCH)
@blp.response(200, PageSchema)
@blp.alt_response(412, description=STALE)
@domain_errors
def restore(data: dict[str, Any], page_id: uuid.UUID, number: int) -> Response:
    """Make version ``number`` the draft again; with ``publish: true`` also publish it."""
    if data["publish"]:
        require_permission("pages.publish")
    page = services.restore(current_tenant_id(), page_id, number, _actor(), _settings(),
                            publish_now=data["publish"], expected=_expected(data.get("version")))
    db.session.commit()
    audit_describe("pages.page.restore", "page", page_id, version=number, published=data["publish"])
    return _page(page)


@blp.post("/assets")
@auth_required("pages.write")
@blp.arguments(PageAssetUploadSchema, location="files")
@blp.response(201, PageAssetSchema)
@blp.alt_response(413, description="Larger than the tenant's max_asset_bytes")
@blp.alt_response(415, description="Not a PNG, JPEG, GIF, WebP, AVIF, PDF, MP4 or WebM file (SVG is refused)")
@domain_errors
def upload_asset(files: dict[str, Any]) -> assets.Asset:
    """Upload an image or file (multipart ``file``); returns the public URL to put in props."""
    data = files["file"].read()
    asset = assets.store(current_tenant_id(), data, _settings().max_asset_bytes)
    audit_describe("pages.asset.upload", "asset", asset.sha256, size=asset.size)
    return asset
