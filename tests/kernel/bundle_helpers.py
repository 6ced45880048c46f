"""Shared set-up for the bundle tests: the ``full`` plugin, an admin, two tenants, zips."""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from kernel.services import kernel_services
from tests.helpers import Account, Api, row_counts
from tests.testplugins.full import plugin as full

BUNDLES = "/api/v1/admin/plugins/full/bundles"
CURRENT = BUNDLES + "/current"
TENANT_BUNDLE = "/api/v1/plugins/full/bundle"


@dataclass
class World:
    app: Flask
    api: Api
    admin: Account
    a: Account
    b: Account

    def upload(self, version: str, filename: str, data: bytes,
               account: Account | None = None) -> TestResponse:
        # encoded in memory: werkzeug's test client spools big bodies to a temp file that
        # stays open when the app refuses the body unread
        boundary, body = encode_multipart({"version": version,
                                           "file": FileStorage(io.BytesIO(data), filename)})
        return self.api.post(BUNDLES, account or self.admin, data=body,
                             content_type=f"multipart/form-data; boundary={boundary}")

    def rollout(self, version: str, tenants: list[str] | None = None) -> TestResponse:
        body: dict[str, Any] = {"version": version}
        if tenants is not None:
            body["tenants"] = tenants
        return self.api.put(CURRENT, self.admin, json=body)

    def loaded_version(self, account: Account) -> str:
        resp = self.api.get(TENANT_BUNDLE, account)
        assert resp.status_code == 200, resp.get_json()
        return str(resp.get_json()["version"])

    def storage_keys(self) -> list[str]:
        keys: list[str] = kernel_services(self.app).storage.list("")
        return keys

    def state(self) -> tuple[list[str], dict[str, int]]:
        """Everything a rejected upload must leave untouched: storage keys and row counts."""
        return self.storage_keys(), row_counts(self.app)


def make_world(plugin_app: Callable[..., Flask], **overrides: Any) -> World:
    app = plugin_app(full, **overrides)
    api = Api(app.test_client(), app)
    world = World(app, api, api.make_admin(), api.register("alpha"), api.register("bravo"))
    for account in (world.a, world.b):
        resp = api.put("/api/v1/plugins/full/activation", account, json={"enabled": True})
        assert resp.status_code == 200, resp.get_json()
    return world


def zip_bytes(entries: dict[str, bytes | str], *, symlinks: Iterable[str] = (),
              compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``entries`` (name -> content); names in ``symlinks`` become symbolic links."""
    links = set(symlinks)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            mode = (stat.S_IFLNK | 0o777) if name in links else (stat.S_IFREG | 0o644)
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def with_declared_size(data: bytes, name: str, size: int) -> bytes:
    """``data`` (a zip) with ``name``'s uncompressed size rewritten to ``size`` in both headers."""
    out = bytearray(data)
    encoded = name.encode()
    local = out.find(b"PK\x03\x04")  # the first entry must be ``name``
    assert out[local + 30:local + 30 + len(encoded)] == encoded
    out[local + 22:local + 26] = size.to_bytes(4, "little")
    central = out.find(b"PK\x01\x02")
    assert out[central + 46:central + 46 + len(encoded)] == encoded
    out[central + 24:central + 28] = size.to_bytes(4, "little")
    return bytes(out)


JS_V1 = {"main.js": "export const version = 1;\n", "style.css": "body { margin: 0 }\n",
         "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"></svg>'}
JS_V2 = {**JS_V1, "main.js": "export const version = 2;\n"}
