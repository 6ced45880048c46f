"""Warm storefront hits are answered at the kernel's public edge, ahead of Flask.

The edge must give the same bytes and headers as the views, the same observability
(X-Request-ID, metrics, one access log line), and hand everything else to Flask.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from kernel import create_app
from kernel.services import kernel_services
from kernel.web import edge
from kernel.web.observability import JsonFormatter
from tests.helpers import Account, Api, assert_problem
from tests.plugins.pages.conftest import PUBLIC, create, doc, node, publish, storefront

HOME = doc(node("Hero", "h", title="Welcome"))


class Counting:
    """Counts the requests that reach Flask behind the edge."""

    def __init__(self, app: Flask) -> None:
        self.edge = app.wsgi_app
        self.inner = self.edge.wsgi_app  # type: ignore[attr-defined]
        self.calls = 0
        self.edge.wsgi_app = self  # type: ignore[attr-defined]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        return self.inner(environ, start_response)


@pytest.fixture
def flask_calls(app: Flask, api: Api, owner: Account) -> Counting:
    publish(api, owner, create(api, owner, "/", HOME, "Home")["id"])
    storefront(api, "/")
    storefront(api, "")  # both warm now
    return Counting(app)


@pytest.fixture
def access_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(JsonFormatter().format(record))  # type: ignore[method-assign]
    logger = logging.getLogger("plugboard.access")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def _without_request_id(headers: Any) -> dict[str, str]:
    """The headers that must match: not the request id, nor the rate limit's count."""
    return {k: v for k, v in headers.items() if k not in ("X-Request-ID", "RateLimit")}


def test_warm_hits_skip_flask_with_the_same_answer(app: Flask, api: Api, flask_calls: Counting) -> None:
    by_view = storefront(api, "/About")  # not a normal path: the views answer (and normalise)
    assert flask_calls.calls == 1 and by_view.status_code == 404
    flask_calls.calls = 0
    edge = storefront(api, "/")
    listed = storefront(api, "")
    not_modified = storefront(api, "/", **{"If-None-Match": edge.headers["ETag"]})
    assert flask_calls.calls == 0
    assert edge.get_json() == HOME and listed.get_json()[0]["path"] == "/"
    assert not_modified.status_code == 304 and not_modified.get_data() == b""
    app.extensions["pages.cache"].drop(None)
    by_view = storefront(api, "/")
    assert flask_calls.calls == 1
    assert by_view.get_data() == edge.get_data()
    assert _without_request_id(by_view.headers) == _without_request_id(edge.headers)


def test_everything_else_goes_to_flask(api: Api, owner: Account, flask_calls: Counting) -> None:
    assert api.call("HEAD", PUBLIC + "/", headers={"X-Tenant": "acme"}).status_code == 200
    assert_problem(api.post(PUBLIC + "/", headers={"X-Tenant": "acme"}), 405)
    assert_problem(storefront(api, "/", "nobody"), 404, "unknown-tenant")
    assert_problem(storefront(api, "/missing"), 404, "page-not-found")
    assert api.get("/api/v1/public/tenant", headers={"X-Tenant": "acme"}).status_code == 200
    assert flask_calls.calls == 5
    api.put("/api/v1/plugins/pages/activation", owner, json={"enabled": False})
    flask_calls.calls = 0
    assert_problem(storefront(api, "/"), 404, "plugin-not-enabled")
    assert flask_calls.calls == 1


def test_request_id_metrics_and_access_log(api: Api, flask_calls: Counting, access_lines: list[str]) -> None:
    given = storefront(api, "/", **{"X-Request-ID": "edge-test.1"})
    made = storefront(api, "/", **{"X-Request-ID": "not valid!"})
    assert flask_calls.calls == 0
    assert given.headers["X-Request-ID"] == "edge-test.1"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert len(access_lines) == 2
    assert '"msg": "GET /api/v1/public/pages/ 200"' in access_lines[0]
    assert '"request_id": "edge-test.1"' in access_lines[0]
    assert '"status": 200' in access_lines[0] and '"duration_ms": ' in access_lines[0]
    metrics = api.get("/metrics").get_data(as_text=True)
    assert re.search(r'plugboard_http_requests_total\{endpoint="/api/v1/public/pages/",method="GET",'
                     r'plugin="pages",status="200"\} [2-9]', metrics), metrics


def test_url_matches_are_remembered_per_path_and_bounded(
    app: Flask, api: Api, owner: Account, flask_calls: Counting, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edge, "ROUTES_CACHED", 2)
    pages = {f"/p{i}": doc(node("Text", "t", text=f"page {i}")) for i in range(3)}
    for path, data in pages.items():
        publish(api, owner, create(api, owner, path, data, path)["id"])
    for path in pages:
        storefront(api, path)  # warm (a publish drops the tenant's cached pages)
    adapters: list[object] = []
    real = app.create_url_adapter
    monkeypatch.setattr(app, "create_url_adapter", lambda req: adapters.append(req) or real(req))
    flask_calls.calls = 0
    for _ in range(2):
        for path, data in pages.items():  # three paths through a cache of two
            assert storefront(api, path).get_json() == data
    assert flask_calls.calls == 0
    assert len(flask_calls.edge._routes) <= 2  # type: ignore[attr-defined]
    adapters.clear()
    assert storefront(api, "/p2").get_json() == pages["/p2"]
    assert storefront(api, "/p2").get_json() == pages["/p2"]
    assert len(adapters) <= 1  # matched at most once, then remembered


def test_a_failing_responder_falls_back_to_flask(app: Flask, api: Api, flask_calls: Counting) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("bug in a responder")

    flask_calls.edge.responders["pages"] = broken  # type: ignore[attr-defined]
    resp = storefront(api, "/")
    assert resp.status_code == 200 and resp.get_json() == HOME and flask_calls.calls == 1


def test_behind_a_trusted_proxy_the_edge_sees_the_forwarded_host(
    app_config: dict[str, Any], api: Api, owner: Account
) -> None:
    publish(api, owner, create(api, owner, "/", HOME, "Home")["id"])
    proxied = create_app({**app_config, "trusted_proxies": 1})
    client = proxied.test_client()
    headers = {"X-Forwarded-Host": "acme.localhost", "X-Forwarded-For": "203.0.113.9"}
    for _ in range(2):  # the view, then the edge
        resp = client.get(PUBLIC + "/", base_url="http://internal:8000/", headers=headers)
        assert resp.status_code == 200 and resp.get_json() == HOME
    kernel_services(proxied).engine.dispose()


def test_the_edge_counts_storefront_reads_and_lets_flask_answer_429(
    app_config: dict[str, Any], api: Api, owner: Account
) -> None:
    publish(api, owner, create(api, owner, "/", HOME, "Home")["id"])
    limited = create_app({**app_config, "rate_limit_public": "3/hour"})
    client = limited.test_client()
    answers = [client.get(PUBLIC + "/", headers={"X-Tenant": "acme"}) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]  # view, edge, edge, Flask
    assert [r.headers["RateLimit"].split(";")[:2] for r in answers[:3]] == [
        ['"public"', f"r={n}"] for n in (2, 1, 0)]
    assert int(answers[3].headers["Retry-After"]) >= 1
    for resp in answers:  # the edge's answers carry the security headers too
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    kernel_services(limited).engine.dispose()
