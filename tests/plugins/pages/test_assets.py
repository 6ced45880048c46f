"""``POST /api/v1/pages/assets``: sniffed types, limits, refused SVG, public immutable URLs."""

from __future__ import annotations

import hashlib
import io
from urllib.parse import urlsplit

import pytest
from werkzeug.test import TestResponse

from tests.helpers import Account, Api, assert_problem
from tests.plugins.pages.conftest import PAGES, configure

ASSETS = f"{PAGES}/assets"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'


def upload(api: Api, account: Account | None, data: bytes, name: str = "photo.png",
           content_type: str = "image/png") -> TestResponse:
    # encoded here: the test client spools big multipart bodies to a file it never closes
    boundary = "pagesboundary42"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return api.post(ASSETS, account, data=body,
                    content_type=f"multipart/form-data; boundary={boundary}")


def fetch(api: Api, url: str, **headers: str) -> TestResponse:
    return api.get(urlsplit(url).path, headers=headers)


def test_upload_returns_a_public_immutable_url(api: Api, owner: Account) -> None:
    resp = upload(api, owner, PNG)
    assert resp.status_code == 201, resp.get_json()
    asset = resp.get_json()
    digest = hashlib.sha256(PNG).hexdigest()
    assert asset["content_type"] == "image/png" and asset["size"] == len(PNG) and asset["sha256"] == digest
    assert asset["url"].startswith("http") and asset["url"].endswith(f"/{owner.tenant_id}/pages/{digest}.png")
    assert asset["key"] == f"tenants/{owner.tenant_id}/public/pages/{digest}.png"
    served = fetch(api, asset["url"])  # no token, no X-Tenant: an <img> can load it
    assert served.status_code == 200 and served.get_data() == PNG
    assert served.mimetype == "image/png"
    assert "immutable" in served.headers["Cache-Control"]
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert fetch(api, asset["url"], **{"If-None-Match": served.headers["ETag"]}).status_code == 304
    assert upload(api, owner, PNG, "again.png").get_json() == asset  # content-addressed


@pytest.mark.parametrize(("data", "declared", "kind"), [
    (b"\xff\xd8\xff\xe0" + b"\0" * 64, "image/png", "image/jpeg"),  # the bytes decide, not the client
    (b"GIF89a" + b"\0" * 64, "application/octet-stream", "image/gif"),
    (b"RIFF\0\0\0\0WEBPVP8 " + b"\0" * 64, "image/webp", "image/webp"),
    (b"\0\0\0\x1cftypavif" + b"\0" * 64, "image/avif", "image/avif"),
    (b"%PDF-1.7\n" + b"\0" * 64, "application/pdf", "application/pdf"),
    (b"\0\0\0\x18ftypmp42" + b"\0" * 64, "video/mp4", "video/mp4"),
])
def test_types_are_sniffed(api: Api, owner: Account, data: bytes, declared: str, kind: str) -> None:
    resp = upload(api, owner, data, "file.bin", declared)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["content_type"] == kind
    assert fetch(api, resp.get_json()["url"]).mimetype == kind


@pytest.mark.parametrize(("data", "declared"), [
    (SVG, "image/svg+xml"),
    (b"\xef\xbb\xbf  <svg><script>alert(1)</script></svg>", "image/png"),
    (b"<!doctype html><script>alert(1)</script>", "image/png"),
    (b"MZ\x90\0" + b"\0" * 64, "image/png"),
    (b"", "image/png"),
])
def test_unsafe_or_unknown_types_are_refused(api: Api, owner: Account, data: bytes, declared: str) -> None:
    assert_problem(upload(api, owner, data, "x.svg", declared), 415, "asset-type-refused")


def test_svg_refusal_says_what_to_do(api: Api, owner: Account) -> None:
    assert "PNG or WebP" in assert_problem(upload(api, owner, SVG), 415)["detail"]


def test_size_limit(api: Api, owner: Account) -> None:
    configure(api, owner, max_asset_bytes=2048)
    assert upload(api, owner, PNG[:2048]).status_code == 201
    assert_problem(upload(api, owner, PNG[:2049]), 413, "asset-too-large")


def test_uploads_larger_than_the_kernels_default_body_limit(api: Api, owner: Account) -> None:
    big = PNG + b"\0" * (3 * 1024 * 1024)
    assert upload(api, owner, big).status_code == 201


def test_missing_file_and_permissions(api: Api, owner: Account) -> None:
    assert_problem(api.post(ASSETS, owner, data={}, content_type="multipart/form-data"), 422)
    analyst = api.add_member(owner, "analyst@acme.example.com", "analyst")
    assert_problem(upload(api, analyst, PNG), 403, "forbidden")
    assert_problem(upload(api, None, PNG), 401)


def test_assets_are_per_tenant(api: Api, owner: Account) -> None:
    url = upload(api, owner, PNG).get_json()["url"]
    other = api.register("other")
    theirs = upload(api, other, PNG).get_json()["url"]
    assert theirs != url and fetch(api, theirs).get_data() == PNG
    assert_problem(fetch(api, url.replace(owner.tenant_id, other.tenant_id).replace(".png", ".gif")), 404)
    private = f"/api/v1/public/assets/{owner.tenant_id}/../../secrets.txt"
    assert fetch(api, private).status_code == 404


def test_suspended_tenants_assets_are_not_served(api: Api, owner: Account) -> None:
    url = upload(api, owner, PNG).get_json()["url"]
    admin = api.make_admin()
    api.patch(f"/api/v1/admin/tenants/{owner.tenant_id}", admin, json={"status": "suspended"})
    assert_problem(fetch(api, url), 404)


def test_an_upload_refuses_text_fields_its_schema_forbids(api: Api, owner: Account) -> None:
    # The multipart schema has `file` only (additionalProperties: false); fields beside it
    # used to be ignored, and a text `file` is not a file.
    spec = api.get("/api/openapi.json").get_json()
    body = spec["components"]["schemas"]["PageAssetUpload"]
    assert body["additionalProperties"] is False and list(body["properties"]) == ["file"]
    resp = api.post(ASSETS, owner, data={"file": (io.BytesIO(PNG), "a.png"), "alt": "x"})
    problem = assert_problem(resp, 422, "validation-error")
    assert [(e["pointer"], e["message"]) for e in problem["errors"]] == [("/alt", "Unknown field.")]
    resp = api.post(ASSETS, owner, data={"file": "not a file"})
    problem = assert_problem(resp, 422, "validation-error")
    assert [(e["pointer"], e["message"]) for e in problem["errors"]] == [("/file", "must be a file")]
    assert upload(api, owner, PNG).status_code == 201
