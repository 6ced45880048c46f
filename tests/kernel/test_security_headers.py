"""Security headers on every answer; HSTS only over HTTPS; the docs page keeps its scripts;
``Idempotency-Key`` documented on every POST."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from kernel.services import kernel_services
from kernel.web.idempotency import HEADER
from tests.helpers import Api
from tests.testplugins.full import plugin as full

DATA_CSP = "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/health"), ("GET", "/api/openapi.json"), ("GET", "/api/v1/tenant"),  # 401
    ("GET", "/nowhere"), ("POST", "/api/v1/auth/login"), ("GET", "/metrics"),
    ("OPTIONS", "/api/v1/public/pages"),
])
def test_every_answer_carries_them(api: Api, method: str, path: str) -> None:
    headers = {"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"}
    resp = api.call(method, path, headers=headers)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["Content-Security-Policy"] == DATA_CSP
    assert "Strict-Transport-Security" not in resp.headers  # plain HTTP


def test_the_docs_page_keeps_its_cdn_scripts(api: Api) -> None:
    resp = api.get("/api/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert resp.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert "cdn.jsdelivr.net" in resp.get_data(as_text=True)


def test_hsts_only_over_https(api: Api, plugin_app: Callable[..., Flask]) -> None:
    resp = api.client.get("/health", base_url="https://api.example")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    # behind a trusted proxy, the forwarded scheme decides; an untrusted header does not
    forwarded = {"X-Forwarded-Proto": "https"}
    assert "Strict-Transport-Security" not in api.get("/health", headers=forwarded).headers
    proxied = plugin_app(full, trusted_proxies=1)
    resp = proxied.test_client().get("/health", headers=forwarded)
    assert "Strict-Transport-Security" in resp.headers


def test_a_views_own_value_wins(app: Flask) -> None:
    @app.get("/own-policy")
    def own() -> Any:
        return "hi", 200, {"Referrer-Policy": "same-origin"}

    resp = app.test_client().get("/own-policy")
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["Content-Security-Policy"] == "frame-ancestors 'none'"  # text/html


def test_idempotency_key_is_documented_on_every_post(app: Flask) -> None:
    paths: dict[str, Any] = kernel_services(app).api.spec.to_dict()["paths"]
    posts = [(path, ops["post"]) for path, ops in paths.items() if "post" in ops]
    assert len(posts) > 10
    for path, operation in posts:
        (param,) = [p for p in operation.get("parameters", []) if p.get("name") == HEADER]
        assert param["in"] == "header" and param["required"] is False, path
        assert param["schema"]["maxLength"] == 255
        assert {"400", "409", "422"} <= set(operation["responses"]), path
    others = [op for ops in paths.values() for method, op in ops.items() if method in ("get", "put")]
    assert not any(p.get("name") == HEADER for op in others for p in op.get("parameters", []))
