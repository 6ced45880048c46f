"""The one mapping of comms' domain errors to ``application/problem+json`` answers.

Every route (staff API and webhooks) and the ``plugboard_send_sms`` hook use it, so a
failure reads the same wherever it surfaces.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from hookspecs import PluginRefusal
from kernel.api import problem
from plugins.comms import services, voice

F = TypeVar("F", bound=Callable[..., Any])

#: error class -> (status, problem type, title)
ERRORS: dict[type[services.CommsError], tuple[int, str, str]] = {
    services.NotConfigured: (409, "comms-not-configured", "Comms is not configured"),
    services.OptedOut: (409, "opted-out", "The recipient opted out"),
    services.NotFound: (404, "not-found", "Not found"),
    services.NameTaken: (409, "template-name-taken", "Name already used"),
    services.InvalidNumber: (422, "validation-error", "Validation failed"),
    services.InvalidText: (422, "validation-error", "Validation failed"),
    services.TemplateProblem: (422, "validation-error", "Validation failed"),
    voice.NoAssistant: (422, "validation-error", "Validation failed"),
}


def describe(exc: services.CommsError) -> tuple[int, str, str]:
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            return ERRORS[cast(type[services.CommsError], cls)]
    return 400, "bad-request", "Bad request"


def raise_problem(exc: services.CommsError) -> None:
    status, kind, title = describe(exc)
    extra: dict[str, Any] = {}
    if kind == "validation-error":
        pointer = exc.pointer or ""
        extra["errors"] = [{"field": pointer.strip("/").replace("/", "."), "pointer": pointer,
                            "location": "json", "message": exc.detail}]
    problem(status, kind, title=title, detail=exc.detail, **extra)


def refusal(exc: services.CommsError) -> PluginRefusal:
    """The same failure as a hook refusal (for ``plugboard_send_sms`` callers)."""
    status, kind, _ = describe(exc)
    return PluginRefusal(exc.detail, status=status, type_="invalid-number" if
                         isinstance(exc, services.InvalidNumber) else kind)


def domain_errors(view: F) -> F:
    """Turn :class:`~.services.CommsError` raised by ``view`` into its problem answer."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except services.CommsError as exc:
            raise_problem(exc)

    return cast(F, wrapper)
