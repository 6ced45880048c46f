"""The ``hello`` plugin: its manifest (``plugin_info``) and thin hook implementations.

The ``plugboard.plugins`` entry point names this module; the kernel reads
``plugin_info`` and registers every ``@hookimpl`` function here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask_smorest import Blueprint

from hookspecs import EventHandler, JobSpec, PluginInfo, hookimpl
from kernel.api import db, tenant_scope
from plugboard_hello import api, jobs
from plugboard_hello.models import HelloMessage

plugin_info = PluginInfo(
    name="hello",
    version="1.0.0",
    title="Hello",
    description="A message board per tenant and a greeting for its storefront (example plugin).",
    kernel=">=1.1,<2",  # emit and enqueue came with contract 1.1
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "greeting": {"type": "string", "minLength": 1, "maxLength": 120,
                         "description": "Shown on the storefront and as the welcome message."},
            # writeOnly marks a secret: encrypted at rest, masked as ******** in responses.
            "api_token": {"type": "string", "minLength": 8, "writeOnly": True,
                          "description": "Token for an outside greeting service (example secret)."},
        },
    },
    permissions={"hello.write": "manager"},
    migrations=str(Path(__file__).resolve().parent / "migrations"),
)


@hookimpl
def plugboard_blueprints() -> list[Blueprint]:
    return [api.blp]


@hookimpl
def plugboard_public_blueprints() -> list[Blueprint]:
    return [api.public_blp]


@hookimpl
def plugboard_jobs() -> list[JobSpec]:
    # cron: one run per tenant that has the plugin enabled, every day at 03:15 UTC
    return [
        JobSpec("hello.purge_old_messages", jobs.purge_old_messages, cron="15 3 * * *", retry=2),
        # enqueued by the API for each question: kernel.api.enqueue("hello.answer_question", ...)
        JobSpec("hello.answer_question", jobs.answer_question, retry=2),
    ]


@hookimpl
def plugboard_event_handlers() -> list[EventHandler]:
    return [EventHandler("payments.payment.succeeded", jobs.thank_for_payment,
                         name="hello.thank_for_payment")]


@hookimpl
def plugboard_tenant_enabled(tenant_id: uuid.UUID, config: Mapping[str, Any]) -> None:
    """Welcome the tenant on its board the first time it switches the plugin on.

    The row joins the activation's transaction: if anything refuses, neither is kept.
    """
    with tenant_scope(tenant_id):
        if db.session.scalar(sa.select(HelloMessage.id).limit(1)) is None:
            greeting = config.get("greeting") or api.DEFAULT_GREETING
            db.session.add(HelloMessage(tenant_id=tenant_id, text=greeting, author="hello"))
