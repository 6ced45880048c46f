"""The OpenAPI side of the request pipeline, for every operation (kernel's and plugins').

* every POST takes an optional ``Idempotency-Key`` header and may answer 400 (a
  malformed key), 409 (the key's first request still runs) and 422 (the key was used for
  another request) — see :mod:`kernel.idempotency`;
* every rate-limited operation may answer 429 (see :mod:`kernel.ratelimits`);
* every operation with a JSON body may answer 400 (nested too deeply; already documented
  for any body by ``kernel.errors.ErrorDocs``);
* every storefront operation (``/api/v1/public/…``) takes an optional ``X-Tenant`` header
  (the tenant's slug; without it the Host header decides), so a view never declares it
  with ``@blp.doc(parameters=…)``, which would replace the parameters its
  ``@blp.arguments`` document;
* every PATCH body has ``minProperties: 1``: a PATCH that changes nothing is a 422
* every PUT body is ``required``: a PUT replaces a state, so one with no body is a 422
  (:func:`kernel.web.json_limits.refuse_empty_patch`).
"""

from __future__ import annotations

import re
from typing import Any

from apispec import BasePlugin

from kernel.web.idempotency import HEADER, KEY_PATTERN
from kernel.web.ratelimits import route_class

IDEMPOTENCY_PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
    "description": "Makes a retry safe: the first answer given to this key (24 h, per "
                   "caller) is replayed with `Idempotent-Replayed: true` instead of running "
                   "the request again. 422 when the key was used for another request, 409 "
                   "while its first request still runs.",
}
TENANT_PARAMETER = {
    "in": "header",
    "name": "X-Tenant",
    "required": False,
    "schema": {"type": "string"},
    "description": "the tenant's slug; without it the Host header decides",
}
POST_RESPONSES = {"400": "BAD_REQUEST", "409": "CONFLICT", "422": "UNPROCESSABLE_ENTITY"}


class PipelineDocs(BasePlugin):
    """Adds the idempotency header and the pipeline's error answers to each operation."""

    def __init__(self, rate_limited: bool) -> None:
        self.rate_limited = rate_limited
        self.spec: Any = None

    def init_spec(self, spec: Any) -> None:
        super().init_spec(spec)
        self.spec = spec

    def _require_a_change(self, operation: dict[str, Any]) -> None:
        """``minProperties: 1`` on a PATCH's JSON body (its component, or the inline schema)."""
        content = operation.get("requestBody", {}).get("content", {})
        for media in content.values():
            schema = media.get("schema")
            if not isinstance(schema, dict):
                continue
            ref = schema.get("$ref", "")
            if ref.startswith("#/components/schemas/"):
                schema = self.spec.components.schemas.get(ref.rsplit("/", 1)[1])
            if isinstance(schema, dict) and schema.get("type", "object") == "object":
                schema["minProperties"] = 1

    def operation_helper(self, path: str | None = None,
                         operations: dict[str, Any] | None = None, **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            documented = {str(code) for code in responses}
            added: dict[str, str] = {}
            if method.lower() == "patch":
                self._require_a_change(operation)
            if method.lower() == "put" and "requestBody" in operation:
                operation["requestBody"]["required"] = True  # a PUT without a body is a 422
            if (path or "").startswith("/api/v1/public/"):
                parameters = operation.setdefault("parameters", [])
                if not any(isinstance(p, dict) and p.get("name") == "X-Tenant" for p in parameters):
                    parameters.append(dict(TENANT_PARAMETER))
            if method.lower() == "post":
                parameters = operation.setdefault("parameters", [])
                if not any(isinstance(p, dict) and p.get("name") == HEADER for p in parameters):
                    parameters.append(dict(IDEMPOTENCY_PARAMETER))
                added.update(POST_RESPONSES)
            if self.rate_limited and route_class(path or "", method.upper()) is not None:
                added["429"] = "TOO_MANY_REQUESTS"
            for code, name in added.items():
                if code not in documented:
                    responses[code] = name


METHODS = ("get", "put", "post", "patch", "delete")
PARAM = re.compile(r"{([^}]+)}")
ITEM = re.compile(r"/{(?P<param>[^}]+)}(?P<rest>(?:/[^{}/]+)*)")  # /{id}, /{id}/publish


def _escape(path: str) -> str:
    """``path`` as a JSON pointer segment (RFC 6901)."""
    return path.replace("~", "~0").replace("/", "~1")


def _creates_with_id(spec: dict[str, Any], operation: dict[str, Any]) -> bool:
    """Whether ``operation`` answers 201 with a JSON object that has an ``id``."""
    created = operation.get("responses", {}).get("201", {})
    schema = created.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
    if ref.startswith("#/components/schemas/"):
        schema = spec.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    return isinstance(schema, dict) and "id" in schema.get("properties", {})


def add_links(spec: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI links from each create to the operations on what it created.

    ``POST /x`` answering 201 with an ``id`` links to every operation on ``/x/{param}``
    and below it (``/x/{param}/publish``), with ``param: $response.body#/id`` and the
    create's own path parameters passed on: a generated client, and Schemathesis's
    stateful phase, follow them from a create to its read, update, actions and delete.
    """
    paths: dict[str, Any] = spec.get("paths", {})
    for path, item in paths.items():
        create = item.get("post")
        if not isinstance(create, dict) or not _creates_with_id(spec, create):
            continue
        inherited = {p: f"$request.path.{p}" for p in PARAM.findall(path)}
        links = create["responses"]["201"].setdefault("links", {})
        for target, target_item in paths.items():
            match = ITEM.fullmatch(target[len(path):]) if target.startswith(path + "/{") else None
            if match is None:
                continue
            suffix = "".join(part.capitalize() for part in re.split(r"[/-]", match["rest"]) if part)
            for method in METHODS:
                if method in target_item and (method, target) != ("post", path):
                    links[f"{method.capitalize()}{suffix or 'Created'}"] = {
                        "operationRef": f"#/paths/{_escape(target)}/{method}",
                        "parameters": {**inherited, match["param"]: "$response.body#/id"},
                    }
    return spec
