"""deploy/postgres-init.sql run for real with psql: migrations as the owner role, the app
as a role that reads and writes rows and can neither switch row-level security off nor
drop a policy, on tables of the kernel and of plugins alike."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask

from kernel import create_app
from kernel.services import kernel_services
from tests.conftest import PG_ADMIN_URL, base_config
from tests.helpers import Api, SmtpSink

ROOT = Path(__file__).resolve().parents[2]
PLUGBOARD = str(Path(sys.executable).parent / "plugboard")


@dataclass
class Roles:
    owner_url: str
    app_url: str
    dbname: str


def _url(user: str, password: str, dbname: str) -> str:
    return sa.make_url(PG_ADMIN_URL).set(username=user, password=password, database=dbname) \
        .render_as_string(hide_password=False)


@pytest.fixture
def roles() -> Iterator[Roles]:
    suffix = uuid.uuid4().hex[:8]
    owner, app, dbname = f"pb_owner_{suffix}", f"pb_app_{suffix}", f"pb_roles_{suffix}"
    admin = sa.make_url(PG_ADMIN_URL)
    env = {**os.environ, "POSTGRES_OWNER_USER": owner, "POSTGRES_APP_USER": app, "POSTGRES_APP_DB": dbname,
           "POSTGRES_OWNER_PASSWORD": "owner-pw-" + suffix, "POSTGRES_APP_PASSWORD": "app-pw-" + suffix,
           "POSTGRES_APP_STATEMENT_TIMEOUT": "15s"}
    command = ["psql", "-X", "-q", "-h", admin.host or "127.0.0.1", "-p", str(admin.port or 5432),
               "-U", admin.username or "postgres", "-d", admin.database or "postgres",
               "-f", str(ROOT / "deploy" / "postgres-init.sql")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    try:
        assert done.returncode == 0, done.stderr
        yield Roles(_url(owner, "owner-pw-" + suffix, dbname), _url(app, "app-pw-" + suffix, dbname), dbname)
    finally:
        with psycopg.connect(admin.set(drivername="postgresql").render_as_string(False),
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{app}"')
            conn.execute(f'DROP ROLE IF EXISTS "{owner}"')


def _plugboard(*args: str, url: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGBOARD_")}
    env.update({"PLUGBOARD_ENV": "development", "PLUGBOARD_DATA_DIR": str(tmp),
                "PLUGBOARD_DATABASE_URL": url})
    return subprocess.run([PLUGBOARD, *args], env=env, capture_output=True, text=True, timeout=180)


def _psycopg(url: str) -> psycopg.Connection:
    return psycopg.connect(sa.make_url(url).set(drivername="postgresql").render_as_string(False),
                           autocommit=True)


def test_app_role_reads_and_writes_rows_and_nothing_more(
        roles: Roles, tmp_path: Path, smtp_sink: SmtpSink) -> None:
    # the app role cannot migrate: it may not create tables
    refused = _plugboard("db", "upgrade", url=roles.app_url, tmp=tmp_path)
    assert refused.returncode != 0 and "permission denied for schema public" in refused.stderr
    done = _plugboard("db", "upgrade", url=roles.owner_url, tmp=tmp_path)
    assert done.returncode == 0, done.stderr

    with _psycopg(roles.app_url) as conn:
        owners = dict(conn.execute(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'").fetchall())
        assert "tenants" in owners and "hello_messages" in owners  # the kernel's and a plugin's
        assert set(owners.values()) == {roles.owner_url.split("//")[1].split(":")[0]}
        policies = conn.execute("SELECT tablename, policyname FROM pg_policies").fetchall()
        assert ("hello_messages", "tenant_isolation") in policies
        assert conn.execute("SHOW statement_timeout").fetchone() == ("15s",)
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("1min",)
        for table, policy in [("hello_messages", "tenant_isolation"), policies[0]]:
            for statement in (f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY',
                              f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY',
                              f'DROP POLICY "{policy}" ON "{table}"',
                              f'DROP TABLE "{table}"',
                              f'TRUNCATE "{table}"'):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE sneaky (id int)")
        assert conn.execute("SELECT count(*) FROM hello_messages").fetchone() == (0,)

    # and the whole app runs as it: a sign-up writes tenant, user, membership, audit, outbox
    config = base_config(tmp_path, smtp_sink.url)
    config.update(database_url=roles.app_url)
    app: Flask = create_app(config)
    try:
        api = Api(app.test_client(), app)
        account = api.register("roles-alpha")
        resp = api.get("/api/v1/tenant", account)
        assert resp.status_code == 200 and resp.get_json()["slug"] == "roles-alpha"
    finally:
        kernel_services(app).engine.dispose()
