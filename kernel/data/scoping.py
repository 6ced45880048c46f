"""Tenant scoping of statements: the session's events that keep a tenant's code to its rows.

Tenant isolation happens twice:

* in the ORM: every statement touching a :class:`~kernel.data.base.TenantOwned` model gets
  a ``tenant_id = <scope>`` criterion, a statement outside any scope raises, and a flush
  refuses to write rows of a tenant other than the scope's;
* on PostgreSQL, in the database: row-level security policies (:mod:`kernel.data.rls`)
  compare ``tenant_id`` with the transaction-local settings ``plugboard.tenant_id`` /
  ``plugboard.all_tenants``, which the session sets whenever the scope changes.

The scope itself (which tenant the current code runs as) is :mod:`kernel.tenancy.scope`.
"""

from __future__ import annotations

import functools
import re
import uuid
import weakref
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import (
    ORMExecuteState,
    Session,
    UOWTransaction,
    with_loader_criteria,
)
from sqlalchemy.sql.util import find_tables

from kernel.data.base import Base, TenantOwned, is_tenant_owned
from kernel.tenancy.scope import TenantScopeError, current_scope


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
    wanted = _scope_settings()
    # The common case, without procuring the connection: this transaction (CONNECTION is
    # set from after_begin to the end of the outermost transaction, and after_begin forgets
    # the settings) already runs with these settings.
    if session.info.get("rls_settings") == wanted and session.info.get(CONNECTION) is not None:
        return
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # Procure the connection first: a new transaction (after_begin) forgets the settings,
    # which SET LOCAL lost at the previous commit.
    connection = session.connection()
    if session.info.get("rls_settings") == wanted:
        return
    if bind.dialect.driver == "psycopg" and _defer_rls_settings(connection, wanted):
        session.info["rls_settings"] = wanted
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


PENDING = "plugboard_rls_pending"  # Connection.info: settings to send with the next statement


def _defer_rls_settings(connection: sa.Connection, wanted: tuple[str, str]) -> bool:
    """Leave the settings for the transaction's first statement to carry, if it can.

    Only before psycopg has begun the transaction on the connection (so ``BEGIN``, the
    settings and the statement can travel together: see
    :func:`send_settings_with_first_statement`) and only on a plain transactional
    connection. Otherwise False: the caller sends them now.
    """
    import psycopg

    if connection.engine not in _PIPELINED:
        return False
    raw = connection.connection.driver_connection
    if (raw is None or raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
            or raw.autocommit or raw.isolation_level is not None or raw.read_only is not None
            or raw.deferrable is not None):
        return False
    connection.info[PENDING] = wanted
    return True


def send_settings_with_first_statement(engine: sa.Engine) -> None:
    """Send deferred tenant settings in one round trip with the statement that needs them.

    psycopg's pipeline mode queues ``BEGIN``, ``set_config`` and the statement and sends
    them together: a request's first query costs one round trip instead of two, and the
    settings go as a parametrised (hence, from the fifth time on, prepared) statement.
    The driver connection runs them, so SQLAlchemy's statement events do not see the
    settings; an error of either is raised inside SQLAlchemy's execution, which wraps it
    as usual (and recycles the pool for a dead connection). ``executemany`` and
    server-side cursors (which pipeline mode does not take) send the settings first.

    The pending settings live on the pooled connection's ``info``, so every end of a
    transaction and every return to the pool drops them: they can only ever ride on a
    statement of the transaction (and so of the scope) that deferred them.
    """
    import psycopg

    def pending(context: Any) -> tuple[str, str] | None:
        if context is None:
            return None
        try:
            info = context.root_connection.info
        except NotImplementedError:  # the dialect's first-connect checks: no pool entry
            return None
        wanted: tuple[str, str] | None = info.pop(PENDING, None)
        return wanted

    def send_first(cursor: Any, wanted: tuple[str, str]) -> None:
        cursor.connection.execute(_RLS_PSYCOPG, wanted)

    def pipelined(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
        wanted = pending(context)
        if wanted is None:
            return None  # SQLAlchemy executes as usual
        raw = cursor.connection
        if isinstance(cursor, psycopg.ServerCursor) or (
                raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE):
            send_first(cursor, wanted)
            return None
        with raw.pipeline():
            raw.execute(_RLS_PSYCOPG, wanted)
            if parameters is None:
                cursor.execute(statement)
            else:
                cursor.execute(statement, parameters)
        return True

    @event.listens_for(engine, "do_execute")
    def _do_execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
        return pipelined(cursor, statement, parameters, context)

    @event.listens_for(engine, "do_execute_no_params")
    def _do_execute_no_params(cursor: Any, statement: str, context: Any) -> bool | None:
        return pipelined(cursor, statement, None, context)

    @event.listens_for(engine, "do_executemany")
    def _do_executemany(cursor: Any, statement: str, parameters: Any, context: Any) -> None:
        wanted = pending(context)
        if wanted is not None:
            send_first(cursor, wanted)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _transaction_ended(conn: sa.Connection) -> None:
        if not conn.invalidated:  # an invalidated one's info goes with its DBAPI connection
            conn.info.pop(PENDING, None)

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info.pop(PENDING, None)

    _PIPELINED.add(engine)


_PIPELINED: weakref.WeakSet[sa.Engine] = weakref.WeakSet()  # engines with the hooks above


_UUID_TEXT = re.compile(r"(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?")


@event.listens_for(PlugboardSession, "after_begin")
def _after_begin(session: Session, transaction: Any, connection: Any) -> None:
    session.info.pop("rls_settings", None)
    connection.info.pop(PENDING, None)
    session.info[CONNECTION] = connection


@event.listens_for(PlugboardSession, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost one: its connection goes back to the pool
        session.info.pop(CONNECTION, None)


CONNECTION = "plugboard_connection"  # session.info: the current transaction's connection


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
    _TOUCHED.clear()


def _walk_tenant_models(statement: Any) -> tuple[str, ...]:
    owned = _tenant_tables()
    tables = find_tables(statement, include_joins=True, include_aliases=True, include_crud=True)
    return tuple(sorted({owned[t.name] for t in tables if getattr(t, "name", None) in owned}))


# SQLAlchemy cache key (its ``.key`` tuple) -> the tenant-owned models the statement
# touches. Statements with equal keys compile to the same SQL, so they touch the same
# tables; the scope is never part of what is cached, only this fact about the statement.
_TOUCHED: dict[Any, tuple[str, ...]] = {}
_TOUCHED_MAX = 5_000  # distinct statement shapes; emptied whole when full


def _tenant_models_in(statement: Any) -> tuple[str, ...]:
    """Tenant-owned models a statement touches anywhere: joins, subqueries, EXISTS, DML.

    Walking the statement costs more than a query on a fast connection, so the answer is
    kept per statement shape (SQLAlchemy's cache key, which SQLAlchemy computes anyway to
    find the compiled form and memoises on the statement). A statement SQLAlchemy cannot
    cache (no key) is walked every time.
    """
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        return _walk_tenant_models(statement)
    names = _TOUCHED.get(cache_key.key)
    if names is None:
        names = _walk_tenant_models(statement)
        if len(_TOUCHED) >= _TOUCHED_MAX:
            _TOUCHED.clear()
        _TOUCHED[cache_key.key] = names
    return names


@functools.lru_cache(maxsize=4096)
def _tenant_criteria(tid: uuid.UUID) -> Any:
    """The loader criterion that keeps every tenant-owned entity to ``tid``'s rows.

    One option object per tenant, reused: building it analyses the lambda each time. The
    tenant is the lambda's closure variable, which SQLAlchemy extracts as a bound value
    on every execution, so the compiled form is shared by every tenant and the value
    comes from this tenant's option.
    """
    return with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == tid, include_aliases=True)


@event.listens_for(PlugboardSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    _sync_rls(state.session)
    scope = current_scope()
    if scope is not None and scope.tenant_id is None:
        return  # the platform scope sees every tenant's rows
    if scope is not None and (state.is_select or state.is_update or state.is_delete):
        # In a tenant scope the criterion goes on every SELECT, UPDATE and DELETE, tenant
        # tables or not (it only touches tenant-owned entities), so no walk is needed.
        state.statement = state.statement.options(_tenant_criteria(scope.tenant_id))
        return
    names = _tenant_models_in(state.statement)
    if not names:
        return
    if scope is None:
        raise TenantScopeError(
            f"Query on tenant-owned {', '.join(names)} outside a tenant scope. Run it inside "
            "`with tenant_scope(tenant_id):` (or `platform_scope()` for kernel look-ups)."
        )
    if state.is_insert:
        _check_insert(state, cast(uuid.UUID, scope.tenant_id))


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
