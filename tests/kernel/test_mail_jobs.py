"""Kernel mail goes out through jobs: SMTP trouble never changes an answer or leaks a token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel import create_app
from kernel.data.session import db
from kernel.runtime.jobs import JobRun
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope
from tests.conftest import drain_jobs
from tests.helpers import Api, MailBox


@pytest.fixture
def smtp_down_app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app({**app_config, "smtp_url": "smtp://127.0.0.1:1"})  # nothing listens there
    yield app
    kernel_services(app).engine.dispose()


def test_register_and_forgot_answer_the_same_when_smtp_is_down(smtp_down_app: Flask, app: Flask) -> None:
    api = Api(smtp_down_app.test_client(), smtp_down_app)
    owner = api.register("smtp-down")
    known = api.post("/api/v1/auth/password/forgot", json={"email": owner.email})
    unknown = api.post("/api/v1/auth/password/forgot", json={"email": "nobody@example.com"})
    assert (known.status_code, known.data) == (unknown.status_code, unknown.data) == (202, b"")
    drain_jobs(smtp_down_app)
    with smtp_down_app.app_context(), platform_scope():
        runs = db.session.scalars(sa.select(JobRun).where(JobRun.job.like("kernel.mail_%"))).all()
        assert {r.job for r in runs} == {"kernel.mail_verification", "kernel.mail_password_reset"}
        assert all(r.status in ("running", "errored") for r in runs)


def test_mail_jobs_carry_ids_never_tokens(api: Api, app: Flask, mailbox: MailBox) -> None:
    owner = api.register("mail-ids")
    api.post("/api/v1/auth/password/forgot", json={"email": owner.email})
    token = mailbox.last_token(owner.email)
    with app.app_context(), platform_scope():
        runs = db.session.scalars(sa.select(JobRun).where(JobRun.job.like("kernel.mail_%"))).all()
        assert runs and all(r.status == "succeeded" for r in runs)
        assert token not in json.dumps([r.kwargs for r in runs])
    admin = api.make_admin()
    listing = api.get("/api/v1/admin/jobs/runs?job=kernel.mail_password_reset", admin)
    assert listing.status_code == 200 and token not in listing.get_data(as_text=True)
