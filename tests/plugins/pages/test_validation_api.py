"""The pages API refuses bad documents and paths with 422 and a JSON pointer, changing nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Account, Api, assert_problem, assert_rejected
from tests.plugins.pages.conftest import PAGES, configure, create, doc, node, send


@pytest.mark.parametrize(("data", "where"), [
    ({"root": {"props": {}}, "content": {}}, "/data/content"),
    ({"root": "x", "content": []}, "/data/root"),
    (doc({"props": {"id": "a"}}), "/data/content/0/type"),
    (doc({"type": "Hero", "props": "x"}), "/data/content/0/props"),
    (doc({"type": "Hero", "props": {"id": 5}}), "/data/content/0/props/id"),
    (doc(node("Hero", "a"), node("Grid", "g", items=[node("Card", "a")])),
     "/data/content/1/props/items/0/props/id"),
    (doc(node("Cols", "c"), zones={"c:left": [node("Text", "a")], "c:right": [node("Text", "a")]}),
     "/data/zones/c:right/0/props/id"),
    (doc(node("Cols", "c"), zones={"gone:left": []}), "/data/zones/gone:left"),
    (doc(node("Hero", "h", ratio=float("nan"))), "/data/content/0/props/ratio"),
    ("not a document", "/data"),
])
def test_create_rejects_bad_documents(api: Api, owner: Account, data: Any, where: str) -> None:
    assert_rejected(api, "POST", PAGES, owner, {"path": "/x", "title": "X", "data": data}, where)


def test_update_rejects_bad_documents_and_keeps_the_draft(api: Api, owner: Account) -> None:
    page = create(api, owner, data=doc(node("Hero", "h")))
    bad = doc(node("Hero", "h"), node("Hero", "h"))
    assert_rejected(api, "PATCH", f"{PAGES}/{page['id']}", owner, {"data": bad}, "/data/content/1/props/id")
    again = api.get(f"{PAGES}/{page['id']}", owner).get_json()
    assert again["data"] == page["data"] and again["version"] == 1


@pytest.mark.parametrize(("path", "where"), [
    ("/a//b", "/path"), ("/a/../b", "/path"), ("/./a", "/path"), ("/a b", "/path"),
    ("/caf\u00e9", "/path"), ("/a?b", "/path"), ("/" + "a" * 300, "/path"), ("", "/path"),
])
def test_bad_paths(api: Api, owner: Account, path: str, where: str) -> None:
    assert_rejected(api, "POST", PAGES, owner, {"path": path, "title": "X"}, where)


@pytest.mark.parametrize(("given", "stored"), [
    ("/", "/"), ("", None), ("about", "/about"), ("/About/", "/about"),
    ("/Events/Summer-2026", "/events/summer-2026"), ("/a_b.c/d-e", "/a_b.c/d-e"),
])
def test_paths_are_normalised(api: Api, owner: Account, given: str, stored: str | None) -> None:
    resp = api.post(PAGES, owner, json={"path": given, "title": "T"})
    if stored is None:
        assert_problem(resp, 422)
    else:
        assert resp.status_code == 201 and resp.get_json()["path"] == stored


def test_unknown_fields_are_refused(api: Api, owner: Account) -> None:
    assert_rejected(api, "POST", PAGES, owner, {"path": "/x", "title": "X", "status": "published"},
                    "/status")


def test_allowlist_applies_once_configured(api: Api, owner: Account) -> None:
    data = doc(node("Hero", "h"), node("Grid", "g", items=[node("Iframe", "i")]))
    create(api, owner, "/before", data)
    configure(api, owner, components=["Hero", "Grid"])
    assert_rejected(api, "POST", PAGES, owner, {"path": "/x", "title": "X", "data": data},
                    "/data/content/1/props/items/0/type")
    create(api, owner, "/ok", doc(node("Hero", "h"), node("Grid", "g", items=[])))


def test_publishing_checks_the_draft_against_the_current_allowlist(api: Api, owner: Account) -> None:
    page = create(api, owner, data=doc(node("Iframe", "i")))
    configure(api, owner, components=["Hero"])
    resp = api.post(f"{PAGES}/{page['id']}/publish", owner, json={})
    problem = assert_problem(resp, 422, "validation-error")
    assert [e["pointer"] for e in problem["errors"]] == ["/data/content/0/type"]


def test_limits_are_configurable(api: Api, owner: Account) -> None:
    configure(api, owner, max_nodes=3, max_depth=2, max_bytes=2048)
    many = doc(*[node("Text", f"t{i}") for i in range(4)])
    assert_rejected(api, "POST", PAGES, owner, {"path": "/x", "title": "X", "data": many}, "/data/content/3")
    deep = doc(node("Box", "a", items=[node("Box", "b", items=[node("Text", "c")])]))
    assert_rejected(api, "POST", PAGES, owner, {"path": "/x", "title": "X", "data": deep},
                    "/data/content/0/props/items/0/props/items/0")
    big = doc(node("Text", "t", text="x" * 3000))
    assert_rejected(api, "POST", PAGES, owner, {"path": "/x", "title": "X", "data": big}, "/data")


def test_default_limits_refuse_huge_documents(api: Api, owner: Account) -> None:
    huge = doc(*[node("Text", f"t{i}", text="y" * 300) for i in range(4000)])  # ~1.4 MB
    resp = send(api, "POST", PAGES, owner, {"path": "/x", "title": "X", "data": huge})
    problem = assert_problem(resp, 422, "validation-error")
    assert problem["errors"][0]["pointer"] == "/data"


def test_config_is_validated(api: Api, owner: Account) -> None:
    for config in ({"max_nodes": 0}, {"components": []}, {"max_bytes": "big"}, {"colour": "red"}):
        assert_problem(api.put("/api/v1/plugins/pages/config", owner, json=config), 422)
