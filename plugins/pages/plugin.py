"""The ``pages`` plugin: its manifest and thin hook implementations.

Tenants build pages with the Puck editor (``@puckeditor/core``) through ``/api/v1/pages``
and storefronts fetch what is published through ``/api/v1/public/pages``. See
``docs/storefront.md`` for storefront developers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_smorest import Blueprint

from hookspecs import PluginInfo, hookimpl
from kernel.api import add_demo_seeder, add_public_responder
from plugins.pages import api, cache, demo, storefront

MiB = 1024 * 1024

plugin_info = PluginInfo(
    name="pages",
    version="1.0.0",
    title="Pages",
    description="Pages made with the Puck editor, published to storefronts by domain.",
    kernel=">=1.0,<2",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "components": {
                "type": "array", "minItems": 1, "maxItems": 500, "uniqueItems": True,
                "items": {"type": "string", "minLength": 1, "maxLength": 100},
                "description": "Component types pages may use (Puck config keys); absent: any.",
            },
            "max_bytes": {"type": "integer", "minimum": 1024, "maximum": 16 * MiB, "default": MiB,
                          "description": "Largest document, as compact UTF-8 JSON."},
            "max_depth": {"type": "integer", "minimum": 1, "maximum": 100, "default": 32,
                          "description": "Deepest nesting of components (slots and zones)."},
            "max_nodes": {"type": "integer", "minimum": 1, "maximum": 100_000, "default": 5000,
                          "description": "Most components in one document."},
            "max_asset_bytes": {"type": "integer", "minimum": 1024, "maximum": 16 * MiB,
                                "default": 10 * MiB, "description": "Largest uploaded asset."},
            "cache_max_age": {"type": "integer", "minimum": 0, "maximum": 3600, "default": 60,
                              "description": "Storefront responses' Cache-Control max-age (s)."},
            "stale_while_revalidate": {"type": "integer", "minimum": 0, "maximum": 86400,
                                       "default": 300,
                                       "description": "...and stale-while-revalidate (s)."},
            "component_data_ttl": {"type": "integer", "minimum": 1, "maximum": 3600, "default": 30,
                                   "description": "How long other plugins' component data is "
                                                  "reused before it is asked for again (s)."},
        },
    },
    permissions={"pages.read": "analyst", "pages.write": "manager", "pages.publish": "admin"},
    default_enabled=True,
    migrations=str(Path(__file__).resolve().parent / "migrations"),
)


@hookimpl
def plugboard_blueprints() -> list[Blueprint]:
    return [api.blp]


@hookimpl
def plugboard_public_blueprints() -> list[Blueprint]:
    return [storefront.blp]


@hookimpl
def plugboard_app_ready(app: Flask) -> None:
    add_demo_seeder(app, demo.seed)  # `plugboard demo`: a published home page
    store = cache.install(app)
    add_public_responder(app, "pages", storefront.responder(store))  # warm hits skip Flask


@hookimpl
def plugboard_config_changed(tenant_id: uuid.UUID, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    if old != new:
        storefront.invalidate_on_config_change(tenant_id)
