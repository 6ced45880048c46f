"""Storefront accounts of customers: tokens, login, refresh rotation, password reset.

Customer tokens are JWTs signed with their own HKDF sub-key (``jwt-customer``) and carry
their own audience (``customer``) and tenant: a customer token never verifies on a staff
route (other key), a staff token never verifies on a customer route, and a customer of
tenant A is refused on tenant B's storefront (the token's tenant must be the one the
request's Host / ``X-Tenant`` resolves to). Refresh tokens rotate on every use and a
reused one revokes its whole family, as for staff.

.. versionadded:: 1.1
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar, cast

import jwt
import sqlalchemy as sa
from flask import g, request

from kernel.config import Settings
from kernel.data.base import utcnow
from kernel.data.session import db
from kernel.identity.credentials import JWT_ALGORITHM, derive_key, new_token, token_digest
from kernel.identity.customers import Customer, CustomerRefreshToken, CustomerToken, customer_by_email
from kernel.problems import problem
from kernel.services import kernel_services
from kernel.tenancy.scope import current_tenant_id, enter_tenant_scope

F = TypeVar("F", bound=Callable[..., Any])

AUDIENCE = "customer"
RESET = "password_reset"


@dataclass(frozen=True)
class CustomerTokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type name, not a secret


class CustomerTokens:
    """Signs and checks customer access tokens (``aud=customer``, ``tid`` = tenant)."""

    def __init__(self, settings: Settings) -> None:
        self._key = derive_key(settings.secret_key, "jwt-customer")
        self.ttl = settings.access_token_ttl

    def issue(self, customer_id: uuid.UUID, tenant_id: uuid.UUID, now: dt.datetime | None = None) -> str:
        now = now or dt.datetime.now(dt.UTC)
        claims = {"sub": str(customer_id), "tid": str(tenant_id), "aud": AUDIENCE, "typ": "access",
                  "iat": now, "exp": now + dt.timedelta(seconds=self.ttl), "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)

    def check(self, token: str) -> tuple[uuid.UUID, uuid.UUID]:
        """``(customer id, tenant id)``; raises ``jwt.InvalidTokenError`` when anything is off."""
        claims = jwt.decode(token, self._key, algorithms=[JWT_ALGORITHM], audience=AUDIENCE,
                            options={"require": ["exp", "iat", "sub", "tid", "aud", "typ"]})
        if claims.get("typ") != "access":
            raise jwt.InvalidTokenError("not an access token")
        try:
            return uuid.UUID(claims["sub"]), uuid.UUID(claims["tid"])
        except (ValueError, TypeError) as exc:
            raise jwt.InvalidTokenError("malformed claims") from exc


def _settings() -> Settings:
    return kernel_services().settings


def _tokens() -> CustomerTokens:
    return kernel_services().customer_tokens


def _unauthorized(detail: str) -> NoReturn:
    problem(401, "unauthenticated", title="Authentication required", detail=detail,
            headers={"WWW-Authenticate": 'Bearer realm="plugboard-storefront"'})


def issue_pair(customer: Customer, family_id: uuid.UUID | None = None) -> CustomerTokenPair:
    refresh = new_token()
    now = utcnow()
    db.session.add(CustomerRefreshToken(
        tenant_id=customer.tenant_id, customer_id=customer.id, family_id=family_id or uuid.uuid4(),
        token_hash=token_digest(refresh),
        expires_at=now + dt.timedelta(seconds=_settings().refresh_token_ttl)))
    tokens = _tokens()
    return CustomerTokenPair(tokens.issue(customer.id, customer.tenant_id, now=now), refresh, tokens.ttl)


# -- account life cycle (inside the storefront tenant's scope) -----------------------------


def register(email: str, password: str, name: str, phone: str | None,
             marketing_consent: bool) -> tuple[Customer, CustomerTokenPair]:
    """A storefront account: a new customer, or a guest (no password yet) claiming theirs."""
    from kernel.identity.customers import create_customer

    passwords = kernel_services().passwords
    existing = customer_by_email(email)
    if existing is not None and (existing.has_account or existing.erased_at is not None):
        problem(409, "account-exists", title="Account exists",
                detail="An account with this email exists; log in or reset the password.",
                errors=[{"field": "email", "pointer": "/email", "location": "json",
                         "message": "already registered"}])
    if existing is None:
        customer = create_customer(email, name, phone, marketing_consent, passwords.hash(password))
    else:  # a guest from an earlier checkout: the same person, now with a login
        customer = existing
        customer.password_hash = passwords.hash(password)
        customer.name = name or customer.name
        customer.phone = phone or customer.phone
        customer.marketing_consent = marketing_consent
    customer.last_login_at = utcnow()
    return customer, issue_pair(customer)


def _throttle_key(email: str) -> str:
    return f"customer:{current_tenant_id()}:{email.strip().lower()}"


def login(email: str, password: str, ip: str) -> CustomerTokenPair:
    throttle = kernel_services().throttle
    passwords = kernel_services().passwords
    key = _throttle_key(email)
    throttle.check(key, ip)
    customer = customer_by_email(email)
    stored = customer.password_hash if customer is not None and customer.is_active else None
    if not passwords.verify(stored, password) or customer is None:
        throttle.failed(key, ip)
        problem(401, "invalid-credentials", title="Invalid credentials",
                detail="The email or password is wrong.")
    assert customer is not None and customer.password_hash is not None
    throttle.succeeded(key)
    if passwords.needs_rehash(customer.password_hash):
        customer.password_hash = passwords.hash(password)
    customer.last_login_at = utcnow()
    return issue_pair(customer)


def refresh(token: str) -> CustomerTokenPair:
    now = utcnow()
    row = db.session.scalars(
        sa.select(CustomerRefreshToken)
        .where(CustomerRefreshToken.token_hash == token_digest(token)).with_for_update()
    ).one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        problem(401, "invalid-refresh-token", title="Invalid refresh token",
                detail="The refresh token is unknown, expired or revoked; log in again.")
    assert row is not None
    if row.used_at is not None:
        revoke_family(row.family_id)
        db.session.commit()  # the revocation must stand although the request fails
        problem(401, "refresh-token-reused", title="Refresh token reused",
                detail="This refresh token was already used; every session of this login has "
                "been revoked. Log in again.")
    customer = db.session.get(Customer, row.customer_id)
    if customer is None or not customer.is_active:
        problem(401, "invalid-refresh-token", title="Invalid refresh token",
                detail="The account is disabled.")
    assert customer is not None
    row.used_at = now
    return issue_pair(customer, family_id=row.family_id)


def revoke_family(family_id: uuid.UUID) -> None:
    db.session.execute(
        sa.update(CustomerRefreshToken)
        .where(CustomerRefreshToken.family_id == family_id, CustomerRefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()))


def logout(token: str) -> None:
    row = db.session.scalars(
        sa.select(CustomerRefreshToken).where(CustomerRefreshToken.token_hash == token_digest(token))
    ).one_or_none()
    if row is not None:
        revoke_family(row.family_id)


def create_reset_token(customer: Customer, ttl: int) -> str:
    token = new_token()
    db.session.add(CustomerToken(tenant_id=customer.tenant_id, customer_id=customer.id,
                                 purpose=RESET, token_hash=token_digest(token),
                                 expires_at=utcnow() + dt.timedelta(seconds=ttl)))
    return token


def reset_password(token: str, password: str) -> Customer:
    row = db.session.scalars(
        sa.select(CustomerToken).where(CustomerToken.token_hash == token_digest(token),
                                       CustomerToken.purpose == RESET).with_for_update()
    ).one_or_none()
    customer = db.session.get(Customer, row.customer_id) if row is not None else None
    if (row is None or row.used_at is not None or row.expires_at <= utcnow()
            or customer is None or not customer.is_active):
        problem(400, "invalid-token", title="Invalid or expired token",
                detail="The token is unknown, already used or expired; ask for a new one.")
    assert row is not None and customer is not None
    now = utcnow()
    db.session.execute(  # older reset mails must not change the new password again
        sa.update(CustomerToken)
        .where(CustomerToken.customer_id == customer.id, CustomerToken.used_at.is_(None))
        .values(used_at=now))
    customer.password_hash = kernel_services().passwords.hash(password)
    customer.email_verified_at = customer.email_verified_at or now  # owning the mailbox proves it
    db.session.execute(
        sa.update(CustomerRefreshToken)
        .where(CustomerRefreshToken.customer_id == customer.id,
               CustomerRefreshToken.revoked_at.is_(None))
        .values(revoked_at=now))
    return customer


# -- the caller of a storefront request -------------------------------------------------------


def authenticate_customer() -> Customer:
    """The customer calling this storefront request; 401 problem otherwise.

    Needs the storefront tenant's scope to be open (``public_tenant()`` then
    ``tenant_scope``, which :func:`customer_required` does).
    """
    cached = g.get("customer")
    if cached is not None:
        return cast(Customer, cached)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        _unauthorized("Log in: send `Authorization: Bearer <customer access token>`.")
    try:
        customer_id, tenant_id = _tokens().check(token.strip())
    except jwt.ExpiredSignatureError:
        _unauthorized("The access token has expired; refresh it.")
    except jwt.InvalidTokenError:
        _unauthorized("The access token is not a customer token of this storefront.")
    if tenant_id != current_tenant_id():
        _unauthorized("The access token is not a customer token of this storefront.")
    customer = db.session.get(Customer, customer_id)
    if customer is None or not customer.is_active:
        _unauthorized("The account no longer exists or is disabled.")
    g.customer = customer
    return customer


def current_customer() -> Customer | None:
    """The customer authenticated on this request (after :func:`customer_required`), or None.

    .. versionadded:: 1.1
    """
    return cast(Customer | None, g.get("customer"))


def customer_required(fn: F) -> F:
    """For public (storefront) views: resolve the tenant from Host/``X-Tenant``, open its
    scope, and authenticate a customer token of that tenant (401 problem otherwise).

    .. versionadded:: 1.1
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        open_storefront_scope()
        authenticate_customer()
        return fn(*args, **kwargs)

    doc = wrapper.__dict__.setdefault("_apidoc", {})
    manual = doc.setdefault("manual_doc", {})
    manual["security"] = [{"customerAuth": []}]
    manual.setdefault("responses", {})["401"] = "UNAUTHORIZED"
    return cast(F, wrapper)


def open_storefront_scope() -> uuid.UUID:
    """Open the scope of the tenant the storefront request addresses (404 problem if none)."""
    info = kernel_services().tenants.for_public_request(request)
    if info is None:
        problem(404, "unknown-tenant", title="Unknown tenant",
                detail="No active tenant answers to this Host or X-Tenant header.")
    if "scope_token" not in g:
        g.scope_token = enter_tenant_scope(info.id)
    return info.id
