"""Sessions: ``db``, the session of the current application context, and after-commit callbacks.

``db`` is created unbound and attached with :meth:`Database.init_app`. Sessions are
scoped to the Flask application context and removed when it ends. The model base is
:mod:`kernel.data.base`, the tenant scoping :mod:`kernel.data.scoping`, engines
:mod:`kernel.data.engine`.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, g, has_request_context, request
from flask.globals import app_ctx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    Session,
    scoped_session,
    sessionmaker,
)

from kernel.data.engine import WROTE, create_db_engine
from kernel.data.scoping import (
    CONNECTION,
    READ_MODE,
    PlugboardSession,
    keep_settings_in_step,
)
from kernel.services import kernel_services

log = logging.getLogger("plugboard.db")

# flask.g of an application context pushed inside a GET request for other work (a job run
# inline): its sessions are not read-mode ones
NO_READ_MODE = "plugboard_no_read_mode"


def after_commit(session: Session, callback: Any, key: str | None = None) -> None:
    """Run ``callback()`` once ``session``'s current transaction commits (now, if none).

    Dropped if the transaction rolls back. The callback must not use ``session``;
    jobs run inline open an application context (hence a session) of their own. With a
    ``key``, only the first callback of that key in a transaction is kept (e.g. one
    dispatch request per transaction however many events it emitted).
    """
    if not session.in_transaction():
        callback()
        return
    if key is not None:
        keys: set[str] = session.info.setdefault("after_commit_keys", set())
        if key in keys:
            return
        keys.add(key)
    session.info.setdefault("after_commit", []).append(callback)


@event.listens_for(PlugboardSession, "after_commit")
def _run_after_commit(session: Session) -> None:
    session.info.pop("after_commit_keys", None)
    for callback in session.info.pop("after_commit", []):
        callback()


@event.listens_for(PlugboardSession, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)
    session.info.pop("after_commit_keys", None)


def end_read_only(session: Session) -> None:
    """Commit, rather than roll back, a PostgreSQL transaction that only read.

    Both end it the same way for the database. But psycopg forgets every prepared
    statement on each ``rollback()`` of a transaction (a rollback may undo DDL the plans
    depend on), and a request that only reads used to end in one, so no query ever
    reached psycopg's prepare threshold and PostgreSQL parsed and planned every statement
    afresh. Anything that may have written (a flush, pending objects, DML or textual SQL,
    a savepoint, a data-modifying CTE, ``after_commit`` callbacks) leaves the transaction
    to the usual rollback. One difference remains visible: a ``SELECT`` of a function
    with effects (``pg_notify``, say) that was never committed now takes effect; commit
    such work. A read-mode session (see :meth:`Database.read_mode`) that only read has
    no transaction on the database to end: closing it sends nothing.
    """
    connection = session.info.get(CONNECTION)
    if (connection is None or not session.in_transaction() or session.new or session.dirty
            or session.deleted or session.info.get("after_commit")):
        return
    if connection.dialect.name != "postgresql" or connection.info.get(WROTE) is not False:
        return
    from psycopg.pq import TransactionStatus

    raw = connection.connection.driver_connection
    if raw is not None and raw.autocommit and raw.info.transaction_status == TransactionStatus.IDLE:
        return  # a read-mode session that only read: nothing began on the database
    session.commit()


class Database:
    """The database extension: ``db.init_app(app, url)``, then ``db.session``."""

    def __init__(self) -> None:
        # scoped_session only calls its factory; the bind comes from the current app
        factory = cast("sessionmaker[PlugboardSession]", self._make_session)
        self.session: scoped_session[PlugboardSession] = scoped_session(
            factory, scopefunc=_scope_key
        )

    def init_app(self, app: Flask, url: str, prepared_statements: bool = True,
                 pool_size: int = 10, max_overflow: int = 20,
                 transaction_pooling: bool = False) -> None:
        options: dict[str, Any] = {}
        if not url.startswith("sqlite"):
            options.update(pool_size=pool_size, max_overflow=max_overflow)
        if not prepared_statements and sa.make_url(url).get_driver_name() == "psycopg":
            options["connect_args"] = {"prepare_threshold": None}
        engine = create_db_engine(url, **options)
        services = kernel_services(app)
        services.engine = engine
        services.reads_outside_transaction = (engine.dialect.driver == "psycopg"
                                              and not transaction_pooling)
        if engine.dialect.driver == "psycopg":
            keep_settings_in_step(engine, transaction_local=transaction_pooling)
        app.teardown_appcontext(self._teardown)

    @staticmethod
    def read_mode() -> bool:
        """Whether the current session reads outside a transaction until it writes.

        So do the sessions of ``GET`` and ``HEAD`` requests on PostgreSQL (psycopg): their
        plain ``SELECT`` statements run in autocommit, each its own snapshot, as every
        statement of a ``READ COMMITTED`` transaction is anyway, without the ``BEGIN`` and
        ``COMMIT`` round trips; anything else they run (a flush, DML, textual SQL, ``FOR
        UPDATE``, a savepoint) opens a transaction first, which commits or rolls back as
        usual (:func:`kernel.data.scoping.keep_settings_in_step`). What a read-mode
        session gives up: a ``SELECT`` of a function with transaction-scoped effects
        (``pg_advisory_xact_lock`` through ``sa.func``, say) ends with its statement; take
        such locks with textual SQL or after a write.
        """
        return (has_request_context() and request.method in ("GET", "HEAD")
                and not g.get(NO_READ_MODE, False))

    @classmethod
    def _make_session(cls) -> PlugboardSession:
        services = kernel_services()
        session = PlugboardSession(bind=services.engine, expire_on_commit=False)
        if services.reads_outside_transaction and cls.read_mode():
            session.info[READ_MODE] = True
        return session

    def _teardown(self, exc: BaseException | None) -> None:
        try:
            if exc is None and self.session.registry.has():
                end_read_only(self.session())
        except sa.exc.SQLAlchemyError:
            log.warning("ending a read-only transaction with COMMIT failed; rolling back",
                        exc_info=True)
        finally:
            self.session.remove()

    @property
    def engine(self) -> Engine:
        engine: Engine = kernel_services().engine
        return engine


def _scope_key() -> int:
    # One session per application context (request, CLI command, job).
    return id(app_ctx._get_current_object()) if app_ctx else 0  # type: ignore[attr-defined]


db = Database()


def insert_on_conflict(target: Any) -> Any:
    """``INSERT`` into ``target`` (a model or table) that takes ``ON CONFLICT`` clauses.

    ``on_conflict_do_nothing`` / ``on_conflict_do_update`` are each dialect's own
    construct (PostgreSQL's or SQLite's ``insert``, with the same methods); this picks the
    one of the session's database.
    """
    from sqlalchemy.dialects import postgresql, sqlite

    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(target)
    return sqlite.insert(target)
