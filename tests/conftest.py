"""Fixtures shared by the whole suite.

Every test that takes ``app`` (or ``client``) runs twice: on the embedded profile
(SQLite, no Redis) and on the production profile (PostgreSQL as a non-superuser role so
row-level security applies, Redis). PostgreSQL and Redis are required: when they are
missing the tests fail, they never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from kernel import create_app
from kernel.config import RATE_LIMIT_CLASSES
from kernel.data import migrate
from kernel.data.base import Base
from kernel.runtime.storage import LocalStorage, S3Storage, Storage
from kernel.services import kernel_services
from plugboard.testing.postgres import PgDatabases
from tests.helpers import Api, MailBox, SmtpSink, free_port

# fake provider servers (Stripe, Paynow, …) shared by every plugin's tests
pytest_plugins = ["tests.fakes.fixtures"]

PG_ADMIN_URL = os.environ.get(
    "PLUGBOARD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PLUGBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
APP_ROLE = "plugboard_app"

BACKENDS = ["sqlite", "postgresql"]
S3_START_TIMEOUT = 30.0


def base_config(tmp: Path, smtp_url: str) -> dict[str, Any]:
    return {
        "env": "test",
        "data_dir": str(tmp),
        "secret_key": "test-secret-key-" + "x" * 32,
        "smtp_url": smtp_url,
        "password_time_cost": 1,
        "password_memory_cost": 1024,
        "password_parallelism": 1,
        "log_level": "WARNING",
        # counted (every answer carries the RateLimit fields), but never reached by a test
        # that is not about them (tests/kernel/test_request_pipeline.py lowers them)
        **{f"rate_limit_{name}": "100000/minute" for name in RATE_LIMIT_CLASSES},
    }


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    dbs = PgDatabases(PG_ADMIN_URL, APP_ROLE)
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def pg_database(pg_databases: PgDatabases) -> str:
    """A fresh database owned by a non-superuser role; dropped at the end."""
    return pg_databases.create()


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis_lib.Redis.from_url(REDIS_URL)
    client.ping()  # fail loudly, never skip, when Redis is missing
    return REDIS_URL


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plugboard")


@pytest.fixture(scope="session")
def backend_config(
    request: pytest.FixtureRequest, session_tmp: Path, smtp_sink: SmtpSink
) -> dict[str, dict[str, Any]]:
    """Per backend, the config of a migrated database (migrated once per session)."""
    return {}


def _migrated_config(
    backend: str, request: pytest.FixtureRequest, session_tmp: Path, smtp_sink: SmtpSink,
    cache: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    if backend in cache:
        return cache[backend]
    config = base_config(session_tmp / backend, smtp_sink.url)
    if backend == "postgresql":
        config["database_url"] = request.getfixturevalue("pg_database")
        config["redis_url"] = request.getfixturevalue("redis_url")
        config["redis_namespace"] = f"pbtest-{uuid.uuid4().hex[:8]}"
        config.update(request.getfixturevalue("s3_server").config())  # production profile: S3
    app = create_app(config)
    with app.app_context():
        migrate.upgrade(app)
    kernel_services(app).engine.dispose()
    cache[backend] = config
    return config


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """PostgreSQL-only tests are not generated for SQLite at all (rather than skipped)."""
    keep = []
    for item in items:
        params = getattr(item, "callspec", None)
        backend = params.params.get("backend") if params else None
        if item.get_closest_marker("postgres_only") and backend == "sqlite":
            continue
        keep.append(item)
    items[:] = keep


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def app_config(
    backend: str,
    request: pytest.FixtureRequest,
    session_tmp: Path,
    smtp_sink: SmtpSink,
    backend_config: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    config = dict(_migrated_config(backend, request, session_tmp, smtp_sink, backend_config))
    if config.get("s3_endpoint"):
        config["s3_bucket"] = unique_bucket()
    if config.get("redis_url"):  # own queues and caches: no job of another test runs here
        config["redis_namespace"] = f"pbtest-{uuid.uuid4().hex[:8]}"
    return config


@pytest.fixture
def app(app_config: dict[str, Any], smtp_sink: SmtpSink) -> Iterator[Flask]:
    app = create_app(app_config)
    smtp_sink.clear()
    yield app
    _empty_tables(app)
    _empty_storage(app)
    if app_config.get("redis_url"):
        _drop_namespace(app_config["redis_url"], app_config["redis_namespace"])
    kernel_services(app).engine.dispose()


def _empty_tables(app: Flask) -> None:
    engine = kernel_services(app).engine
    existing = set(sa.inspect(engine).get_table_names())
    tables = [t.name for t in Base.metadata.sorted_tables if t.name in existing]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(sa.text(f'DELETE FROM "{name}"'))


def _drop_namespace(url: str, namespace: str) -> None:
    client = redis_lib.Redis.from_url(url)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(client: FlaskClient, app: Flask) -> Api:
    return Api(client, app)


@pytest.fixture
def mailbox(smtp_sink: SmtpSink, app: Flask) -> MailBox:
    """Mail is sent by jobs: on the Redis profile a burst rq worker delivers it first."""
    return MailBox(smtp_sink, drain=lambda: drain_jobs(app))


def drain_jobs(app: Flask) -> None:
    """Run every queued job now (a real rq worker in burst mode); inline mode has none."""
    if kernel_services(app).jobs.inline:
        return
    from kernel.runtime.jobs import make_worker

    with app.app_context():
        make_worker(app).work(burst=True, with_scheduler=True)


@pytest.fixture
def plugin_app(
    backend: str, request: pytest.FixtureRequest, session_tmp: Path, smtp_sink: SmtpSink
) -> Iterator[Any]:
    """``plugin_app(*plugins)``: an app with extra plugins on its own migrated database.

    Databases are made once per (backend, plugin set) and emptied after each test.
    """
    cache: dict[tuple[Any, ...], dict[str, Any]] = request.config.__dict__.setdefault(
        "_plugboard_plugin_dbs", {})
    made: list[Flask] = []

    def factory(*plugins: Any, **overrides: Any) -> Flask:
        key = (backend, *sorted(str(getattr(p, "plugin_info", p)) for p in plugins))
        if key not in cache:
            config = base_config(session_tmp / f"plugins-{len(cache)}", smtp_sink.url)
            if backend == "postgresql":
                config["database_url"] = request.getfixturevalue("pg_databases").create()
                config["redis_url"] = request.getfixturevalue("redis_url")
                config.update(request.getfixturevalue("s3_server").config())
            config["extra_plugins"] = list(plugins)
            config["load_builtin_plugins"] = False
            config["load_entry_points"] = False
            migrated = create_app(config)
            with migrated.app_context():
                migrate.upgrade(migrated)
            kernel_services(migrated).engine.dispose()
            cache[key] = config
        config = dict(cache[key], **overrides)
        if backend == "postgresql":
            config["redis_namespace"] = f"pbtest-{uuid.uuid4().hex[:8]}"
        if config.get("s3_endpoint") and "s3_bucket" not in overrides:
            config["s3_bucket"] = unique_bucket()
        app = create_app(config)
        made.append(app)
        smtp_sink.clear()
        return app

    yield factory
    for app in made:
        _empty_tables(app)
        _empty_storage(app)
        kernel_services(app).broadcast.close()
        kernel_services(app).engine.dispose()


# -- object storage: moto's S3 server on loopback, and a fresh backend per test ------------


def unique_bucket() -> str:
    return f"pbtest-{uuid.uuid4().hex[:12]}"


class S3Server:
    """A running S3 server (moto) on loopback; any access key is accepted."""

    access_key = "testing"
    secret_key = "testing"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def config(self, bucket: str | None = None) -> dict[str, Any]:
        return {"s3_endpoint": self.endpoint, "s3_access_key": self.access_key,
                "s3_secret_key": self.secret_key, "s3_bucket": bucket or unique_bucket(),
                "s3_secure": False}

    def storage(self, bucket: str | None = None) -> S3Storage:
        return S3Storage(self.endpoint, self.access_key, self.secret_key,
                         bucket or unique_bucket(), secure=False)


def _wait_for_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + S3_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto's S3 server exited ({proc.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - a loopback URL we built
                return
        except urllib.error.HTTPError:
            return  # it answers: good enough
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto's S3 server did not answer within {S3_START_TIMEOUT}s:\n"
                       f"{log.read_text()}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server in a subprocess; fails (never skips) when it cannot start."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_http(f"http://127.0.0.1:{port}/", proc, log)
        yield S3Server(f"127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["local", "s3"])
def storage_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """A fresh, empty backend: a tmp folder, or a new bucket on the S3 server."""
    if request.param == "local":
        return LocalStorage(tmp_path / "storage")
    server: S3Server = request.getfixturevalue("s3_server")
    return server.storage()


def _empty_storage(app: Flask) -> None:
    """Local storage lives in the data dir the tests of a backend share; S3 buckets are per app."""
    storage = kernel_services(app).storage
    if isinstance(storage, LocalStorage):
        shutil.rmtree(storage.root, ignore_errors=True)
