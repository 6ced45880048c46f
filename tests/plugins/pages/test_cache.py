"""The storefront cache: no SQL when warm, bounded, invalidated in every process within 1 s."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.services import kernel_services
from plugins.pages.cache import MISSING, PageCache, entry
from tests.helpers import Account, Api
from tests.plugins.pages.conftest import PAGES, create, doc, node, publish, storefront


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


def test_warm_fetches_run_no_sql(app: Flask, api: Api, owner: Account) -> None:
    page = create(api, owner, "/", doc(node("Hero", "h")))
    publish(api, owner, page["id"])
    with counted_sql(app) as cold:
        first = storefront(api, "/")
        storefront(api, "")
        storefront(api, "/missing")
    assert first.status_code == 200 and cold  # the first fetches load from the database
    with counted_sql(app) as warm:
        assert storefront(api, "/").get_data() == first.get_data()
        assert storefront(api, "/", **{"If-None-Match": first.headers["ETag"]}).status_code == 304
        assert storefront(api, "").status_code == 200
        assert storefront(api, "/missing").status_code == 404
        assert api.get("/api/v1/public/pages/", base_url="http://acme.localhost/").status_code == 200
    assert warm == []


def test_every_change_a_storefront_sees_invalidates(api: Api, owner: Account) -> None:
    page = create(api, owner, "/", doc(node("Hero", "h", v=1)))
    base = f"{PAGES}/{page['id']}"
    seen = []

    def look() -> None:
        resp = storefront(api, "/")
        seen.append(resp.get_json()["content"][0]["props"]["v"] if resp.status_code == 200 else 404)

    look()
    publish(api, owner, page["id"])
    look()
    api.patch(base, owner, json={"data": doc(node("Hero", "h", v=2))})
    look()
    publish(api, owner, page["id"])
    look()
    api.post(f"{base}/versions/1/restore", owner, json={"publish": True})
    look()
    api.post(f"{base}/unpublish", owner, json={})
    look()
    assert seen == [404, 1, 1, 2, 1, 404]


def test_a_load_that_raced_with_a_change_is_not_kept() -> None:
    cache, tenant = PageCache(), uuid.uuid4()
    before = cache.generation(tenant)
    cache.drop(str(tenant))  # a publish lands while the old row is being read
    cache.put(tenant, "/", entry(b"old", {}, None), before)
    assert cache.get(tenant, "/") is None
    cache.put(tenant, "/", entry(b"new", {}, None), cache.generation(tenant))
    found = cache.get(tenant, "/")
    assert found is not None and found.body == b"new"
    stale = cache.generation(tenant)
    cache.drop(None)  # everything (the broadcast listener reconnected)
    cache.put(tenant, "/x", MISSING, stale)
    assert cache.get(tenant, "/") is None and cache.get(tenant, "/x") is None


def test_invalidation_is_per_tenant_and_the_cache_is_bounded() -> None:
    cache, a, b = PageCache(max_entries=3), uuid.uuid4(), uuid.uuid4()
    for tenant in (a, b):
        cache.put(tenant, "/", entry(b"x", {}, None), cache.generation(tenant))
    cache.drop(str(a))
    assert cache.get(a, "/") is None and cache.get(b, "/") is not None
    for n in range(5):
        cache.put(a, f"/{n}", entry(b"x", {}, None), cache.generation(a))
        cache.put(a, f"/gone-{n}", MISSING, cache.generation(a))
    assert len(cache) == 6  # 3 pages + 3 known-missing paths; unknown paths never evict pages
    assert cache.get(a, "/4") is not None and cache.get(a, "/0") is None


def test_entries_with_a_ttl_expire() -> None:
    cache, tenant = PageCache(), uuid.uuid4()
    cache.put(tenant, "/", entry(b"x", {}, ttl=0.05), cache.generation(tenant))
    assert cache.get(tenant, "/") is not None
    time.sleep(0.06)
    assert cache.get(tenant, "/") is None


WATCHER = """
import json, sys, time
from kernel import create_app

app = create_app(json.loads(sys.argv[1]))
client = app.test_client()

def version():
    resp = client.get("/api/v1/public/pages/", headers={"X-Tenant": sys.argv[2]})
    return resp.get_json()["content"][0]["props"]["v"] if resp.status_code == 200 else 404

state = version()
print("ready", state, flush=True)
deadline = time.time() + 20
while time.time() < deadline:
    now = version()
    if now != state:
        state = now
        print("changed", now, repr(time.time()), flush=True)
    time.sleep(0.002)
"""


def _settings(app: Flask) -> dict[str, Any]:
    settings = dataclasses.asdict(kernel_services(app).settings)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


@pytest.mark.postgres_only
def test_a_change_reaches_another_process_within_one_second(app: Flask, api: Api, owner: Account) -> None:
    page = create(api, owner, "/", doc(node("Hero", "h", v=1)))
    base = f"{PAGES}/{page['id']}"
    publish(api, owner, page["id"])
    settings = _settings(app)
    assert settings["redis_url"], "this test needs the production profile (Redis)"
    steps = [  # (what to do, what the other process must then serve)
        (lambda: api.patch(base, owner, json={"data": doc(node("Hero", "h", v=2))}) and
         publish(api, owner, page["id"]), 2),
        (lambda: api.post(f"{base}/unpublish", owner, json={}), 404),
        (lambda: api.post(f"{base}/versions/1/restore", owner, json={"publish": True}), 1),
    ]
    with subprocess.Popen(
        [sys.executable, "-c", WATCHER, json.dumps(settings), owner.tenant_slug],
        cwd=Path(__file__).resolve().parents[3], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    ) as watcher:
        assert watcher.stdout is not None and watcher.stderr is not None
        assert watcher.stdout.readline().split() == ["ready", "1"], watcher.stderr.read()
        latencies = []
        for change, expected in steps:
            started = time.time()
            change()
            word, state, seen_at = watcher.stdout.readline().split()
            assert (word, state) == ("changed", str(expected))
            latencies.append(float(seen_at) - started)
        watcher.kill()
        err = watcher.stderr.read()
    assert max(latencies) < 1.0, latencies
    assert "Traceback" not in err, err
