"""Testing helpers for Plugboard plugins: a pytest plugin, clients and the quality gates.

Installed with ``pip install 'plugboard[testing]'``, it is registered as a pytest plugin
(the ``pytest11`` entry point): its fixtures are there in any test, with nothing to import.
See ``docs/testing-plugins.md``.

Fixtures:

* ``plugboard_app(*plugins, **config)``: a Plugboard app with your plugin(s) (nothing
  else) on a fresh, migrated database: SQLite in a temp folder, or, when
  ``PLUGBOARD_TEST_DATABASE_URL`` names a PostgreSQL administrator URL, a throw-away
  PostgreSQL database reached as a non-superuser role, so row-level security applies.
  Jobs and event deliveries run inline, right after the commit that asks for them.
* ``plugboard_client(app)``: a :class:`PlugboardClient`: ``register`` a tenant (its owner
  logged in), ``enable`` a plugin for it, ``admin()``, ``customer(tenant)``, ``get``/
  ``post``/… as any of them, ``run_job``, ``emitted`` events.
* ``plugboard_hook_calls(app)``: a list recording every hook call ``(hook, plugin, kwargs)``
  (printed as well when ``PLUGBOARD_TRACE_HOOKS=1``).
* ``plugboard_clock``: the clock frozen at :data:`FROZEN_AT` (time-machine);
  ``plugboard_clock.shift(datetime.timedelta(days=1))`` moves it.
* ``plugboard_postgres``: the session's :class:`PgDatabases` (needs the variable above).

Functions: :func:`assert_problem`, :func:`fuzz_plugin`, :func:`isolation_sweep` (their
:class:`GateResult` has ``assert_clean()``).

.. versionadded:: 0.1
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from plugboard.testing.clients import Account, CustomerAccount, PlugboardClient, assert_problem
from plugboard.testing.gates import GateResult, findings_of, fuzz_plugin, isolation_sweep
from plugboard.testing.harness import Finding
from plugboard.testing.postgres import PgDatabases, admin_url

__all__ = [
    "FROZEN_AT",
    "Account",
    "CustomerAccount",
    "Finding",
    "GateResult",
    "PgDatabases",
    "PlugboardClient",
    "assert_problem",
    "findings_of",
    "fuzz_plugin",
    "isolation_sweep",
]

#: where ``plugboard_clock`` stops time
FROZEN_AT = dt.datetime(2030, 1, 15, 9, 30, tzinfo=dt.UTC)

HookCall = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="session")
def plugboard_postgres() -> Iterator[PgDatabases]:
    url = admin_url()
    if url is None:
        pytest.fail("set PLUGBOARD_TEST_DATABASE_URL to a PostgreSQL administrator URL, e.g. "
                    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    dbs = PgDatabases(url)
    yield dbs
    dbs.drop_all()


@pytest.fixture
def plugboard_app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Flask]]:
    """``plugboard_app(*plugins, **config)``: see the module's documentation."""
    from kernel import create_app
    from kernel.data import migrate
    from kernel.services import kernel_services

    apps: list[Flask] = []

    def factory(*plugins: Any, **config: Any) -> Flask:
        settings: dict[str, Any] = {
            "env": "test", "data_dir": str(tmp_path / f"app{len(apps)}"),
            "secret_key": "plugboard-testing-" + "k" * 32, "password_time_cost": 1,
            "password_memory_cost": 1024, "password_parallelism": 1, "log_level": "WARNING",
            "extra_plugins": list(plugins), "load_builtin_plugins": False, "load_entry_points": False,
        }
        if admin_url() and "database_url" not in config:
            settings["database_url"] = request.getfixturevalue("plugboard_postgres").create()
        settings.update(config)
        app = create_app(settings)
        with app.app_context():
            migrate.upgrade(app)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        kernel_services(app).broadcast.close()
        kernel_services(app).engine.dispose()


@pytest.fixture
def plugboard_client() -> Callable[[Flask], PlugboardClient]:
    return PlugboardClient


@pytest.fixture
def plugboard_hook_calls() -> Callable[[Flask], list[HookCall]]:
    from kernel.services import kernel_services

    def trace(app: Flask) -> list[HookCall]:
        calls: list[HookCall] = []
        verbose = os.environ.get("PLUGBOARD_TRACE_HOOKS") == "1"

        def before(hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            for impl in impls:
                calls.append((hook_name, impl.plugin_name, dict(kwargs)))
                if verbose:
                    print(f"hook {hook_name} -> {impl.plugin_name} {sorted(kwargs)}")

        def after(outcome: Any, hook_name: str, impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            return None

        kernel_services(app).registry.pm.add_hookcall_monitoring(before, after)
        return calls

    return trace


@pytest.fixture
def plugboard_clock() -> Iterator[Any]:
    """Time stands still at :data:`FROZEN_AT` (``datetime``, ``time``, the kernel's ``utcnow``);
    ``.shift(timedelta)`` and ``.move_to(datetime)`` move it."""
    import time_machine

    with time_machine.travel(FROZEN_AT, tick=False) as traveller:
        yield traveller
