"""API conventions: problem+json for every error, body rules (400, 413, 415, 422)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from kernel.data.models import Tenant
from kernel.data.session import db
from kernel.tenancy.scope import platform_scope
from tests.helpers import Account, Api, assert_problem, row_counts

MAX_BODY = 2048


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    app_config["max_content_length"] = MAX_BODY
    return app_config




# endpoint -> (needs the caller's access token, a body the schema accepts)
Body = Callable[[Account], dict[str, Any]]
ENDPOINTS: dict[str, tuple[bool, Body]] = {
    "/api/v1/auth/register": (False, lambda a: {
        "email": "new@example.com", "password": "long enough pw", "name": "New",
        "tenant_name": "New", "tenant_slug": "new-tenant"}),
    "/api/v1/auth/login": (False, lambda a: {"email": a.email, "password": a.password}),
    "/api/v1/auth/refresh": (False, lambda a: {"refresh_token": a.refresh_token}),
    "/api/v1/auth/logout": (False, lambda a: {"refresh_token": a.refresh_token}),
    "/api/v1/auth/switch-tenant": (True, lambda a: {"tenant": a.tenant_slug}),
    "/api/v1/auth/password/forgot": (False, lambda a: {"email": a.email}),
    "/api/v1/auth/password/reset": (False, lambda a: {"token": "x" * 20, "password": "a" * 12}),
    "/api/v1/auth/verify-email": (False, lambda a: {"token": "x" * 20}),
    "/api/v1/tenant/members": (True, lambda a: {"email": "m@example.com", "role": "analyst"}),
    "/api/v1/api-keys": (True, lambda a: {"name": "ci"}),
}


def _first_key(body: dict[str, Any]) -> str:
    return next(iter(body))


def _missing(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    key = _first_key(body)
    return {k: v for k, v in body.items() if k != key}, "/" + key


def _extra(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    return {**body, "bogus": 1}, "/bogus"


def _wrong_type(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    key = _first_key(body)
    return {**body, key: ["not", "a", "string"]}, "/" + key


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
@pytest.mark.parametrize("mutate", [_missing, _extra, _wrong_type])
def test_invalid_fields_are_422_with_pointers(
    api: Api, app: Flask, path: str, mutate: Callable[..., tuple[dict[str, Any], str]]
) -> None:
    acct = api.register("conv")
    needs_auth, make_body = ENDPOINTS[path]
    body, pointer = mutate(make_body(acct))
    before = row_counts(app)
    resp = api.post(path, acct if needs_auth else None, json=body)
    problem = assert_problem(resp, 422, "validation-error")
    assert pointer in [e["pointer"] for e in problem["errors"]], problem
    assert all(e["location"] == "json" for e in problem["errors"])
    assert row_counts(app) == before


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_body_not_an_object_is_422(api: Api, app: Flask, path: str) -> None:
    acct = api.register("conv")
    before = row_counts(app)
    resp = api.post(path, acct if ENDPOINTS[path][0] else None, json=["a", "list"])
    assert_problem(resp, 422, "validation-error")
    assert row_counts(app) == before


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_malformed_json_is_400(api: Api, app: Flask, path: str) -> None:
    acct = api.register("conv")
    before = row_counts(app)
    resp = api.post(path, acct if ENDPOINTS[path][0] else None,
                    data='{"email": "a@b.c",', content_type="application/json")
    problem = assert_problem(resp, 400)
    assert "JSON" in " ".join(e["message"] for e in problem["errors"])
    assert row_counts(app) == before


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_wrong_content_type_is_415(
    api: Api, app: Flask, path: str, content_type: str | None
) -> None:
    acct = api.register("conv")
    needs_auth, make_body = ENDPOINTS[path]
    payload = json.dumps(make_body(acct))
    headers = {"Content-Type": content_type} if content_type else {}
    before = row_counts(app)
    resp = api.post(path, acct if needs_auth else None, data=payload, headers=headers)
    problem = assert_problem(resp, 415)
    assert "application/json" in problem["detail"]
    assert row_counts(app) == before


def test_json_with_charset_and_problem_json_suffix_are_accepted(api: Api) -> None:
    acct = api.register("conv")
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        resp = api.post("/api/v1/auth/login", data=json.dumps(
            {"email": acct.email, "password": acct.password}), content_type=content_type)
        assert resp.status_code == 200, (content_type, resp.get_json())


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_oversized_body_is_413(api: Api, app: Flask, path: str) -> None:
    acct = api.register("conv")
    needs_auth, make_body = ENDPOINTS[path]
    body = make_body(acct)
    body[_first_key(body)] = "x" * (MAX_BODY + 1)
    before = row_counts(app)
    resp = api.post(path, acct if needs_auth else None, json=body)
    assert_problem(resp, 413)
    assert row_counts(app) == before


def test_body_just_under_the_limit_is_parsed(api: Api) -> None:
    # Same field as the 413 case, short enough to reach validation: the limit is the setting.
    resp = api.post("/api/v1/auth/password/forgot", json={"email": "x" * (MAX_BODY - 100)})
    problem = assert_problem(resp, 422, "validation-error")
    assert problem["errors"][0]["pointer"] == "/email"


def test_unknown_route_is_404_problem(api: Api) -> None:
    for path in ("/api/v1/nothing-here", "/nothing-here", "/api/v1/auth/me/extra"):
        problem = assert_problem(api.get(path), 404, "not-found")
        assert problem["instance"] == path
        assert "<html" not in problem.get("detail", "").lower()


def test_wrong_method_is_405_problem_with_allow(api: Api) -> None:
    resp = api.get("/api/v1/auth/login")
    assert_problem(resp, 405, "method-not-allowed")
    assert "POST" in resp.headers["Allow"]
    resp = api.delete("/api/v1/auth/me")
    assert_problem(resp, 405)
    assert "GET" in resp.headers["Allow"]


def test_problem_carries_request_id_and_instance(api: Api) -> None:
    resp = api.post("/api/v1/auth/login", json={}, headers={"X-Request-ID": "req-42"})
    problem = assert_problem(resp, 422, "validation-error")
    assert problem["request_id"] == "req-42" == resp.headers["X-Request-ID"]
    assert problem["instance"] == "/api/v1/auth/login"
    assert {e["pointer"] for e in problem["errors"]} == {"/email", "/password"}


def test_bad_request_id_header_is_replaced(api: Api) -> None:
    resp = api.get("/api/v1/nowhere", headers={"X-Request-ID": "bad id\twith spaces"})
    problem = assert_problem(resp, 404)
    assert problem["request_id"] == resp.headers["X-Request-ID"]
    assert problem["request_id"] and " " not in problem["request_id"]


def test_uncaught_exception_is_500_problem_without_trace(app: Flask) -> None:
    def boom() -> str:
        with platform_scope():
            db.session.add(Tenant(slug="half-done", name="Half done", settings={}))
            db.session.flush()
        raise RuntimeError("internal detail: password=hunter2")

    app.add_url_rule("/api/v1/boom", "boom", boom, methods=["POST"])
    # Tests propagate exceptions by default; production (what we check) does not.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    before = row_counts(app)
    resp = app.test_client().post("/api/v1/boom", json={})
    problem = assert_problem(resp, 500, "internal-server-error")
    text = resp.get_data(as_text=True)
    assert "hunter2" not in text and "RuntimeError" not in text and 'File "' not in text
    assert problem["detail"] == "An unexpected error occurred."
    assert row_counts(app) == before


def test_health_and_openapi_are_json(api: Api) -> None:
    assert api.get("/health").get_json() == {"status": "ok"}
    spec = api.get("/api/openapi.json").get_json()
    assert "/api/v1/auth/login" in spec["paths"]
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    assert "application/problem+json" in str(spec["components"]["responses"])
    assert "requestBody" in login
