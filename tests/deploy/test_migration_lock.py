"""Two ``plugboard db upgrade`` at once on an empty PostgreSQL database, and lock_timeout.

Real processes, as two api replicas or a retried deploy job would start them: both must
end well, and only one may run the migrations.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import PG_ADMIN_URL, PgDatabases

PLUGBOARD = str(Path(sys.executable).parent / "plugboard")
MIGRATION_LOCK = 0x706C7567626F6172  # migrations/env.py


def _env(url: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGBOARD_")}
    env.update({"PLUGBOARD_ENV": "development", "PLUGBOARD_DATA_DIR": str(tmp),
                "PLUGBOARD_DATABASE_URL": url, "PLUGBOARD_LOG_LEVEL": "INFO", **extra})
    return env


def _upgrade(url: str, tmp: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([PLUGBOARD, "db", "upgrade"], env=_env(url, tmp), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _waiting_for_lock(admin: sa.Connection, dbname: str) -> int:
    return int(admin.scalar(sa.text(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = :db"), {"db": dbname}))


def test_two_upgrades_at_once_one_does_the_work(pg_databases: PgDatabases, tmp_path: Path) -> None:
    url = pg_databases.create()
    dbname = sa.make_url(url).database
    admin_engine = sa.create_engine(sa.make_url(PG_ADMIN_URL).set(database=dbname),
                                    isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as admin:
        # Hold the migration lock so both processes reach it and wait: then they start
        # their migrations at the same instant, not one after the other by luck.
        admin.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        procs = [_upgrade(url, tmp_path / "a"), _upgrade(url, tmp_path / "b")]
        deadline = time.monotonic() + 60
        while _waiting_for_lock(admin, dbname) < 2:
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
                [p.communicate() for p in procs]
            time.sleep(0.1)
        admin.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
        outputs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        ran = [err.count("Running upgrade") for _out, err in outputs]
        assert sorted(ran)[0] == 0 and sorted(ran)[1] > 5, ran  # one did all the work
        heads = admin.scalars(sa.text("SELECT version_num FROM alembic_version")).all()
        assert len(heads) >= 2  # the kernel's and the example plugin's branch
        assert admin.scalar(sa.text("SELECT to_regclass('public.tenants')")) == "tenants"
    admin_engine.dispose()


def test_ddl_waits_for_a_table_lock_only_so_long(pg_databases: PgDatabases, tmp_path: Path) -> None:
    url = pg_databases.create()
    first = _upgrade(url, tmp_path)
    output = first.communicate(timeout=120)
    assert first.returncode == 0, output
    engine = sa.create_engine(url)
    try:
        with engine.connect() as reader:
            # a long transaction that has read from tenants (an open report, a stuck job)
            reader.execute(sa.text("SELECT count(*) FROM tenants"))
            started = time.monotonic()
            down = subprocess.run([PLUGBOARD, "db", "downgrade", "base"], capture_output=True, text=True,
                                  env=_env(url, tmp_path, PLUGBOARD_MIGRATION_LOCK_TIMEOUT="1"),
                                  timeout=120)
            elapsed = time.monotonic() - started
            reader.rollback()
        assert down.returncode != 0
        assert "lock timeout" in down.stderr
        assert elapsed < 30
        with engine.connect() as conn:  # the failed downgrade changed nothing
            assert conn.scalar(sa.text("SELECT to_regclass('public.tenants')")) == "tenants"
    finally:
        engine.dispose()
