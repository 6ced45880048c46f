"""An activation change made in one process is seen by another within one second."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from kernel.services import kernel_services
from tests.helpers import Api
from tests.testplugins.full import plugin as full

WATCHER = """
import json, sys, time, uuid
from kernel import create_app
from kernel.services import kernel_services
from tests.testplugins.full import plugin as full

config = json.loads(sys.argv[1])
tenant = uuid.UUID(sys.argv[2])
app = create_app({**config, "extra_plugins": [full], "load_builtin_plugins": False,
                  "load_entry_points": False})
with app.app_context():
    activations = kernel_services(app).activations
    state = activations.is_enabled(tenant, "full")
    print("ready", state, flush=True)
    flips = 0
    deadline = time.time() + 20
    while flips < 2 and time.time() < deadline:
        now = activations.is_enabled(tenant, "full")
        if now != state:
            state = now
            flips += 1
            print("changed", now, repr(time.time()), flush=True)
        time.sleep(0.002)
"""


@pytest.mark.postgres_only
def test_activation_change_reaches_another_process_within_one_second(
    plugin_app: Callable[..., Flask], backend: str
) -> None:
    app = plugin_app(full)
    api = Api(app.test_client(), app)
    a = api.register("alpha")
    settings = dataclasses.asdict(kernel_services(app).settings)
    settings = {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
    assert settings["redis_url"], "this test needs the production profile (Redis)"
    with subprocess.Popen(
        [sys.executable, "-c", WATCHER, json.dumps(settings), a.tenant_id],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    ) as watcher:
        assert watcher.stdout is not None and watcher.stderr is not None
        assert watcher.stdout.readline().split() == ["ready", "False"], watcher.stderr.read()
        latencies = []
        for enabled in (True, False):
            started = time.time()
            resp = api.put("/api/v1/plugins/full/activation", a, json={"enabled": enabled})
            assert resp.status_code == 200
            word, state, seen_at = watcher.stdout.readline().split()
            assert (word, state) == ("changed", str(enabled))
            latencies.append(float(seen_at) - started)
        watcher.kill()
        err = watcher.stderr.read()
    assert max(latencies) < 1.0, latencies
    assert "Traceback" not in err, err


def test_embedded_mode_sees_its_own_change_at_once(plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(full)
    api = Api(app.test_client(), app)
    a = api.register("alpha")
    with app.app_context():
        assert not kernel_services(app).activations.is_enabled(uuid.UUID(a.tenant_id), "full")
    api.put("/api/v1/plugins/full/activation", a, json={"enabled": True})
    with app.app_context():
        assert kernel_services(app).activations.is_enabled(uuid.UUID(a.tenant_id), "full")
