"""Shared helpers of the comms tests: fake Twilio and Vapi, a configured tenant, signed posts.

Webhook requests are signed with the providers' real algorithms: twilio's own
``RequestValidator.compute_signature`` and an HMAC-SHA256 as Vapi's credentials send it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from plugins.comms import jobs
from plugins.comms.providers import TWILIO_API_URL_VAR, VAPI_API_URL_VAR
from tests.conftest import drain_jobs
from tests.fakes.twilio import FakeTwilio
from tests.fakes.vapi import FakeVapi
from tests.helpers import Account, Api

COMMS = "/api/v1/comms"
HOOKS = "/api/v1/webhooks/comms"
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "twilio-auth-token-" + "t" * 14
VAPI_KEY = "vapi-private-key-1234"
VAPI_SECRET = "vapi-webhook-secret-5678"
SENDER = "+15005550006"
CUSTOMER = "+263771234567"
OTHER = "+263772000111"
HOST = "http://localhost"


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[FakeTwilio]:
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vapi_server() -> Iterator[FakeVapi]:
    server = FakeVapi().start()
    yield server
    server.stop()


@pytest.fixture
def fake_twilio(twilio_server: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> FakeTwilio:
    twilio_server.reset()
    twilio_server.accounts[ACCOUNT_SID] = AUTH_TOKEN
    monkeypatch.setenv(TWILIO_API_URL_VAR, twilio_server.url)
    monkeypatch.setattr(jobs, "BACKOFF", (0.05, 0.1, 0.2, 0.4))  # the real one waits seconds
    return twilio_server


@pytest.fixture
def fake_vapi(vapi_server: FakeVapi, monkeypatch: pytest.MonkeyPatch) -> FakeVapi:
    vapi_server.reset()
    vapi_server.api_keys.add(VAPI_KEY)
    monkeypatch.setenv(VAPI_API_URL_VAR, vapi_server.url)
    monkeypatch.setattr(jobs, "BACKOFF", (0.05, 0.1, 0.2, 0.4))
    return vapi_server


def config(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "twilio": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN, "from_number": SENDER},
        "vapi": {
            "api_key": VAPI_KEY,
            "assistant_id": "asst-default",
            "phone_number_id": "pn-1",
            "webhook_secret": VAPI_SECRET,
        },
        "sms_per_second": 100,
    }
    base.update(overrides)
    return base


def enable(api: Api, account: Account, **overrides: Any) -> None:
    resp = api.put("/api/v1/plugins/comms/activation", account, json={"enabled": True})
    assert resp.status_code == 200, resp.get_json()
    resp = api.put("/api/v1/plugins/comms/config", account, json=config(**overrides))
    assert resp.status_code == 200, resp.get_json()


@pytest.fixture
def owner(api: Api, fake_twilio: FakeTwilio, fake_vapi: FakeVapi) -> Account:
    account = api.register("acme")
    enable(api, account)
    return account


def tenant_id(api: Api, account: Account) -> str:
    return str(api.get("/api/v1/auth/me", account).get_json()["tenant"]["id"])


def work(app: Flask) -> None:
    """Run queued jobs (a burst rq worker on the Redis profile; inline ones already ran)."""
    drain_jobs(app)


def send(api: Api, account: Account, to: str = CUSTOMER, body: str = "Hello", **extra: Any) -> TestResponse:
    return api.post(f"{COMMS}/sms", account, json={"to": to, "body": body, **extra})


def sent_message(api: Api, account: Account, **kwargs: Any) -> dict[str, Any]:
    resp = send(api, account, **kwargs)
    assert resp.status_code == 202, resp.get_json()
    work(api.app)
    return api.get(f"{COMMS}/messages/{resp.get_json()['id']}", account).get_json()  # type: ignore[no-any-return]


def twilio_post(
    api: Api,
    path: str,
    form: dict[str, str],
    *,
    url: str | None = None,
    token: str = AUTH_TOKEN,
    signature: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """POST ``form`` to ``path`` signed as Twilio signs it for ``url`` (default: the URL hit)."""
    signed_for = url or HOST + path
    sig = signature if signature is not None else RequestValidator(token).compute_signature(signed_for, form)
    return api.client.post(path, data=form, headers={"X-Twilio-Signature": sig, **(headers or {})})


def status(api: Api, tid: str, sid: str, value: str, **extra: str) -> TestResponse:
    form = {
        "MessageSid": sid,
        "MessageStatus": value,
        "AccountSid": ACCOUNT_SID,
        "SmsSid": sid,
        "To": CUSTOMER,
        "From": SENDER,
        "ApiVersion": "2010-04-01",
        **extra,
    }
    return twilio_post(api, f"{HOOKS}/twilio/{tid}/status", form)


def inbound(api: Api, tid: str, body: str, from_: str = CUSTOMER, sid: str | None = None) -> TestResponse:
    form = {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": from_,
        "To": SENDER,
        "Body": body,
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }
    return twilio_post(api, f"{HOOKS}/twilio/{tid}/inbound", form)


def vapi_post(
    api: Api, tid: str, message: dict[str, Any], *, secret: str = VAPI_SECRET, how: str = "hmac"
) -> TestResponse:
    """A Vapi server message, authenticated as a Vapi credential of kind ``how`` would."""
    body = json.dumps({"message": message}).encode()
    headers = {"Content-Type": "application/json"}
    if how == "hmac":
        stamp = str(int(time.time() * 1000))
        digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers.update({"X-Signature": digest, "X-Timestamp": stamp})
    elif how == "secret":
        headers["X-Vapi-Secret"] = secret
    elif how == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    return api.client.post(f"{HOOKS}/vapi/{tid}", data=body, headers=headers)
