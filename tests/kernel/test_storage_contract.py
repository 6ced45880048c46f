"""One contract, every storage backend: the local folder and S3 (moto's server, real HTTP)."""

from __future__ import annotations

import hashlib
import threading
import urllib.request
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kernel import create_app
from kernel.config import Settings
from kernel.runtime.storage import LocalStorage, ObjectNotFound, S3Storage, Storage, make_storage
from kernel.services import kernel_services
from tests.conftest import S3Server, base_config
from tests.helpers import SmtpSink, free_port

BAD_KEYS = ["", "../escape", "a/../../b", "a/..", "/absolute", "a\\b", "a//b", "./a", "a/./b",
            "C:/windows", "nul\x00byte", "line\nbreak", "x" * 1025]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_get_stat_round_trip(storage_backend: Storage) -> None:
    info = storage_backend.put("docs/readme.txt", b"hello", "text/plain")
    assert (info.key, info.size, info.content_type, info.etag) == (
        "docs/readme.txt", 5, "text/plain", sha(b"hello"))
    stored = storage_backend.get("docs/readme.txt")
    assert stored.data == b"hello"
    assert stored.info == info
    assert storage_backend.stat("docs/readme.txt") == info


def test_etag_is_the_content_sha256_and_follows_the_content(storage_backend: Storage) -> None:
    first = storage_backend.put("a.bin", b"one", "application/octet-stream")
    same = storage_backend.put("b.bin", b"one", "application/octet-stream")
    other = storage_backend.put("a.bin", b"two", "application/octet-stream")
    assert first.etag == same.etag == sha(b"one")
    assert other.etag == sha(b"two") != first.etag
    stat = storage_backend.stat("a.bin")
    assert stat is not None and stat.etag == sha(b"two")


def test_overwrite_replaces_content_and_type(storage_backend: Storage) -> None:
    storage_backend.put("page.css", b"body{}", "text/css")
    storage_backend.put("page.css", b"{\"a\": 1}", "application/json")
    stored = storage_backend.get("page.css")
    assert stored.data == b"{\"a\": 1}"
    assert stored.info.content_type == "application/json"
    assert stored.info.size == 8
    assert storage_backend.list("") == ["page.css"]


def test_list_by_prefix_is_sorted_and_recursive(storage_backend: Storage) -> None:
    for key in ["b/4", "a/2", "a/1", "ab/3", "a/deep/er/5"]:
        storage_backend.put(key, key.encode(), "text/plain")
    assert storage_backend.list("a/") == ["a/1", "a/2", "a/deep/er/5"]
    assert storage_backend.list("a") == ["a/1", "a/2", "a/deep/er/5", "ab/3"]
    assert storage_backend.list("a/deep/") == ["a/deep/er/5"]
    assert storage_backend.list("") == ["a/1", "a/2", "a/deep/er/5", "ab/3", "b/4"]
    assert storage_backend.list("nothing/") == []


def test_delete_removes_and_is_idempotent(storage_backend: Storage) -> None:
    storage_backend.put("gone/soon.txt", b"x", "text/plain")
    storage_backend.put("gone/stays.txt", b"y", "text/plain")
    storage_backend.delete("gone/soon.txt")
    storage_backend.delete("gone/soon.txt")  # absent: no error
    storage_backend.delete("never/was.txt")
    assert storage_backend.stat("gone/soon.txt") is None
    with pytest.raises(ObjectNotFound):
        storage_backend.get("gone/soon.txt")
    assert storage_backend.list("gone/") == ["gone/stays.txt"]


def test_missing_object(storage_backend: Storage) -> None:
    with pytest.raises(ObjectNotFound) as raised:
        storage_backend.get("no/such/key")
    assert isinstance(raised.value, KeyError)
    assert storage_backend.stat("no/such/key") is None


def test_binary_and_empty_content(storage_backend: Storage) -> None:
    data = bytes(range(256)) * 64 + b"\x00\r\n\x00"
    storage_backend.put("bin/all-bytes", data, "application/octet-stream")
    storage_backend.put("bin/empty", b"", "application/octet-stream")
    assert storage_backend.get("bin/all-bytes").data == data
    empty = storage_backend.get("bin/empty")
    assert (empty.data, empty.info.size, empty.info.etag) == (b"", 0, sha(b""))


def test_large_object_keeps_the_sha256_etag(storage_backend: Storage) -> None:
    # over 5 MiB: the minio client uploads it in parts, whose S3 ETag is no content hash
    data = bytes(range(256)) * (6 * 4096) + b"tail"
    info = storage_backend.put("big/blob", data, "application/octet-stream")
    assert info.etag == sha(data)
    assert storage_backend.stat("big/blob") == info
    assert storage_backend.get("big/blob").data == data


def test_unicode_keys(storage_backend: Storage) -> None:
    keys = ["unicode/ünïcødé.txt", "unicode/日本語/ファイル.txt", "unicode/emoji-🎉 space.txt"]
    for key in keys:
        storage_backend.put(key, key.encode(), "text/plain; charset=utf-8")
    assert storage_backend.list("unicode/") == sorted(keys)
    for key in keys:
        assert storage_backend.get(key).data == key.encode()


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_rejected_everywhere(storage_backend: Storage, key: str) -> None:
    with pytest.raises(ValueError, match="bad object key"):
        storage_backend.put(key, b"x", "text/plain")
    for operation in (storage_backend.get, storage_backend.stat, storage_backend.delete):
        with pytest.raises(ValueError, match="bad object key"):
            operation(key)
    assert storage_backend.list("") == []


def test_bad_prefixes_are_rejected(storage_backend: Storage) -> None:
    for prefix in ["../", "/abs", "a\\", "a/../"]:
        with pytest.raises(ValueError, match="bad object key"):
            storage_backend.list(prefix)


def test_presigned_url_serves_the_object_or_is_unsupported(storage_backend: Storage) -> None:
    storage_backend.put("signed/file.js", b"export const x = 1;", "text/javascript")
    url = storage_backend.presigned_get("signed/file.js", 60, {"Content-Type": "text/plain"})
    if isinstance(storage_backend, LocalStorage):
        assert url is None
        return
    assert url is not None and url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - the loopback S3 server
        assert resp.read() == b"export const x = 1;"
        assert resp.headers["Content-Type"] == "text/plain"


def test_concurrent_first_use(storage_backend: Storage) -> None:
    errors: list[BaseException] = []

    def put(n: int) -> None:
        try:
            storage_backend.put(f"race/{n}", str(n).encode(), "text/plain")
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert storage_backend.list("race/") == sorted(f"race/{n}" for n in range(8))


def test_check_describes_a_usable_backend(storage_backend: Storage) -> None:
    assert storage_backend.check()


def test_local_writes_are_atomic_and_leave_no_temp_files(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "s")
    storage.put("x/y.txt", b"1", "text/plain")
    storage.put("x/y.txt", b"2", "text/plain")
    assert list((tmp_path / "s" / "tmp").iterdir()) == []
    assert (tmp_path / "s" / "objects" / "x" / "y.txt").read_bytes() == b"2"


def test_local_refuses_a_key_that_is_also_a_folder(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "s")
    storage.put("a/b", b"1", "text/plain")
    with pytest.raises(ValueError, match="both a key and keys below it"):
        storage.put("a", b"2", "text/plain")


def test_make_storage_picks_the_backend(tmp_path: Path, s3_server: S3Server) -> None:
    local = make_storage(Settings.from_env({}, {"data_dir": str(tmp_path)}))
    assert isinstance(local, LocalStorage) and local.root == (tmp_path / "storage").resolve()
    s3 = make_storage(Settings.from_env({}, s3_server.config("pick-me")))
    assert isinstance(s3, S3Storage) and s3.bucket == "pick-me"


def test_app_storage_and_readiness(app: Flask, client: FlaskClient, backend: str) -> None:
    storage = kernel_services(app).storage
    # the production profile (PostgreSQL) runs on S3, the embedded one on the local folder
    assert isinstance(storage, S3Storage if backend == "postgresql" else LocalStorage)
    body = client.get("/health/ready").get_json()
    assert body["checks"]["storage"]["status"] == "ok"
    assert body["checks"]["storage"]["detail"].startswith(
        "s3 bucket" if backend == "postgresql" else "local folder")


def test_readiness_503_when_s3_is_down(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    config = {**base_config(tmp_path, smtp_sink.url), "s3_endpoint": f"127.0.0.1:{free_port()}",
              "s3_access_key": "k", "s3_secret_key": "s", "s3_secure": False}
    app = create_app(config)
    try:
        resp = app.test_client().get("/health/ready")
        assert resp.status_code == 503
        checks = resp.get_json()["checks"]
        assert checks["storage"]["status"] == "down"
        assert checks["database"]["status"] == "ok"
    finally:
        kernel_services(app).engine.dispose()
