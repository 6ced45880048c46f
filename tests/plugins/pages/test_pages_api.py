"""``/api/v1/pages``: drafts, optimistic concurrency, permissions, tenant isolation."""

from __future__ import annotations

import json
import threading
from typing import Any

from flask import Flask

from tests.helpers import Account, Api, assert_problem
from tests.plugins.pages.conftest import PAGES, big_document, create, doc, edit, node, publish, send


def test_create_read_list_delete(api: Api, owner: Account) -> None:
    page = create(api, owner, "/about", doc(node("Hero", "h")), title="About us")
    assert page["path"] == "/about" and page["title"] == "About us"
    assert page["status"] == "draft" and page["version"] == 1 and page["published_version"] is None
    assert page["created_by"] == owner.user_id
    resp = api.get(f"{PAGES}/{page['id']}", owner)
    assert resp.status_code == 200 and resp.headers["ETag"] == '"1"'
    assert resp.get_json() == page
    create(api, owner, "/", title="Home")
    listed = api.get(PAGES, owner)
    assert [p["path"] for p in listed.get_json()] == ["/", "/about"]
    assert "data" not in listed.get_json()[0]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 2
    assert api.delete(f"{PAGES}/{page['id']}", owner).status_code == 204
    assert_problem(api.get(f"{PAGES}/{page['id']}", owner), 404, "page-not-found")
    assert_problem(api.delete(f"{PAGES}/{page['id']}", owner), 404, "page-not-found")


def test_empty_document_by_default(api: Api, owner: Account) -> None:
    assert create(api, owner)["data"] == {"root": {"props": {}}, "content": []}


def test_large_document_round_trips_byte_for_byte(api: Api, owner: Account) -> None:
    data = big_document()
    expected = json.dumps(data, ensure_ascii=False)
    page = create(api, owner, data=data)
    for resp in (api.get(f"{PAGES}/{page['id']}", owner),
                 edit(api, owner, page["id"], title="Again", data=data)):
        assert resp.status_code == 200
        assert json.dumps(resp.get_json()["data"], ensure_ascii=False) == expected
        assert expected.encode() in resp.get_data()  # the response text itself is unchanged
    publish(api, owner, page["id"])
    version = api.get(f"{PAGES}/{page['id']}/versions/1", owner).get_json()
    assert json.dumps(version["data"], ensure_ascii=False) == expected


def test_path_is_unique_per_tenant(api: Api, owner: Account) -> None:
    first = create(api, owner, "/about")
    assert_problem(api.post(PAGES, owner, json={"path": "/About/", "title": "x"}), 409, "page-path-taken")
    other = create(api, owner, "/team")
    assert_problem(edit(api, owner, other["id"], path="/about"), 409, "page-path-taken")
    assert edit(api, owner, first["id"], path="/about-us").get_json()["path"] == "/about-us"
    assert edit(api, owner, other["id"], path="/about").status_code == 200
    create(api, api.register("other"), "/about")  # another tenant may use it


def test_update_with_version_in_body(api: Api, owner: Account) -> None:
    page = create(api, owner, data=doc(node("Hero", "h")))
    new = doc(node("Hero", "h", title="New"))
    resp = edit(api, owner, page["id"], data=new, version=1)
    assert resp.status_code == 200 and resp.headers["ETag"] == '"2"'
    assert resp.get_json()["version"] == 2 and resp.get_json()["data"] == new
    stale = edit(api, owner, page["id"], title="Lost", version=1)
    problem = assert_problem(stale, 412, "precondition-failed")
    assert problem["current_version"] == 2 and stale.headers["ETag"] == '"2"'
    assert api.get(f"{PAGES}/{page['id']}", owner).get_json()["title"] == "About"


def test_update_with_if_match(api: Api, owner: Account) -> None:
    page = create(api, owner)
    ok = send(api, "PATCH", f"{PAGES}/{page['id']}", owner, {"title": "B"}, headers={"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"2"'
    for tag in ('"1"', 'W/"2"', '"x"', '"2", "3"', '""', '"99999999999"', '"\u0662"'):
        resp = send(api, "PATCH", f"{PAGES}/{page['id']}", owner, {"title": "C"}, headers={"If-Match": tag})
        assert_problem(resp, 412, "precondition-failed")
    star = send(api, "PATCH", f"{PAGES}/{page['id']}", owner, {"title": "D"}, headers={"If-Match": "*"})
    assert star.get_json()["version"] == 3
    assert edit(api, owner, page["id"], title="E").get_json()["version"] == 4  # no precondition


def test_two_concurrent_writers_one_wins(app: Flask, api: Api, owner: Account) -> None:
    page = create(api, owner)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def write(title: str) -> None:
        client = Api(app.test_client(), app)
        barrier.wait()
        statuses.append(edit(client, owner, page["id"], title=title, version=1).status_code)

    threads = [threading.Thread(target=write, args=(t,)) for t in ("Mine", "Yours")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 412]
    final = api.get(f"{PAGES}/{page['id']}", owner).get_json()
    assert final["version"] == 2 and final["title"] in ("Mine", "Yours")


def _member(api: Api, owner: Account, role: str) -> Account:
    return api.add_member(owner, f"{role}@acme.example.com", role)


def test_permissions(api: Api, owner: Account) -> None:
    page = create(api, owner)
    analyst, manager, admin = (_member(api, owner, r) for r in ("analyst", "manager", "admin"))
    assert api.get(PAGES, analyst).status_code == 200
    assert api.get(f"{PAGES}/{page['id']}", analyst).status_code == 200
    assert_problem(api.post(PAGES, analyst, json={"path": "/x", "title": "x"}), 403, "forbidden")
    assert_problem(edit(api, analyst, page["id"], title="x"), 403, "forbidden")
    assert edit(api, manager, page["id"], title="By manager").status_code == 200
    for path in ("publish", "unpublish"):
        assert_problem(api.post(f"{PAGES}/{page['id']}/{path}", manager, json={}), 403, "forbidden")
    publish(api, admin, page["id"])
    restore = f"{PAGES}/{page['id']}/versions/1/restore"
    assert_problem(api.post(restore, manager, json={"publish": True}), 403, "forbidden")
    assert api.post(restore, manager, json={}).status_code == 200
    assert_problem(api.delete(f"{PAGES}/{page['id']}", manager), 403, "forbidden")  # it is live
    draft = create(api, manager, "/draft")
    assert api.delete(f"{PAGES}/{draft['id']}", manager).status_code == 204
    assert api.delete(f"{PAGES}/{page['id']}", admin).status_code == 204
    assert_problem(api.get(PAGES), 401)


def test_other_tenants_pages_are_invisible(api: Api, owner: Account) -> None:
    mine = create(api, owner, "/secret", doc(node("Hero", "h", text="acme only")))
    publish(api, owner, mine["id"])
    other = api.register("other")
    assert api.get(PAGES, other).get_json() == []
    base = f"{PAGES}/{mine['id']}"
    calls: list[tuple[str, str, Any]] = [
        ("GET", base, None), ("PATCH", base, {"title": "x"}), ("DELETE", base, None),
        ("POST", base + "/publish", {}), ("POST", base + "/unpublish", {}),
        ("GET", base + "/versions", None), ("GET", base + "/versions/1", None),
        ("POST", base + "/versions/1/restore", {}),
    ]
    for method, path, body in calls:
        resp = api.call(method, path, other, json=body) if body is not None else api.call(method, path, other)
        assert resp.status_code == 404, (method, path, resp.status_code)
    assert api.get(base, owner).get_json()["title"] == "About"


def test_tenant_without_the_plugin(api: Api, owner: Account) -> None:
    page = create(api, owner)
    assert api.put("/api/v1/plugins/pages/activation", owner, json={"enabled": False}).status_code == 200
    assert_problem(api.get(PAGES, owner), 404, "plugin-not-enabled")
    assert_problem(api.get(f"{PAGES}/{page['id']}", owner), 404, "plugin-not-enabled")


def test_mutations_are_audited(app: Flask, api: Api, owner: Account) -> None:
    page = create(api, owner)
    edit(api, owner, page["id"], title="B")
    publish(api, owner, page["id"])
    log = api.get("/api/v1/admin/audit-log", api.make_admin(), query_string={"tenant": owner.tenant_id})
    actions = [e["action"] for e in log.get_json()]
    for action in ("pages.page.create", "pages.page.update", "pages.page.publish"):
        assert action in actions
