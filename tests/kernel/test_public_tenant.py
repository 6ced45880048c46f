"""``GET /api/v1/public/tenant``: storefront tenant resolution by Host or ``X-Tenant``."""

from __future__ import annotations

import pytest

from tests.helpers import Account, Api, assert_problem

PUBLIC = "/api/v1/public/tenant"


def _resolve(api: Api, host: str | None = None, slug: str | None = None) -> tuple[int, object]:
    kwargs: dict[str, object] = {}
    if host:
        kwargs["base_url"] = f"http://{host}/"
    if slug is not None:
        kwargs["headers"] = {"X-Tenant": slug}
    resp = api.get(PUBLIC, **kwargs)
    return resp.status_code, resp.get_json()


def _shop(api: Api) -> Account:
    acct = api.register("acme")
    assert api.post("/api/v1/tenant/domains", acct, json={"hostname": "shop.acme.example"}).status_code == 201
    return acct


def test_custom_domain(api: Api) -> None:
    _shop(api)
    assert _resolve(api, "shop.acme.example") == (200, {"slug": "acme", "name": "Tenant acme"})
    assert _resolve(api, "SHOP.acme.example:8443")[0] == 200  # case and port do not matter


def test_subdomain_of_base_domain(api: Api) -> None:
    _shop(api)
    assert _resolve(api, "acme.localhost") == (200, {"slug": "acme", "name": "Tenant acme"})
    assert _resolve(api, "acme.localhost:5000")[0] == 200


def test_x_tenant_header(api: Api) -> None:
    _shop(api)
    api.register("other")
    assert _resolve(api, slug="acme") == (200, {"slug": "acme", "name": "Tenant acme"})
    assert _resolve(api, slug="ACME")[0] == 200
    # the header wins over the host
    assert _resolve(api, "shop.acme.example", slug="other")[1] == {"slug": "other", "name": "Tenant other"}


@pytest.mark.parametrize(("host", "slug"), [
    ("localhost", None),  # the base domain itself is nobody's storefront
    ("nobody.localhost", None),
    ("www.localhost", None),  # reserved label
    ("shop.acme.localhost", None),  # only one label under the base domain
    ("unknown.example", None),
    ("localhost", "nobody"),
    ("localhost", ""),
    ("acme.example", None),
])
def test_unknown_is_404(api: Api, host: str, slug: str | None) -> None:
    _shop(api)
    kwargs: dict[str, object] = {"base_url": f"http://{host}/"}
    if slug is not None:
        kwargs["headers"] = {"X-Tenant": slug}
    assert_problem(api.get(PUBLIC, **kwargs), 404, "unknown-tenant")


def test_suspended_tenant_is_404_and_back(api: Api) -> None:
    _shop(api)
    admin = api.make_admin()
    tenant_id = api.get("/api/v1/admin/tenants", admin, query_string={"q": "acme"}).get_json()[0]["id"]
    assert _resolve(api, "shop.acme.example")[0] == 200  # cached now
    url = f"/api/v1/admin/tenants/{tenant_id}"
    assert api.patch(url, admin, json={"status": "suspended"}).status_code == 200
    for host, slug in (("shop.acme.example", None), ("acme.localhost", None), (None, "acme")):
        assert_problem(api.get(PUBLIC, **({"base_url": f"http://{host}/"} if host else {}),
                               headers={"X-Tenant": slug} if slug else {}), 404, "unknown-tenant")
    assert api.patch(url, admin, json={"status": "active"}).status_code == 200
    assert _resolve(api, "shop.acme.example")[0] == 200


def test_domain_changes_apply_at_once(api: Api) -> None:
    acct = _shop(api)
    other = api.register("rival")
    assert _resolve(api, "shop.acme.example")[1] == {"slug": "acme", "name": "Tenant acme"}
    domain_id = api.get("/api/v1/tenant/domains", acct).get_json()[0]["id"]
    assert api.delete(f"/api/v1/tenant/domains/{domain_id}", acct).status_code == 204
    assert_problem(api.get(PUBLIC, base_url="http://shop.acme.example/"), 404, "unknown-tenant")
    resp = api.post("/api/v1/tenant/domains", other, json={"hostname": "shop.acme.example"})
    assert resp.status_code == 201
    assert _resolve(api, "shop.acme.example")[1] == {"slug": "rival", "name": "Tenant rival"}


def test_renamed_tenant_shows_new_name(api: Api) -> None:
    acct = _shop(api)
    assert _resolve(api, slug="acme")[1] == {"slug": "acme", "name": "Tenant acme"}
    assert api.patch("/api/v1/tenant", acct, json={"name": "Acme Ltd"}).status_code == 200
    assert _resolve(api, slug="acme")[1] == {"slug": "acme", "name": "Acme Ltd"}


def test_public_route_needs_no_auth_and_leaks_nothing(api: Api) -> None:
    acct = _shop(api)
    resp = api.get(PUBLIC, acct, headers={"X-Tenant": "acme"})
    assert resp.status_code == 200
    assert set(resp.get_json()) == {"slug", "name"}  # no id, status or settings


def test_tenant_created_by_admin_resolves_at_once(api: Api) -> None:
    admin = api.make_admin()
    assert_problem(api.get(PUBLIC, headers={"X-Tenant": "fresh"}), 404, "unknown-tenant")  # cached
    resp = api.post("/api/v1/admin/tenants", admin, json={"name": "Fresh", "slug": "fresh"})
    assert resp.status_code == 201
    assert _resolve(api, slug="fresh") == (200, {"slug": "fresh", "name": "Fresh"})
    assert _resolve(api, "fresh.localhost")[0] == 200
