"""The kernel's own request hooks, run from one Flask hook of each kind.

Flask looks up and wraps (``ensure_sync``) every hook function on every request, and each
kernel step would look the ``request`` and ``g`` context proxies up again. The kernel's
steps (request ids and metrics, CORS, rate limits, request rules, plugin gates, security
headers, audit, idempotency) register here instead and run in the order Flask would
run them: ``before`` steps as registered, stopping at the first that answers; ``after``
and ``teardown`` steps in the reverse order of registration. Each step gets the request
and ``g`` as arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from flask import Flask, Request, Response, g, request
from flask.ctx import _AppCtxGlobals
from flask.typing import ResponseReturnValue

Globals = _AppCtxGlobals  # the type of ``flask.g``

Before = Callable[[Request, Globals], ResponseReturnValue | None]
After = Callable[[Request, Globals, Response], Response]
Teardown = Callable[[Globals, BaseException | None], None]

B = TypeVar("B", bound=Before)
A = TypeVar("A", bound=After)
T = TypeVar("T", bound=Teardown)

EXTENSION = "plugboard.request_hooks"


class RequestHooks:
    """The kernel's before, after and teardown steps of one app (see the module doc)."""

    def __init__(self, app: Flask) -> None:
        self._before: list[Before] = []
        self._after: list[After] = []  # in the order they run: the last registered first
        self._teardown: list[Teardown] = []  # likewise
        app.before_request(self._run_before)
        app.after_request(self._run_after)
        app.teardown_request(self._run_teardown)

    def before(self, step: B) -> B:
        self._before.append(step)
        return step

    def after(self, step: A) -> A:
        self._after.insert(0, step)
        return step

    def teardown(self, step: T) -> T:
        self._teardown.insert(0, step)
        return step

    def _run_before(self) -> ResponseReturnValue | None:
        req, ctx_g = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
        for step in self._before:
            answer = step(req, ctx_g)
            if answer is not None:
                return answer
        return None

    def _run_after(self, response: Response) -> Response:
        req, ctx_g = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
        for step in self._after:
            response = step(req, ctx_g, response)
        return response

    def _run_teardown(self, exc: BaseException | None) -> None:
        ctx_g = g._get_current_object()
        for step in self._teardown:
            step(ctx_g, exc)


def request_hooks(app: Flask) -> RequestHooks:
    """The kernel's request hooks of ``app``, installed on first use."""
    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = RequestHooks(app)
    return cast(RequestHooks, app.extensions[EXTENSION])
