"""Pages' services flush and never commit: the caller's rollback undoes all of their work."""

from __future__ import annotations

import uuid

from flask import Flask

from kernel.api import db
from plugins.pages import services
from tests.helpers import Account, Api
from tests.plugins.pages.conftest import create, doc, node


def test_a_rolled_back_caller_leaves_nothing_behind(app: Flask, owner: Account) -> None:
    tenant_id = uuid.UUID(owner.tenant_id)
    settings = services.Settings()
    with app.app_context():
        page = services.create_page(tenant_id, "user:test", settings, path="/draft", title="Draft",
                                    data=doc(node("Hero", "h", title="x")))
        services.publish(tenant_id, page.id, "user:test", settings, message="first")
        assert services.page_at(tenant_id, "/draft") is not None  # visible inside the transaction
        db.session.rollback()  # what a failing job or event handler does
        assert services.page_at(tenant_id, "/draft") is None
        assert services.published_page(tenant_id, "/draft") is None


def test_the_view_commits_what_the_service_did(app: Flask, api: Api, owner: Account) -> None:
    page = create(api, owner, path="/kept")
    with app.app_context():
        db.session.rollback()  # a fresh transaction sees the view's committed work
        found = services.page_at(uuid.UUID(owner.tenant_id), "/kept")
        assert found is not None and str(found.id) == page["id"]
