"""Accounts: registration, login, refresh-token rotation, password reset, email checks.

Refresh tokens are opaque, stored as SHA-256 digests, and rotate on every use. Each
login starts a *family*; presenting a token that was already spent means it leaked,
so the whole family is revoked (OAuth 2.0 Security BCP, refresh token rotation).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kernel.config import Settings
from kernel.data.base import utcnow
from kernel.data.models import Membership, RefreshToken, Tenant, User, UserToken
from kernel.data.session import db
from kernel.identity.credentials import new_token, token_digest
from kernel.problems import problem
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope

RESET = "password_reset"
VERIFY = "verify_email"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type name, not a secret


def _settings() -> Settings:
    return kernel_services().settings


def user_by_email(email: str) -> User | None:
    return db.session.scalars(sa.select(User).where(User.email == email)).one_or_none()


def memberships_of(user_id: uuid.UUID) -> list[tuple[Membership, Tenant]]:
    """Every tenant the user belongs to (a directory look-up across tenants)."""
    with platform_scope():
        rows = db.session.execute(
            sa.select(Membership, Tenant)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.created_at, Tenant.slug)
        ).all()
    return [(m, t) for m, t in rows]


def membership_in(user_id: uuid.UUID, tenant: str | uuid.UUID) -> tuple[Membership, Tenant] | None:
    """The user's membership in ``tenant`` (slug or id), or None."""
    for membership, row in memberships_of(user_id):
        if str(tenant).lower() in (row.slug, str(row.id)):
            return membership, row
    return None


def issue_pair(
    user: User, tenant_id: uuid.UUID | None, role: str | None, family_id: uuid.UUID | None = None
) -> TokenPair:
    settings = _settings()
    refresh = new_token()
    now = utcnow()
    db.session.add(
        RefreshToken(
            user_id=user.id,
            tenant_id=tenant_id,
            family_id=family_id or uuid.uuid4(),
            token_hash=token_digest(refresh),
            expires_at=now + dt.timedelta(seconds=settings.refresh_token_ttl),
        )
    )
    tokens = kernel_services().tokens
    access = tokens.issue(user.id, tenant_id, role, user.is_platform_admin, now=now)
    return TokenPair(access, refresh, tokens.ttl)


def register(data: dict[str, Any]) -> tuple[User, Tenant, TokenPair]:
    passwords = kernel_services().passwords
    if user_by_email(data["email"]) is not None:
        problem(409, "email-taken", title="Email already registered",
                detail="An account with this email exists; log in instead.",
                errors=[{"field": "email", "pointer": "/email", "location": "json",
                         "message": "already registered"}])
    if db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == data["tenant_slug"])):
        problem(409, "slug-taken", title="Tenant slug taken",
                detail=f"The slug {data['tenant_slug']!r} is in use; choose another.",
                errors=[{"field": "tenant_slug", "pointer": "/tenant_slug", "location": "json",
                         "message": "already taken"}])
    user = User(email=data["email"], name=data["name"], password_hash=passwords.hash(data["password"]))
    tenant = Tenant(slug=data["tenant_slug"], name=data["tenant_name"], settings={})
    db.session.add_all([user, tenant])
    db.session.flush()
    with platform_scope():
        db.session.add(Membership(tenant_id=tenant.id, user_id=user.id, role="owner"))
        pair = issue_pair(user, tenant.id, "owner")
        _commit_or_conflict()
    kernel_services().activations.seed_new_tenant(tenant.id, str(user.id))
    return user, tenant, pair


def _commit_or_conflict() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        problem(409, "conflict", title="Conflict",
                detail="A concurrent request created the same record; retry.")


def login(email: str, password: str, tenant: str | None, ip: str) -> TokenPair:
    throttle = kernel_services().throttle
    passwords = kernel_services().passwords
    throttle.check(email, ip)
    user = user_by_email(email)
    if not passwords.verify(user.password_hash if user else None, password) or user is None:
        throttle.failed(email, ip)
        problem(401, "invalid-credentials", title="Invalid credentials",
                detail="The email or password is wrong.")
    assert user is not None
    if not user.is_active:
        problem(403, "account-disabled", title="Account disabled", detail="This account is disabled.")
    throttle.succeeded(email)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    user.last_login_at = utcnow()
    tenant_id, role = _pick_tenant(user, tenant)
    with platform_scope():
        pair = issue_pair(user, tenant_id, role)
        db.session.commit()
    return pair


def _pick_tenant(user: User, tenant: str | None) -> tuple[uuid.UUID | None, str | None]:
    if tenant:
        found = membership_in(user.id, tenant)
        if found is None:
            problem(403, "not-a-member", title="Not a member",
                    detail=f"You are not a member of tenant {tenant!r}.")
        assert found is not None
        if found[1].status != "active":
            problem(403, "tenant-suspended", title="Tenant suspended",
                    detail="That tenant is suspended; contact the platform's support.")
        return found[1].id, found[0].role
    rows = memberships_of(user.id)
    active = [(m, t) for m, t in rows if t.status == "active"]
    if active:
        return active[0][1].id, active[0][0].role
    return None, None


def refresh(token: str) -> TokenPair:
    now = utcnow()
    with platform_scope():
        row = db.session.scalars(
            sa.select(RefreshToken).where(RefreshToken.token_hash == token_digest(token))
            .with_for_update()
        ).one_or_none()
        if row is None or row.revoked_at is not None or row.expires_at <= now:
            problem(401, "invalid-refresh-token", title="Invalid refresh token",
                    detail="The refresh token is unknown, expired or revoked; log in again.")
        assert row is not None
        if row.used_at is not None:
            revoke_family(row.family_id)
            db.session.commit()
            problem(401, "refresh-token-reused", title="Refresh token reused",
                    detail="This refresh token was already used; every session of this login "
                    "has been revoked. Log in again.")
        user = db.session.get(User, row.user_id)
        role: str | None = None
        if row.tenant_id is not None:
            found = membership_in(row.user_id, row.tenant_id)
            if found is None or found[1].status != "active":
                revoke_family(row.family_id)
                db.session.commit()
                problem(401, "invalid-refresh-token", title="Invalid refresh token",
                        detail="You no longer have access to this tenant; log in again.")
            assert found is not None
            role = found[0].role
        if user is None or not user.is_active:
            problem(401, "invalid-refresh-token", title="Invalid refresh token",
                    detail="The account is disabled.")
        assert user is not None
        row.used_at = now
        pair = issue_pair(user, row.tenant_id, role, family_id=row.family_id)
        db.session.commit()
    return pair


def revoke_family(family_id: uuid.UUID) -> None:
    db.session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_user_tokens(user_id: uuid.UUID, tenant_id: uuid.UUID | None = None) -> None:
    """Revoke a user's refresh tokens (of one tenant, or all)."""
    stmt = sa.update(RefreshToken).where(
        RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
    )
    if tenant_id is not None:
        stmt = stmt.where(RefreshToken.tenant_id == tenant_id)
    db.session.execute(stmt.values(revoked_at=utcnow()))


def logout(token: str) -> None:
    with platform_scope():
        row = db.session.scalars(
            sa.select(RefreshToken).where(RefreshToken.token_hash == token_digest(token))
        ).one_or_none()
        if row is not None:
            revoke_family(row.family_id)
            db.session.commit()


def switch_tenant(user_id: uuid.UUID, tenant: str) -> TokenPair:
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        problem(401, "unauthenticated", title="Authentication required", detail="Account disabled.")
    assert user is not None
    found = membership_in(user_id, tenant)
    if found is None:
        problem(403, "not-a-member", title="Not a member",
                detail=f"You are not a member of tenant {tenant!r}.")
    assert found is not None
    if found[1].status != "active":
        problem(403, "tenant-suspended", title="Tenant suspended", detail="That tenant is suspended.")
    with platform_scope():
        pair = issue_pair(user, found[1].id, found[0].role)
        db.session.commit()
    return pair


def create_user_token(user: User, purpose: str, ttl: int) -> str:
    token = new_token()
    db.session.add(UserToken(user_id=user.id, purpose=purpose, token_hash=token_digest(token),
                             expires_at=utcnow() + dt.timedelta(seconds=ttl)))
    return token


def spend_user_token(token: str, purpose: str) -> User:
    """The token's user; the token is marked used. 400 problem when it is not usable."""
    row = db.session.scalars(
        sa.select(UserToken).where(UserToken.token_hash == token_digest(token),
                                   UserToken.purpose == purpose).with_for_update()
    ).one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        problem(400, "invalid-token", title="Invalid or expired token",
                detail="The token is unknown, already used or expired; ask for a new one.")
    assert row is not None
    row.used_at = utcnow()
    user = db.session.get(User, row.user_id)
    assert user is not None
    return user


def forgot_password(email: str) -> None:
    """Queue a reset mail (the job makes the token); same answer whether the account exists."""
    user = user_by_email(email)
    if user is not None and user.is_active:
        kernel_services().jobs.enqueue(
            "kernel.mail_password_reset", user_id=str(user.id))
    db.session.commit()


def reset_password(token: str, password: str) -> None:
    user = spend_user_token(token, RESET)
    user.password_hash = kernel_services().passwords.hash(password)
    # Older reset mails must not change the new password again.
    db.session.execute(
        sa.update(UserToken)
        .where(UserToken.user_id == user.id, UserToken.purpose == RESET,
               UserToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    # Owning the mailbox proves the address too.
    user.email_verified_at = user.email_verified_at or utcnow()
    with platform_scope():
        revoke_user_tokens(user.id)
        db.session.commit()


def send_verification(user: User) -> None:
    """Queue a verification mail (sent after commit, by a job that makes the token)."""
    kernel_services().jobs.enqueue(
        "kernel.mail_verification", user_id=str(user.id))
    db.session.commit()


def verify_email(token: str) -> None:
    user = spend_user_token(token, VERIFY)
    user.email_verified_at = user.email_verified_at or utcnow()
    db.session.commit()


def promote_admin(email: str, password: str, name: str | None = None) -> User:
    """Create a platform admin, or promote an existing user (CLI ``create-admin``); flushes."""
    passwords = kernel_services().passwords
    user = user_by_email(email.strip().lower())
    if user is None:
        user = User(email=email.strip().lower(), name=name or email.split("@")[0],
                    password_hash=passwords.hash(password))
        db.session.add(user)
    else:
        user.password_hash = passwords.hash(password)
    user.is_platform_admin = True
    user.is_active = True
    db.session.flush()
    return user
