"""``plugboard demo``: give the demo tenant a published home page, once."""

from __future__ import annotations

import uuid
from typing import Any

from kernel.api import db
from plugins.pages import services

ACTOR = "demo"


def home_document() -> dict[str, Any]:
    """A small landing page as Puck 0.19 saves it (a Grid slot holds three cards)."""
    cards = [
        {"type": "Card", "props": {"id": f"Card-{n}", "title": title, "description": text,
                                    "icon": icon}}
        for n, (title, text, icon) in enumerate([
            ("Plugins", "Switch features on per tenant.", "Puzzle"),
            ("Pages", "Edit with Puck, publish in one click.", "Layout"),
            ("Storefronts", "Fetched by domain, cached, fast.", "Zap"),
        ], start=1)
    ]
    return {
        "root": {"props": {"title": "Welcome to the demo storefront"}},
        "content": [
            {"type": "Hero", "props": {"id": "Hero-1", "title": "Hello from Plugboard",
                                       "description": "This page was published by `plugboard demo`.",
                                       "align": "left", "padding": "64px"}},
            {"type": "Heading", "props": {"id": "Heading-1", "text": "What you get", "level": 2}},
            {"type": "Grid", "props": {"id": "Grid-1", "gap": 24, "numColumns": 3, "items": cards}},
            {"type": "Text", "props": {"id": "Text-1", "text": "Edit me through /api/v1/pages.",
                                       "size": "m", "align": "center"}},
        ],
        "zones": {},
    }


def seed(tenant_id: uuid.UUID) -> None:
    """Create and publish ``/`` unless the tenant already has a home page (idempotent)."""
    if services.page_at(tenant_id, "/") is not None:
        return
    settings = services.Settings()
    page = services.create_page(tenant_id, ACTOR, settings, path="/", title="Home",
                                data=home_document())
    services.publish(tenant_id, page.id, ACTOR, settings, message="Seeded by plugboard demo")
    db.session.commit()
