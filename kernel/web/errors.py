"""RFC 9457 problem details for every error the API returns.

Any layer raises :class:`kernel.problems.Problem` (or calls :func:`kernel.problems.problem`); webargs
validation errors, werkzeug's HTTP errors and uncaught exceptions are all turned into
``application/problem+json`` by :meth:`ProblemApi.handle_http_exception`. Never a stack
trace, never an HTML page.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import marshmallow as ma
from apispec import BasePlugin
from flask import Response, g, json, request
from flask_smorest import Api
from flask_smorest.pagination import PaginationMetadataSchema
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from kernel.problems import Problem

PROBLEM_BASE = "https://plugboard.dev/problems/"
PROBLEM_MIMETYPE = "application/problem+json"

log = logging.getLogger("plugboard.errors")


class ValidationErrorSchema(ma.Schema):
    field = ma.fields.String(metadata={"description": "dotted path of the field"})
    pointer = ma.fields.String(metadata={"description": "JSON pointer into the request body"})
    location = ma.fields.String(metadata={"description": "json, query, headers, files, form"})
    message = ma.fields.String()


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (documentation only)."""

    class Meta:
        # Problem types add extension members (e.g. ``plugin`` on plugin-not-enabled).
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String()
    instance = ma.fields.String()
    request_id = ma.fields.String()
    errors = ma.fields.List(ma.fields.Nested(ValidationErrorSchema))


def _status_slug(code: int, name: str) -> str:
    return name.lower().replace(" ", "-").replace("'", "")


def flatten_messages(messages: Any) -> list[dict[str, Any]]:
    """Turn webargs/marshmallow's nested messages into a flat list with JSON pointers."""
    out: list[dict[str, Any]] = []
    if isinstance(messages, Mapping):
        for location, fields in messages.items():
            if isinstance(fields, Mapping):
                _walk(fields, [], str(location), out)
            else:
                out.extend(_leaf(fields, [], str(location)))
    else:
        out.extend(_leaf(messages, [], "json"))
    return out


def _walk(node: Mapping[Any, Any], path: list[str], location: str, out: list[dict[str, Any]]) -> None:
    if path and node and set(node) <= {"key", "value"}:
        # marshmallow's Dict field reports a member's key/value error under "key"/"value";
        # the member itself is what the pointer must name
        for value in node.values():
            out.extend(_leaf(value, path, location) if not isinstance(value, Mapping) else [])
        return
    for key, value in node.items():
        here = [*path, str(key)]
        if isinstance(value, Mapping):
            _walk(value, here, location, out)
        else:
            out.extend(_leaf(value, here, location))


def _leaf(value: Any, path: list[str], location: str) -> Iterable[dict[str, Any]]:
    messages = value if isinstance(value, list) else [value]
    field = ".".join(path) if path and path != ["_schema"] else ""
    pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path) if field else ""
    for message in messages:
        if isinstance(message, Mapping):  # nested list-of-dict errors
            nested: list[dict[str, Any]] = []
            _walk(message, path, location, nested)
            yield from nested
            continue
        yield {"field": field, "pointer": pointer, "location": location, "message": str(message)}


def problem_body(error: HTTPException) -> dict[str, Any]:
    code = error.code or 500
    name = error.name if code != 500 else "Internal Server Error"
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (getattr(error, "type_", "") or _status_slug(code, name)),
        "title": getattr(error, "title", None) or name,
        "status": code,
    }
    detail = error.description if code != 500 else "An unexpected error occurred."
    data = getattr(error, "data", None) or {}
    if "message" in data:
        detail = str(data["message"])
    if isinstance(error, Problem) or data or detail:
        body["detail"] = detail
    errors = getattr(error, "errors", None) or (
        flatten_messages(data["messages"]) if "messages" in data else None
    )
    if errors:
        body["errors"] = errors
        if code == 422 and not isinstance(error, Problem):
            body["type"] = PROBLEM_BASE + "validation-error"
            body["title"] = "Validation failed"
            body["detail"] = "The request does not match the expected schema; see errors."
    body.update(getattr(error, "extra", {}) or {})
    try:
        body["instance"] = request.path
        body["request_id"] = g.get("request_id", "")
    except RuntimeError:  # outside a request
        pass
    return body


def problem_response(error: HTTPException) -> Response:
    body = problem_body(error)
    headers = dict(getattr(error, "headers", None) or {})
    data = getattr(error, "data", None) or {}
    headers.update(data.get("headers") or {})
    if error.code == 405 and isinstance(error, HTTPException):
        for key, value in error.get_headers():
            if key.lower() == "allow":
                headers["Allow"] = value
    return Response(
        json.dumps(body), status=body["status"], mimetype=PROBLEM_MIMETYPE, headers=headers
    )


# Prefixes whose routes resolve a tenant from Host, X-Tenant or the URL: 404 when none does.
TENANT_RESOLVING_PREFIXES = ("/api/v1/public/", "/api/v1/webhooks/")


class ErrorDocs(BasePlugin):
    """Documents on every operation the errors the kernel itself answers for it.

    A body that is not JSON (400) or of another media type (415); a path naming an object
    that may not exist (404), a plugin route of a tenant that has not enabled the plugin
    (404 ``plugin-not-enabled``) or a storefront host no tenant answers to (404). Error
    responses a view declares without a body are given the problem+json body they have.
    """

    def __init__(self) -> None:
        self.gated_prefixes: list[str] = []

    def operation_helper(self, path: str | None = None,
                         operations: dict[str, Any] | None = None, **kwargs: Any) -> None:
        path = path or ""
        not_found = "{" in path or path.startswith(TENANT_RESOLVING_PREFIXES) or any(
            path == p or path.startswith(p + "/") for p in self.gated_prefixes)
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            documented = {str(code) for code in responses}
            implied = {"404": "NOT_FOUND"} if not_found else {}
            if "requestBody" in operation:
                implied.update({"400": "BAD_REQUEST", "415": "UNSUPPORTED_MEDIA_TYPE"})
            for code, name in implied.items():
                if code not in documented:
                    responses[code] = name
            for code, response in responses.items():
                if (str(code)[0] in "45" and isinstance(response, dict)
                        and "content" not in response and "$ref" not in response):
                    response["content"] = {PROBLEM_MIMETYPE: {"schema": "Problem"}}


class ProblemApi(Api):  # type: ignore[misc]
    """flask-smorest's Api answering every error with problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, **kwargs: Any) -> None:
        self.error_docs = ErrorDocs()
        kwargs["extra_plugins"] = [*(kwargs.get("extra_plugins") or ()), self.error_docs]
        super()._init_spec(**kwargs)
        # apispec writes fields.Url as format "url", which JSON Schema does not define (a
        # client or fuzzer then takes any string); "uri" is the format meant.
        self.register_field(ma.fields.Url, "string", "uri")
        # Links join operations across paths, so they are added to the whole document.
        from kernel.web.pipeline_docs import add_links

        to_dict = self.spec.to_dict
        self.spec.to_dict = lambda: add_links(to_dict())

    def register_gated_blueprint(self, blp: Any) -> None:
        """Register a plugin's blueprint, documenting its 404 for tenants without the plugin."""
        self.error_docs.gated_prefixes.append(str(blp.url_prefix).rstrip("/"))
        self.register_blueprint(blp)

    def handle_http_exception(self, error: HTTPException) -> Response:
        return problem_response(error)

    def _register_pagination_header(self) -> None:
        # flask-smorest sends X-Pagination as JSON ({"total": 3, "page": 1, ...}) but documents
        # it with a bare ``schema``, which OpenAPI reads as an object in the header's
        # ``simple`` style (``total,3,page,1``): a generated client would parse it wrongly.
        # A header given as ``content`` is serialised in that media type.
        header = {
            "description": "Pagination metadata, a JSON object.",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }
        self.spec.components.header("PAGINATION", header, lazy=True)

    def _register_responses(self) -> None:
        # flask-smorest documents error responses as application/json; ours are problem+json.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIMETYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, PROBLEM_MIMETYPE)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)
