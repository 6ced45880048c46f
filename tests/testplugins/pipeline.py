"""A test plugin for the request pipeline: counted side effects, a slow POST, a failing POST,
a route with a small body limit, and a public POST.

``CALLS`` counts each view's runs (the side effect a replay must not repeat); ``GATE``
holds ``/work`` with ``{"wait": true}`` until a test releases it.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint

from hookspecs import PluginInfo, hookimpl
from kernel.api import auth_required, public_tenant

CALLS: Counter[str] = Counter()
GATE = threading.Event()
STARTED = threading.Event()
SMALL_LIMIT = 100

plugin_info = PluginInfo(name="pipeline", version="1.0.0", title="Pipeline",
                         description="Request pipeline test routes.",
                         permissions={"pipeline.write": "manager"})


class WorkSchema(ma.Schema):
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=50))
    wait = ma.fields.Boolean(load_default=False)


class DoneSchema(ma.Schema):
    text = ma.fields.String()
    run = ma.fields.Integer()


blp = Blueprint("pipeline", __name__, url_prefix="/api/v1/pipeline", description="Pipeline tests")
small_blp = Blueprint("pipeline_small", __name__, url_prefix="/api/v1/pipeline/small")
public_blp = Blueprint("pipeline_public", __name__, url_prefix="/api/v1/public/pipeline")


@blp.post("/work")
@auth_required("pipeline.write")
@blp.arguments(WorkSchema)
@blp.response(201, DoneSchema)
def work(data: dict[str, Any]) -> dict[str, Any]:
    CALLS["work"] += 1
    if data["wait"]:
        STARTED.set()
        GATE.wait(timeout=30)
    return {"text": data["text"], "run": CALLS["work"]}


@blp.post("/boom")
@auth_required()
@blp.response(201, DoneSchema)
def boom() -> dict[str, Any]:
    CALLS["boom"] += 1
    raise RuntimeError("the pipeline test route fails on purpose")


@small_blp.before_request
def _small_body_limit() -> None:
    request.max_content_length = SMALL_LIMIT


@small_blp.post("")
@auth_required()
@small_blp.arguments(WorkSchema)
@small_blp.response(201, DoneSchema)
def small(data: dict[str, Any]) -> dict[str, Any]:
    CALLS["small"] += 1
    return {"text": data["text"], "run": CALLS["small"]}


@public_blp.post("/orders")
@public_blp.arguments(WorkSchema)
@public_blp.response(201, DoneSchema)
def order(data: dict[str, Any]) -> dict[str, Any]:
    public_tenant()
    CALLS["order"] += 1
    return {"text": data["text"], "run": CALLS["order"]}


@hookimpl
def plugboard_blueprints() -> list[Blueprint]:
    return [blp, small_blp]


@hookimpl
def plugboard_public_blueprints() -> list[Blueprint]:
    return [public_blp]
