"""Tenant directory: cached look-ups of tenants by id, slug and storefront host.

Resolution is on every request's path, so answers are cached in-process for
``PLUGBOARD_TENANT_CACHE_TTL`` seconds and dropped at once in this process when the
kernel changes a tenant or a domain.
"""

from __future__ import annotations

import enum
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Final, NoReturn

import sqlalchemy as sa
from flask import Request, request

from kernel.config import Settings
from kernel.data.models import Domain, Tenant
from kernel.data.session import db
from kernel.problems import problem
from kernel.runtime.broadcast import Broadcast
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)
RESERVED_SLUGS = frozenset({"www", "api", "admin", "app", "static", "bundles", "mail", "status"})


@dataclass(frozen=True)
class TenantInfo:
    id: uuid.UUID
    slug: str
    name: str
    status: str


class Cold(enum.Enum):
    """The answer is not in memory: only the database can give it."""

    COLD = "cold"


COLD: Final = Cold.COLD



class TenantDirectory:
    """Cached tenant look-ups; :meth:`invalidate` clears them in every process."""

    TOPIC = "tenants"

    def __init__(self, settings: Settings, broadcast: Broadcast) -> None:
        self._ttl = settings.tenant_cache_ttl
        self._base = settings.base_domain.lower().strip(".")
        self._cache: dict[tuple[str, str], tuple[float, TenantInfo | None]] = {}
        self._lock = threading.Lock()
        self._broadcast = broadcast
        broadcast.subscribe(self.TOPIC, lambda _key: self._clear())

    def _cached(self, key: tuple[str, str]) -> TenantInfo | Cold | None:
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return COLD

    def _store(self, key: tuple[str, str], info: TenantInfo | None) -> TenantInfo | None:
        with self._lock:
            self._cache[key] = (time.monotonic() + self._ttl, info)
        return info

    def invalidate(self) -> None:
        """A tenant or domain changed: drop cached answers here and in other processes."""
        self._broadcast.publish(self.TOPIC, None)

    def _clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def by_id(self, tenant_id: uuid.UUID | None) -> TenantInfo | None:
        if tenant_id is None:
            return None
        self._broadcast.ensure_listening()
        key = ("id", str(tenant_id))
        hit = self._cached(key)
        if hit is not COLD:
            return hit
        return self._store(key, _info(db.session.get(Tenant, tenant_id)))

    def by_slug(self, slug: str) -> TenantInfo | None:
        slug = slug.strip().lower()
        key = ("slug", slug)
        hit = self._cached(key)
        if hit is not COLD:
            return hit
        row = db.session.scalars(sa.select(Tenant).where(Tenant.slug == slug)).one_or_none()
        return self._store(key, _info(row))

    def by_host(self, host: str) -> TenantInfo | None:
        host = host.strip().lower().rstrip(".")
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if self._base and host.endswith("." + self._base):
            label = host[: -len(self._base) - 1]
            if "." not in label and label not in RESERVED_SLUGS:
                return self.by_slug(label)
            return None
        key = ("host", host)
        hit = self._cached(key)
        if hit is not COLD:
            return hit
        with platform_scope():
            tid = db.session.scalar(sa.select(Domain.tenant_id).where(Domain.hostname == host))
        return self._store(key, self.by_id(tid) if tid else None)

    def for_public_request(self, request: Request) -> TenantInfo | None:
        """The active tenant a storefront request addresses: ``X-Tenant`` (slug), else ``Host``."""
        slug = request.headers.get("X-Tenant")
        return _active(self.by_slug(slug) if slug else self.by_host(request.host))

    def cached_for_public_request(self, request: Request) -> TenantInfo | Cold | None:
        """:meth:`for_public_request` from memory only: :data:`COLD` when that needs the database.

        For the public edge, which answers without an application context.
        """
        key = self._public_key(request)
        if key is None:
            return None
        hit: TenantInfo | Cold | None = self._cached(key)
        return hit if hit is COLD else _active(hit)

    def _public_key(self, request: Request) -> tuple[str, str] | None:
        """The cache key :meth:`for_public_request` ends at; None: no tenant can answer."""
        slug = request.headers.get("X-Tenant")
        if slug:
            return ("slug", slug.strip().lower())
        host = request.host.strip().lower().rstrip(".")
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if self._base and host.endswith("." + self._base):
            label = host[: -len(self._base) - 1]
            return ("slug", label) if "." not in label and label not in RESERVED_SLUGS else None
        return ("host", host)


def _active(info: TenantInfo | None) -> TenantInfo | None:
    return info if info is not None and info.status == "active" else None


def public_tenant() -> TenantInfo:
    """The active tenant a storefront request addresses; 404 problem when there is none."""
    info = kernel_services().tenants.for_public_request(request)
    if info is None:
        unknown_public_tenant()
    return info


def unknown_public_tenant() -> NoReturn:
    problem(404, "unknown-tenant", title="Unknown tenant",
            detail="No active tenant answers to this Host or X-Tenant header.")


def _info(row: Tenant | None) -> TenantInfo | None:
    if row is None:
        return None
    return TenantInfo(row.id, row.slug, row.name, row.status)
