"""Test helpers: an API client that knows Plugboard's auth, and a real SMTP sink."""

from __future__ import annotations

import email
import re
import socket
import threading
from email.message import Message
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from flask import Flask

from kernel.services import kernel_services
from plugboard.testing.clients import PASSWORD, Account, Api, assert_problem

__all__ = ["PASSWORD", "Account", "Api", "MailBox", "SmtpSink", "assert_problem", "assert_rejected",
           "free_port", "row_counts", "snapshot"]


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
