"""``/api/v1/auth``: register, login, refresh, logout, me, switch-tenant, password, email."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_smorest import Blueprint

from kernel.data.models import Tenant, User
from kernel.data.session import db
from kernel.identity import accounts
from kernel.identity.auth import auth_required, authenticate, current_principal
from kernel.problems import problem
from kernel.runtime import audit
from kernel.services import kernel_services
from kernel.web.schemas import (
    ForgotSchema,
    LoginSchema,
    MeSchema,
    RefreshSchema,
    RegisterResultSchema,
    RegisterSchema,
    ResetSchema,
    SwitchTenantSchema,
    TokenPairSchema,
    VerifyEmailSchema,
)

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Authentication")


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "email_verified": user.email_verified_at is not None,
        "is_platform_admin": user.is_platform_admin,
        "created_at": user.created_at,
    }


def pair_json(pair: accounts.TokenPair) -> dict[str, Any]:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
    }


@blp.post("/register")
@blp.arguments(RegisterSchema)
@blp.response(201, RegisterResultSchema)
@blp.alt_response(409, description="The email is registered or the tenant slug is taken")
def register(data: dict[str, Any]) -> dict[str, Any]:
    """Create an account and a tenant, with the caller as its owner."""
    user, tenant, pair = accounts.register(data)
    audit.describe("auth.register", "tenant", tenant.id, tenant_id=tenant.id, actor_id=user.id)
    kernel_services().tenants.invalidate()
    accounts.send_verification(user)
    return {"user": user_json(user), "tenant": tenant, **pair_json(pair)}


@blp.post("/login")
@blp.arguments(LoginSchema)
@blp.response(200, TokenPairSchema)
@blp.alt_response(401, description="Wrong email or password")
@blp.alt_response(403, description="Account disabled, not a member of `tenant`, or tenant suspended")
@blp.alt_response(429, description="Too many failed attempts")
def login(data: dict[str, Any]) -> dict[str, Any]:
    """Exchange email and password for a token pair (of ``tenant``, or the first one)."""
    pair = accounts.login(data["email"], data["password"], data.get("tenant"), request.remote_addr or "")
    audit.skip()
    return pair_json(pair)


@blp.post("/refresh")
@blp.arguments(RefreshSchema)
@blp.response(200, TokenPairSchema)
@blp.alt_response(401, description="The refresh token is invalid, expired or spent")
def refresh(data: dict[str, Any]) -> dict[str, Any]:
    """Rotate a refresh token; a spent one revokes its whole family."""
    audit.skip()
    return pair_json(accounts.refresh(data["refresh_token"]))


@blp.post("/logout")
@blp.arguments(RefreshSchema)
@blp.response(204)
def logout(data: dict[str, Any]) -> None:
    """Revoke the refresh token and every token rotated from the same login."""
    audit.skip()
    accounts.logout(data["refresh_token"])


@blp.get("/me")
@auth_required(tenant=False)
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """The caller, its current tenant and role, and every tenant it belongs to."""
    principal = authenticate()
    tenant = db.session.get(Tenant, principal.tenant_id) if principal.tenant_id else None
    user = db.session.get(User, principal.user_id) if principal.user_id else None
    if user is None:
        problem(401, "unauthenticated", title="Authentication required", detail="Unknown user.")
    assert user is not None
    permissions = kernel_services().permissions
    memberships = [] if principal.kind == "api_key" else [
        {"tenant": t, "role": m.role} for m, t in accounts.memberships_of(user.id)
    ]
    return {
        "user": user_json(user),
        "tenant": tenant,
        "role": principal.role,
        "permissions": permissions.of_role(principal.role) if principal.role else [],
        "memberships": memberships,
        "auth": principal.kind,
    }


@blp.post("/switch-tenant")
@auth_required(tenant=False)
@blp.arguments(SwitchTenantSchema)
@blp.response(200, TokenPairSchema)
def switch_tenant(data: dict[str, Any]) -> dict[str, Any]:
    """Tokens for another tenant the caller belongs to (by slug or id)."""
    principal = authenticate()
    if principal.kind != "user" or principal.user_id is None:
        problem(403, "forbidden", title="Forbidden", detail="API keys are bound to one tenant.")
    assert principal.user_id is not None
    audit.skip()
    return pair_json(accounts.switch_tenant(principal.user_id, data["tenant"]))


@blp.post("/password/forgot")
@blp.arguments(ForgotSchema)
@blp.response(202)
def forgot_password(data: dict[str, Any]) -> Response:
    """Mail a single-use reset link; answers the same whether or not the account exists."""
    audit.skip()
    accounts.forgot_password(data["email"])
    return Response(status=202)  # no body, rather than a JSON ``null``


@blp.post("/password/reset")
@blp.arguments(ResetSchema)
@blp.response(204)
def reset_password(data: dict[str, Any]) -> None:
    """Set a new password with a reset token; every session of the account is revoked."""
    accounts.reset_password(data["token"], data["password"])
    audit.describe("auth.password_reset")


@blp.post("/verify-email")
@blp.arguments(VerifyEmailSchema)
@blp.response(204)
def verify_email(data: dict[str, Any]) -> None:
    """Confirm the account's email address with the mailed token."""
    accounts.verify_email(data["token"])
    audit.describe("auth.verify_email")


@blp.post("/verify-email/resend")
@auth_required(tenant=False)
@blp.response(202)
def resend_verification() -> Response:
    """Mail a new verification link to the caller."""
    principal = current_principal()
    user = db.session.get(User, principal.user_id) if principal and principal.user_id else None
    if user is None or principal is None or principal.kind != "user":
        problem(403, "forbidden", title="Forbidden", detail="Only users verify an email address.")
    assert user is not None
    if user.email_verified_at is None:
        accounts.send_verification(user)
    audit.skip()
    return Response(status=202)
