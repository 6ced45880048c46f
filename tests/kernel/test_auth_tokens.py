"""Access tokens, refresh-token rotation and reuse detection, logout, API keys."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data.models import ApiKey, RefreshToken, Tenant
from kernel.data.session import db
from kernel.identity import credentials as security
from kernel.identity.credentials import derive_key
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope
from tests.helpers import Account, Api, assert_problem, row_counts

ME = "/api/v1/auth/me"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # No tenant cache, so a tenant deleted behind the directory's back is seen at once.
    app_config["tenant_cache_ttl"] = 0
    return app_config




def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refresh(api: Api, token: str) -> Any:
    return api.post("/api/v1/auth/refresh", json={"refresh_token": token})


def sign(claims: dict[str, Any], key: bytes, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def claims_for(acct: Account, **changes: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {"sub": acct.user_id, "tid": acct.tenant_id, "role": "owner",
                              "padm": False, "typ": "access", "iat": now,
                              "exp": now + dt.timedelta(minutes=5), "jti": uuid.uuid4().hex}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not ...}


def b64(data: dict[str, Any]) -> str:
    text = json.dumps(data, default=lambda d: int(d.timestamp()))
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` token: no signature at all."""
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


# --- access tokens ----------------------------------------------------------------------


def test_access_token_works_until_it_expires(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    assert api.get(ME, acct).status_code == 200
    with app.app_context():
        past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        expired = kernel_services(app).tokens.issue(
            uuid.UUID(acct.user_id), uuid.UUID(acct.tenant_id), "owner", now=past)
    problem = assert_problem(api.get(ME, headers=bearer(expired)), 401, "unauthenticated")
    assert "expired" in problem["detail"]


def test_verified_token_is_not_decoded_again(api: Api, app: Flask,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    acct = api.register("acme")
    decoded: list[str] = []
    real_decode = jwt.decode

    def decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", decode)
    for _ in range(5):
        assert api.get(ME, acct).status_code == 200
    assert decoded == [acct.access_token]  # verified once, then remembered


def test_remembered_token_still_expires(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    tokens = kernel_services(app).tokens
    issued_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=tokens.ttl - 2)
    token = tokens.issue(uuid.UUID(acct.user_id), uuid.UUID(acct.tenant_id), "owner", now=issued_at)
    assert api.get(ME, headers=bearer(token)).status_code == 200  # verified and remembered
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    problem = assert_problem(api.get(ME, headers=bearer(token)), 401, "unauthenticated")
    assert "expired" in problem["detail"]


def test_tampered_copy_of_a_remembered_token_is_refused(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    assert api.get(ME, acct).status_code == 200
    tampered = _bad_tokens(acct, app)["tampered payload"]  # same signature, admin claims
    assert_problem(api.get(ME, headers=bearer(tampered)), 401, "unauthenticated")
    assert api.get(ME, acct).status_code == 200


def test_remembered_tokens_are_bounded(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "VERIFIED_TOKENS_CACHED", 3)
    tokens = kernel_services(app).tokens
    issued = [tokens.issue(uuid.uuid4(), uuid.uuid4(), "owner") for _ in range(5)]
    for token in issued:
        tokens.check(token)
    assert list(tokens._verified) == issued[2:]  # the oldest went first


def _bad_tokens(acct: Account, app: Flask) -> dict[str, str]:
    key = derive_key(kernel_services(app).settings.secret_key, "jwt-access")
    header, payload, signature = acct.access_token.split(".")
    forged_payload = b64({**jwt.decode(acct.access_token, options={"verify_signature": False}),
                          "role": "owner", "padm": True})
    return {
        "tampered payload": f"{header}.{forged_payload}.{signature}",
        "tampered signature": f"{header}.{payload}.{signature[::-1]}",
        "other secret": sign(claims_for(acct), derive_key("another-deployment" * 3, "jwt-access")),
        "raw secret key": sign(claims_for(acct), kernel_services(app).settings.secret_key.encode()),
        "alg none": unsigned(claims_for(acct)),
        "not an access token": sign(claims_for(acct, typ="refresh"), key),
        "no typ": sign(claims_for(acct, typ=...), key),
        "no exp": sign(claims_for(acct, exp=...), key),
        "sub not a uuid": sign(claims_for(acct, sub="root"), key),
        "unknown tenant": sign(claims_for(acct, tid=str(uuid.uuid4())), key),
        "refresh token as access": acct.refresh_token,
        "garbage": "garbage",
        "three dots": "a.b.c",
        "empty-ish": "....",
    }


@pytest.mark.parametrize("case", [
    "tampered payload", "tampered signature", "other secret", "raw secret key", "alg none",
    "not an access token", "no typ", "no exp", "sub not a uuid", "unknown tenant",
    "refresh token as access", "garbage", "three dots", "empty-ish",
])
def test_bad_access_tokens_are_401(api: Api, app: Flask, case: str) -> None:
    acct = api.register("acme")
    token = _bad_tokens(acct, app)[case]
    before = row_counts(app)
    resp = api.get(ME, headers=bearer(token))
    assert_problem(resp, 401, "unauthenticated")
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = api.post("/api/v1/auth/switch-tenant", headers=bearer(token), json={"tenant": "acme"})
    assert_problem(resp, 401, "unauthenticated")
    assert row_counts(app) == before


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc"])
def test_malformed_authorization_header_is_401(api: Api, header: str) -> None:
    api.register("acme")
    assert_problem(api.get(ME, headers={"Authorization": header}), 401, "unauthenticated")


def test_token_of_a_deleted_tenant_is_401(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    assert api.get(ME, acct).status_code == 200
    with app.app_context(), platform_scope():
        db.session.execute(sa.delete(Tenant).where(Tenant.slug == "acme"))
        db.session.commit()
    problem = assert_problem(api.get(ME, acct), 401, "unauthenticated")
    assert "tenant" in problem["detail"]
    assert_problem(refresh(api, acct.refresh_token), 401, "invalid-refresh-token")


def test_token_of_a_suspended_tenant_is_403(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    with app.app_context():
        db.session.execute(sa.update(Tenant).values(status="suspended"))
        db.session.commit()
    assert_problem(api.get("/api/v1/tenant", acct), 403, "tenant-suspended")


def test_token_is_bound_to_its_tenant(api: Api) -> None:
    alpha = api.register("alpha")
    api.register("beta")
    resp = api.get("/api/v1/tenant", alpha, headers={"X-Tenant": "beta", "Host": "beta.localhost"})
    assert resp.status_code == 200 and resp.get_json()["slug"] == "alpha"


# --- refresh tokens ---------------------------------------------------------------------


def test_refresh_rotates_the_pair(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    resp = refresh(api, acct.refresh_token)
    assert resp.status_code == 200, resp.get_json()
    pair = resp.get_json()
    assert pair["refresh_token"] != acct.refresh_token and pair["token_type"] == "Bearer"
    assert api.get(ME, headers=bearer(pair["access_token"])).get_json()["role"] == "owner"
    assert refresh(api, pair["refresh_token"]).status_code == 200


def test_reused_refresh_token_revokes_its_family(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    other_login = api.login(acct.email)  # another family: survives
    newer = refresh(api, acct.refresh_token).get_json()["refresh_token"]
    before = row_counts(app)
    assert_problem(refresh(api, acct.refresh_token), 401, "refresh-token-reused")
    assert row_counts(app) == before
    assert_problem(refresh(api, newer), 401, "invalid-refresh-token")
    with app.app_context(), platform_scope():
        revoked = db.session.scalars(
            sa.select(RefreshToken).where(RefreshToken.revoked_at.is_not(None))).all()
    assert len(revoked) == 2 and len({r.family_id for r in revoked}) == 1
    assert refresh(api, other_login["refresh_token"]).status_code == 200


def test_expired_refresh_token_is_401(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    with app.app_context(), platform_scope():
        db.session.execute(sa.update(RefreshToken).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        db.session.commit()
    before = row_counts(app)
    assert_problem(refresh(api, acct.refresh_token), 401, "invalid-refresh-token")
    assert row_counts(app) == before


@pytest.mark.parametrize("token", ["garbage", "x" * 256, "eyJhbGciOiJIUzI1NiJ9.e30.sig"])
def test_unknown_refresh_token_is_401(api: Api, app: Flask, token: str) -> None:
    api.register("acme")
    before = row_counts(app)
    assert_problem(refresh(api, token), 401, "invalid-refresh-token")
    assert row_counts(app) == before


def test_refresh_after_removal_from_tenant_is_401(api: Api) -> None:
    owner = api.register("acme")
    member = api.add_member(owner, "member@example.com", "manager")
    listed = api.get("/api/v1/tenant/members", owner).get_json()
    member_id = next(m["id"] for m in listed if m["email"] == member.email)
    assert api.delete(f"/api/v1/tenant/members/{member_id}", owner).status_code == 204
    assert_problem(refresh(api, member.refresh_token), 401, "invalid-refresh-token")


# --- logout -----------------------------------------------------------------------------


def test_logout_ends_the_session(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    rotated = refresh(api, acct.refresh_token).get_json()["refresh_token"]
    other = api.login(acct.email)
    resp = api.post("/api/v1/auth/logout", json={"refresh_token": rotated})
    assert resp.status_code == 204 and resp.data == b""
    assert_problem(refresh(api, rotated), 401, "invalid-refresh-token")
    assert refresh(api, other["refresh_token"]).status_code == 200
    # Logging out twice, or with an unknown token, reveals nothing.
    assert api.post("/api/v1/auth/logout", json={"refresh_token": rotated}).status_code == 204
    assert api.post("/api/v1/auth/logout", json={"refresh_token": "nope"}).status_code == 204


# --- API keys ---------------------------------------------------------------------------


def _api_key(api: Api, acct: Account, **body: Any) -> dict[str, Any]:
    resp = api.post("/api/v1/api-keys", acct, json={"name": "ci", **body})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def test_api_key_authenticates_as_its_tenant(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    key = _api_key(api, acct, role="manager")
    assert key["key"].startswith("pbk_" + key["prefix"] + "_")
    info = api.get(ME, headers=bearer(key["key"])).get_json()
    assert info["auth"] == "api_key" and info["role"] == "manager"
    assert info["tenant"]["slug"] == "acme"
    with app.app_context(), platform_scope():
        stored = db.session.scalars(sa.select(ApiKey.key_hash)).one()
    assert key["key"] not in stored and key["key"].split("_")[-1] not in stored


def test_api_key_cannot_switch_tenant(api: Api) -> None:
    acct = api.register("acme")
    key = _api_key(api, acct)
    resp = api.post("/api/v1/auth/switch-tenant", headers=bearer(key["key"]), json={"tenant": "acme"})
    assert_problem(resp, 403)


def test_revoked_api_key_is_401(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    key = _api_key(api, acct)
    assert api.get(ME, headers=bearer(key["key"])).status_code == 200
    assert api.delete(f"/api/v1/api-keys/{key['id']}", acct).status_code == 204
    before = row_counts(app)
    assert_problem(api.get(ME, headers=bearer(key["key"])), 401, "unauthenticated")
    assert row_counts(app) == before


def test_expired_api_key_is_401(api: Api, app: Flask) -> None:
    acct = api.register("acme")
    key = _api_key(api, acct)
    with app.app_context(), platform_scope():
        db.session.execute(sa.update(ApiKey).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        db.session.commit()
    assert_problem(api.get(ME, headers=bearer(key["key"])), 401, "unauthenticated")


def test_wrong_or_malformed_api_keys_are_401(api: Api) -> None:
    acct = api.register("acme")
    key = _api_key(api, acct)["key"]
    prefix = key[: len("pbk_") + 8]
    for bad in (key[:-1] + ("A" if key[-1] != "A" else "B"), prefix + "_", "pbk_", "pbk_short_x",
                "pbk_" + "0" * 8 + "_" + key.rsplit("_", 1)[-1]):
        assert_problem(api.get(ME, headers=bearer(bad)), 401, "unauthenticated")
