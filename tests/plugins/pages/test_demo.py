"""``plugboard demo``: the demo tenant gets pages enabled and a published home page, once."""

from __future__ import annotations

from flask import Flask

from kernel.cli import main as cli_main
from kernel.tenancy.demo import seed_demo
from plugins.pages import demo
from tests.helpers import Api
from tests.plugins.pages.conftest import PAGES, storefront


def test_demo_seeds_a_published_home_page_once(app: Flask, api: Api) -> None:
    for _ in range(2):  # `make run` seeds on every start
        with app.app_context():
            seed_demo("demo@example.com", "demo password 123")
    resp = storefront(api, "/", "demo")
    assert resp.status_code == 200
    assert resp.get_json() == demo.home_document()
    assert [p["path"] for p in storefront(api, "", "demo").get_json()] == ["/"]
    tokens = api.login("demo@example.com", "demo password 123")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    pages = api.get(PAGES, headers=headers).get_json()
    assert [(p["path"], p["published_version"]) for p in pages] == [("/", 1)]


def test_cli_demo_prints_how_to_log_in(app: Flask, api: Api) -> None:
    result = app.test_cli_runner().invoke(cli_main, args=["demo", "--password", "demo password 123"])
    assert result.exit_code == 0, result.output
    assert storefront(api, "/", "demo").status_code == 200
