"""The app and the data behind the authenticated-route benchmark (and the soak).

    gunicorn 'bench.authed:app()'
    gunicorn 'bench.authed:app_without_guard()'

``app()`` is ``kernel.create_app`` with the ``full`` test plugin added
(``tests/testplugins/full``), configured from ``PLUGBOARD_*`` like the deployed app.
``seed(env)`` migrates the database named there, registers the tenant ``bench``, enables
``full``, writes ``NOTES`` notes, publishes the demo home page
and adds drafts up to ``PAGES`` pages; it returns what the
load needs (the owner's access token and the storefront page's bytes).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask

from kernel.services import kernel_services

TENANT = "bench"
NOTES = 5
NOTES_PATH = "/api/v1/full/notes"
PAGE_PATH = "/api/v1/public/pages/"
PAGES = 5  # the home page plus four drafts: what ``GET /api/v1/pages`` lists
PAGES_PATH = "/api/v1/pages"


def app(**overrides: Any) -> Flask:
    """The deployed app plus the ``full`` test plugin (a route that does one query)."""
    from kernel import create_app
    from tests.testplugins.full import plugin as full

    return create_app({"extra_plugins": [full], **overrides})


def app_without_guard(**overrides: Any) -> Flask:
    """``app()`` with ``full``'s request guard left out (it reads the plugin's config).

    The same plugin (name, routes, migrations) minus one hook implementation, to show
    what the kernel costs apart from the test plugin's own guard.
    """
    from kernel import create_app
    from tests.testplugins.full import plugin as full

    plugin = _Plugin()
    plugin.__dict__.update((k, v) for k, v in vars(full).items()
                           if not k.startswith("__") and k != "plugboard_request_guard")
    return create_app({"extra_plugins": [plugin], **overrides})


class _Plugin:
    """A plugin object (pluggy registers objects by their hook-marked attributes)."""


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
    from kernel.data import migrate

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
    for i in range(1, PAGES):
        resp = client.post(PAGES_PATH, headers=headers, json={"path": f"/draft-{i}", "title": f"Draft {i}"})
        assert resp.status_code == 201, resp.get_json()
    publish_home(flask_app, uuid.UUID(body["tenant"]["id"]))
    resp = client.get(PAGE_PATH, headers={"X-Tenant": TENANT})
    assert resp.status_code == 200, resp.get_data()
    kernel_services(flask_app).engine.dispose()
    return Seeded(body["access_token"], body["tenant"]["id"], resp.get_data())


def publish_home(flask_app: Flask, tenant_id: uuid.UUID) -> None:
    from kernel.api import db
    from plugins.pages import demo, services

    with flask_app.app_context():
        page = services.create_page(tenant_id, "bench", services.Settings(), path="/",
                                    title="Home", data=demo.home_document())
        services.publish(tenant_id, page.id, "bench", services.Settings())
        db.session.commit()  # services flush, never commit


def bare_db_app() -> Flask:
    """A bare Flask app doing the route's query by hand: the ceiling for a database read.

    No kernel, no JWT, no plugins: one pooled SQLAlchemy Core connection per request, the
    tenant setting PostgreSQL's row-level security policies read, and the same SELECT as
    ``full``'s ``GET /api/v1/full/notes``, for the tenant in ``PLUGBOARD_BENCH_TENANT_ID``.
    """
    import os

    import sqlalchemy as sa
    from flask import jsonify

    engine = sa.create_engine(os.environ["PLUGBOARD_DATABASE_URL"], pool_size=4, max_overflow=4)
    tenant = os.environ["PLUGBOARD_BENCH_TENANT_ID"]
    scope = sa.text("SELECT set_config('plugboard.tenant_id', :t, true)")
    query = sa.text("SELECT id, text FROM full_notes WHERE tenant_id = :t ORDER BY text")
    flask_app = Flask("bare_db")

    @flask_app.get(NOTES_PATH)
    def notes() -> Any:
        with engine.begin() as conn:
            conn.execute(scope, {"t": tenant})
            rows = conn.execute(query, {"t": tenant}).all()
        return jsonify([{"id": str(r.id), "text": r.text} for r in rows])

    return flask_app
