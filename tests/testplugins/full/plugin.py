"""The ``full`` test plugin: route, public route, webhook, model + migration, job, event
handler, permissions, config with a secret, config validation, lifecycle, guard,
notifications, firstresult resolvers and page components. ``CALLS`` records hook calls."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask_smorest import Blueprint

from hookspecs import EventHandler, JobFailed, JobSpec, PluginInfo, PluginRefusal, hookimpl
from kernel.api import auth_required, db, platform_admin_required, problem, public_tenant
from kernel.services import kernel_services
from tests.testplugins.full.models import FullNote

CALLS: list[tuple[str, dict[str, Any]]] = []

plugin_info = PluginInfo(
    name="full",
    version="1.2.0",
    title="Full",
    description="Exercises every extension point.",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "greeting": {"type": "string", "maxLength": 50},
            "api_secret": {"type": "string", "minLength": 8, "writeOnly": True},
            "limit": {"type": "integer", "minimum": 1},
            "suspended": {"type": "boolean"},
            "refuse_disable": {"type": "boolean"},
        },
    },
    permissions={"full.write": "manager"},
    migrations=str(Path(__file__).parent / "migrations"),
)


class NoteSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class HelloSchema(ma.Schema):
    tenant = ma.fields.String()


class PingSchema(ma.Schema):
    notes = ma.fields.Integer()


blp = Blueprint("full", __name__, url_prefix="/api/v1/full", description="Full test plugin")
public_blp = Blueprint("full_public", __name__, url_prefix="/api/v1/public/full")
webhook_blp = Blueprint("full_webhooks", __name__, url_prefix="/api/v1/webhooks/full")
admin_blp = Blueprint("full_admin", __name__, url_prefix="/api/v1/admin/full")


class AdminNoteSchema(NoteSchema):
    tenant_id = ma.fields.UUID(dump_only=True)


class AdminNoteCreateSchema(ma.Schema):
    tenant_id = ma.fields.UUID(required=True)
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


@admin_blp.get("/notes")
@platform_admin_required
@admin_blp.response(200, AdminNoteSchema(many=True))
def every_note() -> list[FullNote]:
    """Every tenant's notes (the platform scope sees them all)."""
    return list(db.session.scalars(sa.select(FullNote).order_by(FullNote.text)))


@admin_blp.post("/notes")
@platform_admin_required
@admin_blp.arguments(AdminNoteCreateSchema)
@admin_blp.response(201, AdminNoteSchema)
def add_note_for(data: dict[str, Any]) -> FullNote:
    """Add a note to a tenant, as the platform."""
    if kernel_services().tenants.by_id(data["tenant_id"]) is None:
        problem(404, "unknown-tenant", title="Unknown tenant", detail="No such tenant.")
    note = FullNote(tenant_id=data["tenant_id"], text=data["text"])
    db.session.add(note)
    db.session.commit()
    return note


@blp.get("/notes")
@auth_required()
@blp.response(200, NoteSchema(many=True))
def list_notes() -> list[FullNote]:
    return list(db.session.scalars(sa.select(FullNote).order_by(FullNote.text)))


@blp.post("/notes")
@auth_required("full.write")
@blp.arguments(NoteSchema)
@blp.response(201, NoteSchema)
def create_note(data: dict[str, Any]) -> FullNote:
    note = FullNote(text=data["text"])
    db.session.add(note)
    db.session.commit()
    return note


@public_blp.get("/hello")
@public_blp.response(200, HelloSchema)
def hello() -> dict[str, str]:
    return {"tenant": public_tenant().slug}


@webhook_blp.post("/<tenant>/ping")
@webhook_blp.response(200, PingSchema)
def ping(tenant: str) -> dict[str, int]:
    count = db.session.scalar(sa.select(sa.func.count()).select_from(FullNote)) or 0
    return {"notes": count}


def cleanup(tenant_id: uuid.UUID) -> int:
    CALLS.append(("job", {"tenant_id": tenant_id}))
    db.session.add(FullNote(text=f"cleanup:{uuid.uuid4().hex[:8]}"))
    return 0


ATTEMPTS: dict[str, int] = {}


def flaky(tenant_id: uuid.UUID, label: str, fail_times: int, expected: bool = False) -> None:
    """Errors (or, ``expected``, fails with a retry asked) ``fail_times`` times, then writes a note."""
    ATTEMPTS[label] = ATTEMPTS.get(label, 0) + 1
    db.session.add(FullNote(text=f"attempt:{label}:{ATTEMPTS[label]}"))
    if ATTEMPTS[label] <= fail_times:
        if expected:
            raise JobFailed(f"remote busy {ATTEMPTS[label]}", retry=True)
        raise RuntimeError(f"transient failure {ATTEMPTS[label]}")


def expected_failure(tenant_id: uuid.UUID) -> None:
    db.session.add(FullNote(text="never stored"))
    raise JobFailed("the remote calendar said no")


def on_payment(tenant_id: uuid.UUID, payload: Mapping[str, Any], event_id: uuid.UUID) -> None:
    CALLS.append(("event", {"tenant_id": tenant_id, "payload": dict(payload)}))
    db.session.add(FullNote(text=f"full:{event_id}"))


@hookimpl
def plugboard_blueprints(app: Any) -> list[Blueprint]:
    return [blp]


@hookimpl
def plugboard_public_blueprints() -> list[Blueprint]:
    return [public_blp]


@hookimpl
def plugboard_app_ready(app: Any) -> None:
    # what is installed by then: the plugin's own routes and jobs, the kernel's services
    CALLS.append(("app_ready", {"app": app, "routes": "full" in app.blueprints,
                                "job": "full.cleanup" in kernel_services(app).job_specs}))


@hookimpl
def plugboard_webhook_blueprints() -> list[Blueprint]:
    return [webhook_blp]


@hookimpl
def plugboard_admin_blueprints() -> list[Blueprint]:
    return [admin_blp]


@hookimpl
def plugboard_jobs() -> list[JobSpec]:
    return [
        JobSpec("full.cleanup", cleanup, retry=2, cron="0 3 * * *"),
        JobSpec("full.flaky", flaky, retry=3, retry_intervals=(0, 0, 0)),
        JobSpec("full.expected_failure", expected_failure),
    ]


@hookimpl
def plugboard_event_handlers() -> list[EventHandler]:
    return [EventHandler("payments.payment.succeeded", on_payment, name="full.on_payment")]


@hookimpl
def plugboard_permissions() -> dict[str, str]:
    return {"full.admin": "admin"}


@hookimpl
def plugboard_page_components() -> list[dict[str, Any]]:
    return [{"type": "FullNoteList", "title": "Notes"}]


@hookimpl
def plugboard_tenant_enabled(tenant_id: uuid.UUID, config: Mapping[str, Any]) -> None:
    CALLS.append(("enabled", {"tenant_id": tenant_id, "config": dict(config)}))


@hookimpl
def plugboard_tenant_disabled(tenant_id: uuid.UUID) -> None:
    config = kernel_services().activations.config_of(tenant_id, "full")
    if config.get("refuse_disable"):
        raise PluginRefusal("notes must be exported before disabling")
    CALLS.append(("disabled", {"tenant_id": tenant_id}))


@hookimpl
def plugboard_config_validate(config: Mapping[str, Any]) -> list[dict[str, str]]:
    if "forbidden" in str(config.get("greeting", "")):
        return [{"pointer": "/greeting", "message": "must not say forbidden"}]
    return []


@hookimpl
def plugboard_config_changed(tenant_id: uuid.UUID, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    CALLS.append(("config_changed", {"tenant_id": tenant_id, "old": dict(old), "new": dict(new)}))


@hookimpl
def plugboard_activation_changed(tenant_id: uuid.UUID, plugin: str, enabled: bool) -> None:
    CALLS.append(("activation_changed", {"plugin": plugin, "enabled": enabled}))


@hookimpl
def plugboard_request_guard(tenant_id: uuid.UUID, endpoint: str) -> None:
    config = kernel_services().activations.config_of(tenant_id, "full")
    if config.get("suspended") and not endpoint.startswith("plugins."):
        raise PluginRefusal("the account is suspended for non-payment", status=402,
                            type_="payment-required")


@hookimpl
def plugboard_resolve_payable(kind: str, ref: str) -> dict[str, Any] | None:
    if kind != "note":
        return None
    return {"amount": 1500, "currency": "EUR", "description": f"note {ref}"}


@hookimpl
def plugboard_component_data(component_type: str, props: Mapping[str, Any]) -> dict[str, Any] | None:
    if component_type != "FullNoteList":
        return None
    return {"notes": [n.text for n in db.session.scalars(sa.select(FullNote))]}
