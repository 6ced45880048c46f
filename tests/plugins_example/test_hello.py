"""The example third-party plugin (``examples/plugboard-hello``), installed as a package.

It must be installed into the environment first (``pip install -e
examples/plugboard-hello``, done by ``make test``): these tests check the kernel finds it
through its entry point, migrates its branch, gates its routes per tenant and wires its
job, event handler and lifecycle hook.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from kernel import create_app
from kernel.data import migrate
from kernel.data.base import Base
from kernel.data.session import db
from kernel.services import kernel_services
from kernel.tenancy.scope import tenant_scope
from tests.helpers import Account, Api, assert_problem

MESSAGES = "/api/v1/hello/messages"
GREETING = "/api/v1/public/hello/greeting"


def fresh_config(tmp_path: Path) -> dict[str, Any]:
    return {"env": "test", "data_dir": str(tmp_path), "secret_key": "x" * 40,
            "password_time_cost": 1, "password_memory_cost": 1024, "password_parallelism": 1,
            "log_level": "WARNING"}


@pytest.fixture
def fresh_app(tmp_path: Path) -> Iterator[Flask]:
    """An app on a new, empty SQLite file (nothing migrated yet)."""
    app = create_app(fresh_config(tmp_path))
    yield app
    kernel_services(app).engine.dispose()


def enable(api: Api, account: Account) -> None:
    resp = api.put("/api/v1/plugins/hello/activation", account, json={"enabled": True})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["changed"] == ["hello"]


# -- installation and discovery ------------------------------------------------------


def test_hello_is_installed_as_an_entry_point() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="plugboard.plugins")}
    assert found.get("hello") == "plugboard_hello.plugin", (
        "install the example first: pip install -e examples/plugboard-hello"
    )


def test_create_app_discovers_hello_through_its_entry_point(fresh_app: Flask) -> None:
    record = kernel_services(fresh_app).registry.records["hello"]
    assert (record.source, record.status, record.error) == ("entry_point", "loaded", None)
    assert record.version == "1.0.0"
    assert record.package == "plugboard_hello"
    assert "plugboard_tenant_enabled" in record.hooks


def test_entry_point_discovery_can_be_switched_off(tmp_path: Path) -> None:
    app = create_app({**fresh_config(tmp_path), "load_entry_points": False})
    assert "hello" not in kernel_services(app).registry.records
    kernel_services(app).engine.dispose()


def test_deny_list_leaves_hello_out(tmp_path: Path) -> None:
    app = create_app({**fresh_config(tmp_path), "plugins_deny": ("hello",)})
    assert kernel_services(app).registry.records["hello"].status == "denied"
    assert all("/hello" not in rule.rule for rule in app.url_map.iter_rules())
    kernel_services(app).engine.dispose()


# -- migrations -------------------------------------------------------------------------


def test_upgrade_creates_the_hello_table_on_a_fresh_database(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        migrate.upgrade(fresh_app)
        inspector = sa.inspect(db.engine)
        assert "hello_messages" in inspector.get_table_names()
        columns = {c["name"] for c in inspector.get_columns("hello_messages")}
        assert columns == {"id", "tenant_id", "text", "author", "created_at"}
        versions = set(db.session.scalars(sa.text("SELECT version_num FROM alembic_version")))
    assert "hello_0001" in versions


def test_hello_branch_downgrades_alone(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        migrate.upgrade(fresh_app)
        migrate.downgrade(fresh_app, "hello@base")
        tables = sa.inspect(db.engine).get_table_names()
    assert "hello_messages" not in tables
    assert "tenants" in tables  # the kernel's branch is untouched


def test_hello_model_and_migration_do_not_drift(fresh_app: Flask) -> None:
    with fresh_app.app_context():
        migrate.upgrade(fresh_app)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, Base.metadata)
    mine = [d for d in diffs if "hello_messages" in repr(d)]
    assert mine == []


# -- routes, gated per tenant (SQLite and PostgreSQL) -----------------------------------


def test_tenant_that_enabled_hello_posts_and_lists_messages(api: Api) -> None:
    alice = api.register()
    enable(api, alice)
    resp = api.post(MESSAGES, alice, json={"text": "first post"})
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["text"] == "first post"
    assert created["author"] == alice.user_id

    resp = api.get(MESSAGES, alice)
    assert resp.status_code == 200
    texts = [m["text"] for m in resp.get_json()]
    assert texts == ["first post", "Hello!"]  # newest first; the welcome from tenant_enabled
    assert '"total": 2' in resp.headers["X-Pagination"]


def test_tenant_without_hello_gets_plugin_not_enabled(api: Api) -> None:
    alice, bob = api.register(), api.register()
    enable(api, alice)
    api.post(MESSAGES, alice, json={"text": "alice only"})
    body = assert_problem(api.get(MESSAGES, bob), 404, "plugin-not-enabled")
    assert body["plugin"] == "hello"
    assert_problem(api.post(MESSAGES, bob, json={"text": "nope"}), 404, "plugin-not-enabled")
    assert_problem(api.get(GREETING, headers={"X-Tenant": bob.tenant_slug}), 404,
                   "plugin-not-enabled")


def test_tenants_see_only_their_own_messages(api: Api) -> None:
    alice, bob = api.register(), api.register()
    enable(api, alice)
    enable(api, bob)
    api.post(MESSAGES, alice, json={"text": "from alice"})
    api.post(MESSAGES, bob, json={"text": "from bob"})
    assert [m["text"] for m in api.get(MESSAGES, bob).get_json()] == ["from bob", "Hello!"]


def test_disabling_hello_closes_its_routes_and_keeps_the_data(api: Api) -> None:
    alice = api.register()
    enable(api, alice)
    api.post(MESSAGES, alice, json={"text": "kept"})
    resp = api.put("/api/v1/plugins/hello/activation", alice, json={"enabled": False})
    assert resp.status_code == 200, resp.get_json()
    assert_problem(api.get(MESSAGES, alice), 404, "plugin-not-enabled")
    enable(api, alice)  # no second welcome: the board was not empty
    assert [m["text"] for m in api.get(MESSAGES, alice).get_json()] == ["kept", "Hello!"]


def test_posting_needs_the_hello_write_permission(api: Api) -> None:
    owner = api.register()
    enable(api, owner)
    analyst = api.add_member(owner, f"analyst-{uuid.uuid4().hex[:6]}@example.com", "analyst")
    manager = api.add_member(owner, f"manager-{uuid.uuid4().hex[:6]}@example.com", "manager")
    assert api.get(MESSAGES, analyst).status_code == 200
    body = assert_problem(api.post(MESSAGES, analyst, json={"text": "hi"}), 403, "forbidden")
    assert "hello.write" in body["detail"]
    assert api.post(MESSAGES, manager, json={"text": "hi"}).status_code == 201


def test_invalid_message_is_a_422_problem(api: Api) -> None:
    alice = api.register()
    enable(api, alice)
    body = assert_problem(api.post(MESSAGES, alice, json={"text": ""}), 422)
    assert body["errors"][0]["pointer"] == "/text"


def test_public_greeting_comes_from_the_tenant_config(api: Api) -> None:
    alice = api.register()
    enable(api, alice)
    storefront = {"X-Tenant": alice.tenant_slug}
    assert api.get(GREETING, headers=storefront).get_json()["greeting"] == "Hello!"

    resp = api.put("/api/v1/plugins/hello/config", alice,
                   json={"greeting": "Welcome to our shop", "api_token": "s3cret-token"})
    assert resp.status_code == 200, resp.get_json()
    assert api.get(GREETING, headers=storefront).get_json() == {
        "tenant": f"Tenant {alice.tenant_slug}", "greeting": "Welcome to our shop"}
    detail = api.get("/api/v1/plugins/hello", alice).get_json()
    assert detail["config"]["api_token"] == "********"  # writeOnly: a secret, never returned
    assert detail["permissions"] == {"hello.write": "manager"}


def test_config_is_validated_against_the_plugin_schema(api: Api) -> None:
    alice = api.register()
    body = assert_problem(api.put("/api/v1/plugins/hello/config", alice,
                                  json={"api_token": "short", "colour": "red"}),
                          422, "plugin-config-invalid")
    assert {e["pointer"] for e in body["errors"]} >= {"/api_token"}


def test_hello_routes_are_in_the_openapi_document(api: Api) -> None:
    paths = api.get("/api/openapi.json").get_json()["paths"]
    assert {MESSAGES, GREETING} <= set(paths)
    assert "bearerAuth" in str(paths[MESSAGES]["post"]["security"])


# -- job, event handler --------------------------------------------------------------------


def test_hello_job_is_registered_and_purges_old_messages(app: Flask, api: Api) -> None:
    name, job = kernel_services(app).job_specs["hello.purge_old_messages"]
    assert (name, job.cron, job.retry) == ("hello", "15 3 * * *", 2)
    alice = api.register()
    enable(api, alice)
    api.post(MESSAGES, alice, json={"text": "fresh"})
    with app.app_context():
        assert job.func(tenant_id=alice.tenant_id) == 0
        assert job.func(tenant_id=alice.tenant_id, days=-1) == 2
    assert api.get(MESSAGES, alice).get_json() == []


def test_hello_handles_payment_succeeded_for_its_tenant(app: Flask, api: Api) -> None:
    handlers = kernel_services(app).event_handlers["payments.payment.succeeded"]
    (handler,) = [h for plugin, h in handlers if plugin == "hello"]
    assert handler.name == "hello.thank_for_payment"
    alice = api.register()
    enable(api, alice)
    with app.app_context():
        handler.func(tenant_id=uuid.UUID(alice.tenant_id),
                     payload={"amount": 1250, "currency": "EUR"})
        with tenant_scope(alice.tenant_id):
            from plugboard_hello.models import HelloMessage

            texts = set(db.session.scalars(sa.select(HelloMessage.text)))
    assert "Thank you for your payment of 12.50 EUR." in texts


def test_posting_emits_an_event_and_enqueues_a_job_through_kernel_api(app: Flask, api: Api) -> None:
    from kernel.runtime.events import OutboxEvent
    from tests.conftest import drain_jobs

    alice, bob = api.register(), api.register()
    enable(api, alice)
    enable(api, bob)
    resp = api.post(MESSAGES, alice, json={"text": "anyone up for chess?"})
    assert resp.status_code == 201
    drain_jobs(app)
    texts = [m["text"] for m in api.get(MESSAGES, alice).get_json()]
    assert "Good question: anyone up for chess?" in texts
    bobs = [m["text"] for m in api.get(MESSAGES, bob).get_json()]
    assert not any(t.startswith("Good question") for t in bobs)
    with app.app_context(), tenant_scope(alice.tenant_id):
        events = db.session.scalars(sa.select(OutboxEvent).where(
            OutboxEvent.name == "hello.message.posted")).all()
        assert [e.payload["message_id"] for e in events] == [resp.get_json()["id"]]
    # a refused post (validation) emits and enqueues nothing
    assert api.post(MESSAGES, alice, json={"text": ""}).status_code == 422
    drain_jobs(app)
    with app.app_context(), tenant_scope(alice.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent).where(
            OutboxEvent.name == "hello.message.posted")) == 1


@pytest.mark.postgres_only
def test_hello_table_has_row_level_security(app: Flask, backend: str) -> None:
    with app.app_context():
        policies = db.session.execute(sa.text(
            "SELECT policyname FROM pg_policies WHERE tablename = 'hello_messages'")).scalars().all()
        forced = db.session.scalar(sa.text(
            "SELECT relforcerowsecurity FROM pg_class WHERE relname = 'hello_messages'"))
    assert policies == ["tenant_isolation"]
    assert forced is True
