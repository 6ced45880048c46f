"""The app and the data behind the authenticated-route benchmark (and the soak).

    gunicorn 'bench.authed:app()'

``app()`` is ``kernel.create_app`` with the ``full`` test plugin added
(``tests/testplugins/full``), configured from ``PLUGBOARD_*`` like the deployed app.
``seed(env)`` migrates the database named there, registers the tenant ``bench``, enables
``full``, writes ``NOTES`` notes and publishes the demo home page; it returns what the
load needs (the owner's access token and the storefront page's bytes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask

TENANT = "bench"
NOTES = 5
NOTES_PATH = "/api/v1/full/notes"
PAGE_PATH = "/api/v1/public/pages/"


def app(**overrides: Any) -> Flask:
    """The deployed app plus the ``full`` test plugin (a route that does one query)."""
    from kernel import create_app
    from tests.testplugins.full import plugin as full

    return create_app({"extra_plugins": [full], **overrides})


@dataclass
class Seeded:
    token: str
    tenant_id: str
    page_body: bytes

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def seed(env: dict[str, str]) -> Seeded:
    """Migrate, register ``bench``, enable ``full``, add notes, publish the home page."""
    from kernel import migrate

    config = {k.removeprefix("PLUGBOARD_").lower(): v for k, v in env.items() if k.startswith("PLUGBOARD_")}
    flask_app = app(**{**config, "log_level": "WARNING"})
    with flask_app.app_context():
        migrate.upgrade(flask_app)
    client = flask_app.test_client()
    resp = client.post("/api/v1/auth/register", json={
        "email": "owner@bench.example", "password": "bench password 123", "name": "Bench",
        "tenant_name": "Bench", "tenant_slug": TENANT})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    resp = client.put("/api/v1/plugins/full/activation", headers=headers, json={"enabled": True})
    assert resp.status_code == 200, resp.get_json()
    for i in range(NOTES):
        resp = client.post(NOTES_PATH, headers=headers, json={"text": f"note {i}"})
        assert resp.status_code == 201, resp.get_json()
    publish_home(flask_app, uuid.UUID(body["tenant"]["id"]))
    resp = client.get(PAGE_PATH, headers={"X-Tenant": TENANT})
    assert resp.status_code == 200, resp.get_data()
    flask_app.extensions["plugboard.db"].dispose()
    return Seeded(body["access_token"], body["tenant"]["id"], resp.get_data())


def publish_home(flask_app: Flask, tenant_id: uuid.UUID) -> None:
    from plugins.pages import demo, services

    with flask_app.app_context():
        page = services.create_page(tenant_id, "bench", services.Settings(), path="/",
                                    title="Home", data=demo.home_document())
        services.publish(tenant_id, page.id, "bench", services.Settings())
