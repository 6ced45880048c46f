"""Request bodies: nesting capped before parsing, NUL refused after authentication, and
body size limits before any of it."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from kernel.config import ConfigError, Settings
from kernel.web.json_limits import LimitedRequest, too_deep
from tests.helpers import Api, assert_problem
from tests.testplugins import pipeline
from tests.testplugins.full import plugin as full

DEEP = 10_000


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def deep_body(depth: int = DEEP) -> dict[str, Any]:
    return {"data": '{"email": ' + nested(depth, '"x"') + ', "password": "p"}',
            "content_type": "application/json"}


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("[]", 1, False), ("[[]]", 1, True), ("[[1]]", 2, False),
    ('{"a": {"b": [1]}}', 2, True), ('{"a": {"b": [1]}}', 3, False),
    ('["[[[[[[", "]]]]{{{"]', 1, False),  # brackets in strings do not count
    (r'["\"[[[[", "\\", [1]]', 2, False),  # nor after escaped quotes and backslashes
    (r'["\\", [[1]]]', 2, True),
    (nested(DEEP), 64, True), (nested(64), 64, False), (nested(65), 64, True),
])
def test_depth_prescan(text: str, limit: int, expected: bool) -> None:
    assert too_deep(text.encode(), limit) is expected


def test_the_depth_limit_is_a_setting_below_pythons_recursion_limit() -> None:
    assert Settings().json_max_depth == 64
    assert Settings.from_env({"PLUGBOARD_JSON_MAX_DEPTH": "10"}).json_max_depth == 10
    for bad in ("0", str(sys.getrecursionlimit())):
        with pytest.raises(ConfigError, match="JSON_MAX_DEPTH"):
            Settings.from_env({"PLUGBOARD_JSON_MAX_DEPTH": bad})


def test_deep_json_on_a_public_route_is_400(api: Api) -> None:
    body = assert_problem(api.post("/api/v1/auth/login", **deep_body()), 400, "json-too-deep")
    assert "64" in body["detail"] and body["max_depth"] == 64
    # as deep as the 500 of old, too (inside the recursion limit, outside ours)
    assert_problem(api.post("/api/v1/auth/login", **deep_body(990)), 400, "json-too-deep")


def test_deep_json_on_an_authenticated_route_is_400(api: Api) -> None:
    owner = api.register()
    resp = api.patch("/api/v1/tenant", owner, data=json.dumps({"name": json.loads(nested(60))})[:-1]
                     + nested(DEEP) + "}", content_type="application/json")
    assert_problem(resp, 400, "json-too-deep")
    # unauthenticated, the same body is 401: nothing is parsed for a stranger
    assert_problem(api.patch("/api/v1/tenant", data=nested(DEEP), content_type="application/json"), 401)


def test_deep_json_on_a_plugin_route_is_400(plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(full)
    api = Api(app.test_client(), app)
    owner = api.register()
    assert api.put("/api/v1/plugins/full/activation", owner, json={"enabled": True}).status_code == 200
    for path in ("/api/v1/full/notes", "/api/v1/plugins/full/config"):
        resp = api.call("POST" if "notes" in path else "PUT", path, owner,
                        data='{"text": ' + nested(DEEP) + "}", content_type="application/json")
        assert_problem(resp, 400, "json-too-deep")
    # a route that never reads its body is not troubled by it
    assert api.post(f"/api/v1/webhooks/full/{owner.tenant_slug}/ping", **deep_body()).status_code == 200


def test_a_body_at_the_limit_still_parses(api: Api) -> None:
    owner = api.register()
    at_limit = '{"name": ' + nested(63, '"x"') + "}"  # the object is level 1
    body = assert_problem(api.patch("/api/v1/tenant", owner, data=at_limit,
                                    content_type="application/json"), 422)
    assert body["errors"][0]["pointer"] == "/name"  # parsed, then refused by the schema
    one_more = '{"name": ' + nested(64, '"x"') + "}"
    assert_problem(api.patch("/api/v1/tenant", owner, data=one_more,
                             content_type="application/json"), 400, "json-too-deep")


def test_get_json_refuses_deep_bodies_too(app: Flask) -> None:
    assert app.request_class is LimitedRequest
    with app.test_request_context("/x", method="POST", data=nested(100), content_type="application/json"):
        from flask import request

        assert request.get_json(silent=True) is None
        with pytest.raises(Exception, match="400"):
            request.get_json()
    with app.test_request_context("/x", method="POST", data=nested(5), content_type="application/json"):
        from flask import request

        assert request.get_json() == json.loads(nested(5))


# -- NUL: refused after authentication and authorisation ----------------------------------


def test_nul_from_a_non_admin_is_403_not_a_description_of_the_body(api: Api) -> None:
    """The exact case of the issue: a tenant owner on a platform-admin route."""
    owner = api.register()
    path = f"/api/v1/admin/tenants/{owner.tenant_id}/plugins/pages"
    resp = api.put(path, owner, json={"enabled": True, "config": {"x\u0000": "a\u0000b"}})
    body = assert_problem(resp, 403)
    assert "errors" not in body and "NUL" not in json.dumps(body)
    admin = api.make_admin()
    body = assert_problem(api.put(path, admin, json={"enabled": True, "config": {"k": "a\u0000b"}}), 422)
    assert body["errors"][0]["pointer"] == "/config/k"


def test_nul_in_a_query_is_422_after_authentication(api: Api) -> None:
    admin = api.make_admin()
    assert_problem(api.get("/api/v1/admin/tenants?q=a%00b"), 401)
    body = assert_problem(api.get("/api/v1/admin/tenants?q=a%00b", admin), 422)
    assert body["errors"][0]["location"] == "query"


# -- body size limits before anything reads the body --------------------------------------


def test_a_body_over_the_routes_limit_is_413_before_parsing(plugin_app: Callable[..., Flask]) -> None:
    pipeline.CALLS.clear()
    app = plugin_app(pipeline)
    api = Api(app.test_client(), app)
    owner = api.register()
    assert api.put("/api/v1/plugins/pipeline/activation", owner, json={"enabled": True}).status_code == 200
    limit = pipeline.SMALL_LIMIT
    for bad in ('{"text": "' + "\u0000" * limit + '"}', '{"text": ' + nested(limit) + "}",
                '{"text": "' + "x" * limit + '"'):  # NUL, too deep, not even JSON: all too long
        assert_problem(api.post("/api/v1/pipeline/small", owner, data=bad,
                                content_type="application/json"), 413)
    # a stranger is refused without the body being read at all
    assert_problem(api.post("/api/v1/pipeline/small", data="x" * (limit * 10),
                            content_type="application/json"), 401)
    # the app-wide limit (larger) is not what this route gets; under its limit it works
    assert api.post("/api/v1/pipeline/small", owner, json={"text": "ok"}).status_code == 201
    assert pipeline.CALLS["small"] == 1


def test_the_app_wide_limit_applies_before_parsing(plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(full, max_content_length=1000)
    api = Api(app.test_client(), app)
    assert_problem(api.post("/api/v1/auth/login", data='{"email": ' + nested(2000) + "}",
                            content_type="application/json"), 413)
