"""``/api/v1/public/pages``: tenant resolution, conditional requests, caching headers, isolation."""

from __future__ import annotations

import re

import pytest

from tests.helpers import Account, Api, assert_problem
from tests.plugins.pages.conftest import PUBLIC, create, doc, edit, node, publish, storefront

HOME = doc(node("Hero", "h", title="Welcome"))


@pytest.fixture
def live(api: Api, owner: Account) -> dict[str, object]:
    """acme publishes ``/`` and ``/events/summer-2026``, and drafts ``/secret``."""
    home = create(api, owner, "/", HOME, title="Home")
    publish(api, owner, home["id"])
    summer = create(api, owner, "/events/summer-2026", doc(node("Text", "t", text="Summer")), "Summer")
    publish(api, owner, summer["id"])
    create(api, owner, "/secret", doc(node("Text", "s", text="not yet")), "Secret")
    return {"home": home, "summer": summer}


def test_tenant_from_x_tenant_subdomain_or_custom_domain(api: Api, owner: Account, live: object) -> None:
    domain = api.post("/api/v1/tenant/domains", owner, json={"hostname": "shop.acme.example"})
    assert domain.status_code == 201
    by_header = storefront(api, "/")
    by_subdomain = api.get(PUBLIC + "/", base_url="http://acme.localhost/")
    by_domain = api.get(PUBLIC + "/", base_url="http://shop.acme.example/")
    for resp in (by_header, by_subdomain, by_domain):
        assert resp.status_code == 200 and resp.get_json() == HOME
    assert by_header.headers["ETag"] == by_domain.headers["ETag"]


def test_home_page_and_nested_paths(api: Api, live: object) -> None:
    assert storefront(api, "/").get_json() == HOME
    assert storefront(api, "/events/summer-2026").get_json()["content"][0]["props"]["text"] == "Summer"
    assert storefront(api, "/Events/Summer-2026/").status_code == 200  # normalised like the editor's


def test_caching_headers(api: Api, live: object) -> None:
    resp = storefront(api, "/")
    assert resp.mimetype == "application/json"
    assert re.fullmatch(r'"[0-9a-f]{32}"', resp.headers["ETag"])  # strong: no W/
    cache_control = resp.headers["Cache-Control"]
    assert "public" in cache_control
    assert 0 < int(re.search(r"max-age=(\d+)", cache_control).group(1)) <= 300  # type: ignore[union-attr]
    assert int(re.search(r"stale-while-revalidate=(\d+)", cache_control).group(1)) > 0  # type: ignore[union-attr]
    assert "X-Tenant" in resp.headers["Vary"]
    assert resp.headers["Last-Modified"].endswith("GMT")
    assert resp.headers["Access-Control-Allow-Origin"] == "*"


def test_not_modified(api: Api, owner: Account, live: dict[str, dict[str, str]]) -> None:
    first = storefront(api, "/")
    etag = first.headers["ETag"]
    for given in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        resp = storefront(api, "/", **{"If-None-Match": given})
        assert resp.status_code == 304 and resp.get_data() == b""
        assert resp.headers["ETag"] == etag
        assert resp.headers["Cache-Control"] == first.headers["Cache-Control"]
    assert storefront(api, "/", **{"If-None-Match": '"other"'}).status_code == 200
    edit(api, owner, live["home"]["id"], data=doc(node("Hero", "h", title="Changed")))
    assert storefront(api, "/", **{"If-None-Match": etag}).status_code == 304  # drafts change nothing
    publish(api, owner, live["home"]["id"])
    changed = storefront(api, "/", **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    list_etag = storefront(api, "").headers["ETag"]
    assert storefront(api, "", **{"If-None-Match": list_etag}).status_code == 304


def test_drafts_never_leak(api: Api, owner: Account, live: dict[str, dict[str, str]]) -> None:
    assert_problem(storefront(api, "/secret"), 404, "page-not-found")
    assert "/secret" not in [p["path"] for p in storefront(api, "").get_json()]
    edit(api, owner, live["home"]["id"], title="Draft title", data=doc(node("Hero", "h", title="Draft")))
    assert storefront(api, "/").get_json() == HOME
    listed = {p["path"]: p["title"] for p in storefront(api, "").get_json()}
    assert listed["/"] == "Home"  # the published title, not the draft's
    assert b"Draft" not in storefront(api, "").get_data() + storefront(api, "/").get_data()


def test_published_list(api: Api, live: object) -> None:
    resp = storefront(api, "")
    assert resp.status_code == 200 and "ETag" in resp.headers
    pages = resp.get_json()
    assert [(p["path"], p["title"]) for p in pages] == [("/", "Home"), ("/events/summer-2026", "Summer")]
    assert all(re.match(r"\d{4}-\d\d-\d\dT", p["updated_at"]) for p in pages)


def test_other_tenants_never_see_each_others_pages(api: Api, live: object) -> None:
    other = api.register("other")
    assert_problem(storefront(api, "/", "other"), 404, "page-not-found")
    assert storefront(api, "", "other").get_json() == []
    theirs = create(api, other, "/", doc(node("Hero", "h", title="Other's")), "Theirs")
    publish(api, other, theirs["id"])
    assert storefront(api, "/", "other").get_json()["content"][0]["props"]["title"] == "Other's"
    assert storefront(api, "/").get_json() == HOME
    assert api.get(PUBLIC + "/", base_url="http://other.localhost/").get_json() != HOME


@pytest.mark.parametrize("path", ["/missing", "/a/../secret", "/%2e%2e/secret", "/a//b", "/caf%C3%A9"])
def test_unknown_paths_are_404(api: Api, live: object, path: str) -> None:
    assert_problem(storefront(api, path), 404, "page-not-found")


def test_unknown_tenant_and_tenant_without_the_plugin(api: Api, owner: Account, live: object) -> None:
    assert_problem(storefront(api, "/", "nobody"), 404, "unknown-tenant")
    assert_problem(storefront(api, "/", None), 404, "unknown-tenant")
    assert api.put("/api/v1/plugins/pages/activation", owner, json={"enabled": False}).status_code == 200
    for path in ("/", ""):
        assert_problem(storefront(api, path), 404, "plugin-not-enabled")
    assert api.put("/api/v1/plugins/pages/activation", owner, json={"enabled": True}).status_code == 200
    assert storefront(api, "/").get_json() == HOME


def test_suspended_tenant(api: Api, owner: Account, live: object) -> None:
    admin = api.make_admin()
    resp = api.patch(f"/api/v1/admin/tenants/{owner.tenant_id}", admin, json={"status": "suspended"})
    assert resp.status_code == 200, resp.get_json()
    assert_problem(storefront(api, "/"), 404, "unknown-tenant")


def test_cache_headers_follow_the_config(api: Api, owner: Account, live: object) -> None:
    assert "max-age=60," in storefront(api, "/").headers["Cache-Control"]
    config = {"cache_max_age": 5, "stale_while_revalidate": 7}
    resp = api.put("/api/v1/plugins/pages/config", owner, json=config)
    assert resp.status_code == 200
    assert storefront(api, "/").headers["Cache-Control"] == "public, max-age=5, stale-while-revalidate=7"
