"""Bundle uploads that must be refused, leaving nothing behind in storage or the database.

Runs on SQLite with the local storage folder and on PostgreSQL with S3 (moto's server).
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
import zipfile
from collections.abc import Callable

import pytest
from flask import Flask
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from kernel.registry.bundles import BLOB_PREFIX
from tests.helpers import Api, assert_problem
from tests.kernel.bundle_helpers import (
    BUNDLES,
    CURRENT,
    JS_V1,
    World,
    make_world,
    with_declared_size,
    zip_bytes,
)

GOOD = {"main.js": "export {};\n"}
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64
PE = b"MZ\x90\x00" + b"\x00" * 64


@pytest.fixture
def world(plugin_app: Callable[..., Flask]) -> World:
    return make_world(plugin_app, bundle_max_bytes=64 * 1024, bundle_max_files=5,
                      bundle_max_uncompressed=256 * 1024)


def refused(world: World, filename: str, data: bytes, status: int, type_: str) -> dict[str, object]:
    """Upload, expect the problem, and check storage and every table are as before."""
    world.upload("0.9.0", "ok.zip", zip_bytes(JS_V1))  # something already there to keep
    before = world.state()
    body = assert_problem(world.upload("1.0.0", filename, data), status, type_)
    assert world.state() == before
    return body


@pytest.mark.parametrize("name", ["../evil.js", "a/../../evil.js", "/etc/evil.js", "C:/evil.js",
                                  "dir\\evil.js", "a//evil.js", "./evil.js"])
def test_zip_entries_with_bad_paths(world: World, name: str) -> None:
    body = refused(world, "b.zip", zip_bytes({**GOOD, name: "x"}), 422, "bundle-bad-path")
    assert body["path"] == name


def test_zip_symlink_entries(world: World) -> None:
    body = refused(world, "b.zip", zip_bytes({**GOOD, "link.js": "/etc/passwd"}, symlinks=["link.js"]),
                   422, "bundle-bad-path")
    assert "symbolic link" in str(body["detail"])


def test_zip_with_duplicate_entries(world: World) -> None:
    data = zip_bytes({"main.js": "a"})
    twice = io.BytesIO(data)
    with zipfile.ZipFile(twice, "a") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate we want
        archive.writestr("main.js", "b")
    refused(world, "b.zip", twice.getvalue(), 422, "bundle-bad-path")


def test_zip_bomb_by_declared_size(world: World) -> None:
    bomb = zip_bytes({"big.js": "a" * (300 * 1024)})  # a few hundred bytes compressed
    assert len(bomb) < 4096
    body = refused(world, "b.zip", bomb, 422, "bundle-too-large-unpacked")
    assert "PLUGBOARD_BUNDLE_MAX_UNCOMPRESSED" in str(body["detail"])


def test_zip_bomb_lying_about_its_size_is_caught_while_reading(world: World) -> None:
    bomb = with_declared_size(zip_bytes({"big.js": "a" * (300 * 1024)}), "big.js", 10)
    refused(world, "b.zip", bomb, 422, "bundle-bad-zip")


def test_too_many_files(world: World) -> None:
    many = zip_bytes({f"f{n}.js": f"//{n}" for n in range(6)})
    body = refused(world, "b.zip", many, 422, "bundle-too-many-files")
    assert "PLUGBOARD_BUNDLE_MAX_FILES" in str(body["detail"])


def test_too_many_directory_entries(world: World) -> None:
    refused(world, "b.zip", zip_bytes({**GOOD, **{f"d{n}/": "" for n in range(20)}}), 422,
            "bundle-too-many-files")


def test_upload_over_the_bundle_limit_is_413(world: World) -> None:
    body = refused(world, "main.js", b"a" * (100 * 1024), 413, "bundle-too-large")
    assert "PLUGBOARD_BUNDLE_MAX_BYTES" in str(body["detail"])


def test_request_body_over_the_upload_limit_is_413_before_reading(world: World) -> None:
    refused(world, "main.js", b"a" * (512 * 1024), 413, "request-entity-too-large")


def test_larger_limit_is_for_the_upload_only(plugin_app: Callable[..., Flask]) -> None:
    world = make_world(plugin_app)  # bundle limit 20 MiB; the app-wide limit stays 1 MiB
    resp = world.api.put(CURRENT, world.admin, data=b'{"version": "' + b"1" * (2 << 20) + b'"}',
                         content_type="application/json")
    assert_problem(resp, 413)


@pytest.mark.parametrize(("filename", "data"), [
    ("tool.exe", PE),
    ("run.sh", b"#!/bin/sh\nrm -rf /\n"),
    ("main.js", ELF),
    ("main.js", PE),
    ("logo.png", b"not a png at all"),
    ("font.woff2", b"<script>alert(1)</script>"),
    ("data.json", b"{not json"),
    ("page.html", b"<html></html>"),
    ("noextension", b"text"),
])
def test_disallowed_or_mislabelled_files(world: World, filename: str, data: bytes) -> None:
    refused(world, filename, data, 422, "bundle-file-type")


def test_one_bad_file_in_a_zip_stores_none_of_the_good_ones(world: World) -> None:
    data = zip_bytes({"a.js": "export const a = 1;", "b.css": "p{}", "z.exe": PE.decode("latin-1")})
    body = refused(world, "b.zip", data, 422, "bundle-file-type")
    assert body["path"] == "z.exe"


@pytest.mark.parametrize("data", [b"definitely not a zip", b"PK\x03\x04" + b"\x00" * 40, b""])
def test_broken_zips(world: World, data: bytes) -> None:
    refused(world, "b.zip", data, 422, "bundle-bad-zip")


def test_empty_zip(world: World) -> None:
    refused(world, "b.zip", zip_bytes({"only-a-folder/": ""}), 422, "bundle-empty")


def test_unsupported_compression(world: World) -> None:
    refused(world, "b.zip", zip_bytes(GOOD, compression=zipfile.ZIP_BZIP2), 422, "bundle-bad-zip")


def test_concurrent_uploads_of_one_version_leave_only_the_winner(world: World) -> None:
    contents = [zip_bytes({"main.js": f"export const n = {n};\n"}) for n in range(4)]
    statuses: dict[int, int] = {}

    def upload(n: int) -> None:
        api = Api(world.app.test_client(), world.app)
        boundary, body = encode_multipart({"version": "2.0.0",
                                           "file": FileStorage(io.BytesIO(contents[n]), "b.zip")})
        resp = api.post(BUNDLES, world.admin, data=body,
                        content_type=f"multipart/form-data; boundary={boundary}")
        statuses[n] = resp.status_code

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses.values()) == [201, 409, 409, 409]
    winner = next(n for n, status in statuses.items() if status == 201)
    served = world.api.get("/bundles/full/2.0.0/main.js").data
    assert served == f"export const n = {winner};\n".encode()
    assert world.storage_keys() == [BLOB_PREFIX + hashlib.sha256(served).hexdigest()]
