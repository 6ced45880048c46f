"""Tenant scope: which tenant's rows the current code may see.

Every query on a tenant-owned model runs inside a scope: either one tenant
(:func:`tenant_scope`) or, deliberately and visibly, all of them
(:func:`platform_scope`, for kernel directory look-ups and platform admins).
A query with no scope raises :class:`TenantScopeError` instead of returning
another tenant's rows. On PostgreSQL, row-level security enforces the same scope
in the database (see :mod:`kernel.data.session`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


class TenantScopeError(RuntimeError):
    """A tenant-owned model was queried outside any tenant scope."""


@dataclass(frozen=True)
class Scope:
    """``tenant_id`` set: one tenant. ``tenant_id`` None: every tenant (platform)."""

    tenant_id: uuid.UUID | None

    @property
    def is_platform(self) -> bool:
        return self.tenant_id is None


_scope: ContextVar[Scope | None] = ContextVar("plugboard_tenant_scope", default=None)


def current_scope() -> Scope | None:
    """The active scope, or None outside any scope."""
    return _scope.get()


def current_tenant_id() -> uuid.UUID:
    """The tenant of the active tenant scope; raises outside one."""
    scope = _scope.get()
    if scope is None or scope.tenant_id is None:
        raise TenantScopeError(
            "No tenant scope is active. Wrap the code in `with tenant_scope(tenant_id):`."
        )
    return scope.tenant_id


@contextlib.contextmanager
def tenant_scope(tenant_id: uuid.UUID | str) -> Iterator[Scope]:
    """Run the block as ``tenant_id``: tenant-owned queries see only its rows."""
    tid = tenant_id if isinstance(tenant_id, uuid.UUID) else uuid.UUID(str(tenant_id))
    token = _scope.set(Scope(tid))
    try:
        yield _scope.get()  # type: ignore[misc]
    finally:
        _scope.reset(token)


@contextlib.contextmanager
def platform_scope() -> Iterator[Scope]:
    """Run the block across every tenant. For kernel look-ups and platform admins only."""
    token = _scope.set(Scope(None))
    try:
        yield _scope.get()  # type: ignore[misc]
    finally:
        _scope.reset(token)


def enter_tenant_scope(tenant_id: uuid.UUID) -> object:
    """Open a scope for the rest of a request; pass the token to :func:`leave_scope`."""
    return _scope.set(Scope(tenant_id))


def enter_platform_scope() -> object:
    return _scope.set(Scope(None))


def leave_scope(token: object) -> None:
    _scope.reset(token)  # type: ignore[arg-type]
