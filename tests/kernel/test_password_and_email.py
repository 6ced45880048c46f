"""Password reset by single-use, expiring token; email verification."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from flask import Flask

from kernel.data.models import User, UserToken
from kernel.data.session import db
from tests.helpers import PASSWORD, Account, Api, MailBox, assert_problem, row_counts

NEW_PASSWORD = "a brand new passphrase"
FORGOT = "/api/v1/auth/password/forgot"
RESET = "/api/v1/auth/password/reset"
VERIFY = "/api/v1/auth/verify-email"




def reset_token(api: Api, mailbox: MailBox, acct: Account) -> str:
    resp = api.post(FORGOT, json={"email": acct.email})
    assert resp.status_code == 202, resp.get_json()
    return mailbox.last_token(acct.email)


def login_status(api: Api, email: str, password: str) -> int:
    return api.post("/api/v1/auth/login", json={"email": email, "password": password}).status_code


def user_row(app: Flask, acct: Account) -> User:
    with app.app_context():
        user = db.session.get(User, uuid.UUID(acct.user_id))
        assert user is not None
        return user


def expire_tokens(app: Flask, purpose: str) -> None:
    with app.app_context():
        db.session.execute(sa.update(UserToken).where(UserToken.purpose == purpose).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
        db.session.commit()


# --- forgot -----------------------------------------------------------------------------


def test_forgot_mails_a_reset_link(api: Api, app: Flask, mailbox: MailBox) -> None:
    acct = api.register("acme")
    before = len(mailbox.to(acct.email))
    resp = api.post(FORGOT, json={"email": acct.email.upper()})
    assert resp.status_code == 202 and resp.data == b""
    token = mailbox.last_token(acct.email)
    mails = mailbox.to(acct.email)
    assert len(mails) == before + 1
    assert "reset" in mails[-1]["Subject"].lower()
    assert len(token) >= 40
    with app.app_context():
        stored = db.session.scalars(sa.select(UserToken.token_hash)
                                    .where(UserToken.purpose == "password_reset")).all()
    assert len(stored) == 1 and token not in stored[0]


def test_forgot_for_unknown_email_answers_alike_and_mails_nothing(
    api: Api, app: Flask, mailbox: MailBox
) -> None:
    acct = api.register("acme")
    known = api.post(FORGOT, json={"email": acct.email})
    mails = len(mailbox.to(acct.email))
    before = row_counts(app)
    unknown = api.post(FORGOT, json={"email": "nobody@example.com"})
    assert unknown.status_code == known.status_code == 202
    assert unknown.data == known.data
    assert mailbox.to("nobody@example.com") == []
    assert len(mailbox.to(acct.email)) == mails
    assert row_counts(app) == before


def test_forgot_for_a_disabled_account_mails_nothing(
    api: Api, app: Flask, mailbox: MailBox
) -> None:
    acct = api.register("acme")
    with app.app_context():
        db.session.execute(sa.update(User).values(is_active=False))
        db.session.commit()
    mails = len(mailbox.to(acct.email))
    assert api.post(FORGOT, json={"email": acct.email}).status_code == 202
    assert len(mailbox.to(acct.email)) == mails


# --- reset ------------------------------------------------------------------------------


def test_reset_sets_the_password_and_ends_every_session(
    api: Api, app: Flask, mailbox: MailBox
) -> None:
    acct = api.register("acme")
    second = api.login(acct.email)
    token = reset_token(api, mailbox, acct)
    resp = api.post(RESET, json={"token": token, "password": NEW_PASSWORD})
    assert resp.status_code == 204, resp.get_json()
    assert login_status(api, acct.email, PASSWORD) == 401
    assert login_status(api, acct.email, NEW_PASSWORD) == 200
    for refresh_token in (acct.refresh_token, second["refresh_token"]):
        resp = api.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
        assert_problem(resp, 401, "invalid-refresh-token")
    user = user_row(app, acct)
    assert user.password_hash.startswith("$argon2id$")
    assert user.email_verified_at is not None  # the mailbox owner proved the address


def test_reset_token_is_single_use(api: Api, app: Flask, mailbox: MailBox) -> None:
    acct = api.register("acme")
    token = reset_token(api, mailbox, acct)
    assert api.post(RESET, json={"token": token, "password": NEW_PASSWORD}).status_code == 204
    hash_after_reset = user_row(app, acct).password_hash
    before = row_counts(app)
    again = api.post(RESET, json={"token": token, "password": "yet another passphrase"})
    assert_problem(again, 400, "invalid-token")
    assert row_counts(app) == before
    assert user_row(app, acct).password_hash == hash_after_reset


def test_expired_reset_token_is_refused(api: Api, app: Flask, mailbox: MailBox) -> None:
    acct = api.register("acme")
    token = reset_token(api, mailbox, acct)
    expire_tokens(app, "password_reset")
    old_hash = user_row(app, acct).password_hash
    before = row_counts(app)
    assert_problem(api.post(RESET, json={"token": token, "password": NEW_PASSWORD}), 400,
                   "invalid-token")
    assert row_counts(app) == before
    assert user_row(app, acct).password_hash == old_hash
    assert login_status(api, acct.email, PASSWORD) == 200


def test_reset_with_unknown_or_wrong_purpose_token(
    api: Api, app: Flask, mailbox: MailBox
) -> None:
    acct = api.register("acme")
    verify_token = mailbox.last_token(acct.email)  # the registration's verification mail
    before = row_counts(app)
    for token in ("garbage", verify_token):
        resp = api.post(RESET, json={"token": token, "password": NEW_PASSWORD})
        assert_problem(resp, 400, "invalid-token")
    assert row_counts(app) == before
    assert login_status(api, acct.email, PASSWORD) == 200


def test_reset_with_a_weak_password_keeps_the_token(
    api: Api, app: Flask, mailbox: MailBox
) -> None:
    acct = api.register("acme")
    token = reset_token(api, mailbox, acct)
    before = row_counts(app)
    problem = assert_problem(api.post(RESET, json={"token": token, "password": "short"}), 422)
    assert problem["errors"][0]["pointer"] == "/password"
    assert row_counts(app) == before
    assert api.post(RESET, json={"token": token, "password": NEW_PASSWORD}).status_code == 204


def test_a_newer_reset_mail_does_not_revive_a_spent_token(
    api: Api, mailbox: MailBox
) -> None:
    acct = api.register("acme")
    first = reset_token(api, mailbox, acct)
    second = reset_token(api, mailbox, acct)
    assert first != second
    assert api.post(RESET, json={"token": second, "password": NEW_PASSWORD}).status_code == 204
    # The older link was mailed before the password changed; it must not change it again.
    assert_problem(api.post(RESET, json={"token": first, "password": "attacker passphrase"}),
                   400, "invalid-token")
    assert login_status(api, acct.email, NEW_PASSWORD) == 200


# --- email verification -----------------------------------------------------------------


def test_register_mails_a_verification_link(api: Api, app: Flask, mailbox: MailBox) -> None:
    acct = api.register("acme")
    mails = mailbox.to(acct.email)
    assert len(mails) == 1 and "confirm" in mails[0]["Subject"].lower()
    token = mailbox.last_token(acct.email)
    assert api.get("/api/v1/auth/me", acct).get_json()["user"]["email_verified"] is False
    resp = api.post(VERIFY, json={"token": token})
    assert resp.status_code == 204, resp.get_json()
    assert api.get("/api/v1/auth/me", acct).get_json()["user"]["email_verified"] is True
    before = row_counts(app)
    assert_problem(api.post(VERIFY, json={"token": token}), 400, "invalid-token")
    assert row_counts(app) == before


def test_expired_or_unknown_verification_token_is_refused(
    api: Api, app: Flask, mailbox: MailBox
) -> None:
    acct = api.register("acme")
    token = mailbox.last_token(acct.email)
    expire_tokens(app, "verify_email")
    before = row_counts(app)
    for bad in (token, "garbage", reset_token(api, mailbox, acct)):
        after_forgot = row_counts(app)
        assert_problem(api.post(VERIFY, json={"token": bad}), 400, "invalid-token")
        assert row_counts(app) == after_forgot
    assert before["user_tokens"] + 1 == row_counts(app)["user_tokens"]
    assert user_row(app, acct).email_verified_at is None


def test_resend_verification(api: Api, mailbox: MailBox) -> None:
    acct = api.register("acme")
    resp = api.post("/api/v1/auth/verify-email/resend", acct)
    assert resp.status_code == 202 and resp.data == b"", resp.data
    assert len(mailbox.to(acct.email)) == 2
    newest = mailbox.last_token(acct.email)
    assert api.post(VERIFY, json={"token": newest}).status_code == 204
    assert api.post("/api/v1/auth/verify-email/resend", acct).status_code == 202
    assert len(mailbox.to(acct.email)) == 2  # already verified: nothing more to send
    assert_problem(api.post("/api/v1/auth/verify-email/resend"), 401, "unauthenticated")


def test_line_breaks_in_names_never_reach_mail_headers(api: Api, mailbox: MailBox) -> None:
    resp = api.post("/api/v1/auth/register", json={
        "email": "owner@evil.example.com", "password": PASSWORD, "name": "Owner",
        "tenant_name": "Evil\r\nBcc: victim@example.com", "tenant_slug": "evil"})
    assert resp.status_code == 201, resp.get_json()
    owner = Account("owner@evil.example.com", PASSWORD, "", "", "evil",
                    resp.get_json()["access_token"], "")
    resp = api.post("/api/v1/tenant/members", owner,
                    json={"email": "new@example.com", "role": "analyst"})
    assert resp.status_code == 201, resp.get_json()
    invitation = mailbox.to("new@example.com")[-1]
    assert invitation["Subject"] == "You have been added to Evil Bcc: victim@example.com"
    assert invitation["Bcc"] is None
