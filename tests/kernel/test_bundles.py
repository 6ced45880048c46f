"""Plugin bundles: upload, immutable versions, rollout with canary pins, serving the files.

Runs on SQLite with the local storage folder and on PostgreSQL with S3 (moto's server).
"""

from __future__ import annotations

import base64
import hashlib
import io
import urllib.request
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data.models import AuditEntry
from kernel.data.session import db
from kernel.registry.bundles import BLOB_PREFIX
from kernel.tenancy.scope import platform_scope, tenant_scope
from tests.conftest import S3Server
from tests.helpers import assert_problem
from tests.kernel.bundle_helpers import (
    BUNDLES,
    CURRENT,
    JS_V1,
    JS_V2,
    TENANT_BUNDLE,
    World,
    make_world,
    zip_bytes,
)


@pytest.fixture
def world(plugin_app: Callable[..., Flask]) -> World:
    return make_world(plugin_app)


def sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def test_upload_zip_then_serve_with_strong_etag_and_304(world: World) -> None:
    resp = world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["version"] == "1.0.0"
    assert {f["path"]: (f["sha256"], f["size"]) for f in body["files"]} == {
        path: (sha(content), len(content.encode())) for path, content in JS_V1.items()}
    types = {f["path"]: f["content_type"] for f in body["files"]}
    assert types["main.js"].startswith("text/javascript") and types["img/logo.svg"] == "image/svg+xml"

    file = world.api.get("/bundles/full/1.0.0/main.js")
    assert file.status_code == 200
    assert file.data == JS_V1["main.js"].encode()
    assert file.headers["ETag"] == f'"{sha(JS_V1["main.js"])}"'
    assert file.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert file.mimetype == "text/javascript"
    assert file.headers["Access-Control-Allow-Origin"] == "*"
    assert file.headers["X-Content-Type-Options"] == "nosniff"
    for tag in (file.headers["ETag"], "W/" + file.headers["ETag"], '"other", ' + file.headers["ETag"]):
        cached = world.api.get("/bundles/full/1.0.0/main.js", headers={"If-None-Match": tag})
        assert cached.status_code == 304 and cached.data == b""
        assert cached.headers["ETag"] == file.headers["ETag"]
    stale = world.api.get("/bundles/full/1.0.0/main.js", headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.data == file.data


def test_svg_is_served_sandboxed(world: World) -> None:
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    svg = world.api.get("/bundles/full/1.0.0/img/logo.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert "sandbox" in svg.headers["Content-Security-Policy"]


def test_single_file_upload(world: World) -> None:
    resp = world.upload("0.1.0-beta.1", "widget.mjs", b"export default 42;\n")
    assert resp.status_code == 201, resp.get_json()
    assert [f["path"] for f in resp.get_json()["files"]] == ["widget.mjs"]
    assert world.api.get("/bundles/full/0.1.0-beta.1/widget.mjs").data == b"export default 42;\n"


def test_missing_files_and_versions_are_404_problems(world: World) -> None:
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    for path in ("/bundles/full/1.0.0/nope.js", "/bundles/full/9.9.9/main.js",
                 "/bundles/other/1.0.0/main.js", "/bundles/full/1.0.0/img"):
        assert_problem(world.api.get(path), 404)


def test_versions_are_immutable(world: World) -> None:
    first = world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    assert first.status_code == 201
    # same files, zipped again in another order and without compression: same content
    again = world.upload("1.0.0", "again.zip", zip_bytes(dict(reversed(JS_V1.items())),
                                                         compression=0))
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["digest"] == first.get_json()["digest"]
    before = world.state()
    other = assert_problem(world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V2)), 409,
                           "bundle-version-exists")
    assert "immutable" in other["detail"]
    assert world.state() == before
    assert world.api.get("/bundles/full/1.0.0/main.js").data == JS_V1["main.js"].encode()


def test_identical_files_are_stored_once(world: World) -> None:
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.upload("1.1.0", "bundle.zip", zip_bytes(JS_V2))
    contents = {*JS_V1.values(), *JS_V2.values()}
    assert world.storage_keys() == sorted(BLOB_PREFIX + sha(c) for c in contents)
    assert len(world.storage_keys()) == 4  # three files each, two of them shared


def test_versions_list_newest_first_with_rollout(world: World) -> None:
    for version in ("1.9.0", "1.10.0", "1.10.0-rc.1", "0.9.0"):
        assert world.upload(version, "main.js", f"// {version}\n".encode()).status_code == 201
    world.rollout("1.9.0")
    world.rollout("1.10.0", [world.a.tenant_slug])
    listing = world.api.get(BUNDLES, world.admin)
    assert listing.status_code == 200
    rows = listing.get_json()
    assert [r["version"] for r in rows] == ["1.10.0", "1.10.0-rc.1", "1.9.0", "0.9.0"]
    by_version = {r["version"]: r for r in rows}
    assert by_version["1.9.0"]["default"] and not by_version["1.10.0"]["default"]
    assert by_version["1.10.0"]["pinned"] == ["alpha"]
    assert by_version["0.9.0"]["file_count"] == 1 and "files" not in by_version["0.9.0"]


def test_canary_pin_then_promote(world: World) -> None:
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.upload("1.1.0", "bundle.zip", zip_bytes(JS_V2))
    assert world.rollout("1.0.0").status_code == 200
    assert (world.loaded_version(world.a), world.loaded_version(world.b)) == ("1.0.0", "1.0.0")

    canary = world.rollout("1.1.0", [world.a.tenant_slug])
    assert canary.status_code == 200, canary.get_json()
    assert canary.get_json() == {"plugin": "full", "default": "1.0.0",
                                 "pins": [{"tenant": "alpha", "version": "1.1.0"}]}
    assert (world.loaded_version(world.a), world.loaded_version(world.b)) == ("1.1.0", "1.0.0")

    promoted = world.rollout("1.1.0")  # every tenant: the default, pins lifted
    assert promoted.get_json() == {"plugin": "full", "default": "1.1.0", "pins": []}
    assert (world.loaded_version(world.a), world.loaded_version(world.b)) == ("1.1.0", "1.1.0")


def test_tenant_manifest_has_urls_and_sri(world: World) -> None:
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.rollout("1.0.0")
    resp = world.api.get(TENANT_BUNDLE, world.a)
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["plugin"], body["version"]) == ("full", "1.0.0")
    files = {f["path"]: f for f in body["files"]}
    assert set(files) == set(JS_V1)
    for path, entry in files.items():
        data = JS_V1[path].encode()
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        assert entry["integrity"] == f"sha256-{digest}"
        assert entry["size"] == len(data)
        url = urlsplit(entry["url"])
        assert url.path == f"/bundles/full/1.0.0/{path}"
        served = world.api.get(url.path)
        assert served.data == data and served.content_type == entry["content_type"]


def test_tenant_gets_404_when_plugin_off_or_no_bundle(world: World) -> None:
    assert_problem(world.api.get(TENANT_BUNDLE, world.a), 404, "bundle-not-found")
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    assert_problem(world.api.get(TENANT_BUNDLE, world.a), 404, "bundle-not-found")  # not rolled out
    world.rollout("1.0.0")
    assert world.api.get(TENANT_BUNDLE, world.a).status_code == 200
    off = world.api.put("/api/v1/plugins/full/activation", world.b, json={"enabled": False})
    assert off.status_code == 200
    assert_problem(world.api.get(TENANT_BUNDLE, world.b), 404, "plugin-not-enabled")
    assert_problem(world.api.get("/api/v1/plugins/nope/bundle", world.a), 404, "plugin-not-found")


def test_rollout_rejects_unknown_versions_and_tenants(world: World) -> None:
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.rollout("1.0.0")
    before = world.state()
    unknown = assert_problem(world.rollout("2.0.0"), 422, "bundle-version-not-found")
    assert unknown["errors"][0]["pointer"] == "/version"
    slugs = assert_problem(world.rollout("1.0.0", ["alpha", "ghost", "bravo", "nobody"]), 422,
                           "unknown-tenants")
    assert [e["pointer"] for e in slugs["errors"]] == ["/tenants/1", "/tenants/3"]
    assert slugs["unknown"] == ["ghost", "nobody"]
    assert_problem(world.rollout("1.0.0", []), 422, "validation-error")
    assert_problem(world.rollout("not-semver"), 422, "validation-error")
    assert_problem(world.api.put(CURRENT, world.admin, json={"version": "1.0.0", "x": 1}), 422)
    assert world.state() == before


def test_admin_only(world: World) -> None:
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    before = world.state()
    owner = world.a
    assert_problem(world.api.get(BUNDLES, owner), 403)
    assert_problem(world.upload("1.1.0", "bundle.zip", zip_bytes(JS_V2), owner), 403)
    assert_problem(world.api.put(CURRENT, owner, json={"version": "1.0.0"}), 403)
    assert_problem(world.api.get(BUNDLES), 401)
    assert_problem(world.api.put(CURRENT, json={"version": "1.0.0"}), 401)
    assert world.state() == before


def test_unknown_plugin_is_404(world: World) -> None:
    assert_problem(world.api.get("/api/v1/admin/plugins/nope/bundles", world.admin), 404,
                   "plugin-not-found")
    resp = world.api.post("/api/v1/admin/plugins/nope/bundles", world.admin,
                          content_type="multipart/form-data",
                          data={"version": "1.0.0", "file": (io.BytesIO(b"x"), "a.js")})
    assert_problem(resp, 404, "plugin-not-found")
    assert world.storage_keys() == []


def test_upload_wants_multipart_and_valid_fields(world: World) -> None:
    assert_problem(world.api.post(BUNDLES, world.admin, json={"version": "1.0.0"}), 415)
    missing = assert_problem(world.api.post(BUNDLES, world.admin, content_type="multipart/form-data",
                                            data={"version": "1.0"}), 422, "validation-error")
    assert {e["pointer"] for e in missing["errors"]} == {"/version", "/file"}
    assert world.storage_keys() == []


def test_audit_rows_for_upload_and_rollout(world: World) -> None:
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.rollout("1.0.0", [world.b.tenant_slug])
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V2))  # 409: not audited
    with world.app.app_context(), platform_scope():
        rows = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action.like("admin.bundles.%"))
                                  .order_by(AuditEntry.created_at)).all()
        got = [(r.action, r.entity_type, r.entity_id, r.status, r.actor_id, r.details) for r in rows]
    admin = world.admin.user_id
    assert [g[:5] for g in got] == [("admin.bundles.upload", "bundle", "full", 201, admin),
                                    ("admin.bundles.upload", "bundle", "full", 200, admin),
                                    ("admin.bundles.rollout", "bundle", "full", 200, admin)]
    assert got[0][5]["version"] == "1.0.0" and got[0][5]["created"] is True
    assert got[1][5]["created"] is False
    assert got[2][5] == {"version": "1.0.0", "tenants": ["bravo"]}


def test_redirect_mode_sends_a_presigned_url_that_serves_the_bytes(
        plugin_app: Callable[..., Flask], s3_server: S3Server) -> None:
    world = make_world(plugin_app, bundle_delivery="redirect", **s3_server.config())
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    resp = world.api.get("/bundles/full/1.0.0/main.js")
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(f"http://{s3_server.endpoint}/") and "X-Amz-Signature=" in location
    with urllib.request.urlopen(location, timeout=10) as served:  # noqa: S310 - the loopback S3 server
        assert served.read() == JS_V1["main.js"].encode()
        assert served.headers["Content-Type"].startswith("text/javascript")
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    etag = f'"{sha(JS_V1["main.js"])}"'
    assert world.api.get("/bundles/full/1.0.0/main.js", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.postgres_only
def test_pins_are_tenant_rows_under_row_level_security(world: World, backend: str) -> None:
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.upload("1.1.0", "bundle.zip", zip_bytes(JS_V2))
    assert world.rollout("1.1.0", ["alpha", "bravo"]).status_code == 200
    alpha = uuid.UUID(world.a.tenant_id)
    with world.app.app_context(), tenant_scope(alpha):
        # raw SQL: no ORM criteria, only PostgreSQL's policy filters
        seen = db.session.execute(sa.text("SELECT tenant_id FROM bundle_pins")).scalars().all()
    assert seen == [alpha]


def test_bundle_urls_follow_the_host_and_port_the_client_used(world: World) -> None:
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.rollout("1.0.0")
    for base in ("http://127.0.0.1:8765", "http://api.example.test:9000", "http://localhost"):
        body = world.api.get(TENANT_BUNDLE, world.a, base_url=base).get_json()
        assert {urlsplit(f["url"]).netloc for f in body["files"]} == {urlsplit(base).netloc}
        assert all(f["url"].startswith(base + "/bundles/full/1.0.0/") for f in body["files"])


def test_bundle_urls_behind_a_trusted_proxy(plugin_app: Callable[..., Flask]) -> None:
    world = make_world(plugin_app, trusted_proxies=1)
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.rollout("1.0.0")
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "shop.example.com",
               "X-Forwarded-For": "203.0.113.9"}
    body = world.api.get(TENANT_BUNDLE, world.a, headers=headers,
                         base_url="http://10.0.0.5:8000").get_json()
    assert all(f["url"].startswith("https://shop.example.com/bundles/") for f in body["files"])


def test_a_configured_public_url_wins(plugin_app: Callable[..., Flask]) -> None:
    world = make_world(plugin_app, public_url="https://cdn.example.com/")
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.rollout("1.0.0")
    body = world.api.get(TENANT_BUNDLE, world.a, base_url="http://127.0.0.1:8765").get_json()
    assert all(f["url"].startswith("https://cdn.example.com/bundles/") for f in body["files"])
