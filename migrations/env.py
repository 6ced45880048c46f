"""Alembic environment: runs against the app's engine, with every model imported."""

from __future__ import annotations

from alembic import context

from kernel.db import Base, UTCDateTime

config = context.config
app = config.attributes["app"]


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # alembic's own table is not a model
    return not (type_ == "table" and name == "alembic_version")


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
