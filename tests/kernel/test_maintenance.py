"""Housekeeping jobs: expired tokens purged (live ones kept), orphaned bundle blobs collected."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from croniter import croniter
from flask import Flask

from kernel.data.base import utcnow
from kernel.data.models import RefreshToken
from kernel.data.session import db
from kernel.identity.customers import CustomerRefreshToken
from kernel.registry.bundles import BLOB_PREFIX
from kernel.runtime import maintenance
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope
from tests.helpers import Api
from tests.kernel.bundle_helpers import JS_V1, TENANT_BUNDLE, make_world, zip_bytes


def _age(app: Flask, model: type, **values: object) -> None:
    with app.app_context(), platform_scope():
        db.session.execute(sa.update(model).values(**values))
        db.session.commit()


def _count(app: Flask, model: type) -> int:
    with app.app_context(), platform_scope():
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_purge_removes_expired_and_long_spent_tokens_only(api: Api, app: Flask) -> None:
    owner = api.register("shop")
    api.post("/api/v1/public/account/register", headers={"X-Tenant": "shop"},
             json={"email": "c@example.com", "password": "customer passphrase"})
    fresh = api.login(owner.email)  # a second, live staff session
    assert _count(app, RefreshToken) == 2 and _count(app, CustomerRefreshToken) == 1
    with app.app_context(), platform_scope():  # the first staff session expired
        first = db.session.scalars(sa.select(RefreshToken).order_by(RefreshToken.created_at)).first()
        assert first is not None
        first.expires_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
    _age(app, CustomerRefreshToken, revoked_at=utcnow() - dt.timedelta(days=8))
    with app.app_context():
        removed = maintenance.purge_expired()
    assert removed["refresh_tokens"] == 1 and removed["customer_refresh_tokens"] == 1
    # the live session still refreshes
    resp = api.post("/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert resp.status_code == 200
    with app.app_context():
        assert maintenance.purge_expired()["refresh_tokens"] == 0  # nothing more to do


def test_recently_spent_tokens_are_kept_for_reuse_detection(api: Api, app: Flask) -> None:
    owner = api.register()
    spent = owner.refresh_token
    assert api.post("/api/v1/auth/refresh", json={"refresh_token": spent}).status_code == 200
    with app.app_context():
        maintenance.purge_expired()
    resp = api.post("/api/v1/auth/refresh", json={"refresh_token": spent})
    assert resp.get_json()["type"].endswith("refresh-token-reused")


def test_orphaned_bundle_blobs_are_collected(plugin_app: Callable[..., Flask]) -> None:
    world = make_world(plugin_app)
    world.upload("1.0.0", "bundle.zip", zip_bytes(JS_V1))
    world.rollout("1.0.0")
    storage = kernel_services(world.app).storage
    orphan = BLOB_PREFIX + uuid.uuid4().hex * 2
    storage.put(orphan, b"left by a crashed upload", "application/octet-stream")
    kept = [k for k in storage.list(BLOB_PREFIX) if k != orphan]
    assert len(kept) == len(JS_V1)
    with world.app.app_context():
        assert maintenance.collect_bundle_blobs() == 1
    assert storage.list(BLOB_PREFIX) == sorted(kept)
    body = world.api.get(TENANT_BUNDLE, world.a).get_json()
    for entry in body["files"]:
        assert world.api.get(urlsplit(entry["url"]).path).status_code == 200


def test_housekeeping_jobs_are_scheduled_daily(app: Flask) -> None:
    specs = {s.name: s for s in maintenance.kernel_job_specs()}
    assert set(specs) == {"kernel.purge_expired", "kernel.collect_bundle_blobs"}
    for spec in specs.values():
        assert spec.cron and croniter.is_valid(spec.cron)
    registered = kernel_services(app).jobs.specs
    assert set(specs) <= set(registered)
