"""``Idempotency-Key`` on POST: replay, mismatch, in-flight, what is not kept, scopes, purge."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from kernel.data.base import utcnow
from kernel.data.session import db
from kernel.runtime.jobs import execute
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope
from kernel.web.idempotency import IdempotencyRecord, purge_idempotency_keys
from tests.helpers import Account, Api, assert_problem
from tests.testplugins import pipeline

KEY = "Idempotency-Key"


@pytest.fixture(autouse=True)
def _fresh_counters() -> Iterator[None]:
    pipeline.CALLS.clear()
    pipeline.GATE.clear()
    pipeline.STARTED.clear()
    yield
    pipeline.GATE.set()  # never leave a server thread waiting


@pytest.fixture
def world(plugin_app: Callable[..., Flask]) -> dict[str, Any]:
    app = plugin_app(pipeline)
    api = Api(app.test_client(), app)
    a, b = api.register("alpha"), api.register("bravo")
    for account in (a, b):
        resp = api.put("/api/v1/plugins/pipeline/activation", account, json={"enabled": True})
        assert resp.status_code == 200, resp.get_json()
    return {"app": app, "api": api, "a": a, "b": b}


def records(app: Flask) -> list[IdempotencyRecord]:
    with app.app_context(), platform_scope():
        return list(db.session.scalars(sa.select(IdempotencyRecord)))


def post(api: Api, path: str, account: Account | None, key: str | None, body: Any,
         **headers: str) -> Any:
    if key is not None:
        headers[KEY] = key
    return api.post(path, account, json=body, headers=headers)


def test_a_retry_gets_the_first_answer_and_the_view_runs_once(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    first = post(api, "/api/v1/pipeline/work", a, "order-1", {"text": "hello"})
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    again = post(api, "/api/v1/pipeline/work", a, "order-1", {"text": "hello"})
    assert again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["X-Request-ID"] != first.headers["X-Request-ID"]  # its own request
    assert pipeline.CALLS["work"] == 1
    (row,) = records(world["app"])
    assert (row.state, row.status, str(row.tenant_id)) == ("completed", 201, a.tenant_id)
    # without a key, or with another one, the view runs again
    assert post(api, "/api/v1/pipeline/work", a, None, {"text": "hello"}).get_json()["run"] == 2
    assert post(api, "/api/v1/pipeline/work", a, "order-2", {"text": "hello"}).get_json()["run"] == 3


def test_the_same_key_with_another_request_is_422(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    assert post(api, "/api/v1/pipeline/work", a, "k1", {"text": "one"}).status_code == 201
    body = assert_problem(post(api, "/api/v1/pipeline/work", a, "k1", {"text": "two"}), 422,
                          "idempotency-key-reused")
    assert KEY in body["detail"]
    # another path with the same key is another request too
    assert_problem(post(api, "/api/v1/pipeline/small", a, "k1", {"text": "one"}), 422,
                   "idempotency-key-reused")
    assert pipeline.CALLS["work"] == 1 and pipeline.CALLS["small"] == 0


def test_validation_failures_and_refusals_are_not_kept(world: dict[str, Any]) -> None:
    api, a, app = world["api"], world["a"], world["app"]
    assert_problem(post(api, "/api/v1/pipeline/work", a, "k", {"text": ""}), 422)
    assert_problem(post(api, "/api/v1/pipeline/work", a, "k", {"nope": 1}), 422)
    assert_problem(post(api, "/api/v1/pipeline/work", None, "k", {"text": "x"}), 401)
    assert records(app) == []
    # the key is still free: the corrected request runs and is kept
    assert post(api, "/api/v1/pipeline/work", a, "k", {"text": "fixed"}).status_code == 201
    assert pipeline.CALLS["work"] == 1
    assert [r.state for r in records(app)] == ["completed"]


def test_a_caller_without_permission_gets_403_and_nothing_is_kept(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    analyst = api.add_member(a, "analyst@alpha.example.com", "analyst")
    assert_problem(post(api, "/api/v1/pipeline/work", analyst, "k", {"text": "x"}), 403)
    assert records(world["app"]) == []


def test_a_server_error_is_not_kept(world: dict[str, Any]) -> None:
    api, a, app = world["api"], world["a"], world["app"]
    app.testing = False  # answer the 500 rather than raise it into the test
    for _ in range(2):  # the retry runs again: nothing was kept
        assert_problem(post(api, "/api/v1/pipeline/boom", a, "k", None), 500)
    assert pipeline.CALLS["boom"] == 2
    assert records(app) == []


@pytest.mark.parametrize("key", ["", "x" * 256, "two words", "caf\u00e9", "tab\there"])
def test_malformed_keys_are_400(world: dict[str, Any], key: str) -> None:
    api, a = world["api"], world["a"]
    assert_problem(post(api, "/api/v1/pipeline/work", a, key, {"text": "x"}), 400,
                   "invalid-idempotency-key")
    assert pipeline.CALLS["work"] == 0


def test_keys_of_255_visible_characters_are_fine(world: dict[str, Any]) -> None:
    api, a = world["api"], world["a"]
    key = ("!~" * 128)[:255]
    assert post(api, "/api/v1/pipeline/work", a, key, {"text": "x"}).status_code == 201
    assert post(api, "/api/v1/pipeline/work", a, key, {"text": "x"}).headers["Idempotent-Replayed"] == "true"


def test_keys_belong_to_one_tenant_and_one_caller(world: dict[str, Any]) -> None:
    api, a, b = world["api"], world["a"], world["b"]
    body = {"text": "same"}
    runs = [post(api, "/api/v1/pipeline/work", who, "shared", body).get_json()["run"] for who in (a, b)]
    assert runs == [1, 2]  # tenant B's first use of the key runs; A's answer is not B's
    key = api.post("/api/v1/api-keys", a, json={"name": "ci", "role": "manager"}).get_json()
    by_key = {"Authorization": f"Bearer {key['key']}"}
    resp = api.post("/api/v1/pipeline/work", json=body, headers={**by_key, KEY: "shared"})
    assert resp.get_json()["run"] == 3 and "Idempotent-Replayed" not in resp.headers
    manager = api.add_member(a, "manager@alpha.example.com", "manager")
    assert post(api, "/api/v1/pipeline/work", manager, "shared", body).get_json()["run"] == 4
    # and each caller gets its own answer back
    assert post(api, "/api/v1/pipeline/work", a, "shared", body).get_json()["run"] == 1
    assert post(api, "/api/v1/pipeline/work", b, "shared", body).get_json()["run"] == 2
    assert pipeline.CALLS["work"] == 4
    assert len({(r.tenant_id, r.scope) for r in records(world["app"])}) == 4


def test_anonymous_callers_are_scoped_by_tenant_and_credential_or_address(world: dict[str, Any]) -> None:
    api = world["api"]
    body = {"text": "ticket"}

    def order(tenant: str, **headers: str) -> Any:
        return post(api, "/api/v1/public/pipeline/orders", None, "o-1", body,
                    **{"X-Tenant": tenant, **headers})

    first = order("alpha")
    assert first.status_code == 201
    assert order("alpha").headers["Idempotent-Replayed"] == "true"  # same tenant, same address
    assert "Idempotent-Replayed" not in order("bravo").headers  # another tenant
    # a caller presenting a credential (a cart or customer token) has keys of its own
    cart = order("alpha", **{"X-Cart-Token": "cart-123"})
    assert "Idempotent-Replayed" not in cart.headers
    assert order("alpha", **{"X-Cart-Token": "cart-123"}).headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in order("alpha", **{"X-Cart-Token": "cart-456"}).headers
    # another address: its own keys (REMOTE_ADDR as the server sees it)
    other = api.client.post("/api/v1/public/pipeline/orders", json=body,
                            headers={"X-Tenant": "alpha", KEY: "o-1"},
                            environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
    assert pipeline.CALLS["order"] == 5
    assert {r.tenant_id is None for r in records(world["app"])} == {False}


def test_platform_level_keys_on_kernel_routes(world: dict[str, Any]) -> None:
    """``/auth/register`` has no tenant yet: the record is a platform-level row."""
    api, app = world["api"], world["app"]
    payload = {"email": "new@charlie.example.com", "password": "correct horse battery",
               "name": "C", "tenant_name": "Charlie", "tenant_slug": "charlie"}
    first = api.post("/api/v1/auth/register", json=payload, headers={KEY: "signup-1"})
    assert first.status_code == 201, first.get_json()
    again = api.post("/api/v1/auth/register", json=payload, headers={KEY: "signup-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    (row,) = [r for r in records(app) if r.key == "signup-1"]
    assert row.tenant_id is None
    without = api.post("/api/v1/auth/register", json=payload)
    assert_problem(without, 409)  # without the key it really runs again: the slug is taken


def test_expired_and_abandoned_keys_are_taken_over_and_purged(world: dict[str, Any]) -> None:
    api, a, app = world["api"], world["a"], world["app"]
    assert post(api, "/api/v1/pipeline/work", a, "old", {"text": "x"}).status_code == 201
    assert post(api, "/api/v1/pipeline/work", a, "crashed", {"text": "x"}).status_code == 201
    past = utcnow() - dt.timedelta(hours=25)
    with app.app_context(), platform_scope():
        db.session.execute(sa.update(IdempotencyRecord).where(IdempotencyRecord.key == "old")
                           .values(expires_at=past))
        db.session.execute(sa.update(IdempotencyRecord).where(IdempotencyRecord.key == "crashed")
                           .values(state="in_flight", locked_at=utcnow() - dt.timedelta(minutes=5)))
        db.session.commit()
    # an expired key is free again, even for another request; an abandoned claim is taken over
    assert post(api, "/api/v1/pipeline/work", a, "old", {"text": "other"}).get_json()["run"] == 3
    assert post(api, "/api/v1/pipeline/work", a, "crashed", {"text": "x"}).get_json()["run"] == 4
    with app.app_context(), platform_scope():
        db.session.execute(sa.update(IdempotencyRecord).where(IdempotencyRecord.key == "old")
                           .values(expires_at=past))
        db.session.commit()
    with app.app_context():
        assert purge_idempotency_keys() == 1
    assert [r.key for r in records(app)] == ["crashed"]
    _, spec = kernel_services(app).job_specs["kernel.purge_idempotency_keys"]
    assert spec.cron and spec.cron.split()[2:] == ["*", "*", "*"]  # daily
    with app.app_context():  # and it runs as a kernel job (platform-wide, recorded)
        assert execute("kernel.purge_idempotency_keys", None, {}) == "succeeded"


@pytest.mark.postgres_only
def test_a_tenant_sees_only_its_own_records_under_row_level_security(world: dict[str, Any]) -> None:
    from kernel.tenancy.scope import tenant_scope

    api, a, b, app = world["api"], world["a"], world["b"], world["app"]
    for who in (a, b):
        assert post(api, "/api/v1/pipeline/work", who, "k", {"text": "x"}).status_code == 201
    with app.app_context(), tenant_scope(uuid.UUID(a.tenant_id)):
        seen = db.session.execute(sa.text("SELECT tenant_id FROM idempotency_keys")).scalars().all()
    assert [str(t) for t in seen] == [a.tenant_id]  # raw SQL: only the database filters


# -- two requests at once, against a real server ----------------------------------------


class Server:
    """The app on a loopback port (werkzeug, a thread per request)."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def post(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("POST", path, body=json.dumps(body),
                         headers={"Content-Type": "application/json", **headers})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), json.loads(resp.read() or b"null")
        finally:
            conn.close()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.mark.postgres_only
def test_two_concurrent_first_requests_one_runs_the_other_is_409(world: dict[str, Any]) -> None:
    a = world["a"]
    server = Server(world["app"])
    headers = {**a.headers, KEY: "race"}
    body = {"text": "race", "wait": True}
    answers: list[tuple[int, dict[str, str], Any]] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait()
        answers.append(server.post("/api/v1/pipeline/work", headers, body))

    try:
        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        assert pipeline.STARTED.wait(timeout=20), "the winner never reached the view"
        deadline = time.monotonic() + 10
        while not answers and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert len(answers) == 1  # the loser has answered; the winner is still in the view
        status, loser_headers, problem = answers[0]
        assert status == 409 and problem["type"].endswith("/idempotency-key-in-use")
        assert loser_headers["Content-Type"] == "application/problem+json"
        assert loser_headers["Retry-After"] == "1"
        pipeline.GATE.set()
        for thread in threads:
            thread.join(timeout=20)
        assert sorted(answer[0] for answer in answers) == [201, 409]
        winner = next(answer for answer in answers if answer[0] == 201)
        # a retry now gets the winner's answer
        status, replay_headers, replayed = server.post("/api/v1/pipeline/work", headers, body)
        assert (status, replayed) == (201, winner[2])
        assert replay_headers["Idempotent-Replayed"] == "true"
    finally:
        pipeline.GATE.set()
        server.stop()
    assert pipeline.CALLS["work"] == 1
