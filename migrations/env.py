"""Alembic environment: runs against the app's engine, with every model imported."""

from __future__ import annotations

from alembic import context

from kernel.db import Base, UTCDateTime

config = context.config
app = config.attributes["app"]


def _foreign_tables() -> set[str]:
    """Tables of models from plugins this app did not load: not this database's business."""
    registry = app.extensions["plugboard.registry"]
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


def run() -> None:
    engine = app.extensions["plugboard.db"]
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
            context.run_migrations()


run()
