"""The OpenAPI document says what the server does: headers, PATCH bodies, no HTML redirects.

Each test pins a disagreement Schemathesis's CLI found between the document and the
served API (issue 13), fixed where the document is generated.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from flask import Flask

from kernel import create_app
from tests.helpers import Api, assert_problem


def _spec(app: Flask) -> dict[str, Any]:
    return app.test_client().get("/api/openapi.json").get_json()


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in spec["paths"].items()
            for method, op in ops.items() if method != "parameters"]


def _full_schema(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with the document's components, so jsonschema resolves its references."""
    return {**node, "components": spec["components"]}


def test_x_pagination_is_documented_as_the_json_object_it_is(api: Api) -> None:
    owner = api.register()
    spec = _spec(api.app)
    header = spec["components"]["headers"]["PAGINATION"]
    assert "schema" not in header  # a bare schema means the `simple` style: total,1,page,1
    schema = header["content"]["application/json"]["schema"]
    paginated = [(path, method) for path, method, op in _operations(spec)
                 if "X-Pagination" in op["responses"].get("200", {}).get("headers", {})]
    assert ("/api/v1/api-keys", "get") in paginated
    assert ("/api/v1/tenant/members", "get") in paginated
    resp = api.get("/api/v1/tenant/members", owner)
    sent = json.loads(resp.headers["X-Pagination"])
    jsonschema.validate(sent, _full_schema(spec, schema))
    assert sent["total"] == 1


def test_every_patch_documents_and_enforces_that_it_changes_something(api: Api) -> None:
    spec = _spec(api.app)
    patches = [(path, op) for path, method, op in _operations(spec) if method == "patch"]
    assert len(patches) >= 4
    for path, op in patches:
        body = _resolve(spec, op["requestBody"]["content"]["application/json"]["schema"])
        assert body.get("minProperties") == 1, path

    owner = api.register()
    before = api.get("/api/v1/tenant", owner).get_json()
    assert_problem(api.patch("/api/v1/tenant", owner), 422, "validation-error")
    assert_problem(api.patch("/api/v1/tenant", owner, json={}), 422, "validation-error")
    assert api.get("/api/v1/tenant", owner).get_json() == before
    customer = api.post("/api/v1/customers", owner, json={"email": "c@example.com"}).get_json()
    assert_problem(api.patch(f"/api/v1/customers/{customer['id']}", owner, json={}), 422)
    resp = api.patch("/api/v1/tenant", owner, json={"name": "Renamed"})
    assert resp.status_code == 200 and resp.get_json()["name"] == "Renamed"


def test_a_put_without_a_body_is_refused_and_documented_as_needing_one(api: Api) -> None:
    spec = _spec(api.app)
    puts = [(path, op) for path, method, op in _operations(spec) if method == "put" and "requestBody" in op]
    assert puts and all(op["requestBody"].get("required") is True for _, op in puts), puts
    owner = api.register()
    api.put("/api/v1/plugins/pages/activation", owner, json={"enabled": True})
    before = api.get("/api/v1/plugins/pages/config", owner).get_json()
    assert_problem(api.put("/api/v1/plugins/pages/config", owner), 422, "validation-error")
    assert api.get("/api/v1/plugins/pages/config", owner).get_json() == before
    assert_problem(api.put("/api/v1/plugins/pages/activation", owner), 422, "validation-error")


def test_a_doubled_slash_is_an_unknown_path_not_an_html_redirect(api: Api) -> None:
    owner = api.register()
    for path in ("/api/v1//pages", "/api/v1/tenant//members", "//api/v1/tenant"):
        resp = api.get(path, owner)
        assert resp.status_code == 404, (path, resp.status_code)
        assert resp.mimetype == "application/problem+json"
    resp = api.get("/api/v1/public/pages/a%2F%2Fb", headers={"X-Tenant": owner.tenant_slug})
    assert resp.status_code != 308 and resp.mimetype in ("application/json", "application/problem+json")


def test_a_redirect_werkzeug_still_makes_has_a_json_body(app_config: dict[str, Any]) -> None:
    app = create_app(app_config)
    app.add_url_rule("/slashed/", "slashed", lambda: {"ok": True})
    resp = app.test_client().get("/slashed?x=1")
    assert resp.status_code == 308
    assert resp.mimetype == "application/json"
    assert resp.headers["Location"].endswith("/slashed/?x=1")
    assert resp.get_json() == {"location": resp.headers["Location"]}


def test_creates_link_to_the_operations_on_what_they_created(api: Api) -> None:
    spec = _spec(api.app)
    links = spec["paths"]["/api/v1/api-keys"]["post"]["responses"]["201"]["links"]
    assert links["DeleteCreated"] == {
        "operationRef": "#/paths/~1api~1v1~1api-keys~1{key_id}/delete",
        "parameters": {"key_id": "$response.body#/id"}}
    for path, method, op in _operations(spec):
        for link in op["responses"].get("201", {}).get("links", {}).values():
            target_path, target_method = link["operationRef"].removeprefix("#/paths/").rsplit("/", 1)
            target = spec["paths"][target_path.replace("~1", "/").replace("~0", "~")]
            assert target_method in target, link
            names = {p["name"] for p in target.get("parameters", []) if p["in"] == "path"}
            assert set(link["parameters"]) == names, (path, method, link)


def test_storefront_operations_document_their_query_and_the_tenant_header(api: Api) -> None:
    # @blp.doc(parameters=[X-Tenant]) used to replace what @blp.arguments documented.
    spec = _spec(api.app)
    for path, _method, op in _operations(spec):
        if path.startswith("/api/v1/public/"):
            assert "X-Tenant" in {p["name"] for p in op.get("parameters", [])}, path
    order = spec["paths"]["/api/v1/public/ticketing/orders/{code}"]["get"]["parameters"]
    assert any(p["name"] == "secret" and p["in"] == "query" and p["required"] for p in order)


def test_the_schemas_state_what_the_server_checks(api: Api) -> None:
    schemas = _spec(api.app)["components"]["schemas"]
    assert "Europe/Berlin" in schemas["EventCreate"]["properties"]["timezone"]["enum"]
    assert "EUR" in schemas["ManualPayment"]["properties"]["currency"]["enum"]
    assert "pattern" in schemas["PageCreate"]["properties"]["path"]
    assert schemas["PageCreate"]["properties"]["data"]["required"] == ["root", "content"]
    assert "pattern" in schemas["BundleUpload"]["properties"]["version"]
    urls = [prop for schema in schemas.values() for prop in schema.get("properties", {}).values()
            if prop.get("format") in ("url", "uri")]
    assert urls and all(prop["format"] == "uri" for prop in urls)
