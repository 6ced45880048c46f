"""How requests use PostgreSQL connections: round trips, prepared statements, dead connections.

These guard the per-request database path the authenticated-route benchmark measures:
a GET request reads outside a transaction (one round trip per query, no BEGIN, no
COMMIT) until it writes, when it gets a transaction like any other; a transaction that
only read ends with COMMIT (psycopg forgets its prepared statements on every rollback),
anything that may have written still rolls back; the tenant settings are sent only when
the connection holds other ones, riding with a statement, and follow every rollback; a
pooled connection that died while idle is replaced without the request noticing.
What reaches the server is read off libpq's own trace of the wire protocol.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator
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
from tests.helpers import Account, Api

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


def _prepared_after_reads(api: Api, app: Flask, requests: int = 12,
                          acct: Account | None = None) -> int:
    """Statements prepared on the connections that served ``requests`` reads."""
    acct = acct or api.register(f"reader-{uuid.uuid4().hex[:6]}")
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


def test_read_only_request_keeps_prepared_statements_and_ends_no_transaction(
        api: Api, app: Flask) -> None:
    acct = api.register("reader")
    ends = _transaction_ends(app)
    # psycopg prepares a statement on its fifth run on a connection; a rollback of a
    # transaction would have dropped them all (and sent DEALLOCATE ALL)
    assert _prepared_after_reads(api, app, acct=acct) > 0
    # the sessions of GET requests read outside a transaction: nothing to commit, and the
    # rollback of closing them finds the connection idle (no ROLLBACK is sent)
    assert "commit" not in ends


def test_prepared_statements_can_be_turned_off(app: Flask, app_config: dict[str, Any]) -> None:
    # for PgBouncer before 1.21 in transaction pooling mode
    plain = create_app({**app_config, "database_prepared_statements": False})
    try:
        assert _prepared_after_reads(Api(plain.test_client(), plain), plain) == 0
    finally:
        kernel_services(plain).broadcast.close()
        kernel_services(plain).engine.dispose()


def test_behind_a_transaction_pooler_every_transaction_sends_its_own_settings(
        app: Flask, app_config: dict[str, Any]) -> None:
    # PgBouncer in transaction mode may run each transaction on another server session
    pooled = create_app({**app_config, "database_transaction_pooling": True})
    try:
        api = Api(pooled.test_client(), pooled)
        acct = api.register("pooler")
        seen, _ = _statements(pooled)
        with _wire(pooled) as wires:
            for _ in range(3):
                assert api.get(MEMBERS, acct).status_code == 200
        sent = [q for w in wires for q in w.sql]
        transactions = sent.count("BEGIN")  # reads in a transaction, one per request here
        assert transactions == sent.count("COMMIT") == 3
        assert len([q for q in sent if "set_config" not in q]) == len(seen) + 2 * transactions
        # every transaction's first statement comes with the settings, transaction-local
        firsts = [sent[i + 1] for i, q in enumerate(sent) if q == "BEGIN"]
        assert all("set_config" in q and q.endswith("true)") for q in firsts), firsts
        with pooled.app_context(), tenant_scope(uuid.UUID(acct.tenant_id)), \
                db.engine.connect() as conn:
            assert conn.scalar(_SETTING) == acct.tenant_id
            conn.commit()
            # the next transaction sends them again (its server session may be another)
            assert conn.scalar(_SETTING) == acct.tenant_id
            conn.commit()
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:  # behind SQLAlchemy's back: nothing outlived the commit
                cur.execute("SELECT current_setting('plugboard.tenant_id', true)")
                assert cur.fetchone()[0] in (None, "")
            raw.rollback()
    finally:
        kernel_services(pooled).broadcast.close()
        kernel_services(pooled).engine.dispose()


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


def test_first_statement_errors_and_streams_with_settings_to_send(api: Api, app: Flask) -> None:
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


class Wire:
    """What the client sent to the server, from libpq's trace of the wire protocol."""

    def __init__(self, text: str) -> None:
        self.lines = [line.split("\t") for line in text.splitlines() if line.startswith("F\t")]

    @property
    def sql(self) -> list[str]:
        """Every statement executed: simple queries, and extended ones by what they bound."""
        prepared: dict[str, str] = {}
        executed: list[str] = []
        bound = ""
        for line in self.lines:
            kind, fields = line[2], line[3].strip() if len(line) > 3 else ""
            if kind == "Query":
                executed.append(fields.strip('"'))
            elif kind == "Parse":  # "name" "sql" ...
                name, rest = fields.split(" ", 1)
                prepared[name.strip('"')] = rest.rsplit('"', 1)[0].lstrip('"')
            elif kind == "Bind":  # "portal" "statement" ...
                bound = prepared.get(fields.split(" ")[1].strip('"'), "?")
            elif kind == "Execute":
                executed.append(bound)
        return executed

    def commands(self) -> list[str]:
        """The transaction commands among the statements."""
        words = [q.split()[0].upper() for q in self.sql if q.strip()]
        return [w for w in words if w in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")]


@contextlib.contextmanager
def _wire(app: Flask, fresh: bool = True) -> Iterator[list[Wire]]:
    """libpq's trace of every connection the app's engine uses inside the block.

    ``fresh``: the pool is emptied first, so every statement psycopg prepares is seen
    being parsed; otherwise pooled connections are traced from their checkout on, and a
    statement prepared before shows as ``"?"``.
    """
    import psycopg

    files: dict[Any, Any] = {}
    wires: list[Wire] = []  # one per connection

    def trace(dbapi: Any, *args: Any) -> None:
        if dbapi in files:
            return
        files[dbapi] = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the block ends
        dbapi.pgconn.trace(files[dbapi].fileno())
        dbapi.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS
                                     | psycopg.pq.Trace.REGRESS_MODE)

    with app.app_context():
        engine = db.engine
    if fresh:
        engine.dispose()
    event = "connect" if fresh else "checkout"
    sa.event.listen(engine, event, trace)
    try:
        yield wires
    finally:
        sa.event.remove(engine, event, trace)
        for dbapi, file in files.items():
            dbapi.pgconn.untrace()
            file.seek(0)
            wires.append(Wire(file.read().decode()))
            file.close()


def test_a_get_request_reads_in_one_round_trip_per_query(api: Api, app: Flask) -> None:
    acct = api.register("one-trip")
    seen, _ = _statements(app)
    with _wire(app) as wires:  # new connections: the settings are sent with a query
        assert api.get(MEMBERS, acct).status_code == 200
    assert seen, "the request ran no query"
    assert [w.commands() for w in wires] == [[] for _ in wires]  # no BEGIN, COMMIT, ROLLBACK
    sent = [q for w in wires for q in w.sql]
    assert 0 < len([q for q in sent if "set_config" in q]) <= len(seen)
    assert len([q for q in sent if "set_config" not in q]) == len(seen)
    seen.clear()
    with _wire(app, fresh=False) as wires:  # connections holding the settings: only queries
        assert api.get(MEMBERS, acct).status_code == 200
    assert [w.commands() for w in wires] == [[] for _ in wires]
    assert len([q for w in wires for q in w.sql]) == len(seen)
    with app.app_context(), db.engine.connect() as conn:  # back in the pool: transactional
        assert conn.connection.driver_connection.autocommit is False
        assert kernel_scoping.READ_MODE not in conn.info


def test_a_get_request_that_writes_gets_a_transaction(api: Api, app: Flask) -> None:
    import psycopg

    acct = api.register("get-writes")
    tid = uuid.UUID(acct.tenant_id)
    with _wire(app) as wires, app.test_request_context("/", method="GET"), tenant_scope(tid):
        assert db.session.scalars(sa.select(Domain)).all() == []
        raw = db.session.connection().connection.driver_connection
        assert raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # no BEGIN
        db.session.add(Domain(hostname="first.example"))
        db.session.add(Domain(hostname="second.example"))
        db.session.flush()  # BEGIN first: both rows or neither
        assert raw.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        db.session.rollback()
    assert _domains(app) == []
    assert [c for w in wires for c in w.commands()] == ["BEGIN", "ROLLBACK"]
    with app.test_request_context("/", method="GET"), tenant_scope(tid):
        db.session.add(Domain(hostname="kept.example"))
        db.session.commit()
        db.session.add(Domain(hostname="dropped.example"))
        db.session.flush()
        # the request ends without a commit: its transaction is rolled back
    assert _domains(app) == ["kept.example"]


def test_locking_reads_and_streams_in_a_get_request_run_in_a_transaction(
        api: Api, app: Flask) -> None:
    acct = api.register("get-locks")
    tid = uuid.UUID(acct.tenant_id)
    with _wire(app) as wires, app.test_request_context("/", method="GET"), tenant_scope(tid):
        db.session.scalars(sa.select(Domain).with_for_update()).all()
        db.session.commit()
        rows = db.session.execute(sa.select(Domain.hostname),
                                  execution_options={"stream_results": True}).all()
        assert rows == []
        db.session.commit()
    assert [c for w in wires for c in w.commands()] == ["BEGIN", "COMMIT", "BEGIN", "COMMIT"]


def test_settings_are_sent_only_when_the_connection_holds_other_ones(api: Api, app: Flask) -> None:
    a, b = api.register("hold-a"), api.register("hold-b")
    with _wire(app) as wires, app.app_context():
        with db.engine.connect() as conn:
            with tenant_scope(uuid.UUID(a.tenant_id)):
                assert conn.scalar(_SETTING) == a.tenant_id  # a new connection: sent
                assert conn.info[kernel_scoping.SETTINGS] == (a.tenant_id, "off")
            conn.commit()  # sent inside a transaction: forgotten at its end
            assert kernel_scoping.SETTINGS not in conn.info
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, \
                tenant_scope(uuid.UUID(a.tenant_id)):
            assert conn.scalar(_SETTING) == a.tenant_id  # sent outside one: held
        with db.engine.connect() as conn:  # the same connection, back from the pool
            with tenant_scope(uuid.UUID(a.tenant_id)):
                assert conn.scalar(_SETTING) == a.tenant_id  # held since the last user
            with tenant_scope(uuid.UUID(b.tenant_id)):
                assert conn.scalar(_SETTING) == b.tenant_id  # sent, with the statement
            assert conn.scalar(_SETTING) == ""  # outside a scope: none
            conn.rollback()
    assert len(wires) == 1
    assert [q.split("(")[0].split()[0] if q.startswith("BEGIN") else q.split("(")[0]
            for q in wires[0].sql] == [
        "BEGIN", "SELECT set_config", "SELECT current_setting", "COMMIT",
        "SELECT set_config", "SELECT current_setting",
        "BEGIN", "SELECT current_setting",
        "SELECT set_config", "SELECT current_setting",
        "SELECT set_config", "SELECT current_setting", "ROLLBACK"]


def test_settings_never_reach_the_next_user_of_a_connection(api: Api, app: Flask) -> None:
    a = api.register("next-user")
    assert api.post("/api/v1/tenant/domains", a, json={"hostname": "next.example"}).status_code == 201
    for scope in (tenant_scope(uuid.UUID(a.tenant_id)), platform_scope()):
        with app.app_context(), scope:
            assert db.session.scalar(sa.text("SELECT count(*) FROM domains")) == 1
            db.session.commit()  # the settings stay on the pooled connection...
        with app.app_context(), db.engine.connect() as conn:
            # ...but a statement outside a scope finds them cleared
            assert conn.scalar(sa.text("SELECT count(*) FROM domains")) == 0
            assert conn.scalar(_SETTING) == ""


@pytest.mark.parametrize("undo", ["rollback", "savepoint"])
def test_settings_made_in_a_rolled_back_transaction_are_sent_again(
        api: Api, app: Flask, undo: str) -> None:
    a, b = api.register(f"undo-a-{undo}"), api.register(f"undo-b-{undo}")
    with app.app_context(), db.engine.connect() as conn:
        with tenant_scope(uuid.UUID(a.tenant_id)):
            assert conn.scalar(_SETTING) == a.tenant_id
        conn.commit()  # A's settings held for the session
        if undo == "rollback":
            with tenant_scope(uuid.UUID(b.tenant_id)):
                assert conn.scalar(_SETTING) == b.tenant_id
            conn.rollback()  # the database is back to A's settings
        else:
            conn.begin()
            savepoint = conn.begin_nested()
            with tenant_scope(uuid.UUID(b.tenant_id)):
                assert conn.scalar(_SETTING) == b.tenant_id
            savepoint.rollback()  # back to A's inside the transaction
        assert kernel_scoping.SETTINGS not in conn.info  # forgotten: unknown
        with tenant_scope(uuid.UUID(b.tenant_id)):
            assert conn.scalar(_SETTING) == b.tenant_id
        conn.rollback()


_BOTH = sa.text("SELECT current_setting('plugboard.tenant_id', true), "
                "current_setting('plugboard.all_tenants', true)")


def test_settings_sent_in_a_transaction_that_fails_to_commit_are_sent_again(
        api: Api, app: Flask) -> None:
    a = api.register("commit-fails")
    tid = uuid.UUID(a.tenant_id)
    with app.app_context(), db.engine.connect() as conn:
        with platform_scope():
            assert conn.execute(_BOTH).one() == ("", "on")
        conn.commit()  # the connection holds the platform's settings
        # 1. a COMMIT of a transaction that failed is a ROLLBACK on the server
        with tenant_scope(tid):
            assert conn.execute(_BOTH).one() == (a.tenant_id, "off")  # sent, tentatively
            with pytest.raises(sa.exc.DataError):
                conn.execute(sa.text("SELECT 1 / 0"))
        conn.commit()
        with tenant_scope(tid):
            assert conn.execute(_BOTH).one() == (a.tenant_id, "off")  # not the platform's
        conn.commit()
        with platform_scope():
            assert conn.execute(_BOTH).one() == ("", "on")
        conn.commit()
        # 2. a COMMIT that fails (a deferred constraint)
        conn.execute(sa.text("CREATE TEMP TABLE deferred_ref (id int PRIMARY KEY, ref int "
                             "REFERENCES deferred_ref (id) DEFERRABLE INITIALLY DEFERRED)"))
        conn.commit()
        with tenant_scope(tid):
            conn.execute(sa.text("INSERT INTO deferred_ref VALUES (1, 99)"))
            with pytest.raises(sa.exc.IntegrityError):
                conn.commit()
            conn.rollback()
            assert conn.execute(_BOTH).one() == (a.tenant_id, "off")
        conn.rollback()


def test_a_session_commit_after_a_caught_error_leaves_no_settings_behind(
        api: Api, app: Flask) -> None:
    a = api.register("caught-commit")
    tid = uuid.UUID(a.tenant_id)
    with app.app_context():
        db.engine.dispose()  # one connection from here on, so the next session gets it
    with app.app_context(), platform_scope():
        assert db.session.execute(_BOTH).one() == ("", "on")
        db.session.commit()
    with app.app_context(), tenant_scope(tid):  # a request that swallows an error
        db.session.execute(_BOTH)
        with pytest.raises(sa.exc.DataError):
            db.session.execute(sa.text("SELECT 1 / 0"))
        db.session.commit()  # a ROLLBACK on the server
    with app.app_context(), tenant_scope(tid):
        assert db.session.execute(_BOTH).one() == (a.tenant_id, "off")
