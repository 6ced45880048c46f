"""Validation of Puck ``Data`` documents (``@puckeditor/core``), without changing them.

A document is ``{"root": {"props": {...}}, "content": [node, ...], "zones"?: {...}}``;
a node (``ComponentData``) is ``{"type": str, "props": {"id": str, ...}, "readOnly"?: {...}}``.
Two ways of nesting are accepted, alone or mixed:

* slots (Puck 0.19+): a prop holding an array of nodes, e.g. a Grid's ``props.items``,
  found at any depth inside ``props``;
* zones (older data): ``zones["<component id>:<zone name>"]`` is an array of nodes that
  render inside that component (``root:<zone>`` inside the root).

:func:`validate` returns every problem found (up to :data:`MAX_ERRORS`) with a JSON
pointer into the document; an empty list means the document is accepted as it is.
Unknown keys and props are never an error: the editor owns its data.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MAX_ERRORS = 50
#: JSON nesting allowed inside one node's props (beyond slots), whatever the limits say
MAX_PROPS_NESTING = 64
ROOT_ID = "root"


@dataclass(frozen=True)
class Limits:
    """Per-tenant bounds on a document: serialized bytes, component nesting, node count."""

    max_bytes: int = 1_048_576
    max_depth: int = 32
    max_nodes: int = 5_000


@dataclass(frozen=True)
class Problem:
    pointer: str
    message: str


class _Found(Exception):
    """Internal: stop walking once :data:`MAX_ERRORS` problems are known."""


def pointer(*parts: object) -> str:
    """A JSON pointer (RFC 6901) from path parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def encoded_size(data: Any) -> int:
    """The size of ``data`` as compact UTF-8 JSON: what the limits count and storefronts get."""
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def validate(data: Any, limits: Limits = Limits(), allowed: Iterable[str] | None = None) -> list[Problem]:
    """Every problem of ``data`` as a Puck document; ``allowed``: the component types allowed."""
    checker = _Checker(limits, frozenset(allowed) if allowed is not None else None)
    with contextlib.suppress(_Found):
        checker.run(data)
    return checker.problems


class _Checker:
    def __init__(self, limits: Limits, allowed: frozenset[str] | None) -> None:
        self.limits = limits
        self.allowed = allowed
        self.problems: list[Problem] = []
        self.ids: dict[str, str] = {}  # component id -> pointer of its first node
        self.nodes = 0
        self._queue: deque[tuple[Any, str, int]] = deque()  # (array, pointer, depth)

    def fail(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))
        if len(self.problems) >= MAX_ERRORS:
            raise _Found

    def run(self, data: Any) -> None:
        if not isinstance(data, Mapping):
            self.fail("", "a Puck document must be a JSON object with root and content")
            return
        size = encoded_size(data)
        if size > self.limits.max_bytes:
            self.fail("", f"the document is {size} bytes; the limit is {self.limits.max_bytes}")
            return
        self._root(data)
        zones = self._zones(data)
        if not isinstance(data.get("content"), list):
            self.fail(pointer("content"), "content must be an array of components")
        else:
            self._queue.append((data["content"], pointer("content"), 1))
        self._enqueue_zones(zones, ROOT_ID, 1)
        self._drain(zones)
        for key in zones:
            self.fail(pointer("zones", key), f"no component with id {key.split(':', 1)[0]!r} "
                      "holds this zone (zone keys are '<component id>:<zone name>')")

    def _root(self, data: Mapping[str, Any]) -> None:
        root = data.get("root")
        if not isinstance(root, Mapping):
            self.fail(pointer("root"), "root must be an object, e.g. {\"props\": {}}")
        elif "props" in root and not isinstance(root["props"], Mapping):
            self.fail(pointer("root", "props"), "root.props must be an object")
        elif isinstance(root.get("props"), Mapping):
            self._scan_props(root["props"], pointer("root", "props"), 0, 0)

    def _zones(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Zone key -> node array, for the zones still to place under their component."""
        zones = data.get("zones")
        if zones is None:
            return {}
        if not isinstance(zones, Mapping):
            self.fail(pointer("zones"), "zones must be an object of '<id>:<zone>' -> array")
            return {}
        valid: dict[str, Any] = {}
        for key, nodes in zones.items():
            if ":" not in key or not key.split(":", 1)[0] or not key.split(":", 1)[1]:
                self.fail(pointer("zones", key), "a zone key must look like '<component id>:<zone name>'")
            elif not isinstance(nodes, list):
                self.fail(pointer("zones", key), "a zone must be an array of components")
            else:
                valid[key] = nodes
        return valid

    def _enqueue_zones(self, zones: dict[str, Any], owner: str, depth: int) -> None:
        for key in [k for k in zones if k.split(":", 1)[0] == owner]:
            self._queue.append((zones.pop(key), pointer("zones", key), depth))

    def _drain(self, zones: dict[str, Any]) -> None:
        while self._queue:
            nodes, where, depth = self._queue.popleft()
            for index, node in enumerate(nodes):
                node_id = self._node(node, f"{where}/{index}", depth)
                if node_id is not None:
                    self._enqueue_zones(zones, node_id, depth + 1)

    def _node(self, node: Any, where: str, depth: int) -> str | None:
        """Check one component; queue its slots; its id when it has a usable one."""
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            self.fail(where, f"more than {self.limits.max_nodes} components in one document")
            raise _Found
        if depth > self.limits.max_depth:
            self.fail(where, f"components nest deeper than {self.limits.max_depth} levels")
            return None
        if not isinstance(node, Mapping):
            self.fail(where, "a component must be an object with type and props")
            return None
        self._type(node.get("type"), where)
        if "readOnly" in node and not isinstance(node["readOnly"], Mapping):
            self.fail(where + "/readOnly", "readOnly must be an object of prop name -> boolean")
        props = node.get("props")
        if not isinstance(props, Mapping):
            self.fail(where + "/props", "props must be an object with a string id")
            return None
        node_id = self._id(props.get("id"), where + "/props/id")
        self._scan_props(props, where + "/props", depth, 0)
        return node_id

    def _type(self, type_: Any, where: str) -> None:
        if not isinstance(type_, str) or not type_:
            self.fail(where + "/type", "type must be a non-empty string (the component's name)")
        elif self.allowed is not None and type_ not in self.allowed:
            self.fail(where + "/type", f"component type {type_!r} is not in this tenant's allowlist")

    def _id(self, node_id: Any, where: str) -> str | None:
        if not isinstance(node_id, str) or not node_id:
            self.fail(where, "props.id must be a non-empty string, unique in the document")
            return None
        if node_id == ROOT_ID:
            self.fail(where, "'root' is reserved for the page root; choose another id")
            return None
        first = self.ids.setdefault(node_id, where)
        if first != where:
            self.fail(where, f"duplicate component id {node_id!r} (first used at {first})")
            return None
        return node_id

    def _scan_props(self, value: Any, where: str, depth: int, nesting: int) -> None:
        """Queue slot arrays found anywhere in ``value``; refuse NaN and infinities."""
        if nesting > MAX_PROPS_NESTING:
            self.fail(where, f"props nest deeper than {MAX_PROPS_NESTING} levels")
            return
        for key, item in _children(value):
            here = f"{where}/{pointer(key)[1:]}"
            if isinstance(item, float) and not math.isfinite(item):
                self.fail(here, "numbers must be finite (no NaN or Infinity)")
            elif isinstance(item, list) and _is_slot(item):
                self._queue.append((item, here, depth + 1))
            elif isinstance(item, Mapping | list):
                self._scan_props(item, here, depth, nesting + 1)


def _children(value: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(value, Mapping):
        yield from ((k, v) for k, v in value.items() if k != "id")
    else:
        yield from enumerate(value)


def _is_slot(items: list[Any]) -> bool:
    """A slot is an array holding components: any element with both ``type`` and ``props``."""
    return any(isinstance(i, Mapping) and "type" in i and "props" in i for i in items)


def walk(data: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every component node of a valid document: content, slots (root's too) and zones."""
    root = data.get("root") or {}
    stack: list[Any] = [data.get("content") or [], *(data.get("zones") or {}).values(),
                        root.get("props") or {}]
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping) and "type" in item and "props" in item:
                    yield item
                    stack.append(item["props"])
                elif isinstance(item, Mapping | list):
                    stack.append(item)
        elif isinstance(value, Mapping):
            stack.extend(v for v in value.values() if isinstance(v, Mapping | list))
