"""Publishing: versions are snapshots, history is kept, restore and rollback, drafts stay private."""

from __future__ import annotations

import json

from tests.helpers import Account, Api, assert_problem
from tests.plugins.pages.conftest import PAGES, big_document, create, doc, edit, node, publish, storefront


def _live(api: Api, path: str = "/about") -> object:
    resp = storefront(api, path)
    return resp.get_json() if resp.status_code == 200 else resp.status_code


def test_publish_edit_publish_rollback(api: Api, owner: Account) -> None:
    one, two = doc(node("Hero", "h", title="One")), doc(node("Hero", "h", title="Two"))
    page = create(api, owner, data=one)
    assert _live(api) == 404
    published = publish(api, owner, page["id"], message="first")
    assert published["status"] == "published" and published["published_version"] == 1
    assert published["published_at"]
    assert _live(api) == one

    assert edit(api, owner, page["id"], data=two, title="Draft title").status_code == 200
    assert _live(api) == one  # the draft never leaks
    assert publish(api, owner, page["id"])["published_version"] == 2
    assert _live(api) == two

    history = api.get(f"{PAGES}/{page['id']}/versions", owner).get_json()
    assert [(v["number"], v["message"], v["draft_version"]) for v in history] == [
        (2, None, 2), (1, "first", 1)]
    assert history[0]["title"] == "Draft title" and history[0]["author"] == owner.user_id
    assert "data" not in history[0]
    assert api.get(f"{PAGES}/{page['id']}/versions/1", owner).get_json()["data"] == one

    restored = api.post(f"{PAGES}/{page['id']}/versions/1/restore", owner, json={})
    assert restored.status_code == 200 and restored.headers["ETag"] == '"3"'
    body = restored.get_json()
    assert body["data"] == one and body["title"] == "About" and body["version"] == 3
    assert body["published_version"] == 2 and _live(api) == two  # restoring is a draft change

    rolled = api.post(f"{PAGES}/{page['id']}/versions/1/restore", owner, json={"publish": True})
    assert rolled.get_json()["published_version"] == 3 and _live(api) == one
    newest = api.get(f"{PAGES}/{page['id']}/versions", owner).get_json()[0]
    assert (newest["number"], newest["message"]) == (3, "Restored from version 1")


def test_versions_are_immutable_snapshots(api: Api, owner: Account) -> None:
    page = create(api, owner, data=doc(node("Hero", "h", title="One")))
    publish(api, owner, page["id"])
    edit(api, owner, page["id"], data=doc(node("Hero", "h", title="Changed")))
    assert api.get(f"{PAGES}/{page['id']}/versions/1", owner).get_json()["data"]["content"][0][
        "props"]["title"] == "One"


def test_unpublish_keeps_draft_and_history(api: Api, owner: Account) -> None:
    page = create(api, owner, data=doc(node("Hero", "h")))
    publish(api, owner, page["id"])
    resp = api.post(f"{PAGES}/{page['id']}/unpublish", owner, json={})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "draft" and body["published_version"] is None
    assert _live(api) == 404
    assert storefront(api, "").get_json() == []
    assert len(api.get(f"{PAGES}/{page['id']}/versions", owner).get_json()) == 1
    assert api.post(f"{PAGES}/{page['id']}/unpublish", owner, json={}).status_code == 200  # idempotent
    assert publish(api, owner, page["id"])["published_version"] == 2


def test_publish_with_a_stale_version_is_refused(api: Api, owner: Account) -> None:
    page = create(api, owner)
    edit(api, owner, page["id"], title="B")
    assert_problem(api.post(f"{PAGES}/{page['id']}/publish", owner, json={"version": 1}), 412)
    assert _live(api) == 404
    assert api.post(f"{PAGES}/{page['id']}/publish", owner, json={"version": 2},
                    headers={}).status_code == 200
    assert_problem(api.post(f"{PAGES}/{page['id']}/versions/1/restore", owner, json={"version": 1}), 412)


def test_unknown_version(api: Api, owner: Account) -> None:
    page = create(api, owner)
    assert_problem(api.get(f"{PAGES}/{page['id']}/versions/1", owner), 404, "version-not-found")
    assert_problem(api.post(f"{PAGES}/{page['id']}/versions/9/restore", owner, json={}), 404,
                   "version-not-found")
    assert api.get(f"{PAGES}/{page['id']}/versions", owner).get_json() == []
    for number in (0, 2**31, 10**15):  # not SQL integers: no such version, never a 500
        assert_problem(api.get(f"{PAGES}/{page['id']}/versions/{number}", owner), 404)
    assert_problem(api.patch(f"{PAGES}/{page['id']}", owner, json={"title": "x", "version": 2**31}), 422)


def test_deleting_a_published_page_takes_it_offline(api: Api, owner: Account) -> None:
    page = create(api, owner, data=doc(node("Hero", "h")))
    publish(api, owner, page["id"])
    assert api.delete(f"{PAGES}/{page['id']}", owner).status_code == 204
    assert _live(api) == 404


def test_moving_a_published_page_moves_it_on_the_storefront(api: Api, owner: Account) -> None:
    page = create(api, owner, data=doc(node("Hero", "h")))
    publish(api, owner, page["id"])
    assert _live(api) != 404
    edit(api, owner, page["id"], path="/about-us")
    assert _live(api) == 404 and _live(api, "/about-us") == doc(node("Hero", "h"))


def test_published_document_is_served_byte_for_byte(api: Api, owner: Account) -> None:
    data = big_document()
    page = create(api, owner, data=data)
    publish(api, owner, page["id"])
    resp = storefront(api, "/about")
    assert resp.get_data() == json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
