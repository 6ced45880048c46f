"""How requests use PostgreSQL connections: round trips, prepared statements, dead connections.

These guard the per-request database path the authenticated-route benchmark measures:
a read-only request ends its transaction with COMMIT (psycopg forgets its prepared
statements on every rollback), anything that may have written still rolls back, the
tenant settings travel with the transaction's BEGIN, and a pooled connection that died
while idle is replaced without the request noticing.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.pool import NullPool

import kernel.data.engine as kernel_engine
import kernel.data.scoping as kernel_scoping
from kernel import create_app
from kernel.data.models import Domain
from kernel.data.session import after_commit, db
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope, tenant_scope
from tests.helpers import Api

pytestmark = pytest.mark.postgres_only

MEMBERS = "/api/v1/tenant/members"


def _statements(app: Flask) -> tuple[list[str], Any]:
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", listener)
    return seen, listener


def _transaction_ends(app: Flask) -> list[str]:
    ends: list[str] = []
    with app.app_context():
        sa.event.listen(db.engine, "commit", lambda conn: ends.append("commit"))
        sa.event.listen(db.engine, "rollback", lambda conn: ends.append("rollback"))
    return ends


def _domains(app: Flask) -> list[str]:
    with app.app_context(), platform_scope():
        return sorted(db.session.scalars(sa.select(Domain.hostname)))


def _prepared_after_reads(api: Api, app: Flask, requests: int = 12) -> int:
    """Statements prepared on the connections that served ``requests`` reads."""
    acct = api.register(f"reader-{uuid.uuid4().hex[:6]}")
    used: set[Any] = set()
    with app.app_context():
        sa.event.listen(db.engine, "checkout", lambda dbapi, record, proxy: used.add(dbapi))
    for _ in range(requests):
        assert api.get(MEMBERS, acct).status_code == 200
    prepared = 0
    for dbapi in used:
        with dbapi.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_prepared_statements")
            prepared += cur.fetchone()[0]
        dbapi.rollback()
    return prepared


def test_read_only_request_commits_and_keeps_prepared_statements(api: Api, app: Flask) -> None:
    ends = _transaction_ends(app)
    # psycopg prepares a statement on its fifth run on a connection; a rollback would
    # have dropped them all (and sent DEALLOCATE ALL)
    assert _prepared_after_reads(api, app) > 0
    assert ends and set(ends) == {"commit"}


def test_prepared_statements_can_be_turned_off(app: Flask, app_config: dict[str, Any]) -> None:
    # for PgBouncer before 1.21 in transaction pooling mode
    plain = create_app({**app_config, "database_prepared_statements": False})
    try:
        assert _prepared_after_reads(Api(plain.test_client(), plain), plain) == 0
    finally:
        kernel_services(plain).broadcast.close()
        kernel_services(plain).engine.dispose()


def test_unflushed_and_flushed_writes_are_rolled_back_at_the_end(api: Api, app: Flask) -> None:
    acct = api.register("writer")
    tid = uuid.UUID(acct.tenant_id)
    ends = _transaction_ends(app)
    with app.app_context(), tenant_scope(tid):
        db.session.add(Domain(hostname="pending.example"))  # never flushed
    with app.app_context(), tenant_scope(tid):
        db.session.add(Domain(hostname="flushed.example"))
        db.session.flush()
        db.session.expunge_all()  # nothing pending any more: only the INSERT tells
    with app.app_context(), tenant_scope(tid):
        db.session.execute(sa.text("UPDATE domains SET hostname = 'textual.example'"))
    assert ends.count("commit") == 0
    assert _domains(app) == []


def test_after_commit_callbacks_of_an_uncommitted_request_never_run(api: Api, app: Flask) -> None:
    acct = api.register("callbacks")
    ran: list[str] = []
    with app.app_context(), tenant_scope(uuid.UUID(acct.tenant_id)):
        db.session.scalars(sa.select(Domain)).all()  # a read-only transaction...
        after_commit(db.session(), lambda: ran.append("ran"))  # ...that promised work on commit
    assert ran == []


def test_tenant_settings_go_with_begin_and_follow_scope_changes(api: Api, app: Flask) -> None:
    a, b = api.register("set-a"), api.register("set-b")
    for acct in (a, b):
        assert api.post("/api/v1/tenant/domains", acct,
                        json={"hostname": f"{acct.tenant_slug}.example"}).status_code == 201
    seen, _ = _statements(app)
    raw_count = sa.text("SELECT count(*) FROM domains")  # RLS alone decides what it sees
    with app.app_context():
        with tenant_scope(uuid.UUID(a.tenant_id)):
            assert db.session.scalar(raw_count) == 1  # first statement: BEGIN + settings
            with platform_scope():
                assert db.session.scalar(raw_count) == 2  # same transaction, new settings
            assert db.session.scalar(raw_count) == 1
        with tenant_scope(uuid.UUID(b.tenant_id)):
            assert db.session.scalar(raw_count) == 1
            assert db.session.scalar(sa.text("SELECT current_setting('plugboard.tenant_id')")) == b.tenant_id
    # the settings never pass through SQLAlchemy's execute (they ride on psycopg's BEGIN
    # or on the driver connection), so only the counts show up here
    assert not [s for s in seen if "set_config" in s]


def test_settings_that_are_not_a_uuid_are_never_inlined(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        with pytest.raises(ValueError, match="refusing"):
            kernel_scoping._send_rls_settings(raw, ("x', true); DROP TABLE domains; --", "off"))
        with pytest.raises(ValueError, match="refusing"):
            kernel_scoping._send_rls_settings(raw, ("", "yes"))


def _restart_server_sessions(app: Flask) -> None:
    """Kill every backend of the app's database, as a server restart would."""
    with app.app_context():
        url = db.engine.url
    killer = sa.create_engine(url, poolclass=NullPool)
    with killer.connect() as conn:
        killed = conn.scalars(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
    killer.dispose()
    assert killed and all(killed)


def test_connections_that_died_while_idle_are_replaced(api: Api, app: Flask,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    acct = api.register("revive")
    monkeypatch.setattr(kernel_engine, "PING_AFTER_IDLE_SECONDS", 0.0)  # everything counts as idle
    _restart_server_sessions(app)
    assert api.get(MEMBERS, acct).status_code == 200


def test_connection_back_in_the_pool_a_moment_ago_is_not_pinged(api: Api, app: Flask,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # the other side of the trade: no ping for a connection just handed back, so one that
    # died in that moment fails its request; SQLAlchemy then recycles the whole pool
    acct = api.register("no-ping")
    monkeypatch.setattr(kernel_engine, "PING_AFTER_IDLE_SECONDS", 3600.0)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as production does
    _restart_server_sessions(app)
    assert api.get(MEMBERS, acct).status_code == 500
    assert api.get(MEMBERS, acct).status_code == 200


def test_a_caught_flush_error_still_ends_the_request_cleanly(api: Api, app: Flask) -> None:
    acct = api.register("caught")
    tid = uuid.UUID(acct.tenant_id)
    with app.app_context(), tenant_scope(tid):
        db.session.add(Domain(hostname="dup.example"))
        db.session.commit()
    with app.app_context(), tenant_scope(tid):  # a view that swallows the error, no rollback
        db.session.add(Domain(hostname="dup.example"))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
    with app.app_context():
        assert db.engine.pool.checkedout() == 0  # the session was removed, its connection back
    assert _domains(app) == ["dup.example"]
    assert api.get(MEMBERS, acct).status_code == 200


def test_a_select_with_a_data_modifying_cte_is_rolled_back(api: Api, app: Flask) -> None:
    acct = api.register("cte")
    table = Domain.__table__
    with app.app_context(), tenant_scope(uuid.UUID(acct.tenant_id)):
        added = sa.insert(table).values(id=uuid.uuid4(), hostname="cte.example",
                                        tenant_id=uuid.UUID(acct.tenant_id),
                                        created_at=sa.func.now()).returning(table.c.id).cte("added")
        assert db.session.execute(sa.select(added.c.id)).scalar_one()
    assert _domains(app) == []


def test_tenant_settings_on_an_autocommit_or_failed_connection(app: Flask) -> None:
    import psycopg

    tid = str(uuid.uuid4())
    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            raw = conn.connection.driver_connection
            assert kernel_scoping._send_rls_settings(raw, (tid, "off"))
            assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # no BEGIN
        with db.engine.connect() as conn:
            raw = conn.connection.driver_connection
            with pytest.raises(psycopg.errors.DivisionByZero):
                raw.execute("SELECT 1 / 0")
            # a failed transaction: no raw psycopg error, the caller goes through SQLAlchemy
            assert kernel_scoping._send_rls_settings(raw, (tid, "off")) is False
            conn.rollback()


def test_keyed_after_commit_callbacks_run_once_per_transaction(api: Api, app: Flask) -> None:
    acct = api.register("keyed")
    ran: list[str] = []
    with app.app_context(), tenant_scope(uuid.UUID(acct.tenant_id)):
        for n in range(3):  # e.g. three events emitted: one dispatch request
            db.session.scalars(sa.select(Domain)).all()
            after_commit(db.session(), lambda n=n: ran.append(f"keyed-{n}"), key="dispatch")
            after_commit(db.session(), lambda n=n: ran.append(f"plain-{n}"))
        db.session.commit()
        assert ran == ["keyed-0", "plain-0", "plain-1", "plain-2"]
        db.session.scalars(sa.select(Domain)).all()
        after_commit(db.session(), lambda: ran.append("rolled back"), key="dispatch")
        db.session.rollback()
        db.session.scalars(sa.select(Domain)).all()  # a new transaction: the key is free again
        after_commit(db.session(), lambda: ran.append("next"), key="dispatch")
        db.session.commit()
    assert ran[4:] == ["next"]


_SETTING = sa.text("SELECT current_setting('plugboard.tenant_id', true)")


def test_deferred_settings_never_outlive_their_transaction(app: Flask) -> None:
    tid = str(uuid.uuid4())
    with app.app_context():
        with db.engine.connect() as conn:
            conn.begin()
            conn.info[kernel_scoping.PENDING] = (tid, "off")
            conn.commit()  # ended before any statement carried them: dropped
            assert conn.scalar(_SETTING) in (None, "")
            conn.commit()
            conn.begin()
            conn.info[kernel_scoping.PENDING] = (tid, "off")
            assert conn.scalar(_SETTING) == tid  # the transaction's first statement carries them
            conn.rollback()
            conn.info[kernel_scoping.PENDING] = (tid, "off")
        # handed back to the pool with settings pending: the next user never gets them
        with db.engine.connect() as conn:
            assert kernel_scoping.PENDING not in conn.info
            assert conn.scalar(_SETTING) in (None, "")


def test_first_statement_errors_and_streams_with_deferred_settings(api: Api, app: Flask) -> None:
    acct = api.register("pipelined")
    tid = uuid.UUID(acct.tenant_id)
    with app.app_context(), tenant_scope(tid):
        with pytest.raises(sa.exc.DataError):  # the statement riding with the settings fails
            db.session.execute(sa.text("SELECT 1 / 0"))
        db.session.rollback()
        assert db.session.scalar(_SETTING) == acct.tenant_id
    with app.app_context(), tenant_scope(tid):
        # a server-side cursor cannot join a pipeline: the settings go first, on their own
        rows = db.session.execute(sa.select(sa.text("current_setting('plugboard.tenant_id')")),
                                  execution_options={"stream_results": True}).all()
        assert rows == [(acct.tenant_id,)]
