"""Test helpers: an API client that knows Plugboard's auth, and a real SMTP sink."""

from __future__ import annotations

import email
import re
import socket
import threading
import uuid
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kernel.services import kernel_services

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()


class MailBox:
    """Mail the app sent; reading it first lets queued mail jobs run (``drain``)."""

    def __init__(self, sink: SmtpSink, drain: Any = None) -> None:
        self._sink = sink
        self._drain = drain

    def to(self, address: str) -> list[Message]:
        if self._drain is not None:
            self._drain()
        return [m for m in self._sink.messages if m["To"] == address]

    def last_token(self, address: str) -> str:
        """The token in the newest mail to ``address``."""
        messages = self.to(address)
        assert messages, f"no mail to {address}"
        plain = [p for p in messages[-1].walk() if p.get_content_type() == "text/plain"]
        body = plain[0].get_payload(decode=True).decode()
        match = re.search(r"token=([A-Za-z0-9_-]+)", body)
        assert match, body
        return match.group(1)


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


def _model_tables(app: Flask) -> list[sa.Table]:
    """The tables of every model that exist in ``app``'s database (plugins may be left out)."""
    from kernel.data.base import Base

    existing = set(sa.inspect(kernel_services(app).engine).get_table_names())
    return [t for t in Base.metadata.sorted_tables if t.name in existing]


def row_counts(app: Flask) -> dict[str, int]:
    """Rows per table of every model, across tenants (to show a refused call changed nothing)."""
    from kernel.data.session import db
    from kernel.tenancy.scope import platform_scope

    with app.app_context(), platform_scope():
        return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t)) or 0
                for t in _model_tables(app)}


def snapshot(app: Flask, skip: tuple[str, ...] = ("audit_log",)) -> dict[str, list[dict[str, Any]]]:
    """Every row of every model's table (but ``skip``), sorted, for before/after comparisons."""
    from kernel.data.session import db
    from kernel.tenancy.scope import platform_scope

    out: dict[str, list[dict[str, Any]]] = {}
    with app.app_context(), platform_scope():
        for table in _model_tables(app):
            if table.name not in skip:
                rows = [dict(r) for r in db.session.execute(sa.select(table)).mappings()]
                out[table.name] = sorted(rows, key=lambda r: [str(v) for v in r.values()])
    return out


def assert_rejected(api: Api, method: str, path: str, account: Account | None, body: Any,
                    pointer: str) -> dict[str, Any]:
    """``body`` gets a 422 validation problem naming ``pointer``, and no table changes."""
    before = row_counts(api.app)
    resp = api.call(method, path, account, json=body)
    problem = assert_problem(resp, 422, "validation-error")
    pointers = [e["pointer"] for e in problem["errors"]]
    assert pointer in pointers, problem["errors"]
    assert row_counts(api.app) == before
    return problem
