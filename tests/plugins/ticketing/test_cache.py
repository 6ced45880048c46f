"""The storefront's event cache: warm fetches run no SQL, and a catalogue change reaches
every process (broadcast after commit) long before the availability TTL."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.services import kernel_services
from tests.plugins.ticketing.conftest import BASE, Shop


@contextlib.contextmanager
def counted_sql(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = kernel_services(app).engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_warm_event_fetches_run_no_sql(shop: Shop) -> None:
    shop.ticket_type(shop.event()["id"], "Free", 0, capacity=5)
    first = shop.public("/events/summer-fest")
    shop.public("/events")
    with counted_sql(shop.app) as warm:
        assert shop.public("/events/summer-fest").get_data() == first.get_data()
        assert shop.public("/events").status_code == 200
        etag = first.headers["ETag"]
        assert shop.public("/events/summer-fest", headers={"If-None-Match": etag}).status_code == 304
    assert warm == []


WATCHER = """
import json, sys, time
from kernel import create_app

app = create_app(json.loads(sys.argv[1]))
client = app.test_client()

def title():
    resp = client.get("/api/v1/public/ticketing/events/summer-fest", headers={"X-Tenant": sys.argv[2]})
    return resp.get_json()["title"].replace(" ", "_") if resp.status_code == 200 else "404"

state = title()
print("ready", state, flush=True)
deadline = time.time() + 20
while time.time() < deadline:
    now = title()
    if now != state:
        state = now
        print("changed", now, repr(time.time()), flush=True)
    time.sleep(0.002)
"""


@pytest.mark.postgres_only
def test_a_change_reaches_another_process_within_one_second(shop: Shop) -> None:
    resp = shop.api.put("/api/v1/plugins/ticketing/config", shop.owner, json={"availability_ttl": 300})
    assert resp.status_code == 200, resp.get_json()
    event = shop.event()
    settings = {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(kernel_services(shop.app).settings).items()}
    assert settings["redis_url"], "this test needs the production profile (Redis)"
    url = f"{BASE}/events/{event['id']}"
    steps = [(lambda: shop.api.patch(url, shop.owner, json={"title": "Second Title"}), "Second_Title"),
             (lambda: shop.api.patch(url, shop.owner, json={"title": "Third Title"}), "Third_Title")]
    with subprocess.Popen([sys.executable, "-c", WATCHER, json.dumps(settings), shop.owner.tenant_slug],
                          cwd=Path(__file__).resolve().parents[3], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as watcher:
        assert watcher.stdout is not None and watcher.stderr is not None
        assert watcher.stdout.readline().split() == ["ready", "Summer_Fest"], watcher.stderr.read()
        latencies = []
        for change, expected in steps:
            started = time.time()
            assert change().status_code == 200
            word, state, seen_at = watcher.stdout.readline().split()
            assert (word, state) == ("changed", expected)
            latencies.append(float(seen_at) - started)
        watcher.kill()
        err = watcher.stderr.read()
    assert max(latencies) < 1.0, latencies
    assert "Traceback" not in err, err
