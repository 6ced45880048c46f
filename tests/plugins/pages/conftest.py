"""Shared helpers of the ``pages`` tests: documents shaped like Puck's, and API shortcuts.

Documents are sent as raw JSON text (``send``), not through the test client's ``json=``,
which sorts keys: the tests check the editor's bytes come back unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from werkzeug.test import TestResponse

from tests.helpers import Account, Api

PAGES = "/api/v1/pages"
PUBLIC = "/api/v1/public/pages"


def node(type_: str, id_: str, **props: Any) -> dict[str, Any]:
    return {"type": type_, "props": {"id": id_, **props}}


def doc(*content: Any, zones: dict[str, Any] | None = None, **root: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"root": {"props": root}, "content": list(content)}
    if zones is not None:
        data["zones"] = zones
    return data


def send(api: Api, method: str, path: str, account: Account | None, body: Any,
         headers: dict[str, str] | None = None) -> TestResponse:
    return api.call(method, path, account, headers=headers, data=json.dumps(body),
                    content_type="application/json")


def create(api: Api, account: Account, path: str = "/about", data: Any = None,
           title: str = "About") -> dict[str, Any]:
    body: dict[str, Any] = {"path": path, "title": title}
    if data is not None:
        body["data"] = data
    resp = send(api, "POST", PAGES, account, body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def publish(api: Api, account: Account, page_id: str, **body: Any) -> dict[str, Any]:
    resp = api.post(f"{PAGES}/{page_id}/publish", account, json=body)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def edit(api: Api, account: Account, page_id: str, **changes: Any) -> TestResponse:
    return send(api, "PATCH", f"{PAGES}/{page_id}", account, changes)


def storefront(api: Api, path: str, slug: str | None = "acme", **headers: str) -> TestResponse:
    all_headers = dict(headers)
    if slug is not None:
        all_headers["X-Tenant"] = slug
    return api.get(PUBLIC + path, headers=all_headers)


def configure(api: Api, account: Account, **config: Any) -> None:
    resp = api.put("/api/v1/plugins/pages/config", account, json=config)
    assert resp.status_code == 200, resp.get_json()


def big_document(sections: int = 40) -> dict[str, Any]:
    """A landing page as Puck 0.19 saves it: slots, a legacy zone, every JSON type, unicode.

    ``sections=40`` gives ~450 components and ~100 KB.
    """
    content: list[Any] = [node("Hero", "Hero-0", title="Sommerfest 2026 — 夏祭り 🎉",
                               description="Line one\nline \"two\"", align="left",
                               image={"url": "https://cdn.example/h.webp", "alt": ""},
                               padding=64.5, visible=True, badge=None)]
    zones: dict[str, Any] = {"Hero-0:actions": [node("Button", "Button-z", label="Buy", href="/t")]}
    for s in range(sections):
        cards = [node("Card", f"Card-{s}-{c}", title=f"Card {c}", tags=["a", "b"], rating=4.25,
                      links=[{"label": "More", "href": f"/e/{s}/{c}", "external": False}])
                 for c in range(8)]
        columns = [node("Column", f"Column-{s}-{k}", width=0.5,
                        items=[node("Text", f"Text-{s}-{k}", text="Ünïcödé ✓ " * 3, size="m")])
                   for k in range(2)]
        content.append(node("Section", f"Section-{s}", background="#fafafa", spacing=[8, 16, 8, 16],
                            items=[node("Heading", f"Heading-{s}", text=f"Section {s}", level=2),
                                   node("Grid", f"Grid-{s}", numColumns=4, gap=24, items=cards),
                                   node("Columns", f"Columns-{s}", items=columns)]))
    content[1]["readOnly"] = {"background": True}
    return {"root": {"props": {"title": "Big page", "description": "x" * 200}}, "content": content,
            "zones": zones}


@pytest.fixture
def owner(api: Api) -> Account:
    return api.register("acme")
