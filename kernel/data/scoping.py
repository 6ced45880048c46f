"""Tenant scoping of statements: the session's events that keep a tenant's code to its rows.

Tenant isolation happens twice:

* in the ORM: every statement touching a :class:`~kernel.data.base.TenantOwned` model gets
  a ``tenant_id = <scope>`` criterion, a statement outside any scope raises, and a flush
  refuses to write rows of a tenant other than the scope's;
* on PostgreSQL, in the database: row-level security policies (:mod:`kernel.data.rls`)
  compare ``tenant_id`` with the settings ``plugboard.tenant_id`` /
  ``plugboard.all_tenants``, which every statement finds set to its scope's
  (:func:`keep_settings_in_step`).

The scope itself (which tenant the current code runs as) is :mod:`kernel.tenancy.scope`.
"""

from __future__ import annotations

import re
import uuid
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
from kernel.data.engine import plain_select
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


# the settings the row-level security policies read, set for the database session (not
# the transaction): they stay on the pooled connection, which remembers them (SETTINGS) so
# that a statement only sends them when its scope wants other ones
_RLS_SETTINGS = ("SELECT set_config('plugboard.tenant_id', %s, {local}), "
                 "set_config('plugboard.all_tenants', %s, {local})")

SETTINGS = "plugboard_rls_settings"  # Connection.info: what this database session holds
TENTATIVE = "plugboard_rls_tentative"  # ...set inside the transaction still open
# Session.info and Connection.info: plain reads run outside a transaction (autocommit)
READ_MODE = "plugboard_read_mode"


def keep_settings_in_step(engine: sa.Engine, transaction_local: bool = False) -> None:
    """Run every statement of ``engine`` with the tenant settings of the scope it runs in.

    PostgreSQL's row-level security policies read ``plugboard.tenant_id`` and
    ``plugboard.all_tenants``. They are set for the database session and remembered on the
    pooled connection (``SETTINGS`` in its ``info``); before each statement the current
    scope's settings (empty outside a scope) are compared with what the connection holds
    and sent only when they differ, in one psycopg pipeline with the statement (no round
    trip of their own). So a request of the tenant whose settings the connection already
    holds sends none, and a connection handed from one scope (or one user of the pool) to
    another never carries the first one's settings into the second's statements.

    Settings sent inside a transaction are tentative: they last only if it commits, so
    they are forgotten when it ends, however it ends (commit, rollback, the pool's reset;
    a savepoint rolled back too), and any error on the connection forgets what it holds;
    a new connection starts with nothing remembered. Forgetting only costs one more send.
    Settings sent outside a transaction (autocommit) hold at once. Savepoint commands
    never carry settings (a ``ROLLBACK TO SAVEPOINT`` would undo them). The settings run
    on the driver connection, so SQLAlchemy's statement events do not see them.

    Not supported on these connections, because they would change the settings behind
    this memory: SQL that sets ``plugboard.*`` for the session itself, ``RESET``/``DISCARD
    ALL``, textual ``ROLLBACK TO SAVEPOINT``, two-phase transactions. (Migrations set them
    transaction-locally, which is fine.)

    On the connection of a read-mode session (:data:`READ_MODE`: put in autocommit when
    the session begins, back out of it when returned to the pool), plain ``SELECT``
    statements run outside a transaction: no ``BEGIN``, no ``COMMIT``, one round trip per
    query. Anything else (DML, DDL, textual SQL, a savepoint, ``FOR UPDATE``, a
    data-modifying CTE, ``executemany``, a server-side cursor) first opens a
    transaction, which then lasts until the session commits or rolls back, exactly as on
    a transactional connection.

    ``transaction_local``, for a transaction-pooling proxy (PgBouncer's
    ``pool_mode=transaction``), where consecutive transactions of one pooled connection
    may run on different server sessions: the settings are made transaction-local and
    forgotten at every end of a transaction, so each transaction sends them with its
    first statement; sessions have no read mode then (a statement in autocommit would run
    with whatever settings its server session holds; with transaction-local ones, it sees
    no tenant's rows). psycopg only: the settings ride in its pipeline mode.
    """
    import psycopg

    idle = psycopg.pq.TransactionStatus.IDLE
    settings_sql = _RLS_SETTINGS.format(local="true" if transaction_local else "false")

    def in_step(cursor: Any, statement: str, parameters: Any, context: Any,
                many: bool = False) -> bool | None:
        if context is None:
            return None
        try:
            info = context.root_connection.info
        except NotImplementedError:  # the dialect's first-connect checks: no pool entry
            return None
        raw = cursor.connection
        if (raw.autocommit and raw.info.transaction_status == idle and info.get(READ_MODE)
                and _needs_transaction(cursor, context, many)):
            raw.execute("BEGIN")
        wanted = _scope_settings()
        if info.get(SETTINGS) == wanted or statement.startswith(_TRANSACTION_CONTROL):
            # (settings sent before a ROLLBACK TO SAVEPOINT would be undone by it)
            return None  # SQLAlchemy executes as usual
        info.pop(SETTINGS, None)  # unknown until the send has succeeded
        if parameters is None or many or isinstance(cursor, psycopg.ServerCursor):
            # pipeline mode takes neither executemany nor server-side cursors, nor a
            # textual script of several statements: the settings go first, on their own
            raw.execute(settings_sql, wanted)
            remember(info, raw, wanted)
            return None
        with raw.pipeline():  # BEGIN (on a transactional connection), settings, statement
            raw.execute(settings_sql, wanted)
            cursor.execute(statement, parameters)
        remember(info, raw, wanted)
        return True

    def remember(info: dict[str, Any], raw: Any, wanted: tuple[str, str]) -> None:
        if raw.info.transaction_status == idle:  # autocommit: in effect for the session
            if not transaction_local:
                info[SETTINGS] = wanted
            return
        # inside a transaction: they last only if it commits, so they are forgotten when
        # it ends, however it ends (a COMMIT of a failed transaction is a rollback)
        info[SETTINGS] = wanted
        info[TENTATIVE] = True

    def forget_tentative(info: dict[str, Any]) -> None:
        if info.pop(TENTATIVE, False):
            info.pop(SETTINGS, None)

    @event.listens_for(engine, "do_execute")
    def _do_execute(cursor: Any, statement: str, parameters: Any, context: Any) -> bool | None:
        return in_step(cursor, statement, parameters, context)

    @event.listens_for(engine, "do_execute_no_params")
    def _do_execute_no_params(cursor: Any, statement: str, context: Any) -> bool | None:
        return in_step(cursor, statement, None, context)

    @event.listens_for(engine, "do_executemany")
    def _do_executemany(cursor: Any, statement: str, parameters: Any, context: Any) -> None:
        in_step(cursor, statement, parameters, context, many=True)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _transaction_ending(conn: sa.Connection) -> None:
        if not conn.invalidated:  # (an invalidated one's info goes with its connection)
            forget_tentative(conn.info)

    @event.listens_for(engine, "rollback_savepoint")
    def _rolling_back_savepoint(conn: sa.Connection, name: str, context: Any) -> None:
        forget_tentative(conn.info)

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        # whatever failed (a statement, a commit), the settings may not be what they were
        conn = context.connection
        if conn is not None and not conn.invalidated:
            conn.info.pop(SETTINGS, None)
            conn.info.pop(TENTATIVE, None)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, record: Any, state: Any) -> None:
        # the pool rolls back a connection handed back inside a transaction
        forget_tentative(record.info)

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(READ_MODE, False) and dbapi_connection is not None:
            try:
                if dbapi_connection.info.transaction_status != idle:  # (reset rolled back)
                    dbapi_connection.rollback()
                dbapi_connection.autocommit = False
            except psycopg.Error as exc:  # a broken connection: never handed out again
                record.invalidate(exc)


_TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK")  # the dialect's savepoint commands


def _needs_transaction(cursor: Any, context: Any, many: bool) -> bool:
    """Whether a statement must not run outside a transaction (anything but a plain read)."""
    import psycopg

    if many or isinstance(cursor, psycopg.ServerCursor):
        return True
    compiled: Any = getattr(context, "compiled", None)
    return not plain_select(compiled) or compiled.statement._for_update_arg is not None


@event.listens_for(PlugboardSession, "after_begin")
def _after_begin(session: Session, transaction: Any, connection: Any) -> None:
    session.info[CONNECTION] = connection
    if session.info.get(READ_MODE) and not connection.info.get(READ_MODE):
        _read_outside_transaction(connection)


_CHARACTERISTICS = ("isolation_level", "postgresql_readonly", "postgresql_deferrable")


def _read_outside_transaction(connection: sa.Connection) -> None:
    """Put a read-mode session's connection in autocommit, unless told otherwise.

    A connection (or engine) given an isolation level, read-only or deferrable
    transactions of its own keeps them. The pool's check-in (:func:`keep_settings_in_step`)
    takes autocommit off again.
    """
    import psycopg

    raw = connection.connection.driver_connection
    options = connection.get_execution_options()
    if (raw is None or raw.autocommit or any(options.get(o) is not None for o in _CHARACTERISTICS)
            or raw.isolation_level not in (None, psycopg.IsolationLevel.READ_COMMITTED)
            or raw.read_only is not None
            or raw.deferrable is not None
            or raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE):
        return
    raw.autocommit = True
    connection.info[READ_MODE] = True


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


TENANT_PARAMETER = "plugboard_scope_tenant_id"


def _scope_tenant() -> uuid.UUID | None:
    """The scope's tenant, for SQLAlchemy's in-Python evaluation of the criterion.

    (``synchronize_session="evaluate"`` of a bulk UPDATE or DELETE matches the session's
    objects against the statement's WHERE, criterion included, in Python.)
    """
    scope = current_scope()
    return None if scope is None else scope.tenant_id


# The loader criterion that keeps every tenant-owned entity to the scope's tenant: one
# option for every tenant, built once; the tenant is a bound parameter given with each
# execution (so the compiled form is shared and hit in SQLAlchemy's cache, and building
# the statement's cache key never walks a per-tenant closure). A statement given no value
# for it fails: it can never run unfiltered.
_TENANT_BIND: sa.BindParameter[Any] = sa.bindparam(TENANT_PARAMETER, callable_=_scope_tenant)
_TENANT_CRITERION = with_loader_criteria(
    TenantOwned, lambda cls: cls.tenant_id == _TENANT_BIND, include_aliases=True)


def _with_tenant(parameters: Any, tid: uuid.UUID) -> Any:
    """The execution's parameters with the scope's tenant added (to each row of a list)."""
    if parameters is None:
        return {TENANT_PARAMETER: tid}
    if isinstance(parameters, list):  # executemany-style: ORM bulk UPDATE by primary key
        return [{**row, TENANT_PARAMETER: tid} for row in parameters]
    return {**parameters, TENANT_PARAMETER: tid}


@event.listens_for(PlugboardSession, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    scope = current_scope()
    if scope is not None and scope.tenant_id is None:
        return  # the platform scope sees every tenant's rows
    if scope is not None and (state.is_select or state.is_update or state.is_delete):
        # In a tenant scope the criterion goes on every SELECT, UPDATE and DELETE, tenant
        # tables or not (it only touches tenant-owned entities), so no walk is needed.
        state.statement = state.statement.options(_TENANT_CRITERION)
        if state.is_update and isinstance(state.parameters, list):
            _scope_bulk_update(state, cast(uuid.UUID, scope.tenant_id))
        state.parameters = _with_tenant(state.parameters, cast(uuid.UUID, scope.tenant_id))
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


def _scope_bulk_update(state: ORMExecuteState, tid: uuid.UUID) -> None:
    """Keep an ORM bulk UPDATE by primary key (a list of rows) to the scope's tenant.

    It does not apply loader criteria: the tenant goes into its own WHERE instead (a row
    of another tenant then matches nothing), which SQLAlchemy only takes without the
    ``"auto"``/``"evaluate"`` synchronisation of the session's objects; and no row may
    set ``tenant_id`` to another tenant.
    """
    mapper = state.bind_mapper
    if mapper is None or not is_tenant_owned(mapper.class_):
        return
    model = mapper.class_.__name__
    if state.execution_options.get("synchronize_session", "auto") in ("auto", "evaluate"):
        raise TenantScopeError(
            f"ORM bulk UPDATE by primary key of tenant-owned {model} in a tenant scope needs "
            "execution_options={'synchronize_session': False} (or None), so that the tenant "
            "criterion can be added to its WHERE clause."
        )
    rows = cast(list[dict[str, Any]], state.parameters)
    others = {str(row["tenant_id"]) for row in rows
              if "tenant_id" in row and str(row["tenant_id"]) != str(tid)}
    if others:
        raise TenantScopeError(
            f"Bulk UPDATE moving {model} rows to tenant(s) {', '.join(sorted(others))} "
            f"inside the scope of tenant {tid}."
        )
    state.statement = cast(sa.Update, state.statement).where(
        mapper.class_.tenant_id == _TENANT_BIND)


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
