"""A test-only plugin that is wrong on purpose, to prove the quality gates can fail.

* ``GET /api/v1/broken/boom`` raises, and ``GET /api/v1/broken/shape`` answers a body its
  documented schema forbids: the fuzzer must report both;
* ``/api/v1/broken/things/<thing_id>`` reads and deletes a thing in the platform scope,
  skipping tenant scoping: the isolation sweep must report both methods. Its list and
  create operations are correct, so the sweep finds A's ids the way it finds any plugin's.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, jsonify
from flask_smorest import Blueprint
from sqlalchemy.orm import Mapped, mapped_column

from hookspecs import PluginInfo, hookimpl
from kernel.api import Base, TenantOwned, auth_required, db, problem
from kernel.tenancy.scope import platform_scope

plugin_info = PluginInfo(
    name="broken",
    version="0.0.1",
    title="Broken",
    description="Wrong on purpose (quality gate tests).",
    migrations=str(Path(__file__).parent / "broken_migrations"),
)


class BrokenThing(TenantOwned, Base):
    __tablename__ = "broken_things"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    label: Mapped[str] = mapped_column(sa.String(100))


class ThingSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    label = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))


class CountSchema(ma.Schema):
    count = ma.fields.Integer(required=True)


blp = Blueprint("broken", __name__, url_prefix="/api/v1/broken", description="Broken on purpose")


@blp.get("/things")
@auth_required()
@blp.response(200, ThingSchema(many=True))
def list_things() -> list[BrokenThing]:
    return list(db.session.scalars(sa.select(BrokenThing).order_by(BrokenThing.label)))


@blp.post("/things")
@auth_required()
@blp.arguments(ThingSchema)
@blp.response(201, ThingSchema)
def create_thing(data: dict[str, Any]) -> BrokenThing:
    thing = BrokenThing(label=data["label"])
    db.session.add(thing)
    db.session.commit()
    return thing


def _any_tenants_thing(thing_id: uuid.UUID) -> BrokenThing:
    with platform_scope():  # the bug: any tenant's row, whoever asks
        thing = db.session.get(BrokenThing, thing_id)
    if thing is None:
        problem(404, "not-found", title="Not found", detail="No such thing.")
    assert thing is not None
    return thing


@blp.get("/things/<uuid:thing_id>")
@auth_required()
@blp.response(200, ThingSchema)
def get_thing(thing_id: uuid.UUID) -> dict[str, Any]:
    thing = _any_tenants_thing(thing_id)
    return {"id": thing.id, "label": thing.label}


@blp.delete("/things/<uuid:thing_id>")
@auth_required()
@blp.response(204)
def delete_thing(thing_id: uuid.UUID) -> None:
    thing = _any_tenants_thing(thing_id)
    with platform_scope():
        db.session.delete(thing)
        db.session.commit()


@blp.get("/boom")
@auth_required()
@blp.response(200, CountSchema)
def boom() -> dict[str, int]:
    raise RuntimeError("the broken plugin always fails here")


@blp.get("/shape")
@auth_required()
@blp.response(200, CountSchema)
def shape() -> Response:
    return jsonify(count="many")  # the documented schema says an integer


@hookimpl
def plugboard_blueprints() -> list[Blueprint]:
    return [blp]
