"""Memberships: a user's current role in a tenant, cached per process, dropped everywhere on change."""

from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa

from kernel.data.models import Membership
from kernel.data.session import db
from kernel.runtime.broadcast import Broadcast
from kernel.tenancy.scope import tenant_scope


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
