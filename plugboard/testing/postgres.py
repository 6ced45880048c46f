"""Throw-away PostgreSQL databases owned by a non-superuser role, so row-level security applies.

Superusers and ``BYPASSRLS`` roles skip row-level security: a test connecting as one would
never see the database refuse another tenant's rows. :class:`PgDatabases` connects with an
administrator URL (``PLUGBOARD_TEST_DATABASE_URL``, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), creates the role
``plugboard_app`` (``LOGIN NOSUPERUSER NOBYPASSRLS``) once, and gives each test app its
own database owned by that role; they are dropped at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import uuid

import sqlalchemy as sa

ENV = "PLUGBOARD_TEST_DATABASE_URL"
APP_ROLE = "plugboard_app"


def admin_url() -> str | None:
    """The administrator URL from the environment, or None (tests then use SQLite)."""
    return os.environ.get(ENV) or None


class PgDatabases:
    """Creates databases owned by a non-superuser role and drops them at the end."""

    def __init__(self, admin: str, role: str = APP_ROLE) -> None:
        self.admin_url = admin
        self.role = role
        self._admin = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        self._names: list[str] = []

    def create(self) -> str:
        """A new, empty database; returns the URL to reach it as the non-superuser role."""
        name = f"plugboard_test_{uuid.uuid4().hex[:10]}"
        with self._admin.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": self.role})
            if not exists:  # a parallel test worker may create it at the same moment
                with contextlib.suppress(sa.exc.ProgrammingError, sa.exc.IntegrityError):
                    conn.execute(sa.text(f"CREATE ROLE {self.role} LOGIN NOSUPERUSER NOBYPASSRLS"))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" OWNER {self.role}'))
        self._names.append(name)
        url = sa.make_url(self.admin_url)
        return url.set(database=name, username=self.role, password=None).render_as_string(False)

    def drop_all(self) -> None:
        with self._admin.connect() as conn:
            for name in self._names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._names.clear()
        self._admin.dispose()
