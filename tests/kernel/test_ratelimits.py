"""Rate limits per API key, per user and per IP, by route class; 429 with Retry-After and
the IETF RateLimit fields; switched off with one setting."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from kernel.config import ConfigError, Settings
from kernel.services import kernel_services
from kernel.web.ratelimits import route_class
from tests.helpers import Api, assert_problem
from tests.testplugins.full import plugin as full

RATELIMIT = re.compile(r'^"(?P<name>[a-z0-9-]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')


@pytest.fixture
def limited(plugin_app: Callable[..., Flask]) -> Callable[..., Api]:
    def make(**limits: str) -> Api:
        app = plugin_app(full, **{f"rate_limit_{k}": v for k, v in limits.items()})
        return Api(app.test_client(), app)

    return make


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("POST", "/api/v1/auth/login", "auth"), ("GET", "/api/v1/auth/me", "auth"),
    ("POST", "/api/v1/public/account/login", "auth"),
    ("POST", "/api/v1/webhooks/full/t/ping", "webhook"),
    ("GET", "/api/v1/public/pages", "public"), ("HEAD", "/bundles/p/1.0.0/a.js", "public"),
    ("POST", "/api/v1/public/commerce/checkout", "write"),
    ("GET", "/api/v1/tenant", "read"), ("DELETE", "/api/v1/api-keys/x", "write"),
    ("GET", "/health", None), ("GET", "/metrics", None), ("GET", "/api/openapi.json", None),
    ("GET", "/api/docs", None), ("OPTIONS", "/api/v1/tenant", None),
])
def test_route_classes(method: str, path: str, expected: str | None) -> None:
    assert route_class(path, method) == expected


def test_limits_are_settings() -> None:
    settings = Settings.from_env({"PLUGBOARD_RATE_LIMITS": "off",
                                  "PLUGBOARD_RATE_LIMIT_PUBLIC": "10/second;600/minute"})
    assert settings.rate_limits is False and settings.rate_limit_public == "10/second;600/minute"
    with pytest.raises(ConfigError, match="PLUGBOARD_RATE_LIMIT_WRITE"):
        Settings.from_env({"PLUGBOARD_RATE_LIMIT_WRITE": "plenty"})


def test_429_after_the_limit_with_retry_after_and_ratelimit_fields(limited: Callable[..., Api]) -> None:
    api = limited(auth="3/hour")
    answers = [api.post("/api/v1/auth/login", json={"email": "a@b.example", "password": "x"})
               for _ in range(4)]
    assert [r.status_code for r in answers] == [401, 401, 401, 429]
    assert answers[0].headers["RateLimit-Policy"] == '"auth";q=3;w=3600'
    remaining = [int(RATELIMIT.match(r.headers["RateLimit"])["r"]) for r in answers]  # type: ignore[index]
    assert remaining == [2, 1, 0, 0]
    body = assert_problem(answers[3], 429, "rate-limited")
    retry = int(answers[3].headers["Retry-After"])
    assert 1 <= retry <= 3600 and str(retry) in body["detail"]
    # other route classes count apart
    assert api.get("/api/v1/public/tenant", headers={"X-Tenant": "nope"}).status_code == 404


def test_users_and_api_keys_are_counted_apart_and_not_by_address(limited: Callable[..., Api]) -> None:
    api = limited(read="3/hour", write="100/hour")
    owner, other = api.register(), api.register()
    key = api.post("/api/v1/api-keys", owner, json={"name": "ci", "role": "admin"}).get_json()["key"]
    by_key = {"Authorization": f"Bearer {key}"}
    assert [api.get("/api/v1/tenant", owner).status_code for _ in range(4)] == [200, 200, 200, 429]
    # same address, another caller: its own allowance
    assert [api.get("/api/v1/tenant", headers=by_key).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert api.get("/api/v1/tenant", other).status_code == 200
    # a bad credential counts against the address, and still gets its 401
    assert_problem(api.get("/api/v1/tenant", headers={"Authorization": "Bearer nonsense"}), 401)


def test_anonymous_callers_are_counted_by_address(limited: Callable[..., Api]) -> None:
    api = limited(public="2/hour")

    def hit(address: str) -> int:
        return api.client.get("/api/v1/public/tenant", headers={"X-Tenant": "x"},
                              environ_base={"REMOTE_ADDR": address}).status_code

    assert [hit("203.0.113.1") for _ in range(3)] == [404, 404, 429]
    assert hit("203.0.113.2") == 404


def test_several_limits_per_class_name_each_policy(limited: Callable[..., Api]) -> None:
    api = limited(public="2/second;100/hour")
    resp = api.get("/api/v1/public/tenant", headers={"X-Tenant": "x"})
    assert resp.headers["RateLimit-Policy"] == '"public-1";q=2;w=1, "public-2";q=100;w=3600'
    assert RATELIMIT.match(resp.headers["RateLimit"])["name"] == "public-1"  # type: ignore[index]


def test_off_switches_every_limit_off(limited: Callable[..., Api], plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(full, rate_limits="off", rate_limit_auth="1/minute")
    api = Api(app.test_client(), app)
    answers = [api.post("/api/v1/auth/login", json={"email": "a@b.example", "password": "x"})
               for _ in range(3)]
    assert [r.status_code for r in answers] == [401, 401, 401]
    assert "RateLimit" not in answers[0].headers
    assert "429" not in str(kernel_services(app).api.spec.to_dict()["paths"]["/api/v1/tenant"])


def test_health_and_documents_are_not_limited(limited: Callable[..., Api]) -> None:
    api = limited(read="1/minute", public="1/minute")
    for _ in range(3):
        assert api.get("/health").status_code == 200
        assert "RateLimit" not in api.get("/api/openapi.json").headers


def test_every_limited_operation_documents_429(app: Flask) -> None:
    paths: dict[str, Any] = kernel_services(app).api.spec.to_dict()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            limited = route_class(path, method.upper()) is not None
            assert ("429" in operation["responses"]) is limited, (method, path)


def test_storefront_scripts_may_read_the_fields_and_send_a_key(api: Api) -> None:
    preflight = api.call("OPTIONS", "/api/v1/public/tenant", headers={
        "Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "idempotency-key"})
    allowed = {h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert "idempotency-key" in allowed
    resp = api.get("/api/v1/public/tenant", headers={"X-Tenant": "nope"})
    exposed = {h.strip() for h in resp.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"RateLimit", "RateLimit-Policy", "Retry-After", "Idempotent-Replayed"} <= exposed
