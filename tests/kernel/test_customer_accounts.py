"""Storefront customer accounts: register, login, refresh rotation, reset, token confusion."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask import Flask

from kernel.data.session import db
from kernel.identity.customers import Customer, CustomerRefreshToken
from kernel.tenancy.scope import tenant_scope
from tests.helpers import Api, MailBox, assert_problem, row_counts

ACCOUNT = "/api/v1/public/account"
SECRET = "customer passphrase 1"


def store(slug: str) -> dict[str, str]:
    return {"X-Tenant": slug}


def register(api: Api, slug: str, email: str = "ann@example.com", **extra: object) -> dict:
    body = {"email": email, "password": SECRET, "name": "Ann", **extra}
    resp = api.post(f"{ACCOUNT}/register", headers=store(slug), json=body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def bearer(token: str, slug: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    return {**headers, **store(slug)} if slug else headers


def test_register_login_me_and_update(api: Api) -> None:
    owner = api.register("shop-a")
    body = register(api, "shop-a", email="Ann@Example.com", phone="+1 415 555 0123")
    assert body["customer"]["email"] == "ann@example.com"
    assert body["customer"]["phone"] == "+14155550123"
    assert body["customer"]["has_account"] is True
    assert "password" not in body["customer"] and "password_hash" not in body["customer"]
    resp = api.post(f"{ACCOUNT}/login", headers=store("shop-a"),
                    json={"email": "ann@example.com", "password": SECRET})
    assert resp.status_code == 200
    token = resp.get_json()["access_token"]
    me = api.get(f"{ACCOUNT}/me", headers=bearer(token, "shop-a"))
    assert me.status_code == 200 and me.get_json()["name"] == "Ann"
    resp = api.patch(f"{ACCOUNT}/me", headers=bearer(token, "shop-a"),
                     json={"name": "Ann B", "marketing_consent": True})
    assert resp.status_code == 200 and resp.get_json()["marketing_consent"] is True
    # staff see the same person
    listed = api.get("/api/v1/customers?email=ann@example.com", owner).get_json()
    assert [c["name"] for c in listed] == ["Ann B"]


def test_wrong_password_and_unknown_email_answer_alike(api: Api) -> None:
    api.register("shop-a")
    register(api, "shop-a")
    for email, password in (("ann@example.com", "wrong password!"), ("nobody@example.com", SECRET)):
        resp = api.post(f"{ACCOUNT}/login", headers=store("shop-a"),
                        json={"email": email, "password": password})
        assert_problem(resp, 401, "invalid-credentials")


def test_customer_token_never_opens_staff_routes(api: Api) -> None:
    api.register("shop-a")
    token = register(api, "shop-a")["access_token"]
    for path in ("/api/v1/auth/me", "/api/v1/tenant", "/api/v1/customers", "/api/v1/plugins"):
        assert_problem(api.get(path, headers=bearer(token)), 401)


def test_staff_token_never_acts_as_a_customer(api: Api) -> None:
    owner = api.register("shop-a")
    resp = api.get(f"{ACCOUNT}/me", headers=bearer(owner.access_token, "shop-a"))
    assert_problem(resp, 401)
    resp = api.get(f"{ACCOUNT}/me", headers=store("shop-a"))
    assert_problem(resp, 401)


def test_customer_of_one_tenant_is_refused_on_another_storefront(api: Api) -> None:
    api.register("shop-a")
    api.register("shop-b")
    token = register(api, "shop-a")["access_token"]
    assert api.get(f"{ACCOUNT}/me", headers=bearer(token, "shop-a")).status_code == 200
    assert_problem(api.get(f"{ACCOUNT}/me", headers=bearer(token, "shop-b")), 401)
    # the same e-mail is a different person at another tenant
    other = register(api, "shop-b")
    assert other["customer"]["id"] != register_id(api, token, "shop-a")


def register_id(api: Api, token: str, slug: str) -> str:
    return str(api.get(f"{ACCOUNT}/me", headers=bearer(token, slug)).get_json()["id"])


def test_refresh_rotates_and_reuse_revokes_the_family(api: Api) -> None:
    api.register("shop-a")
    first = register(api, "shop-a")
    resp = api.post(f"{ACCOUNT}/refresh", headers=store("shop-a"),
                    json={"refresh_token": first["refresh_token"]})
    assert resp.status_code == 200
    second = resp.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    reused = api.post(f"{ACCOUNT}/refresh", headers=store("shop-a"),
                      json={"refresh_token": first["refresh_token"]})
    assert_problem(reused, 401, "refresh-token-reused")
    # the thief's reuse revoked the rotated token too
    resp = api.post(f"{ACCOUNT}/refresh", headers=store("shop-a"),
                    json={"refresh_token": second["refresh_token"]})
    assert_problem(resp, 401, "invalid-refresh-token")


def test_refresh_token_of_another_tenant_is_unknown_here(api: Api) -> None:
    api.register("shop-a")
    api.register("shop-b")
    pair = register(api, "shop-a")
    resp = api.post(f"{ACCOUNT}/refresh", headers=store("shop-b"),
                    json={"refresh_token": pair["refresh_token"]})
    assert_problem(resp, 401, "invalid-refresh-token")


def test_logout_revokes_the_refresh_token(api: Api) -> None:
    api.register("shop-a")
    pair = register(api, "shop-a")
    resp = api.post(f"{ACCOUNT}/logout", headers=store("shop-a"),
                    json={"refresh_token": pair["refresh_token"]})
    assert resp.status_code == 204
    resp = api.post(f"{ACCOUNT}/refresh", headers=store("shop-a"),
                    json={"refresh_token": pair["refresh_token"]})
    assert_problem(resp, 401, "invalid-refresh-token")


def test_login_is_throttled_per_account(api: Api) -> None:
    api.register("shop-a")
    register(api, "shop-a")
    for _ in range(5):
        api.post(f"{ACCOUNT}/login", headers=store("shop-a"),
                 json={"email": "ann@example.com", "password": "wrong password!"})
    resp = api.post(f"{ACCOUNT}/login", headers=store("shop-a"),
                    json={"email": "ann@example.com", "password": SECRET})
    problem = assert_problem(resp, 429)
    assert int(resp.headers["Retry-After"]) > 0, problem


def test_registering_twice_is_409_and_a_guest_claims_their_record(api: Api, app: Flask) -> None:
    owner = api.register("shop-a")
    guest = api.post("/api/v1/customers", owner, json={"email": "gus@example.com", "name": "Gus"})
    assert guest.status_code == 201 and guest.get_json()["has_account"] is False
    claimed = register(api, "shop-a", email="gus@example.com")
    assert claimed["customer"]["id"] == guest.get_json()["id"]
    resp = api.post(f"{ACCOUNT}/register", headers=store("shop-a"),
                    json={"email": "gus@example.com", "password": SECRET, "name": "Other"})
    assert_problem(resp, 409, "account-exists")


def test_password_reset_by_mail(api: Api, app: Flask, mailbox: MailBox) -> None:
    api.register("shop-a")
    pair = register(api, "shop-a")
    resp = api.post(f"{ACCOUNT}/password/forgot", headers=store("shop-a"),
                    json={"email": "ann@example.com"})
    assert resp.status_code == 202
    token = mailbox.last_token("ann@example.com")
    new = "another customer passphrase"
    resp = api.post(f"{ACCOUNT}/password/reset", headers=store("shop-a"),
                    json={"token": token, "password": new})
    assert resp.status_code == 204, resp.get_json()
    # single use, and every earlier session ends
    again = api.post(f"{ACCOUNT}/password/reset", headers=store("shop-a"),
                     json={"token": token, "password": "yet another passphrase"})
    assert_problem(again, 400, "invalid-token")
    resp = api.post(f"{ACCOUNT}/refresh", headers=store("shop-a"),
                    json={"refresh_token": pair["refresh_token"]})
    assert_problem(resp, 401)
    resp = api.post(f"{ACCOUNT}/login", headers=store("shop-a"),
                    json={"email": "ann@example.com", "password": new})
    assert resp.status_code == 200


def test_forgot_for_unknown_email_mails_nothing(api: Api, mailbox: MailBox) -> None:
    api.register("shop-a")
    resp = api.post(f"{ACCOUNT}/password/forgot", headers=store("shop-a"),
                    json={"email": "nobody@example.com"})
    assert resp.status_code == 202
    assert mailbox.to("nobody@example.com") == []


def test_bad_input_is_422_and_stores_nothing(api: Api, app: Flask) -> None:
    api.register("shop-a")
    before = row_counts(app)
    for body in ({"email": "not-an-email", "password": SECRET},
                 {"email": "a@example.com", "password": "short"},
                 {"email": "a@example.com", "password": SECRET, "phone": "12"},
                 {"email": "a@example.com", "password": SECRET, "role": "owner"}):
        resp = api.post(f"{ACCOUNT}/register", headers=store("shop-a"), json=body)
        assert_problem(resp, 422)
    assert row_counts(app) == before


def test_unknown_storefront_is_404(api: Api) -> None:
    resp = api.post(f"{ACCOUNT}/register", headers=store("nope"),
                    json={"email": "a@example.com", "password": SECRET})
    assert_problem(resp, 404, "unknown-tenant")


def test_refresh_tokens_are_stored_hashed(api: Api, app: Flask) -> None:
    owner = api.register("shop-a")
    pair = register(api, "shop-a")
    with app.app_context(), tenant_scope(uuid.UUID(owner.tenant_id)):
        hashes = db.session.scalars(sa.select(CustomerRefreshToken.token_hash)).all()
        assert hashes and pair["refresh_token"] not in hashes
        row = db.session.scalars(sa.select(Customer)).one()
        assert row.password_hash and SECRET not in row.password_hash
        assert row.password_hash.startswith("$argon2id$")


