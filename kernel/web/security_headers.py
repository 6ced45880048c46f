"""Security headers on every answer: the app's, and the public edge's (see :mod:`kernel.web.edge`).

* ``X-Content-Type-Options: nosniff``: a browser never guesses a type (a JSON answer
  holding markup is never run as HTML);
* ``Referrer-Policy: no-referrer``: URLs of the API (tokens in query strings of signed
  links) never leak to another site;
* ``Content-Security-Policy``: ``frame-ancestors 'none'`` everywhere (no framing, so no
  clickjacking); answers that are not HTML add ``default-src 'none'`` (nothing in them
  may load or run anything). HTML pages (``/api/docs``, the Swagger UI) keep their CDN
  scripts;
* ``Strict-Transport-Security`` only on HTTPS requests (``request.is_secure``, which
  behind ``PLUGBOARD_TRUSTED_PROXIES`` reflects ``X-Forwarded-Proto``): on plain HTTP it
  is meaningless, and a development server must stay reachable.

A view that sets one of these headers itself keeps its own value.
"""

from __future__ import annotations

from flask import Flask, Request, Response

from kernel.request_hooks import Globals, request_hooks

HSTS = "max-age=31536000; includeSubDomains"
CSP_HTML = "frame-ancestors 'none'"
CSP_DATA = "default-src 'none'; frame-ancestors 'none'"

#: what every answer carries, whatever its type
COMMON = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"))


def headers_for(mimetype: str, https: bool) -> list[tuple[str, str]]:
    """The security headers of an answer of ``mimetype`` to an HTTPS (or plain) request."""
    csp = CSP_HTML if mimetype == "text/html" else CSP_DATA
    headers = [*COMMON, ("Content-Security-Policy", csp)]
    if https:
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


def init_app(app: Flask) -> None:
    # (HTML?, HTTPS?) -> the headers, with their names in lower case for the look-up
    variants = {
        (html, https): [(name.lower(), name, value)
                        for name, value in headers_for("text/html" if html else "", https)]
        for html in (False, True) for https in (False, True)
    }

    @request_hooks(app).after
    def _security_headers(req: Request, _g: Globals, response: Response) -> Response:
        # one pass over the answer's headers, not one case-insensitive search per header
        headers = response.headers
        present = {name.lower() for name, _ in headers}
        for lower, name, value in variants[response.mimetype == "text/html", req.is_secure]:
            if lower not in present:
                headers.add(name, value)
        return response
