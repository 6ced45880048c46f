"""Database: SQLAlchemy 2 engine and sessions, typed models, and tenant scoping.

``db`` is created unbound and attached with :meth:`Database.init_app`. Sessions are
scoped to the Flask application context and removed when it ends.

Tenant isolation happens twice:

* in the ORM: every statement touching a :class:`TenantOwned` model gets a
  ``tenant_id = <scope>`` criterion, a statement outside any scope raises, and a
  flush refuses to write rows of a tenant other than the scope's;
* on PostgreSQL, in the database: row-level security policies compare ``tenant_id``
  with the transaction-local settings ``plugboard.tenant_id`` /
  ``plugboard.all_tenants``, which the session sets whenever the scope changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import uuid
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, current_app
from flask.globals import app_ctx
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    UOWTransaction,
    declared_attr,
    mapped_column,
    scoped_session,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.sql.util import find_tables

from kernel.tenancy import TenantScopeError, current_scope

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
log = logging.getLogger("plugboard.db")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """The declarative base of every kernel and plugin model."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSONType}


class TenantOwned:
    """Mixin for tenant-owned models: a ``tenant_id`` column and automatic scoping.

    .. versionadded:: 0.1
    """

    __tenant_owned__ = True

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            sa.Uuid, sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True, nullable=False
        )


def is_tenant_owned(cls: type) -> bool:
    return bool(getattr(cls, "__tenant_owned__", False))


class PlugboardSession(Session):
    """The session class; its events enforce the tenant scope."""

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        """:meth:`Session.get`, with the scope enforced for rows already in the identity map.

        The identity map answers without a query, so ``do_orm_execute`` never sees it.
        """
        obj = super().get(entity, ident, **kwargs)
        if obj is None or not is_tenant_owned(type(obj)):
            return obj
        scope = current_scope()
        if scope is None:
            raise TenantScopeError(
                f"session.get of tenant-owned {type(obj).__name__} outside a tenant scope. Run "
                "it inside `with tenant_scope(tenant_id):` (or `platform_scope()`)."
            )
        if scope.tenant_id is not None and obj.tenant_id != scope.tenant_id:
            return None
        return obj


def _scope_settings() -> tuple[str, str]:
    scope = current_scope()
    if scope is None:
        return ("", "off")
    if scope.tenant_id is None:
        return ("", "on")
    return (str(scope.tenant_id), "off")


# the transaction-local settings the row-level security policies read; sent with
# placeholders (psycopg's or SQLAlchemy's) or, beside BEGIN, with the values inlined
_RLS_SETTINGS = ("SELECT set_config('plugboard.tenant_id', {tenant}, true), "
                 "set_config('plugboard.all_tenants', {all_tenants}, true)")
_RLS_PSYCOPG = _RLS_SETTINGS.format(tenant="%s", all_tenants="%s")
_RLS_SQLALCHEMY = sa.text(_RLS_SETTINGS.format(tenant=":tid", all_tenants=":all"))


def _sync_rls(session: Session) -> None:
    """Set PostgreSQL's transaction-local tenant settings when the scope changed."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    wanted = _scope_settings()
    # Procure the connection first: a new transaction (after_begin) forgets the settings,
    # which SET LOCAL lost at the previous commit.
    connection = session.connection()
    if session.info.get("rls_settings") == wanted:
        return
    if bind.dialect.driver != "psycopg" or not _send_rls_settings(
            connection.connection.driver_connection, wanted):
        # another driver, or the direct way failed: the plain statement through SQLAlchemy,
        # which raises its usual wrapped error (and recycles the pool for a dead connection)
        connection.execute(_RLS_SQLALCHEMY, {"tid": wanted[0], "all": wanted[1]})
    session.info["rls_settings"] = wanted


def _send_rls_settings(raw: Any, wanted: tuple[str, str]) -> bool:
    """``set_config`` on the psycopg connection, in the same round trip as its ``BEGIN``.

    psycopg opens a transaction with a ``BEGIN`` of its own, answered before the first
    statement is sent: two round trips on every request's first statement. When the
    transaction has not begun, ``BEGIN; SELECT set_config(...)`` goes as one simple query
    instead (libpq's ``PQexec``, which releases the GIL; psycopg reads the transaction
    status from libpq, so it carries on inside that transaction). The values are
    inlined, which is safe because they are a UUID's text or empty, and ``on``/``off``;
    anything else is refused. A connection in autocommit mode, with a non-default
    isolation level or already in a transaction gets the plain parametrised statement. Either way it runs
    on the driver connection, so SQLAlchemy's statement events do not see it.

    Returns False when that failed (a broken connection, a failed transaction, an error):
    the caller then sends the statement through SQLAlchemy, whose error handling raises
    the usual wrapped error and, for a dead connection, recycles the pool.
    """
    import psycopg

    tenant, all_tenants = wanted
    if not (_UUID_TEXT.fullmatch(tenant) and all_tenants in ("on", "off")):
        raise ValueError(f"refusing to inline tenant settings {wanted!r}")
    idle = raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    plain = (raw.autocommit or raw.isolation_level is not None or raw.read_only is not None
             or raw.deferrable is not None)
    try:
        if not idle or plain:
            raw.execute(_RLS_PSYCOPG, wanted)
            return True
        query = "BEGIN; " + _RLS_SETTINGS.format(tenant=f"'{tenant}'", all_tenants=f"'{all_tenants}'")
        with raw.lock:
            result = raw.pgconn.exec_(query.encode())
    except psycopg.Error:
        return False
    return bool(result.status == psycopg.pq.ExecStatus.TUPLES_OK)


_UUID_TEXT = re.compile(r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?")


@event.listens_for(PlugboardSession, "after_begin")
def _after_begin(session: Session, transaction: Any, connection: Any) -> None:
    session.info.pop("rls_settings", None)
    session.info[_CONNECTION] = connection


@event.listens_for(PlugboardSession, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost one: its connection goes back to the pool
        session.info.pop(_CONNECTION, None)


_CONNECTION = "plugboard_connection"  # session.info: the current transaction's connection


def _tenant_tables() -> dict[str, str]:
    """Table name -> model name of every tenant-owned model mapped so far."""
    tables = _TENANT_TABLES.get("map")
    if tables is None:  # built whole, then published: no thread ever sees a partial map
        tables = {
            m.local_table.name: m.class_.__name__  # type: ignore[attr-defined]
            for m in Base.registry.mappers if is_tenant_owned(m.class_)
        }
        _TENANT_TABLES["map"] = tables
    return tables


_TENANT_TABLES: dict[str, dict[str, str]] = {}  # "map" -> the map; emptied when a model is mapped


@event.listens_for(sa.orm.Mapper, "after_mapper_constructed")
def _mapper_added(mapper: Any, class_: type) -> None:
    _TENANT_TABLES.clear()


def _tenant_models_in(statement: Any) -> list[str]:
    """Tenant-owned models a statement touches anywhere: joins, subqueries, EXISTS, DML."""
    owned = _tenant_tables()
    tables = find_tables(statement, include_joins=True, include_aliases=True, include_crud=True)
    return sorted({owned[t.name] for t in tables if getattr(t, "name", None) in owned})


@event.listens_for(PlugboardSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    _sync_rls(state.session)
    names = _tenant_models_in(state.statement)
    if not names:
        return
    scope = current_scope()
    if scope is None:
        raise TenantScopeError(
            f"Query on tenant-owned {', '.join(names)} outside a tenant scope. Run it inside "
            "`with tenant_scope(tenant_id):` (or `platform_scope()` for kernel look-ups)."
        )
    if scope.tenant_id is None:
        return
    tid = scope.tenant_id
    if state.is_insert:
        _check_insert(state, tid)
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == tid, include_aliases=True)
    )


_TENANT_PARAM = re.compile(r"^tenant_id(_m\d+)?$")


def _check_insert(state: ORMExecuteState, tid: uuid.UUID) -> None:
    """An INSERT statement in a tenant scope may only write rows of that tenant."""
    parameters: Any = state.parameters
    if isinstance(parameters, list):  # bulk INSERT of a list of rows
        given = [row.get("tenant_id") for row in parameters]
    else:  # values embedded with .values(), single or multi-row
        statement = cast(sa.Insert, state.statement)
        params = {**statement.compile().params, **(parameters or {})}
        given = [value for key, value in params.items() if _TENANT_PARAM.match(key)]
    others = {str(t) for t in given if t is not None and str(t) != str(tid)}
    if others:
        raise TenantScopeError(
            f"INSERT of rows of tenant(s) {', '.join(sorted(others))} inside the scope of "
            f"tenant {tid}; open that tenant's scope instead."
        )


@event.listens_for(PlugboardSession, "before_flush")
def _scope_flush(session: Session, flush_context: UOWTransaction, instances: Any) -> None:
    owned = [o for o in (*session.new, *session.dirty, *session.deleted) if is_tenant_owned(type(o))]
    if not owned:
        return
    scope = current_scope()
    if scope is None:
        raise TenantScopeError(
            "Writing tenant-owned rows outside a tenant scope; wrap the code in "
            "`with tenant_scope(tenant_id):`."
        )
    for obj in owned:
        if obj.tenant_id is None and obj in session.new:
            if scope.tenant_id is None and getattr(type(obj), "__tenant_nullable__", False):
                continue  # a platform-level row of a table that allows them (audit log)
            if scope.tenant_id is None:
                raise TenantScopeError(
                    f"New {type(obj).__name__} has no tenant_id and the platform scope "
                    "cannot supply one; set tenant_id explicitly."
                )
            obj.tenant_id = scope.tenant_id
        elif scope.tenant_id is not None:
            # the loaded tenant too: moving another tenant's row into this one is no better
            owners = {obj.tenant_id, *sa.inspect(obj).attrs.tenant_id.history.deleted}
            for owner in owners - {scope.tenant_id}:
                raise TenantScopeError(
                    f"{type(obj).__name__} belongs to tenant {owner}, not to the scope's "
                    f"tenant {scope.tenant_id}."
                )
    _sync_rls(session)


def after_commit(session: Session, callback: Any) -> None:
    """Run ``callback()`` once ``session``'s current transaction commits (now, if none).

    Dropped if the transaction rolls back. The callback must not use ``session``;
    jobs run inline open an application context (hence a session) of their own.
    """
    if not session.in_transaction():
        callback()
        return
    session.info.setdefault("after_commit", []).append(callback)


@event.listens_for(PlugboardSession, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop("after_commit", []):
        callback()


@event.listens_for(PlugboardSession, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings Plugboard relies on for ``url``'s backend."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = sa.create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine)
    _track_writes(engine)
    return engine


_WROTE = "plugboard_wrote"


def _track_writes(engine: Engine) -> None:
    """Note on the connection whether its transaction ran anything but a plain ``SELECT``.

    Read by :func:`_end_read_only`. Conservative: DML, DDL, savepoints, textual SQL and a
    ``SELECT`` with a data-modifying CTE count as writes; only statements compiled from a
    ``Select`` do not. The flag is False from ``begin`` on and absent on connections of
    another engine, which :func:`_end_read_only` treats as written.
    """

    @event.listens_for(engine, "begin")
    def _began(conn: sa.Connection) -> None:
        conn.info[_WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn: sa.Connection, cursor: Any, statement: str, parameters: Any,
                   context: Any, executemany: bool) -> None:
        if not _plain_select(getattr(context, "compiled", None)):
            conn.info[_WROTE] = True


def _plain_select(compiled: Any) -> bool:
    if compiled is None or not isinstance(compiled.statement, sa.Select):
        return False
    ctes = getattr(compiled, "ctes", None) or {}
    return all(isinstance(cte.element, sa.Select | sa.CompoundSelect) for cte in ctes)


def _end_read_only(session: Session) -> None:
    """Commit, rather than roll back, a PostgreSQL transaction that only read.

    Both end it the same way for the database. But psycopg forgets every prepared
    statement on each ``rollback()`` (a rollback may undo DDL the plans depend on), and a
    request that only reads used to end in one, so no query ever reached psycopg's
    prepare threshold and PostgreSQL parsed and planned every statement afresh. Anything
    that may have written (a flush, pending objects, DML or textual SQL, a savepoint, a
    data-modifying CTE, ``after_commit`` callbacks) leaves the transaction to the usual
    rollback. One difference remains visible: a ``SELECT`` of a function with effects
    (``pg_notify``, say) that was never committed now takes effect; commit such work.
    """
    connection = session.info.get(_CONNECTION)
    if (connection is None or not session.in_transaction() or session.new or session.dirty
            or session.deleted or session.info.get("after_commit")):
        return
    if connection.dialect.name != "postgresql" or connection.info.get(_WROTE) is not False:
        return
    session.commit()


PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it sat idle in the pool, not every time.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip on every
    request. A connection handed back moments ago is as alive as a ping would show; the
    ones that die are those left idle (a restarted server, an idle timeout in a proxy).
    So connections idle for more than :data:`PING_AFTER_IDLE_SECONDS` are pinged, and a
    dead one is replaced transparently (``DisconnectionError`` makes the pool retry with
    a fresh connection). A connection that dies while busy fails its statement either
    way; SQLAlchemy then recycles every connection of the pool opened before that.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info["plugboard_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop("plugboard_idle_since", None)
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS:
            return  # brand new, or back in the pool a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure means: do not use this one
            raise sa.exc.DisconnectionError(f"pooled connection failed its ping: {exc}") from exc
        if not alive:
            raise sa.exc.DisconnectionError("pooled connection failed its ping")


class Database:
    """The database extension: ``db.init_app(app, url)``, then ``db.session``."""

    def __init__(self) -> None:
        # scoped_session only calls its factory; the bind comes from the current app
        factory = cast("sessionmaker[PlugboardSession]", self._make_session)
        self.session: scoped_session[PlugboardSession] = scoped_session(
            factory, scopefunc=_scope_key
        )

    def init_app(self, app: Flask, url: str, prepared_statements: bool = True,
                 pool_size: int = 10, max_overflow: int = 20) -> None:
        options: dict[str, Any] = {}
        if not url.startswith("sqlite"):
            options.update(pool_size=pool_size, max_overflow=max_overflow)
        if not prepared_statements and sa.make_url(url).get_driver_name() == "psycopg":
            options["connect_args"] = {"prepare_threshold": None}
        app.extensions["plugboard.db"] = create_db_engine(url, **options)
        app.teardown_appcontext(self._teardown)

    @staticmethod
    def _make_session() -> PlugboardSession:
        return PlugboardSession(bind=current_app.extensions["plugboard.db"], expire_on_commit=False)

    def _teardown(self, exc: BaseException | None) -> None:
        try:
            if exc is None and self.session.registry.has():
                _end_read_only(self.session())
        except sa.exc.SQLAlchemyError:
            log.warning("ending a read-only transaction with COMMIT failed; rolling back",
                        exc_info=True)
        finally:
            self.session.remove()

    @property
    def engine(self) -> Engine:
        engine: Engine = current_app.extensions["plugboard.db"]
        return engine


def _scope_key() -> int:
    # One session per application context (request, CLI command, job).
    return id(app_ctx._get_current_object()) if app_ctx else 0  # type: ignore[attr-defined]


db = Database()
