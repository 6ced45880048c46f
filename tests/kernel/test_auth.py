"""Registration, login (with throttling), /auth/me and switching tenants."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data.models import RefreshToken, Tenant, User
from kernel.data.session import db
from kernel.identity.credentials import token_digest
from kernel.tenancy.scope import platform_scope
from tests.helpers import PASSWORD, Account, Api, assert_problem, row_counts

MAX_PER_ACCOUNT = 3
MAX_PER_IP = 5


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["login_max_failures_per_account"] = MAX_PER_ACCOUNT
    app_config["login_max_failures_per_ip"] = MAX_PER_IP
    return app_config




def registration(slug: str = "acme", **changes: Any) -> dict[str, Any]:
    body = {"email": f"owner@{slug}.example.com", "password": PASSWORD, "name": "Owner",
            "tenant_name": "Acme Inc", "tenant_slug": slug}
    body.update(changes)
    return body


def two_tenant_user(api: Api) -> tuple[Account, Account]:
    """``alice`` owns tenant alpha and is a manager of beta, which ``bob`` owns."""
    alice = api.register("alpha", "alice@example.com")
    bob = api.register("beta", "bob@example.com")
    resp = api.post("/api/v1/tenant/members", bob, json={"email": alice.email, "role": "manager"})
    assert resp.status_code == 201, resp.get_json()
    return alice, bob


def me(api: Api, token: str) -> dict[str, Any]:
    resp = api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


# --- register ---------------------------------------------------------------------------


def test_register_creates_tenant_owner_and_tokens(api: Api, app: Flask) -> None:
    resp = api.post("/api/v1/auth/register", json=registration(email="Owner@ACME.example.com"))
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["user"]["email"] == "owner@acme.example.com"
    assert body["user"]["email_verified"] is False
    assert "password" not in body["user"]
    assert body["tenant"]["slug"] == "acme" and body["tenant"]["status"] == "active"
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    info = me(api, body["access_token"])
    assert info["role"] == "owner" and info["tenant"]["id"] == body["tenant"]["id"]
    assert "members.write" in info["permissions"]
    assert [m["tenant"]["slug"] for m in info["memberships"]] == ["acme"]


def test_register_stores_argon2id_hash_and_hashed_refresh_token(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    with app.app_context(), platform_scope():
        user = db.session.get(User, uuid.UUID(acct.user_id))
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        hashes = db.session.scalars(sa.select(RefreshToken.token_hash)).all()
    assert hashes == [token_digest(acct.refresh_token)]
    assert acct.refresh_token not in hashes


@pytest.mark.parametrize(("changes", "pointer"), [
    ({"email": "not-an-email"}, "/email"),
    ({"password": "short"}, "/password"),
    ({"password": "x" * 257}, "/password"),
    ({"name": ""}, "/name"),
    ({"tenant_slug": "Bad_Slug"}, "/tenant_slug"),
    ({"tenant_slug": "-leading"}, "/tenant_slug"),
    ({"tenant_slug": "x" * 64}, "/tenant_slug"),
    ({"tenant_slug": 42}, "/tenant_slug"),
    ({"email": None}, "/email"),
])
def test_register_rejects_bad_fields(
    api: Api, app: Flask, changes: dict[str, Any], pointer: str
) -> None:
    api.register("existing")
    before = row_counts(app)
    resp = api.post("/api/v1/auth/register", json=registration(**changes))
    problem = assert_problem(resp, 422, "validation-error")
    assert [e["pointer"] for e in problem["errors"]] == [pointer]
    assert row_counts(app) == before


@pytest.mark.parametrize("slug", ["www", "api", "admin"])
def test_register_rejects_reserved_slugs(api: Api, app: Flask, slug: str) -> None:
    # Reserved labels never resolve as storefront subdomains, so no tenant may take them.
    before = row_counts(app)
    problem = assert_problem(api.post("/api/v1/auth/register", json=registration(slug)), 422)
    assert problem["errors"][0]["pointer"] == "/tenant_slug"
    assert row_counts(app) == before


def test_register_conflicts_leave_nothing_behind(api: Api, app: Flask) -> None:
    api.register("acme", "owner@acme.example.com")
    before = row_counts(app)
    taken_email = registration("other", email="OWNER@acme.example.com")
    problem = assert_problem(api.post("/api/v1/auth/register", json=taken_email), 409, "email-taken")
    assert problem["errors"][0]["pointer"] == "/email"
    taken_slug = registration("acme", email="someone@else.example.com")
    problem = assert_problem(api.post("/api/v1/auth/register", json=taken_slug), 409, "slug-taken")
    assert problem["errors"][0]["pointer"] == "/tenant_slug"
    assert row_counts(app) == before


# --- login ------------------------------------------------------------------------------


def test_login_returns_a_working_pair(api: Api) -> None:
    acct = api.register("acme")
    tokens = api.login(acct.email.upper())
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    assert tokens["refresh_token"] != acct.refresh_token
    info = me(api, tokens["access_token"])
    assert info["tenant"]["slug"] == "acme" and info["auth"] == "user"


def test_login_failures_look_alike_and_change_nothing(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    before = row_counts(app)
    wrong = api.post("/api/v1/auth/login", json={"email": acct.email, "password": "wrong pw 123"})
    unknown = api.post("/api/v1/auth/login",
                       json={"email": "nobody@example.com", "password": PASSWORD})
    first = assert_problem(wrong, 401, "invalid-credentials")
    second = assert_problem(unknown, 401, "invalid-credentials")
    assert first["detail"] == second["detail"]
    assert row_counts(app) == before


def test_login_to_a_disabled_account_is_refused(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    with app.app_context():
        db.session.execute(sa.update(User).values(is_active=False))
        db.session.commit()
    resp = api.post("/api/v1/auth/login", json={"email": acct.email, "password": PASSWORD})
    assert_problem(resp, 403, "account-disabled")


def test_login_into_a_chosen_tenant(api: Api, app: Flask) -> None:
    alice, bob = two_tenant_user(api)
    beta = api.login(alice.email, tenant="beta")
    info = me(api, beta["access_token"])
    assert info["tenant"]["slug"] == "beta" and info["role"] == "manager"
    by_id = api.login(alice.email, tenant=bob.tenant_id)
    assert me(api, by_id["access_token"])["tenant"]["slug"] == "beta"
    before = row_counts(app)
    resp = api.post("/api/v1/auth/login",
                    json={"email": bob.email, "password": PASSWORD, "tenant": "alpha"})
    assert_problem(resp, 403, "not-a-member")
    assert row_counts(app) == before


def test_login_throttled_per_account(api: Api) -> None:
    acct = api.register("acme")
    other = api.register("other")
    bad = {"email": acct.email, "password": "wrong password"}
    for _ in range(MAX_PER_ACCOUNT):
        assert_problem(api.post("/api/v1/auth/login", json=bad), 401)
    # Even the right password waits now: the account is locked for the window.
    resp = api.post("/api/v1/auth/login", json={"email": acct.email, "password": PASSWORD})
    problem = assert_problem(resp, 429, "too-many-login-attempts")
    retry = int(resp.headers["Retry-After"])
    assert 1 <= retry <= 900
    assert str(retry) in problem["detail"]
    assert api.login(other.email)["access_token"]


def test_successful_login_resets_the_account_counter(api: Api) -> None:
    acct = api.register("acme")
    bad = {"email": acct.email, "password": "wrong password"}
    for _ in range(MAX_PER_ACCOUNT - 1):
        assert_problem(api.post("/api/v1/auth/login", json=bad), 401)
    api.login(acct.email)
    for _ in range(MAX_PER_ACCOUNT - 1):
        assert_problem(api.post("/api/v1/auth/login", json=bad), 401)
    assert api.login(acct.email)["access_token"]


def test_login_throttled_per_ip(api: Api) -> None:
    acct = api.register("acme")
    here = {"REMOTE_ADDR": "203.0.113.7"}
    for n in range(MAX_PER_IP):
        resp = api.post("/api/v1/auth/login", environ_base=here,
                        json={"email": f"guess{n}@example.com", "password": "wrong password"})
        assert_problem(resp, 401)
    resp = api.post("/api/v1/auth/login", environ_base=here,
                    json={"email": acct.email, "password": PASSWORD})
    assert_problem(resp, 429, "too-many-login-attempts")
    assert int(resp.headers["Retry-After"]) >= 1
    elsewhere = api.post("/api/v1/auth/login", environ_base={"REMOTE_ADDR": "198.51.100.9"},
                         json={"email": acct.email, "password": PASSWORD})
    assert elsewhere.status_code == 200, elsewhere.get_json()


# --- me and switch-tenant ---------------------------------------------------------------


def test_me_requires_authentication(api: Api) -> None:
    resp = api.get("/api/v1/auth/me")
    assert_problem(resp, 401, "unauthenticated")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_switch_tenant_between_memberships(api: Api, app: Flask) -> None:
    alice, _bob = two_tenant_user(api)
    info = me(api, alice.access_token)
    assert {m["tenant"]["slug"]: m["role"] for m in info["memberships"]} == {
        "alpha": "owner", "beta": "manager"}
    resp = api.post("/api/v1/auth/switch-tenant", alice, json={"tenant": "beta"})
    assert resp.status_code == 200, resp.get_json()
    switched = resp.get_json()
    info = me(api, switched["access_token"])
    assert info["tenant"]["slug"] == "beta" and info["role"] == "manager"
    refreshed = api.post("/api/v1/auth/refresh", json={"refresh_token": switched["refresh_token"]})
    assert me(api, refreshed.get_json()["access_token"])["tenant"]["slug"] == "beta"
    tenant = api.get("/api/v1/tenant", headers={"Authorization": f"Bearer {switched['access_token']}"})
    assert tenant.get_json()["slug"] == "beta"


def test_switch_tenant_refuses_non_members(api: Api, app: Flask) -> None:
    _alice, bob = two_tenant_user(api)
    api.register("gamma", "carol@example.com")
    before = row_counts(app)
    for target in ("gamma", "no-such-tenant", str(uuid.uuid4())):
        resp = api.post("/api/v1/auth/switch-tenant", bob, json={"tenant": target})
        assert_problem(resp, 403, "not-a-member")
    resp = api.post("/api/v1/auth/switch-tenant", json={"tenant": "alpha"})
    assert_problem(resp, 401, "unauthenticated")
    assert row_counts(app) == before


def test_a_suspended_tenant_cannot_be_entered(api: Api, app: Flask) -> None:
    alice, _bob = two_tenant_user(api)
    with app.app_context():
        db.session.execute(sa.update(Tenant).where(Tenant.slug == "beta").values(status="suspended"))
        db.session.commit()
    before = row_counts(app)
    resp = api.post("/api/v1/auth/switch-tenant", alice, json={"tenant": "beta"})
    assert_problem(resp, 403, "tenant-suspended")
    resp = api.post("/api/v1/auth/login",
                    json={"email": alice.email, "password": PASSWORD, "tenant": "beta"})
    assert_problem(resp, 403, "tenant-suspended")
    assert row_counts(app) == before
    # Without a tenant, login picks an active one.
    assert me(api, api.login(alice.email)["access_token"])["tenant"]["slug"] == "alpha"
