"""Cooperation: other plugins fill their components' data at fetch time (``plugboard_component_data``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from hookspecs import PluginInfo, hookimpl
from plugins.pages import plugin as pages
from tests.helpers import Api
from tests.plugins.pages.conftest import create, doc, node, publish, storefront
from tests.testplugins.full import plugin as full

NOTES = doc(node("Hero", "h", title="News"),
            node("Grid", "g", items=[node("FullNoteList", "notes", limit=3, notes="editor's")]))


@pytest.fixture
def world(plugin_app: Callable[..., Flask]) -> dict[str, Any]:
    app = plugin_app(pages, full)
    api = Api(app.test_client(), app)
    acme = api.register("acme")
    page = create(api, acme, "/", NOTES)
    publish(api, acme, page["id"])
    return {"app": app, "api": api, "acme": acme}


def _notes_props(api: Api, slug: str = "acme") -> dict[str, Any]:
    resp = storefront(api, "/", slug)
    assert resp.status_code == 200
    return resp.get_json()["content"][1]["props"]["items"][0]["props"]  # type: ignore[no-any-return]


def test_components_of_disabled_plugins_keep_the_editors_props(world: dict[str, Any]) -> None:
    assert _notes_props(world["api"]) == {"id": "notes", "limit": 3, "notes": "editor's"}


def test_enabled_plugin_fills_its_components(world: dict[str, Any]) -> None:
    api, acme = world["api"], world["acme"]
    assert api.put("/api/v1/plugins/full/activation", acme, json={"enabled": True}).status_code == 200
    assert api.post("/api/v1/full/notes", acme, json={"text": "first"}).status_code == 201
    props = _notes_props(api)
    assert props == {"id": "notes", "limit": 3, "notes": ["first"]}  # merged over, id kept
    hero = storefront(api, "/").get_json()["content"][0]
    assert hero == node("Hero", "h", title="News")  # other components are untouched
    draft = api.get(f"/api/v1/pages/{api.get('/api/v1/pages', acme).get_json()[0]['id']}", acme)
    assert draft.get_json()["data"] == NOTES  # the stored document never changes


def test_filled_pages_expire_after_the_ttl(world: dict[str, Any]) -> None:
    api, acme = world["api"], world["acme"]
    api.put("/api/v1/plugins/full/activation", acme, json={"enabled": True})
    assert api.put("/api/v1/plugins/pages/config", acme, json={"component_data_ttl": 1}).status_code == 200
    assert _notes_props(api)["notes"] == []
    api.post("/api/v1/full/notes", acme, json={"text": "later"})
    assert _notes_props(api)["notes"] == []  # cached
    resp = storefront(api, "/")
    assert "max-age=1," in resp.headers["Cache-Control"]
    time.sleep(1.1)
    assert _notes_props(api)["notes"] == ["later"]


class Weather:
    """Declares a Weather component and fails to fill it."""

    plugin_info = PluginInfo(name="weather", version="1.0.0", default_enabled=True)

    @hookimpl
    def plugboard_page_components(self) -> list[dict[str, str]]:
        return [{"type": "Weather", "title": "Weather"}]

    @hookimpl
    def plugboard_component_data(self, component_type: str) -> dict[str, Any] | None:
        if component_type == "Weather":
            raise RuntimeError("the weather service is down")
        return None


def test_a_failing_plugin_does_not_take_the_page_down(plugin_app: Callable[..., Flask]) -> None:
    app = plugin_app(pages, Weather())
    api = Api(app.test_client(), app)
    acme = api.register("acme")
    data = doc(node("Weather", "w", city="Oslo"), node("Hero", "h"))
    publish(api, acme, create(api, acme, "/", data)["id"])
    resp = storefront(api, "/")
    assert resp.status_code == 200 and resp.get_json() == data


def test_only_the_tenants_enabled_plugins_are_asked(world: dict[str, Any]) -> None:
    api, acme = world["api"], world["acme"]
    api.put("/api/v1/plugins/full/activation", acme, json={"enabled": True})
    other = api.register("other")
    page = create(api, other, "/", NOTES)
    publish(api, other, page["id"])
    assert _notes_props(api, "other")["notes"] == "editor's"
    assert _notes_props(api, "acme")["notes"] == []
