"""Images and files for pages: type sniffing, limits and content-addressed storage.

The type is read from the file's first bytes, never from the client's Content-Type or
file name. Only formats a browser renders without running code are kept. SVG is refused:
it can carry scripts and event handlers, and no sanitiser is reliable enough to serve
tenants' SVG from a shared origin; convert it to PNG or WebP.

Files are stored under the tenant's public prefix as ``pages/<sha256>.<ext>``, so the
same file uploaded twice is one object and its URL never changes.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from kernel.api import public_asset_key, public_asset_url, storage


class AssetRefused(Exception):
    """``status`` 415 (type) or 413 (size), with a message saying what to send instead."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Asset:
    url: str
    key: str
    content_type: str
    size: int
    sha256: str


ALLOWED = "PNG, JPEG, GIF, WebP, AVIF, PDF, MP4 or WebM"


def sniff(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a supported format from a file's first bytes."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png", "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif", "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "image/avif", "avif"
        if brand in (b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash"):
            return "video/mp4", "mp4"
    if head.startswith(b"%PDF-"):
        return "application/pdf", "pdf"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm", "webm"
    return None


def _looks_like_svg(head: bytes) -> bool:
    text = head[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith(b"<") and b"<svg" in text


def check(data: bytes, max_bytes: int) -> tuple[str, str]:
    """The (content type, extension) of ``data``; :class:`AssetRefused` when not allowed."""
    if len(data) > max_bytes:
        raise AssetRefused(413, f"The file is {len(data)} bytes; this tenant's limit is {max_bytes}.")
    if not data:
        raise AssetRefused(415, f"The file is empty; send a {ALLOWED} file.")
    kind = sniff(data[:16])
    if kind is None and _looks_like_svg(data):
        raise AssetRefused(415, "SVG files are refused (they can run scripts); "
                                "convert the image to PNG or WebP.")
    if kind is None:
        raise AssetRefused(415, f"Unsupported file type; send a {ALLOWED} file.")
    return kind


def store(tenant_id: uuid.UUID, data: bytes, max_bytes: int) -> Asset:
    """Check ``data`` and keep it in the tenant's public storage; idempotent per content."""
    content_type, extension = check(data, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    name = f"pages/{digest}.{extension}"
    key = public_asset_key(tenant_id, name)
    if storage().stat(key) is None:
        storage().put(key, data, content_type)
    return Asset(public_asset_url(tenant_id, name), key, content_type, len(data), digest)
