"""Callers of a Plugboard app in tests: accounts with tokens, and JSON helpers over Flask's client.

:class:`Api` registers tenants, adds members, makes platform admins and calls routes as any
of them; :func:`assert_problem` checks an RFC 9457 answer. The project's own suite and
plugin authors' suites (through :mod:`plugboard.testing`) use the same ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kernel.services import kernel_services

PASSWORD = "correct horse battery"  # noqa: S105 - throw-away test accounts


@dataclass
class Account:
    email: str
    password: str
    user_id: str
    tenant_id: str
    tenant_slug: str
    access_token: str
    refresh_token: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Api:
    """Thin JSON helpers over Flask's test client."""

    def __init__(self, client: FlaskClient, app: Flask) -> None:
        self.client = client
        self.app = app

    def call(self, method: str, path: str, account: Account | None = None,
             headers: dict[str, str] | None = None, **kwargs: Any) -> TestResponse:
        all_headers = dict(account.headers if account else {})
        all_headers.update(headers or {})
        return self.client.open(path, method=method, headers=all_headers, **kwargs)

    def get(self, path: str, account: Account | None = None, **kw: Any) -> TestResponse:
        return self.call("GET", path, account, **kw)

    def post(self, path: str, account: Account | None = None, **kw: Any) -> TestResponse:
        return self.call("POST", path, account, **kw)

    def put(self, path: str, account: Account | None = None, **kw: Any) -> TestResponse:
        return self.call("PUT", path, account, **kw)

    def patch(self, path: str, account: Account | None = None, **kw: Any) -> TestResponse:
        return self.call("PATCH", path, account, **kw)

    def delete(self, path: str, account: Account | None = None, **kw: Any) -> TestResponse:
        return self.call("DELETE", path, account, **kw)

    def register(self, slug: str | None = None, email_addr: str | None = None,
                 password: str = PASSWORD) -> Account:
        slug = slug or f"t-{uuid.uuid4().hex[:8]}"
        email_addr = email_addr or f"owner@{slug}.example.com"
        resp = self.post("/api/v1/auth/register", json={
            "email": email_addr, "password": password, "name": f"Owner of {slug}",
            "tenant_name": f"Tenant {slug}", "tenant_slug": slug,
        })
        assert resp.status_code == 201, resp.get_json()
        body = resp.get_json()
        return Account(email_addr, password, body["user"]["id"], body["tenant"]["id"], slug,
                       body["access_token"], body["refresh_token"])

    def login(self, email_addr: str, password: str = PASSWORD, tenant: str | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"email": email_addr, "password": password}
        if tenant:
            payload["tenant"] = tenant
        resp = self.post("/api/v1/auth/login", json=payload)
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()  # type: ignore[no-any-return]

    def add_member(self, owner: Account, email_addr: str, role: str) -> Account:
        """Add a member with ``role`` and log them in (via the mailed set-password link)."""
        resp = self.post("/api/v1/tenant/members", owner, json={"email": email_addr, "role": role})
        assert resp.status_code == 201, resp.get_json()
        return self.account_for(email_addr, owner.tenant_slug, resp.get_json())

    def account_for(self, email_addr: str, tenant_slug: str, member: dict[str, Any]) -> Account:
        with self.app.app_context():
            from kernel.data.models import User
            from kernel.data.session import db

            passwords = kernel_services(self.app).passwords
            user = db.session.get(User, uuid.UUID(member["user_id"]))
            assert user is not None
            user.password_hash = passwords.hash(PASSWORD)
            db.session.commit()
        tokens = self.login(email_addr, tenant=tenant_slug)
        return Account(email_addr, PASSWORD, member["user_id"], "", tenant_slug,
                       tokens["access_token"], tokens["refresh_token"])

    def make_admin(self, email_addr: str = "root@platform.example.com") -> Account:
        with self.app.app_context():
            from kernel.data.session import db
            from kernel.identity.accounts import promote_admin

            user = promote_admin(email_addr, PASSWORD, "Root")
            db.session.commit()
            user_id = str(user.id)
        tokens = self.login(email_addr)
        return Account(email_addr, PASSWORD, user_id, "", "", tokens["access_token"],
                       tokens["refresh_token"])


def assert_problem(resp: TestResponse, status: int, type_suffix: str | None = None) -> dict[str, Any]:
    """The response is an RFC 9457 problem with ``status``; returns its body."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:500])
    assert resp.mimetype == "application/problem+json", resp.mimetype
    body: dict[str, Any] = resp.get_json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert "Traceback" not in resp.get_data(as_text=True)
    if type_suffix:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    return body
