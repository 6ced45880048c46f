"""Tenant directory: cached look-ups of tenants by id, slug and storefront host.

Resolution is on every request's path, so answers are cached in-process for
``PLUGBOARD_TENANT_CACHE_TTL`` seconds and dropped at once in this process when the
kernel changes a tenant or a domain.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Request

from kernel.config import Settings
from kernel.data.models import Domain, Membership, Tenant
from kernel.data.session import db
from kernel.runtime.broadcast import Broadcast
from kernel.tenancy.scope import platform_scope, tenant_scope

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


_MISS = object()


class Memberships:
    """The current role of a user in a tenant, cached per process.

    Access tokens name a tenant and a role, but a member removed or demoted must lose
    those rights at once, not when the token expires. Authentication reads the role from
    here; a change of membership drops the entry in every process (kernel.runtime.broadcast).
    """

    TOPIC = "memberships"

    def __init__(self, broadcast: Broadcast) -> None:
        self._roles: dict[tuple[uuid.UUID, uuid.UUID], str | None] = {}
        self._lock = threading.Lock()
        self._broadcast = broadcast
        broadcast.subscribe(self.TOPIC, self._drop)

    def role_of(self, user_id: uuid.UUID, tenant_id: uuid.UUID) -> str | None:
        key = (user_id, tenant_id)
        if key in self._roles:
            return self._roles[key]
        self._broadcast.ensure_listening()
        with tenant_scope(tenant_id):
            role = db.session.scalar(sa.select(Membership.role).where(Membership.user_id == user_id))
        with self._lock:
            self._roles[key] = role
        return role

    def changed(self, user_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
        """Call after committing a change to this membership."""
        self._broadcast.publish(self.TOPIC, f"{user_id}:{tenant_id}")

    def _drop(self, key: str | None) -> None:
        with self._lock:
            if key is None:
                self._roles.clear()
                return
            user, _, tenant = key.partition(":")
            self._roles.pop((uuid.UUID(user), uuid.UUID(tenant)), None)


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

    def _cached(self, key: tuple[str, str]) -> Any:
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return _MISS

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
        if hit is not _MISS:
            return hit  # type: ignore[no-any-return]
        return self._store(key, _info(db.session.get(Tenant, tenant_id)))

    def by_slug(self, slug: str) -> TenantInfo | None:
        slug = slug.strip().lower()
        key = ("slug", slug)
        hit = self._cached(key)
        if hit is not _MISS:
            return hit  # type: ignore[no-any-return]
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
        if hit is not _MISS:
            return hit  # type: ignore[no-any-return]
        with platform_scope():
            tid = db.session.scalar(sa.select(Domain.tenant_id).where(Domain.hostname == host))
        return self._store(key, self.by_id(tid) if tid else None)

    def for_public_request(self, request: Request) -> TenantInfo | None:
        """The tenant a storefront request addresses: ``X-Tenant`` (slug), else ``Host``."""
        slug = request.headers.get("X-Tenant")
        info = self.by_slug(slug) if slug else self.by_host(request.host)
        if info is None or info.status != "active":
            return None
        return info


def _info(row: Tenant | None) -> TenantInfo | None:
    if row is None:
        return None
    return TenantInfo(row.id, row.slug, row.name, row.status)
