"""Fixtures of the quality gates: an app with every plugin there is, and the fuzzing budget.

The budget is small by default so the suite stays quick in CI; go deeper locally with
``PLUGBOARD_FUZZ_EXAMPLES=500`` (examples per operation and generation mode),
``PLUGBOARD_FUZZ_SEED=<n>`` (another seeded run instead of the derandomized one) and
``PLUGBOARD_FUZZ_BUDGET=<seconds>`` (when a run reports ``budget`` instead of overrunning).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from kernel import create_app
from kernel.data import migrate
from kernel.services import kernel_services
from tests.conftest import _drop_namespace, _empty_tables, base_config
from tests.helpers import SmtpSink


@dataclass(frozen=True)
class FuzzBudget:
    examples: int
    seed: int | None  # None: Hypothesis derandomized (the same run every time)
    seconds: float | None


@pytest.fixture(scope="session")
def fuzz_budget() -> FuzzBudget:
    examples, seed = os.environ.get("PLUGBOARD_FUZZ_EXAMPLES"), os.environ.get("PLUGBOARD_FUZZ_SEED")
    # Every Schemathesis check (ignored_auth repeats a request, negative and positive data)
    # and the stateful phase: 8 examples per operation, mode and pass keep a run near
    # 2-3 minutes per backend on 2 busy CPUs; the default budget allows more than that
    # so a busy CI machine never fails on time alone (the whole suite stays far inside
    # CI's 90 minutes). A deep local run (examples set) is unbounded unless
    # PLUGBOARD_FUZZ_BUDGET says otherwise.
    budget = os.environ.get("PLUGBOARD_FUZZ_BUDGET", "" if examples else "400")
    return FuzzBudget(
        examples=int(examples or 8),
        seed=int(seed) if seed else None,
        seconds=float(budget) if budget else None,
    )


@pytest.fixture
def full_app(
    backend: str, request: pytest.FixtureRequest, session_tmp: Path, smtp_sink: SmtpSink
) -> Iterator[Callable[..., Flask]]:
    """``full_app(*plugins)``: built-in and installed plugins, the ``full`` test plugin and
    ``plugins``, on a database migrated once per (backend, plugin set), emptied after."""
    from tests.testplugins import full

    cache: dict[tuple[str, ...], dict[str, Any]] = request.config.__dict__.setdefault(
        "_plugboard_quality_dbs", {})
    made: list[Flask] = []

    def factory(*plugins: Any) -> Flask:
        extra = [full.plugin, *plugins]
        key = (backend, *sorted(p.plugin_info.name for p in extra))
        if key not in cache:
            config = base_config(session_tmp / f"quality-{len(cache)}", smtp_sink.url)
            if backend == "postgresql":
                config["database_url"] = request.getfixturevalue("pg_databases").create()
                config["redis_url"] = request.getfixturevalue("redis_url")
            config["extra_plugins"] = extra
            migrated = create_app(config)
            with migrated.app_context():
                migrate.upgrade(migrated)
            kernel_services(migrated).engine.dispose()
            cache[key] = config
        config = dict(cache[key])
        if backend == "postgresql":
            config["redis_namespace"] = f"pbtest-{uuid.uuid4().hex[:8]}"
        app = create_app(config)
        made.append(app)
        return app

    yield factory
    for app in made:
        _empty_tables(app)
        settings = kernel_services(app).settings
        if settings.redis_url:
            _drop_namespace(settings.redis_url, settings.redis_namespace)
        kernel_services(app).broadcast.close()
        kernel_services(app).engine.dispose()
