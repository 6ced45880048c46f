"""The example third-party plugin (``examples/plugboard-hello``), tested as its author would.

Only the stable surface is used: ``plugboard.testing`` (fixtures, client, gates),
``kernel.api`` and the plugin's own code. The plugin must be installed first (``pip install
-e examples/plugboard-hello``, done by ``make dev`` and ``make test``): these tests check
the kernel finds it through its entry point, migrates its branch, gates its routes per
tenant and wires its job, event handler and lifecycle hook. Each runs on SQLite and on
PostgreSQL (as a role row-level security applies to) when ``PLUGBOARD_TEST_DATABASE_URL``
is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from plugboard_hello import jobs, plugin

from kernel.api import Base, alembic_config, db
from plugboard.testing import Account, PlugboardClient, assert_problem, fuzz_plugin, isolation_sweep

MESSAGES = "/api/v1/hello/messages"
GREETING = "/api/v1/public/hello/greeting"
BACKENDS = ["sqlite", "postgresql"] if os.environ.get("PLUGBOARD_TEST_DATABASE_URL") else ["sqlite"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def make_app(plugboard_app: Callable[..., Flask], backend: str) -> Callable[..., Flask]:
    """``plugboard_app`` on this test's backend (``database_url=""``: SQLite in any case)."""
    return lambda *plugins, **config: plugboard_app(
        *plugins, **({"database_url": ""} if backend == "sqlite" else {}), **config)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(plugin)


@pytest.fixture
def client(app: Flask, plugboard_client: Callable[[Flask], PlugboardClient]) -> PlugboardClient:
    return plugboard_client(app)


def enable(client: PlugboardClient, account: Account) -> None:
    assert client.enable(account, "hello").get_json()["changed"] == ["hello"]


def installed(client: PlugboardClient) -> dict[str, dict[str, Any]]:
    resp = client.get("/api/v1/admin/plugins", client.admin())
    assert resp.status_code == 200, resp.get_json()
    return {p["name"]: p for p in resp.get_json()}


# -- installation and discovery ------------------------------------------------------


def test_hello_is_installed_as_an_entry_point() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="plugboard.plugins")}
    assert found.get("hello") == "plugboard_hello.plugin", (
        "install the example first: pip install -e examples/plugboard-hello"
    )


def test_the_kernel_discovers_hello_through_its_entry_point(
        make_app: Callable[..., Flask], plugboard_client: Callable[[Flask], PlugboardClient]) -> None:
    record = installed(plugboard_client(make_app(load_entry_points=True)))["hello"]
    assert (record["source"], record["status"], record["error"]) == ("entry_point", "loaded", None)
    assert record["version"] == "1.0.0"
    assert "plugboard_tenant_enabled" in record["hooks"]


def test_entry_point_discovery_can_be_switched_off(
        make_app: Callable[..., Flask], plugboard_client: Callable[[Flask], PlugboardClient]) -> None:
    assert "hello" not in installed(plugboard_client(make_app()))


def test_deny_list_leaves_hello_out(make_app: Callable[..., Flask],
                                    plugboard_client: Callable[[Flask], PlugboardClient]) -> None:
    app = make_app(load_entry_points=True, plugins_deny=("hello",))
    assert installed(plugboard_client(app))["hello"]["status"] == "denied"
    assert all("/hello" not in rule.rule for rule in app.url_map.iter_rules())


# -- migrations -------------------------------------------------------------------------


def test_upgrade_created_the_hello_table(app: Flask) -> None:
    with app.app_context():
        inspector = sa.inspect(db.engine)
        assert "hello_messages" in inspector.get_table_names()
        columns = {c["name"] for c in inspector.get_columns("hello_messages")}
        assert columns == {"id", "tenant_id", "text", "author", "created_at"}
        versions = set(db.session.scalars(sa.text("SELECT version_num FROM alembic_version")))
    assert "hello_0001" in versions


def test_hello_branch_downgrades_alone(app: Flask) -> None:
    with app.app_context():
        command.downgrade(alembic_config(app), "hello@base")
        tables = sa.inspect(db.engine).get_table_names()
    assert "hello_messages" not in tables
    assert "tenants" in tables  # the kernel's branch is untouched


def test_hello_model_and_migration_do_not_drift(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    assert [d for d in diffs if "hello_messages" in repr(d)] == []


@pytest.mark.postgres_only  # the suite's conftest leaves out the SQLite variant
def test_hello_table_has_row_level_security(app: Flask, backend: str) -> None:
    assert backend == "postgresql"
    with app.app_context():
        policies = db.session.execute(sa.text(
            "SELECT policyname FROM pg_policies WHERE tablename = 'hello_messages'")).scalars().all()
        forced = db.session.scalar(sa.text(
            "SELECT relforcerowsecurity FROM pg_class WHERE relname = 'hello_messages'"))
        superuser = db.session.scalar(sa.text("SELECT rolsuper OR rolbypassrls FROM pg_roles "
                                              "WHERE rolname = current_user"))
    assert policies == ["tenant_isolation"]
    assert forced is True
    assert superuser is False  # the app's role is one row-level security applies to


# -- routes, gated per tenant -----------------------------------------------------------


def test_tenant_that_enabled_hello_posts_and_lists_messages(client: PlugboardClient) -> None:
    alice = client.register()
    enable(client, alice)
    resp = client.post(MESSAGES, alice, json={"text": "first post"})
    assert resp.status_code == 201, resp.get_json()
    created = resp.get_json()
    assert created["text"] == "first post"
    assert created["author"] == alice.user_id

    resp = client.get(MESSAGES, alice)
    assert resp.status_code == 200
    texts = [m["text"] for m in resp.get_json()]
    assert texts == ["first post", "Hello!"]  # newest first; the welcome from tenant_enabled
    assert '"total": 2' in resp.headers["X-Pagination"]


def test_tenant_without_hello_gets_plugin_not_enabled(client: PlugboardClient) -> None:
    alice, bob = client.register(), client.register()
    enable(client, alice)
    client.post(MESSAGES, alice, json={"text": "alice only"})
    body = assert_problem(client.get(MESSAGES, bob), 404, "plugin-not-enabled")
    assert body["plugin"] == "hello"
    assert_problem(client.post(MESSAGES, bob, json={"text": "nope"}), 404, "plugin-not-enabled")
    assert_problem(client.get(GREETING, headers={"X-Tenant": bob.tenant_slug}), 404,
                   "plugin-not-enabled")


def test_tenants_see_only_their_own_messages(client: PlugboardClient) -> None:
    alice, bob = client.register(), client.register()
    enable(client, alice)
    enable(client, bob)
    client.post(MESSAGES, alice, json={"text": "from alice"})
    client.post(MESSAGES, bob, json={"text": "from bob"})
    assert [m["text"] for m in client.get(MESSAGES, bob).get_json()] == ["from bob", "Hello!"]


def test_disabling_hello_closes_its_routes_and_keeps_the_data(client: PlugboardClient) -> None:
    alice = client.register()
    enable(client, alice)
    client.post(MESSAGES, alice, json={"text": "kept"})
    client.enable(alice, "hello", enabled=False)
    assert_problem(client.get(MESSAGES, alice), 404, "plugin-not-enabled")
    enable(client, alice)  # no second welcome: the board was not empty
    assert [m["text"] for m in client.get(MESSAGES, alice).get_json()] == ["kept", "Hello!"]


def test_posting_needs_the_hello_write_permission(client: PlugboardClient) -> None:
    owner = client.register()
    enable(client, owner)
    analyst = client.add_member(owner, f"analyst-{uuid.uuid4().hex[:6]}@example.com", "analyst")
    manager = client.add_member(owner, f"manager-{uuid.uuid4().hex[:6]}@example.com", "manager")
    assert client.get(MESSAGES, analyst).status_code == 200
    body = assert_problem(client.post(MESSAGES, analyst, json={"text": "hi"}), 403, "forbidden")
    assert "hello.write" in body["detail"]
    assert client.post(MESSAGES, manager, json={"text": "hi"}).status_code == 201


def test_invalid_message_is_a_422_problem(client: PlugboardClient) -> None:
    alice = client.register()
    enable(client, alice)
    body = assert_problem(client.post(MESSAGES, alice, json={"text": ""}), 422)
    assert body["errors"][0]["pointer"] == "/text"


def test_public_greeting_comes_from_the_tenant_config(client: PlugboardClient) -> None:
    alice = client.register()
    enable(client, alice)
    storefront = {"X-Tenant": alice.tenant_slug}
    assert client.get(GREETING, headers=storefront).get_json()["greeting"] == "Hello!"

    client.enable(alice, "hello", config={"greeting": "Welcome to our shop", "api_token": "s3cret-token"})
    assert client.get(GREETING, headers=storefront).get_json() == {
        "tenant": f"Tenant {alice.tenant_slug}", "greeting": "Welcome to our shop"}
    detail = client.get("/api/v1/plugins/hello", alice).get_json()
    assert detail["config"]["api_token"] == "********"  # writeOnly: a secret, never returned
    assert detail["permissions"] == {"hello.write": "manager"}


def test_config_is_validated_against_the_plugin_schema(client: PlugboardClient) -> None:
    alice = client.register()
    body = assert_problem(client.put("/api/v1/plugins/hello/config", alice,
                                     json={"api_token": "short", "colour": "red"}),
                          422, "plugin-config-invalid")
    assert {e["pointer"] for e in body["errors"]} >= {"/api_token"}


def test_hello_routes_are_in_the_openapi_document(client: PlugboardClient) -> None:
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {MESSAGES, GREETING} <= set(paths)
    assert "bearerAuth" in str(paths[MESSAGES]["post"]["security"])


# -- job, event handler, emitted event ----------------------------------------------------


def test_hello_job_is_declared_and_purges_old_messages(client: PlugboardClient) -> None:
    (purge,) = [j for j in plugin.plugboard_jobs() if j.name == "hello.purge_old_messages"]
    assert (purge.cron, purge.retry) == ("15 3 * * *", 2)
    alice = client.register()
    enable(client, alice)
    client.post(MESSAGES, alice, json={"text": "fresh"})
    assert client.run_job("hello.purge_old_messages", alice) == "succeeded"
    assert len(client.get(MESSAGES, alice).get_json()) == 2  # nothing was 90 days old
    assert client.run_job("hello.purge_old_messages", alice, days=-1) == "succeeded"
    assert client.get(MESSAGES, alice).get_json() == []


def test_hello_handles_payment_succeeded_for_its_tenant(app: Flask, client: PlugboardClient) -> None:
    (handler,) = plugin.plugboard_event_handlers()
    assert (handler.event, handler.name) == ("payments.payment.succeeded", "hello.thank_for_payment")
    alice = client.register()
    enable(client, alice)
    with app.app_context():
        jobs.thank_for_payment(tenant_id=uuid.UUID(alice.tenant_id),
                               payload={"amount": 1250, "currency": "EUR"})
    texts = {m["text"] for m in client.get(MESSAGES, alice).get_json()}
    assert "Thank you for your payment of 12.50 EUR." in texts


def test_posting_emits_an_event_and_enqueues_a_job_through_kernel_api(client: PlugboardClient) -> None:
    alice, bob = client.register(), client.register()
    enable(client, alice)
    enable(client, bob)
    resp = client.post(MESSAGES, alice, json={"text": "anyone up for chess?"})
    assert resp.status_code == 201
    texts = [m["text"] for m in client.get(MESSAGES, alice).get_json()]
    assert "Good question: anyone up for chess?" in texts  # the job ran, inline
    bobs = [m["text"] for m in client.get(MESSAGES, bob).get_json()]
    assert not any(t.startswith("Good question") for t in bobs)
    posted = client.emitted(alice, "hello.message.posted")
    assert [e["payload"]["message_id"] for e in posted] == [resp.get_json()["id"]]
    assert client.emitted(bob, "hello.message.posted") == []
    # a refused post (validation) emits and enqueues nothing
    assert client.post(MESSAGES, alice, json={"text": ""}).status_code == 422
    assert len(client.emitted(alice, "hello.message.posted")) == 1


# -- the quality gates ------------------------------------------------------------------------


def test_fuzzing_finds_nothing_in_hello(app: Flask) -> None:
    fuzz_plugin(app, plugin="hello").assert_clean()


def test_tenant_b_never_reaches_tenant_a_through_hello(app: Flask) -> None:
    isolation_sweep(app, plugin="hello").assert_clean()
