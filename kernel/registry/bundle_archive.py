"""Reading an uploaded plugin bundle safely: one file or a zip, checked before anything is kept.

:func:`read_upload` turns the uploaded bytes into :class:`BundleFile` objects or raises
:class:`BundleRejected`. It checks, in order: the upload's size; for a zip, the entry
count (from the end-of-central-directory record, before parsing the directory), every
entry's name and kind (no ``..``, absolute paths, backslashes, symlinks, encryption),
the declared total unpacked size, and then the actual unpacked bytes while reading with
a bounded read (declared sizes can lie); finally every file's type, by extension and by
its content. No Flask here: the caller turns a rejection into a problem response.

.. versionadded:: 0.1
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO

from kernel.runtime.storage import check_key

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
EOCD = b"PK\x05\x06"
ALLOWED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
MAX_PATH = 300
READ_CHUNK = 1024 * 1024


class BundleRejected(Exception):
    """The upload is refused; ``status`` 413 (too large) or 422 (anything else)."""

    def __init__(self, status: int, type_: str, detail: str, path: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.type_ = type_
        self.detail = detail
        self.path = path


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_files: int
    max_uncompressed: int


@dataclass(frozen=True)
class BundleFile:
    path: str
    data: bytes
    sha256: str
    content_type: str

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def integrity(self) -> str:
        """Subresource Integrity value: ``sha256-<base64 of the digest>``."""
        return integrity(self.sha256)

    def manifest(self) -> dict[str, object]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size,
                "content_type": self.content_type}


def integrity(sha256_hex: str) -> str:
    return "sha256-" + base64.b64encode(bytes.fromhex(sha256_hex)).decode()


# -- file types -------------------------------------------------------------------------

def _text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return not any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text)


def _json(data: bytes) -> bool:
    if not _text(data):
        return False
    try:
        json.loads(data.decode("utf-8-sig"))
    except ValueError:
        return False
    return True


def _svg(data: bytes) -> bool:
    return _text(data) and b"<svg" in data.lower()


def _magic(*prefixes: bytes, offset: int = 0) -> Callable[[bytes], bool]:
    return lambda data: any(data[offset:offset + len(p)] == p for p in prefixes)


def _webp(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


# extension -> (content type, does the content look like it?)
TYPES: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    "js": ("text/javascript; charset=utf-8", _text),
    "mjs": ("text/javascript; charset=utf-8", _text),
    "css": ("text/css; charset=utf-8", _text),
    "txt": ("text/plain; charset=utf-8", _text),
    "json": ("application/json", _json),
    "map": ("application/json", _json),
    "svg": ("image/svg+xml", _svg),
    "png": ("image/png", _magic(b"\x89PNG\r\n\x1a\n")),
    "jpg": ("image/jpeg", _magic(b"\xff\xd8\xff")),
    "jpeg": ("image/jpeg", _magic(b"\xff\xd8\xff")),
    "gif": ("image/gif", _magic(b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", _webp),
    "avif": ("image/avif", _magic(b"ftypavif", b"ftypavis", offset=4)),
    "ico": ("image/x-icon", _magic(b"\x00\x00\x01\x00")),
    "woff": ("font/woff", _magic(b"wOFF")),
    "woff2": ("font/woff2", _magic(b"wOF2")),
    "ttf": ("font/ttf", _magic(b"\x00\x01\x00\x00", b"true")),
    "otf": ("font/otf", _magic(b"OTTO")),
    "wasm": ("application/wasm", _magic(b"\x00asm")),
}


def content_type_of(path: str, data: bytes) -> str:
    """The content type of an allowed file; BundleRejected for unknown or mismatched ones."""
    name = path.rsplit("/", 1)[-1]
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if ext not in TYPES:
        raise BundleRejected(422, "bundle-file-type", (
            f"{path!r}: files of this type are not allowed in a bundle. Allowed extensions: "
            f"{', '.join(sorted(TYPES))}."), path)
    content_type, looks_right = TYPES[ext]
    if not looks_right(data):
        raise BundleRejected(422, "bundle-file-type", (
            f"{path!r}: the content is not {content_type.split(';')[0]}, as its extension "
            "says (executables and mislabelled files are refused)."), path)
    return content_type


def check_path(path: str) -> str:
    if len(path) > MAX_PATH:
        raise BundleRejected(422, "bundle-bad-path",
                             f"{path[:60]!r}…: paths are limited to {MAX_PATH} characters.", path)
    try:
        return check_key(path)
    except ValueError as exc:
        detail = str(exc).replace("bad object key", "bad file path")
        raise BundleRejected(422, "bundle-bad-path", detail, path) from None


def _file(path: str, data: bytes) -> BundleFile:
    return BundleFile(path, data, hashlib.sha256(data).hexdigest(), content_type_of(path, data))


# -- the upload -------------------------------------------------------------------------

def read_upload(filename: str, data: bytes, limits: Limits) -> list[BundleFile]:
    """The files of an upload (a ``.zip``, or one file named ``filename``), sorted by path."""
    if len(data) > limits.max_bytes:
        raise BundleRejected(413, "bundle-too-large", (
            f"The upload is {len(data)} bytes; bundles are limited to {limits.max_bytes} "
            "bytes (PLUGBOARD_BUNDLE_MAX_BYTES)."))
    if not filename:
        raise BundleRejected(422, "bundle-bad-path", "The uploaded file has no name; send a "
                             "filename (a .zip, or the file's path in the bundle).")
    if filename.lower().endswith(".zip"):
        return read_zip(data, limits)
    return [_file(check_path(filename), data)]


def read_zip(data: bytes, limits: Limits) -> list[BundleFile]:
    entries = _declared_entries(data)
    if entries is not None and entries > 2 * limits.max_files:
        raise _too_many(entries, limits)
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            infos = _checked_entries(archive, limits)
            files = _read_entries(archive, infos, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, struct.error) as exc:
        raise BundleRejected(422, "bundle-bad-zip",
                             f"The upload is not a readable zip archive ({exc}).") from None
    if not files:
        raise BundleRejected(422, "bundle-empty", "The zip archive holds no files.")
    return sorted(files, key=lambda f: f.path)


def _declared_entries(data: bytes) -> int | None:
    """The entry count of the end-of-central-directory record, before parsing the directory."""
    at = data.rfind(EOCD, max(0, len(data) - 65557))
    if at < 0 or len(data) < at + 22:
        return None
    (total,) = struct.unpack_from("<H", data, at + 10)
    return None if total == 0xFFFF else int(total)  # 0xFFFF: zip64, zipfile counts itself


def _too_many(count: int, limits: Limits) -> BundleRejected:
    return BundleRejected(422, "bundle-too-many-files", (
        f"The zip holds {count} entries; bundles are limited to {limits.max_files} files "
        "(PLUGBOARD_BUNDLE_MAX_FILES)."))


def _checked_entries(archive: zipfile.ZipFile, limits: Limits) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    files = [i for i in infos if not i.is_dir()]
    if len(files) > limits.max_files or len(infos) > 2 * limits.max_files:
        raise _too_many(len(files), limits)
    seen: set[str] = set()
    for info in infos:
        _check_entry(info)
        if info.is_dir():
            continue
        if info.filename in seen:
            raise BundleRejected(422, "bundle-bad-path",
                                 f"{info.filename!r} appears twice in the zip.", info.filename)
        seen.add(info.filename)
    declared = sum(i.file_size for i in files)
    if declared > limits.max_uncompressed:
        raise _unpacked_too_large(declared, limits)
    return files


def _check_entry(info: zipfile.ZipInfo) -> None:
    name = info.filename
    check_path(name[:-1] if info.is_dir() else name)
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise BundleRejected(422, "bundle-bad-path", f"{name!r} is a symbolic link; bundles "
                             "may hold only regular files.", name)
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise BundleRejected(422, "bundle-bad-path", f"{name!r} is not a regular file.", name)
    if info.flag_bits & 0x1:
        raise BundleRejected(422, "bundle-bad-zip", f"{name!r} is encrypted; upload an "
                             "unencrypted zip.", name)
    if info.compress_type not in ALLOWED_COMPRESSION:
        raise BundleRejected(422, "bundle-bad-zip", (
            f"{name!r} uses an unsupported compression method ({info.compress_type}); use "
            f"{' or '.join(ALLOWED_COMPRESSION.values())}."), name)


def _unpacked_too_large(size: int, limits: Limits) -> BundleRejected:
    return BundleRejected(422, "bundle-too-large-unpacked", (
        f"The zip unpacks to at least {size} bytes; bundles are limited to "
        f"{limits.max_uncompressed} unpacked bytes (PLUGBOARD_BUNDLE_MAX_UNCOMPRESSED)."))


def _read_entries(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                  limits: Limits) -> list[BundleFile]:
    budget = limits.max_uncompressed
    files = []
    for info in infos:
        data = _bounded_read(archive, info, budget, limits)
        budget -= len(data)
        files.append(_file(info.filename, data))
    return files


def _bounded_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int,
                  limits: Limits) -> bytes:
    """At most ``info.file_size`` bytes and never more than ``budget``, whatever the zip says."""
    out = bytearray()
    with archive.open(info) as handle:
        while chunk := handle.read(min(READ_CHUNK, budget - len(out) + 1)):
            out += chunk
            if len(out) > budget:
                raise _unpacked_too_large(limits.max_uncompressed - budget + len(out), limits)
            if len(out) > info.file_size:
                raise BundleRejected(422, "bundle-bad-zip", (
                    f"{info.filename!r} unpacks to more bytes than the zip declares; the "
                    "archive is corrupt or crafted."), info.filename)
    return bytes(out)


def version_digest(files: list[BundleFile]) -> str:
    """sha256 over the sorted (path, sha256, size) of every file: the version's content."""
    canonical = json.dumps([[f.path, f.sha256, f.size] for f in sorted(files, key=lambda f: f.path)],
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
