"""What a plugin registers that would only fail later fails at load, naming plugin and job.

A cron expression the scheduler cannot parse, a queue name, a job name, a handled event
that no plugin could emit: the plugin is left out and reported like any invalid plugin
(``/api/v1/admin/plugins``, ``plugboard plugins list``); the others serve.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from hookspecs import EventHandler, JobSpec, PluginInfo, hookimpl
from kernel.cli import main as cli_main
from kernel.registry.manager import Candidate, PluginRegistry
from kernel.services import kernel_services
from tests.testplugins import others
from tests.testplugins.full import plugin as full


def _work(tenant_id: Any) -> None:
    return None


def _handle(tenant_id: Any, payload: Any) -> None:
    return None


def _with(name: str, jobs: list[JobSpec] = (), handlers: list[EventHandler] = ()) -> types.ModuleType:  # type: ignore[assignment]
    module = types.ModuleType(f"testplugin_{name}")
    module.plugin_info = PluginInfo(name=name, version="1.0.0")  # type: ignore[attr-defined]

    @hookimpl
    def plugboard_jobs() -> list[JobSpec]:
        return list(jobs)

    @hookimpl
    def plugboard_event_handlers() -> list[EventHandler]:
        return list(handlers)

    module.plugboard_jobs = plugboard_jobs  # type: ignore[attr-defined]
    module.plugboard_event_handlers = plugboard_event_handlers  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize(("plugin", "expected"), [
    (_with("nightly", [JobSpec("nightly.purge", _work, cron="every night")]),
     ["'nightly.purge'", "cron 'every night'", "five fields"]),
    (_with("sixfield", [JobSpec("sixfield.purge", _work, cron="0 15 3 * * *")]),
     ["'sixfield.purge'", "five fields"]),
    (_with("badqueue", [JobSpec("badqueue.send", _work, queue="Mail Queue!")]),
     ["'badqueue.send'", "queue 'Mail Queue!'"]),
    (_with("badjob", [JobSpec("badjob.Send Mail", _work)]), ["'badjob.Send Mail'", "'badjob.<job>'"]),
    (_with("otherjob", [JobSpec("billing.steal", _work)]), ["'billing.steal'", "'otherjob.<job>'"]),
    (_with("badevent", handlers=[EventHandler("payments.payment", _handle, name="badevent.h")]),
     ["badevent.h", "'payments.payment'"]),
    (_with("present", handlers=[EventHandler("payments.payment.succeed", _handle, name="present.h")]),
     ["present.h", "past-tense"]),
])
def test_a_plugin_registering_what_would_fail_later_is_left_out(
        plugin_app: Callable[..., Flask], plugin: Any, expected: list[str]) -> None:
    app = plugin_app(full, plugin)
    registry = kernel_services(app).registry
    name = plugin.plugin_info.name
    assert registry.names() == {"full"}
    record = registry.records[name]
    assert record.status == "failed"
    for part in expected:
        assert part in (record.error or ""), record.error
    # none of its jobs reached the scheduler, the others' did
    jobs = kernel_services(app).job_specs
    assert not [j for j in jobs if j.startswith(name + ".")]
    assert "full.cleanup" in jobs
    result = app.test_cli_runner().invoke(cli_main, args=["plugins", "list"])
    assert result.exit_code == 0, result.output
    assert "failed" in {line.split()[0]: line for line in result.output.splitlines()}[name]


def test_good_cron_queue_and_events_load(plugin_app: Callable[..., Flask]) -> None:
    good = _with("fine", [JobSpec("fine.purge", _work, cron="15 3 * * 1-5", queue="slow-io")],
                 [EventHandler("payments.payment.succeeded", _handle, name="fine.thanks"),
                  EventHandler("billing.invoice.paid", _handle, name="fine.paid")])
    app = plugin_app(good)
    assert kernel_services(app).registry.names() == {"fine"}
    assert kernel_services(app).job_specs["fine.purge"][1].cron == "15 3 * * 1-5"


def test_unknown_hook_names_the_plugin_and_suggests_the_closest_hook() -> None:
    registry = PluginRegistry()
    registry.load([Candidate("fine", "app", lambda: others.make("fine")),
                   Candidate("typo", "app", others.Typo)])
    assert registry.names() == {"fine"}
    error = registry.records["typo"].error or ""
    assert "plugin 'typo'" in error, error
    assert "did you mean `plugboard_blueprints`?" in error, error
    assert "object at 0x" not in error


def test_unknown_hook_far_from_any_gets_no_suggestion() -> None:
    class Odd:
        plugin_info = PluginInfo(name="odd", version="1.0.0")

        @hookimpl
        def completely_unrelated(self) -> None:
            return None

    registry = PluginRegistry()
    registry.load([Candidate("odd", "app", Odd)])
    error = registry.records["odd"].error or ""
    assert "unknown hook `completely_unrelated`" in error and "did you mean" not in error, error
