"""``plugins.pages.puck``: each validation rule, both nesting shapes, pointers, limits."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.pages.puck import Limits, encoded_size, validate, walk
from tests.plugins.pages.conftest import big_document, doc, node


def pointers(data: Any, limits: Limits | None = None, allowed: Any = None) -> list[str]:
    return [p.pointer for p in validate(data, limits or Limits(), allowed)]


def test_slots_zones_and_a_mix_are_accepted() -> None:
    slots = doc(node("Grid", "g", items=[node("Card", "c1"), node("Grid", "g2", items=[node("Card", "c2")])]))
    zones = doc(node("Columns", "cols"), zones={"cols:left": [node("Text", "t")], "root:footer": []})
    mixed = doc(node("Columns", "cols", items=[node("Box", "b")]),
                zones={"b:inner": [node("Grid", "g", items=[node("Card", "c")])]})
    for data in (slots, zones, mixed, big_document()):
        assert validate(data) == []


def test_unknown_keys_and_props_are_not_errors() -> None:
    data = doc(node("Hero", "h", anything={"nested": [1, "two", None]}), title="t")
    data["root"]["readOnly"] = {"title": True}
    data["content"][0]["readOnly"] = {"anything": False}
    data["editorState"] = {"whatever": 1}
    assert validate(data) == []


@pytest.mark.parametrize(("data", "where"), [
    ([], ""),
    ({"root": {"props": {}}, "content": {}}, "/content"),
    ({"root": {"props": {}}}, "/content"),
    ({"root": [], "content": []}, "/root"),
    ({"content": []}, "/root"),
    ({"root": {"props": "x"}, "content": []}, "/root/props"),
    (doc("Hero"), "/content/0"),
    (doc({"props": {"id": "a"}}), "/content/0/type"),
    (doc({"type": 3, "props": {"id": "a"}}), "/content/0/type"),
    (doc({"type": "", "props": {"id": "a"}}), "/content/0/type"),
    (doc({"type": "Hero"}), "/content/0/props"),
    (doc({"type": "Hero", "props": []}), "/content/0/props"),
    (doc({"type": "Hero", "props": {}}), "/content/0/props/id"),
    (doc({"type": "Hero", "props": {"id": 7}}), "/content/0/props/id"),
    (doc({"type": "Hero", "props": {"id": ""}}), "/content/0/props/id"),
    (doc({"type": "Hero", "props": {"id": "a"}, "readOnly": True}), "/content/0/readOnly"),
    (doc(node("Grid", "g", items=[node("Card", "c"), {"type": "Card", "props": {"id": 1}}])),
     "/content/0/props/items/1/props/id"),
    (doc(node("Grid", "g", items=[node("Card", "c"), {"type": "Card"}])), "/content/0/props/items/1/props"),
    (doc(node("Hero", "h", ratio=float("nan"))), "/content/0/props/ratio"),
    (doc(node("Hero", "h", sizes=[1, float("inf")])), "/content/0/props/sizes/1"),
])
def test_shape_rules_point_at_the_offending_node(data: Any, where: str) -> None:
    assert where in pointers(data)


@pytest.mark.parametrize(("data", "where"), [
    (doc(node("Hero", "a"), node("Text", "a")), "/content/1/props/id"),
    (doc(node("Grid", "g", items=[node("Card", "g")])), "/content/0/props/items/0/props/id"),
    (doc(node("Grid", "g", items=[node("Box", "b", items=[node("Card", "x")])]), node("Text", "x")),
     "/content/0/props/items/0/props/items/0/props/id"),
    (doc(node("Cols", "c"), zones={"c:left": [node("Text", "c")]}), "/zones/c:left/0/props/id"),
    (doc(node("Cols", "c"), zones={"c:left": [node("Text", "t")], "c:right": [node("Text", "t")]}),
     "/zones/c:right/0/props/id"),
])
def test_duplicate_ids_anywhere_in_the_tree(data: Any, where: str) -> None:
    found = validate(data)
    assert [p.pointer for p in found] == [where]
    assert "duplicate component id" in found[0].message


@pytest.mark.parametrize(("zones", "where"), [
    ({"Missing:left": [node("Text", "t")]}, "/zones/Missing:left"),
    ({"nocolon": []}, "/zones/nocolon"),
    ({"cols:": []}, "/zones/cols:"),
    ({"cols:left": {}}, "/zones/cols:left"),
    ({"a/b:left": []}, "/zones/a~1b:left"),
])
def test_zones_must_belong_to_an_existing_component(zones: dict[str, Any], where: str) -> None:
    assert pointers(doc(node("Columns", "cols"), zones=zones)) == [where]


def test_zone_of_a_component_that_only_lives_in_its_own_zone() -> None:
    data = doc(zones={"loop:inner": [node("Box", "loop")]})
    assert pointers(data) == ["/zones/loop:inner"]


def test_zones_of_components_inside_slots_and_other_zones() -> None:
    data = doc(node("Grid", "g", items=[node("Columns", "cols")]),
               zones={"cols:left": [node("Box", "box")], "box:inner": [node("Text", "t")]})
    assert validate(data) == []


def test_allowlist_only_when_given() -> None:
    data = doc(node("Hero", "h"), node("Grid", "g", items=[node("Script", "s")]))
    assert pointers(data) == []
    assert pointers(data, allowed={"Hero", "Grid"}) == ["/content/1/props/items/0/type"]
    zoned = doc(zones={"root:x": [node("Script", "s")]})
    assert pointers(zoned, allowed={"Hero"}) == ["/zones/root:x/0/type"]


def test_size_limit() -> None:
    data = doc(node("Text", "t", text="x" * 1000))
    assert validate(data, Limits(max_bytes=encoded_size(data))) == []
    found = validate(data, Limits(max_bytes=encoded_size(data) - 1))
    assert [p.pointer for p in found] == [""] and "bytes" in found[0].message


def test_depth_limit_counts_slots_and_zones() -> None:
    nested: Any = node("Text", "leaf")
    for level in range(4):
        nested = node("Box", f"box{level}", items=[nested])
    data = doc(nested)  # five levels
    assert validate(data, Limits(max_depth=5)) == []
    assert pointers(data, Limits(max_depth=4)) == ["/content/0" + "/props/items/0" * 4]
    zoned = doc(node("Box", "a"), zones={"a:z": [node("Box", "b")], "b:z": [node("Text", "c")]})
    assert validate(zoned, Limits(max_depth=3)) == []
    assert pointers(zoned, Limits(max_depth=2)) == ["/zones/b:z/0"]


def test_node_count_limit() -> None:
    data = doc(*[node("Text", f"t{i}") for i in range(10)])
    assert validate(data, Limits(max_nodes=10)) == []
    assert pointers(data, Limits(max_nodes=9)) == ["/content/9"]


def test_errors_are_capped() -> None:
    data = doc(*[{"type": 1, "props": {"id": f"n{i}"}} for i in range(500)])
    assert len(validate(data)) == 50


def test_walk_visits_content_slots_and_zones() -> None:
    data = doc(node("Grid", "g", items=[node("Card", "c")]), zones={"g:z": [node("Text", "t")]},
               header=[node("Nav", "n")])
    assert validate(data) == []
    assert sorted(n["props"]["id"] for n in walk(data)) == ["c", "g", "n", "t"]
    assert len(list(walk(big_document()))) == 642
