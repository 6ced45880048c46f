"""A storefront on another origin can fetch published pages from a browser (CORS)."""

from __future__ import annotations

import pytest

from tests.helpers import Account, Api, assert_problem, row_counts
from tests.plugins.pages.conftest import PUBLIC, create, doc, node, publish, storefront

SHOP = "https://shop.example"
PREFLIGHT = {"Origin": SHOP, "Access-Control-Request-Method": "GET",
             "Access-Control-Request-Headers": "x-tenant, if-none-match"}


def _cors(resp: object) -> None:
    headers = resp.headers  # type: ignore[attr-defined]
    assert headers["Access-Control-Allow-Origin"] == "*"
    exposed = {h.strip() for h in headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "X-Request-ID"} <= exposed


@pytest.fixture
def home(api: Api, owner: Account) -> None:
    publish(api, owner, create(api, owner, "/", doc(node("Hero", "h", title="Hi")), "Home")["id"])


@pytest.mark.parametrize("path", ["/", "", "/not-published"])
def test_preflight_needs_no_tenant(api: Api, app: object, home: None, path: str) -> None:
    # the browser's preflight carries no X-Tenant: the tenant gate must not answer it
    before = row_counts(app)  # type: ignore[arg-type]
    resp = api.call("OPTIONS", PUBLIC + path, headers=PREFLIGHT)
    assert resp.status_code == 204 and resp.get_data() == b""
    assert "Content-Type" not in resp.headers
    _cors(resp)
    assert {"GET", "HEAD"} <= {m.strip() for m in resp.headers["Access-Control-Allow-Methods"].split(",")}
    allowed = {h.strip().lower() for h in resp.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"x-tenant", "if-none-match"} <= allowed
    assert int(resp.headers["Access-Control-Max-Age"]) > 0
    assert row_counts(app) == before  # type: ignore[arg-type]


def test_preflight_of_an_unknown_public_route_is_404(api: Api) -> None:
    assert api.call("OPTIONS", "/api/v1/public/no-such-plugin/x", headers=PREFLIGHT).status_code == 404


def test_page_answers_carry_cors_headers_from_the_edge_and_the_views(api: Api, app: object,
                                                                    home: None) -> None:
    cold = storefront(api, "/", Origin=SHOP)  # the views answer and fill the cache
    warm = storefront(api, "/", Origin=SHOP)  # the kernel's public edge answers
    not_modified = storefront(api, "/", Origin=SHOP, **{"If-None-Match": warm.headers["ETag"]})
    assert (cold.status_code, warm.status_code, not_modified.status_code) == (200, 200, 304)
    for resp in (cold, warm, not_modified):
        _cors(resp)
    assert warm.headers.getlist("Access-Control-Allow-Origin") == ["*"]  # not twice


def test_public_errors_are_readable_cross_origin(api: Api, home: None) -> None:
    missing = storefront(api, "/nowhere", Origin=SHOP)
    unknown_tenant = storefront(api, "/", slug="nobody", Origin=SHOP)
    for resp in (missing, unknown_tenant):
        assert_problem(resp, 404)
        _cors(resp)


def test_authenticated_api_sends_no_cors_headers(api: Api, owner: Account) -> None:
    preflight = api.call("OPTIONS", "/api/v1/auth/me",
                         headers={**PREFLIGHT, "Access-Control-Request-Headers": "authorization"})
    answer = api.get("/api/v1/auth/me", owner, headers={"Origin": SHOP})
    assert answer.status_code == 200
    for resp in (preflight, answer):
        assert "Access-Control-Allow-Origin" not in resp.headers
