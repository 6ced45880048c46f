"""Plugin bundles: upload and roll out (platform admin), the tenant's manifest, the files.

* ``GET, POST /api/v1/admin/plugins/{name}/bundles`` and ``PUT …/bundles/current``
* ``GET /api/v1/plugins/{name}/bundle``: what this tenant should load, with SRI hashes
* ``GET /bundles/{plugin}/{version}/{path}``: public, immutable, or a presigned redirect
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import marshmallow as ma
from flask import Request, Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import fields, validate
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict, FileStorage

from kernel.config import Settings
from kernel.identity.auth import auth_required, current_principal, platform_admin_required
from kernel.problems import problem
from kernel.registry import bundles
from kernel.registry.activation import Activations
from kernel.registry.bundle_archive import BundleRejected, integrity
from kernel.runtime import audit
from kernel.runtime.storage import ObjectNotFound, Storage, public_base_url
from kernel.services import kernel_services
from kernel.tenancy.scope import current_tenant_id


class _MultipartParser(FlaskParser):
    """``location="form"`` reads a multipart body's fields and files together, so one schema
    documents the whole upload (flask-smorest documents only one request body per view)."""

    def load_form(self, req: Request, schema: ma.Schema) -> Any:
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class _UploadBlueprint(Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = _MultipartParser()


blp = Blueprint("plugin_bundles", __name__, url_prefix="/api/v1/plugins",
                description="Plugin bundles (tenant)")
admin_blp = _UploadBlueprint("admin_bundles", __name__, url_prefix="/api/v1/admin",
                      description="Plugin bundles (platform admin)")
files_blp = Blueprint("bundle_files", __name__, url_prefix="/bundles",
                      description="Plugin bundle files (public, immutable)")

IMMUTABLE = "public, max-age=31536000, immutable"
REDIRECT_CACHE = "public, max-age=300"  # well inside the presigned URL's lifetime
PRESIGN_SECONDS = 3600
MULTIPART_SLACK = 64 * 1024  # multipart framing and the version field around the file


def _semver(value: str) -> None:
    if bundles.SEMVER_RE.fullmatch(value) is None:
        raise ma.ValidationError("not a semantic version (like 1.4.0 or 2.0.0-rc.1)")


VERSION = fields.String(required=True, validate=[validate.Length(max=64), _semver],
                        metadata={"description": "a semantic version (semver.org), e.g. 1.4.0",
                                  "pattern": f"^{bundles.SEMVER_RE.pattern}$"})


class BundleUploadSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    version = VERSION
    file = Upload(required=True, metadata={"description": "a .zip of the bundle, or one file"})


class BundleFileEntrySchema(ma.Schema):
    path = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    content_type = fields.String()


class BundleVersionSchema(ma.Schema):
    plugin = fields.String()
    version = fields.String()
    digest = fields.String(metadata={"description": "sha256 over every file's path, hash and size"})
    size = fields.Integer()
    files = fields.List(fields.Nested(BundleFileEntrySchema))
    created_at = fields.DateTime()
    created_by = fields.String(allow_none=True)


class BundleVersionListItemSchema(BundleVersionSchema):
    class Meta:
        exclude = ("files",)

    file_count = fields.Integer()
    default = fields.Boolean(metadata={"description": "the version every unpinned tenant gets"})
    pinned = fields.List(fields.String(), metadata={"description": "slugs of tenants pinned to it"})


class BundleRolloutSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    version = VERSION
    tenants = fields.List(fields.String(validate=validate.Length(min=1, max=63)),
                          validate=validate.Length(min=1, max=1000),
                          metadata={"description": "pin just these tenants (canary); leave out "
                                    "to make the version every tenant's, lifting all pins"})


class BundlePinSchema(ma.Schema):
    tenant = fields.String()
    version = fields.String()


class BundleRolloutStateSchema(ma.Schema):
    plugin = fields.String()
    default = fields.String(allow_none=True)
    pins = fields.List(fields.Nested(BundlePinSchema))


class TenantBundleFileSchema(ma.Schema):
    path = fields.String()
    url = fields.String()
    integrity = fields.String(metadata={"description": "Subresource Integrity: sha256-<base64>"})
    size = fields.Integer()
    content_type = fields.String()


class TenantBundleSchema(ma.Schema):
    plugin = fields.String()
    version = fields.String()
    files = fields.List(fields.Nested(TenantBundleFileSchema))


def _settings() -> Settings:
    return kernel_services().settings


def _activations() -> Activations:
    return kernel_services().activations


def _plugin(name: str) -> str:
    if _activations().registry.get(name) is None:
        problem(404, "plugin-not-found", title="Plugin not found",
                detail=f"No plugin named {name!r} is installed.")
    return name


def _actor() -> str:
    principal = current_principal()
    return principal.actor_id if principal else "system"


# -- platform admin ---------------------------------------------------------------------


@admin_blp.before_request
def _allow_bundle_sized_body() -> None:
    # The app-wide limit is small; only the upload may send a bundle.
    if request.method == "POST":
        request.max_content_length = _settings().bundle_max_bytes + MULTIPART_SLACK


def _read(upload: FileStorage, limit: int) -> bytes:
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        problem(413, "bundle-too-large", title="Bundle too large",
                detail=f"Bundles are limited to {limit} bytes (PLUGBOARD_BUNDLE_MAX_BYTES).")
    return data


@admin_blp.route("/plugins/<string:name>/bundles")
class Bundles(MethodView):
    @platform_admin_required
    @admin_blp.response(200, BundleVersionListItemSchema(many=True))
    @admin_blp.alt_response(404, description="no such plugin is installed")
    def get(self, name: str) -> list[dict[str, Any]]:
        """Every version of the plugin's bundle, newest first, with its rollout."""
        state = bundles.rollout_state(_plugin(name))
        return [{**_version(row), "file_count": len(row.files),
                 "default": row.version == state["default"],
                 "pinned": [p["tenant"] for p in state["pins"] if p["version"] == row.version]}
                for row in bundles.versions(name)]

    @platform_admin_required
    @admin_blp.arguments(BundleUploadSchema, location="form", content_type="multipart/form-data")
    @admin_blp.response(201, BundleVersionSchema)
    @admin_blp.alt_response(200, schema=BundleVersionSchema, description="this version, uploaded before "
                            "with the same content")
    @admin_blp.alt_response(409, description="this version exists with other content")
    @admin_blp.alt_response(413, description="the upload is too large")
    @admin_blp.alt_response(404, description="no such plugin is installed")
    def post(self, form: dict[str, Any], name: str) -> Any:
        """Upload a version (multipart: ``version`` and ``file``, a .zip or one file)."""
        _plugin(name)
        upload: FileStorage = form["file"]
        data = _read(upload, _settings().bundle_max_bytes)
        try:
            row, created = bundles.upload(name, form["version"], upload.filename or "", data,
                                          _actor())
        except BundleRejected as exc:
            extra = {"path": exc.path} if exc.path else {}
            problem(exc.status, exc.type_, title="Bundle rejected", detail=exc.detail, **extra)
        audit.describe("admin.bundles.upload", "bundle", name, version=row.version,
                       digest=row.digest, files=len(row.files), created=created)
        return _version(row), (201 if created else 200)


def _version(row: bundles.BundleVersion) -> dict[str, Any]:
    return {"plugin": row.plugin, "version": row.version, "digest": row.digest, "size": row.size,
            "files": row.files, "created_at": row.created_at, "created_by": row.created_by}


@admin_blp.route("/plugins/<string:name>/bundles/current")
class CurrentBundle(MethodView):
    @platform_admin_required
    @admin_blp.arguments(BundleRolloutSchema)
    @admin_blp.response(200, BundleRolloutStateSchema)
    @admin_blp.alt_response(404, description="no such plugin is installed")
    def put(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        """Make a version every tenant's (lifting pins), or pin just ``tenants`` to it (canary)."""
        _plugin(name)
        tenants = data.get("tenants")
        if tenants is None:
            bundles.set_default(name, data["version"], _actor())
        else:
            tenants = [t.slug for t in bundles.pin(name, data["version"], tenants, _actor())]
        audit.describe("admin.bundles.rollout", "bundle", name, version=data["version"],
                       tenants=tenants)
        return bundles.rollout_state(name)


# -- tenant -----------------------------------------------------------------------------


def file_url(plugin: str, version: str, path: str) -> str:
    return f"{public_base_url()}/bundles/{quote(plugin)}/{quote(version)}/{quote(path)}"


@blp.route("/<string:name>/bundle")
class TenantBundle(MethodView):
    @auth_required("plugins.read")
    @blp.response(200, TenantBundleSchema)
    @blp.alt_response(404, description="the plugin is not installed or not enabled, or has no "
                      "bundle rolled out")
    def get(self, name: str) -> dict[str, Any]:
        """The bundle this tenant should load, with Subresource Integrity hashes."""
        _plugin(name)
        if not _activations().is_enabled(current_tenant_id(), name):
            problem(404, "plugin-not-enabled", title="Plugin not enabled",
                    detail=f"The plugin {name!r} is not enabled for this tenant.", plugin=name)
        row = bundles.current_for_tenant(name)
        if row is None:
            problem(404, "bundle-not-found", title="No bundle",
                    detail=f"The plugin {name!r} has no bundle rolled out.", plugin=name)
        assert row is not None
        return {"plugin": name, "version": row.version, "files": [
            {"path": f["path"], "url": file_url(name, row.version, f["path"]),
             "integrity": integrity(f["sha256"]), "size": f["size"],
             "content_type": f["content_type"]} for f in row.files]}


# -- public files -----------------------------------------------------------------------


def _file_headers(entry: dict[str, Any]) -> dict[str, str]:
    headers = {"ETag": f'"{entry["sha256"]}"', "Cache-Control": IMMUTABLE,
               "X-Content-Type-Options": "nosniff",
               # storefronts on other origins load these as module scripts, with SRI
               "Access-Control-Allow-Origin": "*",
               "Cross-Origin-Resource-Policy": "cross-origin"}
    if entry["content_type"].startswith("image/svg"):
        headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return headers


@files_blp.route("/<string:plugin>/<string:version>/<path:path>")
@files_blp.alt_response(200, description="the file, with its content type and a strong ETag")
@files_blp.alt_response(302, description="redirect to a presigned storage URL (redirect mode)")
@files_blp.alt_response(304, description="not modified (If-None-Match)")
@files_blp.alt_response(404, description="no such file in that version")
@files_blp.doc(summary="A bundle file", description="Immutable: cache forever. Strong ETag "
               "(the sha256); 304 on If-None-Match; or a 302 to a presigned storage URL.")
def bundle_file(plugin: str, version: str, path: str) -> Response:
    entry = (bundles.manifest(plugin, version) or {}).get(path)
    if entry is None:
        problem(404, "not-found", title="Not found",
                detail=f"{plugin} {version} has no file {path!r}.")
    assert entry is not None
    headers = _file_headers(entry)
    if request.if_none_match.star_tag or request.if_none_match.contains_weak(entry["sha256"]):
        return Response(status=304, headers=headers)
    storage: Storage = kernel_services().storage
    key = bundles.blob_key(entry["sha256"])
    if _settings().bundle_delivery == "redirect":
        url = storage.presigned_get(key, PRESIGN_SECONDS, {
            "Content-Type": entry["content_type"], "Cache-Control": IMMUTABLE})
        if url is not None:
            return Response(status=302, headers={"Location": url, "Cache-Control": REDIRECT_CACHE,
                                                 "Access-Control-Allow-Origin": "*"})
    try:
        stored = storage.get(key)
    except ObjectNotFound:
        current_app.logger.error("bundle blob missing", extra={"key": key, "plugin": plugin})
        problem(404, "not-found", title="Not found", detail=f"{path!r} is missing from storage.")
    return Response(stored.data, status=200, content_type=entry["content_type"], headers=headers)
