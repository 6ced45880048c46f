"""Cacheable public answers: a strong ETag from the body, 304 on a match, Cache-Control.

``@cache_public(max_age=300)`` goes above flask-smorest's ``@blp.response`` (so it sees the
finished response) on a GET of a public blueprint. Werkzeug does the work: ``add_etag``
(a SHA-1 of the body, strong) and ``make_conditional`` (304 without a body when the
request's ``If-None-Match`` matches).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, make_response, request

F = TypeVar("F", bound=Callable[..., Any])


def cache_public(max_age: int = 60, *, shared: bool = True,
                 stale_while_revalidate: int | None = None) -> Callable[[F], F]:
    """Make a GET view's successful answers cacheable by browsers and (``shared``) CDNs.

    Sets ``ETag`` (strong, from the body), ``Cache-Control: public, max-age=<max_age>``
    (``private`` when not ``shared``; plus ``stale-while-revalidate`` if given) and answers
    ``304 Not Modified`` with no body when ``If-None-Match`` holds that ETag. Answers other
    than 200 pass through untouched. Only for what anyone may see: never on a route whose
    answer depends on who calls.

    .. versionadded:: 1.1
    """
    if max_age < 0:
        raise ValueError("max_age must be >= 0")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            response = make_response(view(*args, **kwargs))
            if response.status_code != 200 or request.method not in ("GET", "HEAD"):
                return response
            return cacheable(response, max_age=max_age, shared=shared,
                             stale_while_revalidate=stale_while_revalidate)

        return wrapper  # type: ignore[return-value]

    return decorate


def cacheable(response: Response, *, max_age: int = 60, shared: bool = True,
              stale_while_revalidate: int | None = None) -> Response:
    """The same as :func:`cache_public`, on a response already made (returns the one to send).

    .. versionadded:: 1.1
    """
    response.add_etag(overwrite=True)
    if shared:
        response.cache_control.public = True
    else:
        response.cache_control.private = True
    response.cache_control.max_age = max_age
    if stale_while_revalidate is not None:
        response.cache_control.stale_while_revalidate = stale_while_revalidate
    response.vary.add("Host")  # public answers are per tenant, and the tenant comes from Host
    response.vary.add("X-Tenant")
    response.make_conditional(request)  # turns it into a 304 in place when the ETag matches
    return response
