"""Plugin front-end bundles: immutable versions, a default per plugin, per-tenant pins.

A version is a manifest of files (path, sha256, size, content type); the files live in
object storage content-addressed (``bundles/sha256/<hex>``), so a file shared by many
versions is stored once. A version never changes: uploading it again with the same
content is a no-op, with other content a conflict. Which version a tenant loads is its
pin (a canary) if it has one, else the plugin's default.

.. versionadded:: 0.1
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kernel.config import Settings
from kernel.data.base import Base, JSONType, TenantOwned, utcnow
from kernel.data.models import Tenant
from kernel.data.session import db
from kernel.problems import problem
from kernel.registry.bundle_archive import BundleFile, Limits, read_upload, version_digest
from kernel.runtime.storage import Storage
from kernel.services import kernel_services

SEMVER_RE = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
    r"(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
BLOB_PREFIX = "bundles/sha256/"
MANIFEST_CACHE_SIZE = 512
# Uploads are serialised (per process, and across processes on PostgreSQL) so a failed
# upload can delete the blobs it wrote without racing another upload that reuses them.
_UPLOAD_LOCK = threading.Lock()
PG_UPLOAD_LOCK_KEY = 0x706C7567_62756E64  # "plugbund"


class BundleVersion(Base):
    """One immutable version of a plugin's bundle (platform-wide, not tenant-owned)."""

    __tablename__ = "bundle_versions"
    __table_args__ = (sa.UniqueConstraint("plugin", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    plugin: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[str] = mapped_column(sa.String(64))
    digest: Mapped[str] = mapped_column(sa.String(64))
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(sa.String(64))


def _version_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["plugin", "version"],
                                   ["bundle_versions.plugin", "bundle_versions.version"])


class BundleRollout(Base):
    """The version every tenant of a plugin gets unless it is pinned."""

    __tablename__ = "bundle_rollouts"
    __table_args__ = (_version_fk(),)

    plugin: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    version: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(sa.String(64))


class BundlePin(TenantOwned, Base):
    """One tenant pinned to a version of a plugin's bundle (a canary)."""

    __tablename__ = "bundle_pins"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "plugin"), _version_fk())

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    plugin: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(sa.String(64))


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key by semver precedence (build metadata ignored)."""
    match = SEMVER_RE.fullmatch(version)
    if match is None:
        return (-1, version)
    core = tuple(int(part) for part in match.group(1, 2, 3))
    pre = match.group(4)
    if pre is None:
        return (*core, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (*core, 0, ids)


def blob_key(sha256: str) -> str:
    return BLOB_PREFIX + sha256


def _storage() -> Storage:
    return kernel_services().storage


def _settings() -> Settings:
    return kernel_services().settings


def limits(settings: Settings) -> Limits:
    return Limits(settings.bundle_max_bytes, settings.bundle_max_files,
                  settings.bundle_max_uncompressed)


def find_version(plugin: str, version: str) -> BundleVersion | None:
    return db.session.scalars(sa.select(BundleVersion).where(
        BundleVersion.plugin == plugin, BundleVersion.version == version)).one_or_none()


def versions(plugin: str) -> list[BundleVersion]:
    rows = db.session.scalars(sa.select(BundleVersion).where(BundleVersion.plugin == plugin))
    return sorted(rows, key=lambda r: semver_key(r.version), reverse=True)


# -- upload -----------------------------------------------------------------------------

def upload(plugin: str, version: str, filename: str, data: bytes,
           actor: str) -> tuple[BundleVersion, bool]:
    """Validate and store a version; ``(row, created)``. 409 when it exists with other content.

    Nothing is written until the whole upload has been validated; if writing fails
    half-way, the blobs this call wrote are deleted again.
    """
    files = read_upload(filename, data, limits(_settings()))
    digest = version_digest(files)
    with _serialized():
        existing = find_version(plugin, version)
        if existing is not None:
            if existing.digest != digest:
                problem(409, "bundle-version-exists", title="Version already exists",
                        detail=f"{plugin} {version} was uploaded before with other content; "
                        "versions are immutable, upload this content as a new version.",
                        digest=existing.digest)
            return existing, False
        written = _store_blobs(files)
        try:
            row = BundleVersion(plugin=plugin, version=version, digest=digest,
                                files=[f.manifest() for f in files],
                                size=sum(f.size for f in files), created_by=actor)
            db.session.add(row)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            _delete(written)
            raise
    return row, True


@contextlib.contextmanager
def _serialized() -> Iterator[None]:
    with _UPLOAD_LOCK:
        try:
            if db.engine.dialect.name == "postgresql":
                db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": PG_UPLOAD_LOCK_KEY})
            yield
        finally:
            if db.session().in_transaction():
                db.session.commit()  # ends the transaction, releasing the advisory lock


def _store_blobs(files: list[BundleFile]) -> list[str]:
    """Put every file not stored yet; the keys written (to undo on failure)."""
    storage = _storage()
    written: list[str] = []
    try:
        for file in {f.sha256: f for f in files}.values():
            key = blob_key(file.sha256)
            if storage.stat(key) is None:
                storage.put(key, file.data, file.content_type)
                written.append(key)
    except BaseException:
        _delete(written)
        raise
    return written


def collect_orphans() -> int:
    """Delete blobs under ``BLOB_PREFIX`` that no stored version lists; how many.

    Holds the upload lock: an upload writes its blobs and commits its row under it, so
    every blob not referenced while the lock is held is an orphan for good.
    """
    with _serialized():
        referenced = {entry["sha256"] for files in db.session.scalars(sa.select(BundleVersion.files))
                      for entry in files}
        orphans = [key for key in _storage().list(BLOB_PREFIX)
                   if key.removeprefix(BLOB_PREFIX) not in referenced]
        _delete(orphans)
    return len(orphans)


def _delete(keys: list[str]) -> None:
    storage = _storage()
    for key in keys:
        storage.delete(key)


# -- rollout ----------------------------------------------------------------------------

def _existing_version(plugin: str, version: str) -> BundleVersion:
    row = find_version(plugin, version)
    if row is None:
        problem(422, "bundle-version-not-found", title="Unknown bundle version",
                detail=f"{plugin} has no bundle version {version!r}; upload it first.",
                errors=[{"field": "version", "pointer": "/version", "location": "json",
                         "message": "no such bundle version"}])
    assert row is not None
    return row


def _tenants_by_slug(slugs: list[str]) -> list[Tenant]:
    found = {t.slug: t for t in db.session.scalars(sa.select(Tenant).where(Tenant.slug.in_(slugs)))}
    unknown = [(i, s) for i, s in enumerate(slugs) if s not in found]
    if unknown:
        problem(422, "unknown-tenants", title="Unknown tenants",
                detail="No tenant has the slug(s) " + ", ".join(repr(s) for _, s in unknown) + ".",
                errors=[{"field": f"tenants.{i}", "pointer": f"/tenants/{i}", "location": "json",
                         "message": "no tenant with this slug"} for i, _ in unknown],
                unknown=[s for _, s in unknown])
    return [found[s] for s in dict.fromkeys(slugs)]


def set_default(plugin: str, version: str, actor: str) -> None:
    """Every tenant of ``plugin`` gets ``version``: the default, and all pins are lifted."""
    _existing_version(plugin, version)
    row = db.session.get(BundleRollout, plugin)
    if row is None:
        db.session.add(BundleRollout(plugin=plugin, version=version, updated_by=actor))
    else:
        row.version, row.updated_by = version, actor
    db.session.execute(sa.delete(BundlePin).where(BundlePin.plugin == plugin))
    db.session.commit()


def pin(plugin: str, version: str, slugs: list[str], actor: str) -> list[Tenant]:
    """Pin the tenants named by ``slugs`` to ``version`` (platform scope); the tenants."""
    _existing_version(plugin, version)
    tenants = _tenants_by_slug(slugs)
    pins = {p.tenant_id: p for p in db.session.scalars(sa.select(BundlePin).where(
        BundlePin.plugin == plugin, BundlePin.tenant_id.in_([t.id for t in tenants])))}
    for tenant in tenants:
        row = pins.get(tenant.id)
        if row is None:
            db.session.add(BundlePin(tenant_id=tenant.id, plugin=plugin, version=version,
                                     updated_by=actor))
        else:
            row.version, row.updated_by = version, actor
    db.session.commit()
    return tenants


def rollout_state(plugin: str) -> dict[str, Any]:
    """The default version and every pin of ``plugin`` (platform scope)."""
    default = db.session.scalar(sa.select(BundleRollout.version).where(BundleRollout.plugin == plugin))
    pins = db.session.execute(
        sa.select(Tenant.slug, BundlePin.version).join(Tenant, Tenant.id == BundlePin.tenant_id)
        .where(BundlePin.plugin == plugin).order_by(Tenant.slug)).all()
    return {"plugin": plugin, "default": default,
            "pins": [{"tenant": slug, "version": version} for slug, version in pins]}


def current_for_tenant(plugin: str) -> BundleVersion | None:
    """The version the tenant in scope loads: its pin, else the default; None: no bundle."""
    version = db.session.scalar(sa.select(BundlePin.version).where(BundlePin.plugin == plugin))
    if version is None:
        version = db.session.scalar(
            sa.select(BundleRollout.version).where(BundleRollout.plugin == plugin))
    return None if version is None else find_version(plugin, version)


# -- serving ----------------------------------------------------------------------------

def manifest(plugin: str, version: str) -> dict[str, dict[str, Any]] | None:
    """path -> file entry of a version, cached in-process (versions never change)."""
    cache = kernel_services().bundle_manifests
    found = cache.get((plugin, version))
    if found is not None:
        return found
    row = find_version(plugin, version)
    if row is None:
        return None  # not cached: the version may be uploaded later
    found = {entry["path"]: entry for entry in row.files}
    if len(cache) >= MANIFEST_CACHE_SIZE:
        cache.clear()
    cache[(plugin, version)] = found
    return found
