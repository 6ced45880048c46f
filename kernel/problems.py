"""The :class:`Problem` exception: an HTTP error with an RFC 9457 problem type.

A bottom-layer module so that every layer (services in identity, registry, runtime, and
the views in web) can refuse a request the same way; :mod:`kernel.web.errors` renders it
as ``application/problem+json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from werkzeug.exceptions import HTTPException


class Problem(HTTPException):
    """An HTTP error with a problem type, e.g. ``Problem(409, "slug-taken", detail=…)``."""

    def __init__(
        self,
        status: int,
        type_: str = "",
        *,
        title: str | None = None,
        detail: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(description=detail)
        self.code = status
        self.type_ = type_
        self.title = title
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra = extra


def problem(status: int, type_: str = "", **kwargs: Any) -> NoReturn:
    """Raise a :class:`Problem`; reads better in views than ``raise``."""
    raise Problem(status, type_, **kwargs)


def field_error(pointer: str, message: str, *, location: str = "json",
                field: str | None = None) -> dict[str, str]:
    """One entry of a validation problem's ``errors``: ``pointer`` is a JSON pointer.

    ``field`` (the dotted path) defaults to the pointer's segments joined with dots.

    .. versionadded:: 1.0
    """
    dotted = pointer.strip("/").replace("/", ".") if field is None else field
    return {"field": dotted, "pointer": pointer, "location": location, "message": message}


def validation_problem(errors: Iterable[Mapping[str, str]], detail: str) -> NoReturn:
    """Raise the 422 ``validation-error`` problem the kernel answers for bad input.

    .. versionadded:: 1.0
    """
    problem(422, "validation-error", title="Validation failed", detail=detail,
            errors=[dict(e) for e in errors])
