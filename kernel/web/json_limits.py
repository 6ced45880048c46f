"""What a JSON request body may be: nested at most ``PLUGBOARD_JSON_MAX_DEPTH`` levels, no NUL.

Both rules are applied where a body is parsed, never before: by then Flask has routed
the request, every ``before_request`` (a blueprint's own body size limit among them) has
run, and the view's authentication and permission decorators have run too, because
flask-smorest parses a view's arguments inside them. So a caller who may not use a route
gets its 401/403, never a description of the body, and a body over the route's limit is
413 before a byte of it is parsed.

* **Depth**: Python's JSON parser recurses once per level; about a thousand levels raise
  ``RecursionError`` (a 500). :func:`too_deep` pre-scans the raw bytes (brackets outside
  strings, counted in C) and the body is refused with a 400 problem naming the limit.
  It applies to flask-smorest's argument parsing and to ``request.get_json()`` (the
  app's request class, :class:`LimitedRequest`), so plugins reading JSON either way are
  covered.
* **NUL**: PostgreSQL text cannot hold U+0000. Strings and keys of a parsed body, and
  query parameters, holding it are refused with a 422 naming each (JSON pointers).
* **A file upload is only files**: a view reading ``location="files"`` documents a
  multipart body of its file fields only (``additionalProperties: false``); a text field
  in that body, unknown or a file field sent as text, is refused with a 422 naming it,
  as an unknown JSON field is.
* **PATCH changes something**: a PATCH with no body, or ``{}``, is refused with a 422
  (every PATCH of the kernel and of plugins; documented as ``minProperties: 1`` on its
  body by :class:`kernel.web.pipeline_docs.PipelineDocs`).

The loaders are registered on webargs' ``FlaskParser`` (``location_loader``, its
documented extension point), which flask-smorest's shared parser is: every blueprint,
the kernel's and every plugin's, parses with them whatever the import order.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
from flask import Request
from flask_smorest.arguments import ArgumentsMixin
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from kernel.problems import problem
from kernel.services import kernel_services

NUL = "\x00"
# a JSON string: quote, then runs of ordinary bytes or escapes (possessive: no backtracking)
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DELTA = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def too_deep(data: bytes, limit: int) -> bool:
    """Whether the JSON text ``data`` nests arrays and objects more than ``limit`` deep.

    Fast: a body with no more than ``limit`` opening brackets cannot be too deep (most
    bodies end there); otherwise strings are cut out and the running depth of what is
    left is computed by ``itertools.accumulate`` in C. Invalid JSON may be reported too
    deep; it would be refused as invalid anyway.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_DELTA.__getitem__, brackets)), default=0) > limit


def max_depth() -> int:
    return int(kernel_services().settings.json_max_depth)


def refuse_deep(data: bytes) -> None:
    """400 problem when ``data`` (a JSON body) nests deeper than the configured limit."""
    limit = max_depth()
    if too_deep(data, limit):
        problem(400, "json-too-deep", title="JSON nested too deeply",
                detail=f"The JSON body nests arrays and objects more than {limit} levels deep "
                       f"(PLUGBOARD_JSON_MAX_DEPTH).", max_depth=limit)


def nul_pointers(value: Any, pointer: str = "") -> Iterator[str]:
    """JSON pointers of the strings and keys in a JSON document that hold U+0000."""
    if isinstance(value, str) and NUL in value:
        yield pointer
    elif isinstance(value, dict):
        for key, item in value.items():
            here = pointer + "/" + str(key).replace("~", "~0").replace("/", "~1")
            yield from [here] if NUL in str(key) else nul_pointers(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nul_pointers(item, f"{pointer}/{index}")


def refuse_nul(location: str, pointers: list[str]) -> None:
    if pointers:
        problem(422, "validation-error", title="Validation failed",
                detail="Text must not contain NUL (U+0000) characters.",
                errors=[{"field": p[1:].replace("/", "."), "pointer": p, "location": location,
                         "message": "must not contain NUL characters"} for p in pointers])


# -- flask-smorest's argument parsing -------------------------------------------------

_DELEGATE = FlaskParser()  # webargs' own loaders, for what is not ours to change


def load_json(req: Request, schema: ma.Schema) -> Any:
    """webargs' JSON loader, with the depth and NUL rules."""
    if not is_json_request(req):
        return refuse_empty_patch(req, schema, core.missing)
    data = req.get_data(cache=True)
    refuse_deep(data)
    try:
        value = core.parse_json(data)
    except json.JSONDecodeError as exc:
        if exc.doc == "":
            return refuse_empty_patch(req, schema, core.missing)
        abort(400, exc=exc, messages={"json": ["Invalid JSON body."]})
    refuse_nul("json", list(nul_pointers(value)))
    return refuse_empty_patch(req, schema, value)


def refuse_empty_patch(req: Request, schema: ma.Schema, value: Any) -> Any:
    """``value``, unless ``req`` is a PATCH that changes nothing (no body, or ``{}``) or a
    PUT with no body at all: 422.

    A schema with required fields names them itself.
    """
    if (req.method == "PATCH" and (value is core.missing or value == {})
            and not any(f.required for f in schema.fields.values())):
        problem(422, "validation-error", title="Validation failed",
                detail="A PATCH must change something: send at least one field.",
                errors=[{"field": "_schema", "pointer": "", "location": "json",
                         "message": "send at least one field to change"}])
    if req.method == "PUT" and value is core.missing:  # {} is a state; no body at all is not
        problem(422, "validation-error", title="Validation failed",
                detail="A PUT replaces a state: send the new state as a JSON body.",
                errors=[{"field": "_schema", "pointer": "", "location": "json",
                         "message": "a JSON body is required"}])
    return value


def load_query(req: Request, schema: ma.Schema) -> Any:
    """webargs' query string loader, with the NUL rule."""
    refuse_nul("query", ["/" + k for k, v in req.args.items(multi=True) if NUL in k + v])
    return _DELEGATE.load_querystring(req, schema)


def load_files(req: Request, schema: ma.Schema) -> Any:
    """webargs' files loader; a multipart text field beside the files is a 422."""
    stray = sorted(set(req.form))
    if stray:
        problem(422, "validation-error", title="Validation failed",
                detail="This upload takes files only: " + ", ".join(stray) + " is not one.",
                errors=[{"field": k, "pointer": "/" + k, "location": "files",
                         "message": "must be a file" if k in schema.fields else "Unknown field."}
                        for k in stray])
    return _DELEGATE.load_files(req, schema)


def install_parser_loaders() -> None:
    """Make flask-smorest's shared parser load JSON and query strings with the rules."""
    parser = ArgumentsMixin.ARGUMENTS_PARSER
    parser.location_loader("json")(load_json)
    parser.location_loader("query")(load_query)
    parser.location_loader("querystring")(load_query)
    parser.location_loader("files")(load_files)


install_parser_loaders()


class LimitedRequest(Request):
    """The app's request class: ``get_json()`` refuses bodies nested too deeply."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if (force or self.is_json) and too_deep(self.get_data(cache=True), max_depth()):
            if silent:
                return None
            refuse_deep(self.get_data(cache=True))
        return super().get_json(force=force, silent=silent, cache=cache)
