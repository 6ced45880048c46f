"""kernel.api.cache_public: strong ETag from the body, 304 on If-None-Match, Cache-Control."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from flask_smorest import Api, Blueprint

from kernel.api import cache_public


class GreetingSchema(ma.Schema):
    text = ma.fields.String(required=True)


def _app() -> tuple[Flask, dict[str, Any]]:
    state: dict[str, Any] = {"text": "hello", "status": 200}
    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    blp = Blueprint("greet", __name__, url_prefix="/greet")

    @blp.get("/")
    @cache_public(max_age=300, stale_while_revalidate=30)
    @blp.response(200, GreetingSchema)
    def greeting() -> Any:
        if state["status"] != 200:
            return {"text": "gone"}, state["status"]
        return {"text": state["text"]}

    @blp.get("/mine")
    @cache_public(max_age=0, shared=False)
    @blp.response(200, GreetingSchema)
    def mine() -> Any:
        return {"text": "private"}

    Api(app).register_blueprint(blp)
    return app, state


def test_answer_carries_a_strong_etag_and_cache_control() -> None:
    app, _ = _app()
    resp = app.test_client().get("/greet/")
    assert resp.status_code == 200 and resp.get_json() == {"text": "hello"}
    etag, weak = resp.get_etag()
    assert etag and not weak
    assert resp.cache_control.public and resp.cache_control.max_age == 300
    assert resp.cache_control.stale_while_revalidate == 30
    assert {"Host", "X-Tenant"} <= set(resp.vary)


def test_if_none_match_gets_304_without_body_until_the_body_changes() -> None:
    app, state = _app()
    client = app.test_client()
    first = client.get("/greet/")
    etag = first.headers["ETag"]
    again = client.get("/greet/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    state["text"] = "changed"
    changed = client.get("/greet/", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json() == {"text": "changed"}
    assert changed.headers["ETag"] != etag


def test_private_answers_and_errors() -> None:
    app, state = _app()
    client = app.test_client()
    mine = client.get("/greet/mine")
    assert mine.cache_control.private and not mine.cache_control.public
    assert mine.cache_control.max_age == 0
    state["status"] = 404
    missing = client.get("/greet/")
    assert missing.status_code == 404 and "ETag" not in missing.headers
    assert "Cache-Control" not in missing.headers


def test_negative_max_age_is_refused() -> None:
    with pytest.raises(ValueError, match="max_age"):
        cache_public(max_age=-1)
