"""Object storage: S3/MinIO through the ``minio`` client, or a local folder.

The interface every backend implements (see :class:`Storage`); the app's backend is
``kernel_services().storage``, built by :func:`make_storage`. Keys are
``/``-separated paths such as ``tenants/<tenant id>/pages/<sha256>.png`` or
``bundles/sha256/<hex>``; both backends refuse the same bad keys (:func:`check_key`).

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import tempfile
import threading
import unicodedata
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Protocol

import certifi
import urllib3
from flask import has_request_context, request
from minio import Minio
from minio.error import S3Error

from kernel.services import kernel_services

if TYPE_CHECKING:
    from kernel.config import Settings

MAX_KEY_BYTES = 1024  # S3's limit
SHA256_META = "sha256"  # stored as the object metadata header x-amz-meta-sha256
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0
POOL_SIZE = 32  # one connection per worker thread that may use storage at once
MISSING_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchBucket", "NotFound"})


class ObjectNotFound(KeyError):
    """No object at that key."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    etag: str  # a strong validator of the content (sha256 hex where the backend allows)


@dataclass(frozen=True)
class StoredObject:
    info: ObjectInfo
    data: bytes


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> ObjectInfo: ...

    def get(self, key: str) -> StoredObject: ...  # raises ObjectNotFound

    def stat(self, key: str) -> ObjectInfo | None: ...

    def delete(self, key: str) -> None: ...  # no error when absent

    def list(self, prefix: str) -> list[str]: ...  # every key starting with prefix, sorted

    def presigned_get(self, key: str, expires: int = 3600,
                      response_headers: Mapping[str, str] | None = None) -> str | None:
        """A URL that serves the object without the app; None: not supported.

        ``response_headers`` (``Content-Type``, ``Cache-Control``…) override the stored
        ones in the response to that URL.

        .. versionchanged:: 0.1 ``response_headers`` added.
        """
        ...

    def check(self) -> str:
        """Raise when the storage cannot be used; otherwise a short description (readiness).

        .. versionadded:: 0.1
        """
        ...


def check_key(key: str, *, prefix: bool = False) -> str:
    """``key`` if it is a safe object key; ValueError naming the problem otherwise.

    Refused: empty keys, absolute paths, backslashes, ``.``/``..`` or empty segments,
    control characters and keys over 1024 UTF-8 bytes. With ``prefix=True`` the empty
    string and a trailing ``/`` are allowed.
    """
    if prefix and key == "":
        return key
    body = key[:-1] if prefix and key.endswith("/") else key
    problem = _key_problem(body)
    if problem:
        raise ValueError(f"bad object key {key!r}: {problem}")
    return key


def _key_problem(key: str) -> str | None:
    if not key:
        return "it is empty"
    if "\\" in key:
        return "backslashes are not allowed; separate segments with '/'"
    if PurePosixPath(key).is_absolute() or PureWindowsPath(key).drive:
        return "absolute paths are not allowed"
    if any(unicodedata.category(ch) == "Cc" for ch in key):
        return "control characters are not allowed"
    if any(part in ("", ".", "..") for part in key.split("/")):
        return "empty, '.' and '..' segments are not allowed"
    if len(key.encode()) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- S3 / MinIO -----------------------------------------------------------------------


class S3Storage:
    """Objects in one S3 bucket (MinIO in production), created on first use.

    The etag is the content's sha256, kept as object metadata (``x-amz-meta-sha256``) so
    it survives multipart uploads, whose S3 ETag is not a content hash.
    """

    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, *,
                 secure: bool = True, region: str = "us-east-1", public_endpoint: str = "") -> None:
        self.bucket = bucket
        self._client = Minio(endpoint, access_key=access_key, secret_key=secret_key,
                             secure=secure, region=region, http_client=_http_client())
        # Presigning is local computation (the region is given), so a client for the
        # address browsers use never opens a connection.
        self._signer = Minio(public_endpoint, access_key=access_key, secret_key=secret_key,
                             secure=secure, region=region) if public_endpoint else self._client
        self._ready = threading.Event()
        self._lock = threading.Lock()

    def _ensure_bucket(self) -> None:
        if self._ready.is_set():
            return
        with self._lock:
            if self._ready.is_set():
                return
            if not self._client.bucket_exists(self.bucket):
                try:
                    self._client.make_bucket(self.bucket)
                except S3Error as exc:  # another process created it in between
                    if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
            self._ready.set()

    def put(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        check_key(key)
        self._ensure_bucket()
        digest = sha256_hex(data)
        self._client.put_object(self.bucket, key, io.BytesIO(data), len(data),
                                content_type=content_type, metadata={SHA256_META: digest})
        return ObjectInfo(key, len(data), content_type, digest)

    def get(self, key: str) -> StoredObject:
        check_key(key)
        self._ensure_bucket()
        try:
            response = self._client.get_object(self.bucket, key)
        except S3Error as exc:
            if _missing(exc):
                raise ObjectNotFound(key) from exc
            raise
        try:
            data = response.read()
            headers = response.headers
        finally:
            response.close()
            response.release_conn()
        etag = headers.get("x-amz-meta-" + SHA256_META) or sha256_hex(data)
        content_type = headers.get("Content-Type") or "application/octet-stream"
        return StoredObject(ObjectInfo(key, len(data), content_type, etag), data)

    def stat(self, key: str) -> ObjectInfo | None:
        check_key(key)
        self._ensure_bucket()
        try:
            found = self._client.stat_object(self.bucket, key)
        except S3Error as exc:
            if _missing(exc):
                return None
            raise
        etag = found.metadata.get("x-amz-meta-" + SHA256_META) if found.metadata else None
        if not etag:  # written by another tool: hash it once
            etag = self.get(key).info.etag
        return ObjectInfo(key, found.size or 0, found.content_type or "application/octet-stream",
                          etag)

    def delete(self, key: str) -> None:
        check_key(key)
        self._ensure_bucket()
        self._client.remove_object(self.bucket, key)  # S3 answers 204 for absent keys too

    def list(self, prefix: str) -> list[str]:
        check_key(prefix, prefix=True)
        self._ensure_bucket()
        found = self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
        return sorted(str(obj.object_name) for obj in found)

    def presigned_get(self, key: str, expires: int = 3600,
                      response_headers: Mapping[str, str] | None = None) -> str | None:
        check_key(key)
        extra = {f"response-{name.lower()}": value for name, value in (response_headers or {}).items()}
        return str(self._signer.presigned_get_object(
            self.bucket, key, expires=dt.timedelta(seconds=expires),
            response_headers=extra or None))  # type: ignore[arg-type]

    def check(self) -> str:
        if not self._client.bucket_exists(self.bucket):
            self._ready.clear()
            self._ensure_bucket()
        return f"s3 bucket {self.bucket}"


def _http_client() -> urllib3.PoolManager:
    # minio's own default waits five minutes to connect; a readiness probe or a request
    # must fail fast when storage is unreachable.
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
        maxsize=POOL_SIZE,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )


def _missing(exc: S3Error) -> bool:
    return exc.code in MISSING_CODES


# -- local folder ---------------------------------------------------------------------


class LocalStorage:
    """Objects as files under ``root/objects``, metadata beside them under ``root/meta``.

    For the embedded profile (one machine). Writes are atomic (a temp file, then
    ``os.replace``). A key cannot be both an object and a folder of other keys
    (``a`` and ``a/b``): that raises ValueError.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self._objects = self.root / "objects"
        self._meta = self.root / "meta"
        self._tmp = self.root / "tmp"

    def _paths(self, key: str) -> tuple[Path, Path]:
        check_key(key)
        data, meta = self._objects / key, self._meta / (key + ".json")
        if not data.resolve().is_relative_to(self._objects):  # belt and braces
            raise ValueError(f"bad object key {key!r}: it leaves the storage folder")
        return data, meta

    def put(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        path, meta_path = self._paths(key)
        info = ObjectInfo(key, len(data), content_type, sha256_hex(data))
        meta = json.dumps({"content_type": content_type, "size": info.size, "sha256": info.etag})
        try:
            self._write(path, data)
            self._write(meta_path, meta.encode())
        except (NotADirectoryError, IsADirectoryError, FileExistsError) as exc:
            raise ValueError(
                f"bad object key {key!r}: local storage cannot hold both a key and keys "
                "below it (like 'a' and 'a/b'); use S3 storage or another key") from exc
        return info

    def _write(self, path: Path, data: bytes) -> None:
        self._tmp.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> StoredObject:
        path, _ = self._paths(key)
        info = self.stat(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        if info is None:
            raise ObjectNotFound(key)
        # the etag of what was read, even if a writer replaced the file in between
        return StoredObject(ObjectInfo(key, len(data), info.content_type, sha256_hex(data)), data)

    def stat(self, key: str) -> ObjectInfo | None:
        path, meta_path = self._paths(key)
        try:
            meta = json.loads(meta_path.read_text())
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        if not path.is_file():
            return None
        return ObjectInfo(key, int(meta["size"]), str(meta["content_type"]), str(meta["sha256"]))

    def delete(self, key: str) -> None:
        path, meta_path = self._paths(key)
        for target in (path, meta_path):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                target.unlink()

    def list(self, prefix: str) -> list[str]:
        check_key(prefix, prefix=True)
        # walk only the deepest folder the prefix names, then filter by the full prefix
        start = self._objects / prefix.rpartition("/")[0]
        return sorted(key for key in self._walk(start) if key.startswith(prefix))

    def _walk(self, start: Path) -> Iterator[str]:
        if not start.is_dir():
            return
        for folder, _dirs, files in os.walk(start):
            for name in files:
                yield (Path(folder) / name).relative_to(self._objects).as_posix()

    def presigned_get(self, key: str, expires: int = 3600,
                      response_headers: Mapping[str, str] | None = None) -> str | None:
        check_key(key)
        return None

    def check(self) -> str:
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._tmp)
        os.close(fd)
        os.unlink(tmp)
        return f"local folder {self.root}"


def make_storage(settings: Settings) -> Storage:
    """S3 when ``PLUGBOARD_S3_ENDPOINT`` is set, else a folder under the data dir."""
    if settings.s3_endpoint:
        return S3Storage(settings.s3_endpoint, settings.s3_access_key, settings.s3_secret_key,
                         settings.s3_bucket, secure=settings.s3_secure, region=settings.s3_region,
                         public_endpoint=settings.s3_public_endpoint)
    return LocalStorage(settings.data_path / "storage")


# -- public assets: keys anyone may fetch through /api/v1/public/assets (kernel.web.routes.public)

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
    settings = kernel_services().settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    if has_request_context():
        return str(request.host_url).rstrip("/")
    return settings.public_url_or_default
