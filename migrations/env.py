"""Alembic environment: runs against the app's engine, with every model imported."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from alembic import context

from kernel.data.base import Base, UTCDateTime
from kernel.services import kernel_services

log = logging.getLogger("plugboard.migrations")

config = context.config
app = config.attributes["app"]


def _foreign_tables() -> set[str]:
    """Tables of models from plugins this app did not load: not this database's business."""
    registry = kernel_services(app).registry
    packages = ["kernel", *(r.package for r in registry.loaded())]
    foreign = set()
    for mapper in Base.registry.mappers:
        module = mapper.class_.__module__
        if not any(module == p or module.startswith(p + ".") for p in packages):
            foreign.add(mapper.local_table.name)
    return foreign


FOREIGN = _foreign_tables()


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    if type_ == "table":
        return name != "alembic_version" and name not in FOREIGN
    table = getattr(obj, "table", None)
    return table is None or table.name not in FOREIGN


def render_item(type_, obj, autogen_context):  # type: ignore[no-untyped-def]
    # Render kernel column types as the plain SQLAlchemy types they store as, so
    # migrations never import model code that may change later.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _set_aside_absent_plugins(connection: sa.Connection) -> list[str]:
    """Take the revisions of plugins this app did not load out of ``alembic_version``.

    A plugin that is denied, failed to load or was uninstalled without dropping its
    branch leaves a revision no script of this app knows, and alembic refuses to do
    anything then ("Can't locate revision"): one absent plugin would stop every
    ``plugboard db upgrade``, hence every deployment. Its revision is set aside for the
    run and put back after (in the same transaction where DDL is transactional), so its
    tables and revision wait for it. A database with the kernel's tables but at no kernel revision this code knows
    (code older than the database) is still an error.
    """
    if not sa.inspect(connection).has_table("alembic_version"):
        return []
    kernel_dir = Path(__file__).resolve().parent / "versions"
    known = {rev.revision: Path(rev.path).resolve().parent == kernel_dir
             for rev in context.script.walk_revisions()}  # revision -> is the kernel's
    current = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    absent = [rev for rev in current if rev not in known]
    if not absent:
        return []
    if not any(known.get(rev) for rev in current) and sa.inspect(connection).has_table("tenants"):
        # the kernel's tables are there but not a revision of it this code knows
        raise RuntimeError(
            f"The database is at revision(s) {', '.join(absent)}, which this code does not "
            "know, and at no known kernel revision: is Plugboard older than the database?"
        )
    log.warning("leaving the migrations of plugins that are not loaded alone",
                extra={"revisions": absent})
    connection.execute(sa.text("DELETE FROM alembic_version WHERE version_num = :rev"),
                       [{"rev": rev} for rev in absent])
    return absent


def _put_back(connection: sa.Connection, absent: list[str]) -> None:
    if absent:
        connection.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:rev)"),
                           [{"rev": rev} for rev in absent])


# pg_advisory_xact_lock key: "plugboar" in ASCII. Only migrations take it.
MIGRATION_LOCK = 0x706C7567626F6172


def _serialise_and_bound(connection: sa.Connection) -> None:
    """PostgreSQL: one migration run at a time, DDL that waits a bounded time, every row.

    Two ``plugboard db upgrade`` started together (two replicas, a retried deploy job)
    would both find the tables missing and race on ``CREATE TABLE``: the advisory lock
    makes the second wait for the first to commit, and alembic then reads the revisions
    the first recorded and has nothing left to do. The lock is taken before
    ``lock_timeout`` is set, so waiting for another migration is not cut short.

    ``lock_timeout``: an ``ALTER TABLE`` queues behind any transaction still using the
    table, and every query arriving after it queues behind the ``ALTER``: on a busy table
    that stops the app. Failing after a few seconds (the whole upgrade rolls back; run it
    again) is the better outcome.

    ``plugboard.all_tenants``: data migrations must see every tenant's rows; the tables
    force row-level security on their owner too.
    """
    settings = kernel_services(app).settings
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    connection.execute(sa.text("SELECT set_config('lock_timeout', :ms, true), "
                               "set_config('plugboard.all_tenants', 'on', true)"),
                       {"ms": f"{settings.migration_lock_timeout * 1000}"})


def run() -> None:
    engine = kernel_services(app).engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            if context.get_context().impl.transactional_ddl:  # PostgreSQL: one transaction
                _serialise_and_bound(connection)
                absent = _set_aside_absent_plugins(connection)
                context.run_migrations()
                _put_back(connection, absent)
                return
            # SQLite: alembic commits migration by migration, so the set-aside revisions
            # are put back (and committed) whatever happens to the migrations
            absent = _set_aside_absent_plugins(connection)
            connection.commit()
            try:
                context.run_migrations()
            except BaseException:
                if connection.in_transaction():
                    connection.rollback()
                raise
            finally:
                _put_back(connection, absent)
                connection.commit()


run()
