"""Engines: the settings Plugboard relies on per backend, and the tuning of the request path.

SQLite gets its pragmas; PostgreSQL a sized pool, a ping only after an idle spell, and
write tracking so a read-only transaction can end without a round trip.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine


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


WROTE = "plugboard_wrote"


def _track_writes(engine: Engine) -> None:
    """Note on the connection whether its transaction ran anything but a plain ``SELECT``.

    Read by :func:`end_read_only`. Conservative: DML, DDL, savepoints, textual SQL and a
    ``SELECT`` with a data-modifying CTE count as writes; only statements compiled from a
    ``Select`` do not. The flag is False from ``begin`` on and absent on connections of
    another engine, which :func:`end_read_only` treats as written.
    """

    @event.listens_for(engine, "begin")
    def _began(conn: sa.Connection) -> None:
        conn.info[WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn: sa.Connection, cursor: Any, statement: str, parameters: Any,
                   context: Any, executemany: bool) -> None:
        if not plain_select(getattr(context, "compiled", None)):
            conn.info[WROTE] = True


def plain_select(compiled: Any) -> bool:
    """Whether ``compiled`` is a ``SELECT`` that writes nothing (no data-modifying CTE)."""
    if compiled is None or not isinstance(compiled.statement, sa.Select):
        return False
    ctes = getattr(compiled, "ctes", None) or {}
    return all(isinstance(cte.element, sa.Select | sa.CompoundSelect) for cte in ctes)


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
