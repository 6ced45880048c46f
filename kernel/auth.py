"""Who is calling: bearer authentication (JWT or API key), permissions, tenant scope.

Views declare what they need with :func:`auth_required`; the decorator authenticates,
checks the permission, opens the caller's tenant scope for the rest of the request and
documents the security requirement in OpenAPI.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import jwt
import sqlalchemy as sa
from flask import current_app, g, request

from kernel.db import db, utcnow
from kernel.errors import problem
from kernel.models import ApiKey, User
from kernel.security import API_KEY_PREFIX, same, split_api_key, token_digest
from kernel.tenancy import enter_platform_scope, enter_tenant_scope, platform_scope

F = TypeVar("F", bound=Callable[..., Any])

API_KEY_TOUCH_INTERVAL = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of this request."""

    kind: str  # "user" or "api_key"
    user_id: uuid.UUID | None
    tenant_id: uuid.UUID | None
    role: str | None
    platform_admin: bool = False
    api_key_id: uuid.UUID | None = None

    @property
    def actor_id(self) -> str:
        return str(self.api_key_id if self.kind == "api_key" else self.user_id)

    def can(self, permission: str) -> bool:
        if self.role is None:
            return False
        return bool(current_app.extensions["plugboard.permissions"].allows(self.role, permission))


def current_principal() -> Principal | None:
    return cast(Principal | None, g.get("principal"))


def _unauthorized(detail: str) -> Any:
    problem(
        401,
        "unauthenticated",
        title="Authentication required",
        detail=detail,
        headers={"WWW-Authenticate": 'Bearer realm="plugboard"'},
    )


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not value.strip():
        _unauthorized("Use `Authorization: Bearer <access token or API key>`.")
    return value.strip()


def authenticate() -> Principal:
    """The caller of the current request; 401 problem when there is none or it is bad."""
    cached = g.get("principal")
    if cached is not None:
        return cast(Principal, cached)
    token = bearer_token()
    if token is None:
        _unauthorized("This endpoint needs an access token or an API key.")
    assert token is not None
    principal = _from_api_key(token) if token.startswith(API_KEY_PREFIX) else _from_jwt(token)
    g.principal = principal
    return principal


def _from_jwt(token: str) -> Principal:
    try:
        claims = current_app.extensions["plugboard.tokens"].check(token)
    except jwt.ExpiredSignatureError:
        _unauthorized("The access token has expired; refresh it.")
    except jwt.InvalidTokenError:
        _unauthorized("The access token is not valid.")
    role = claims.role
    if claims.tenant_id is not None:
        _require_active_tenant(claims.tenant_id)
        # the membership as it is now, not as it was when the token was issued
        role = current_app.extensions["plugboard.memberships"].role_of(claims.user_id, claims.tenant_id)
        if role is None:
            _unauthorized("You are no longer a member of this tenant; log in again.")
    return Principal("user", claims.user_id, claims.tenant_id, role, claims.platform_admin)


def _from_api_key(key: str) -> Principal:
    prefix = split_api_key(key)
    if prefix is None:
        _unauthorized("The API key is malformed.")
    with platform_scope():
        row = db.session.scalars(sa.select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()
        now = utcnow()
        valid = (
            row is not None
            and same(row.key_hash, token_digest(key))
            and row.revoked_at is None
            and (row.expires_at is None or row.expires_at > now)
        )
        if not valid or row is None:
            _unauthorized("The API key is not valid or has been revoked.")
        assert row is not None
        if row.last_used_at is None or now - row.last_used_at > API_KEY_TOUCH_INTERVAL:
            row.last_used_at = now
            db.session.commit()
        principal = Principal("api_key", row.created_by, row.tenant_id, row.role, api_key_id=row.id)
    _require_active_tenant(principal.tenant_id)
    return principal


def _require_active_tenant(tenant_id: uuid.UUID | None) -> None:
    tenant = current_app.extensions["plugboard.tenants"].by_id(tenant_id)
    if tenant is None:
        _unauthorized("The token's tenant no longer exists.")
    if tenant.status != "active":
        problem(403, "tenant-suspended", title="Tenant suspended",
                detail="This tenant is suspended; contact the platform's support.")


def open_scope_for(principal: Principal) -> None:
    """Open the principal's tenant scope until the request ends."""
    if "scope_token" in g:
        return
    if principal.tenant_id is None:
        problem(403, "no-tenant", title="No tenant selected",
                detail="Log in with a tenant or call /api/v1/auth/switch-tenant first.")
    g.scope_token = enter_tenant_scope(principal.tenant_id)


def open_platform_scope() -> None:
    if "scope_token" not in g:
        g.scope_token = enter_platform_scope()


def _document(wrapper: Any, permission: str | None, admin: bool) -> None:
    doc = wrapper.__dict__.setdefault("_apidoc", {})
    manual = doc.setdefault("manual_doc", {})
    manual["security"] = [{"bearerAuth": []}]
    responses = manual.setdefault("responses", {})
    # By component name, not by "$ref": apispec then emits the lazily registered components.
    responses["401"] = "UNAUTHORIZED"
    responses["403"] = "FORBIDDEN"
    notes = "Requires platform admin." if admin else (
        f"Requires permission `{permission}`." if permission else "Requires authentication."
    )
    manual.setdefault("description", notes)


def auth_required(permission: str | None = None, *, tenant: bool = True) -> Callable[[F], F]:
    """Authenticate the caller, check ``permission``, open its tenant scope.

    With ``tenant=False`` the view runs without a tenant scope (e.g. ``/auth/me``).
    """

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate()
            if tenant:
                open_scope_for(principal)
                current_app.extensions["plugboard.guard"](principal.tenant_id)
            if permission and not principal.can(permission):
                problem(403, "forbidden", title="Forbidden",
                        detail=f"Your role ({principal.role}) lacks permission `{permission}`.")
            return fn(*args, **kwargs)

        _document(wrapper, permission, admin=False)
        return cast(F, wrapper)

    return decorator


def require_platform_admin() -> Principal:
    """The caller, a platform admin, with the platform scope open; else 401/403 problem."""
    principal = authenticate()
    if principal.kind != "user" or principal.user_id is None:
        problem(403, "forbidden", title="Forbidden", detail="Platform admin only.")
    user = db.session.get(User, principal.user_id)
    if user is None or not user.is_platform_admin or not user.is_active:
        problem(403, "forbidden", title="Forbidden", detail="Platform admin only.")
    open_platform_scope()
    return principal


def platform_admin_required(fn: F) -> F:
    """Only platform admins (``users.is_platform_admin``, checked in the database)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_platform_admin()
        return fn(*args, **kwargs)

    _document(wrapper, None, admin=True)
    return cast(F, wrapper)

