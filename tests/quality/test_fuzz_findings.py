"""What the fuzzer found in the kernel, pinned down so it stays fixed without fuzzing luck."""

from __future__ import annotations

import json
from typing import Any

from plugboard.testing.harness import operations, spec_of
from tests.helpers import Api, assert_problem


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def test_every_reference_in_the_spec_resolves(api: Api) -> None:
    spec = spec_of(api.app)
    refs = _refs(spec)
    assert "#/components/responses/UNAUTHORIZED" in refs  # was referenced but never emitted
    for ref in refs:
        node: Any = spec
        for part in ref.removeprefix("#/").split("/"):
            assert part in node, f"{ref} does not resolve"
            node = node[part]


def test_kernel_errors_are_documented_where_they_happen(api: Api) -> None:
    documented = {op.label: set(op.documented) for op in operations(spec_of(api.app))}
    assert {"400", "401", "403", "404", "409", "415", "422"} <= documented[
        "PATCH /api/v1/tenant/members/{member_id}"]
    assert {"401", "403", "429"} <= documented["POST /api/v1/auth/login"]
    assert "409" in documented["POST /api/v1/auth/register"]
    problem = spec_of(api.app)["components"]["schemas"]["Problem"]
    assert problem["additionalProperties"] is True  # e.g. `plugin` on plugin-not-enabled


def test_text_with_nul_is_a_validation_problem_not_a_server_error(api: Api) -> None:
    owner = api.register()
    resp = api.patch("/api/v1/tenant", owner, json={"settings": {"a": {"b\x00": 1}}, "name": "x\x00y"})
    body = assert_problem(resp, 422, "validation-error")
    assert sorted(e["pointer"] for e in body["errors"]) == ["/name", "/settings/a/b\x00"]
    resp = api.get("/api/v1/admin/audit-log?action=a%00b", api.make_admin())
    assert assert_problem(resp, 422)["errors"][0]["location"] == "query"
    assert_problem(api.get("/api/v1/plugins/a%00b", owner), 404)
    assert api.get("/api/v1/tenant", owner).get_json()["name"] != "x\x00y"


def test_a_page_past_the_last_is_empty(api: Api) -> None:
    owner = api.register()
    resp = api.get("/api/v1/tenant/members?page=100000000000000000000", owner)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == []
    assert json.loads(resp.headers["X-Pagination"])["total"] == 1
