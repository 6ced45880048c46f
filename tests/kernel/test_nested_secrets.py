"""Secrets at any depth of a plugin's config schema: encrypted at rest, masked in answers,
round-trippable (a masked value PUT back keeps the stored secret)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from hookspecs import PluginInfo
from kernel.services import kernel_services
from tests.helpers import Api, assert_problem
from tests.testplugins import others

SECRET = {"type": "string", "minLength": 4, "writeOnly": True}
SCHEMA = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "token": SECRET,
        "stripe": {"type": "object", "additionalProperties": False, "required": ["secret_key"],
                   "properties": {"secret_key": SECRET, "publishable_key": {"type": "string"},
                                  "hooks": {"type": "object", "properties": {"signing": SECRET}}}},
        "name": {"type": "string"},
    },
}
NESTED = others.make("nested", config_schema=SCHEMA)
URL = "/api/v1/plugins/nested/config"


def test_secret_paths_walks_nested_properties() -> None:
    info = PluginInfo(name="nested", version="1.0.0", config_schema=SCHEMA)
    assert info.secret_paths() == (("stripe", "hooks", "signing"), ("stripe", "secret_key"), ("token",))
    assert info.secret_fields() == ("token",)  # top-level names, as in contract 1.0


@pytest.fixture
def setup(plugin_app: Callable[..., Flask]) -> tuple[Flask, Api, object]:
    app = plugin_app(NESTED)
    api = Api(app.test_client(), app)
    return app, api, api.register("alpha")


def stored(app: Flask) -> str:
    """The config row as stored (through the platform scope: RLS hides it otherwise)."""
    from kernel.data.session import db
    from kernel.registry.activation import PluginActivation
    from kernel.tenancy.scope import platform_scope

    with app.app_context(), platform_scope():
        row = db.session.scalars(sa.select(PluginActivation).where(PluginActivation.plugin == "nested")).one()
        return json.dumps(row.config)


def test_nested_secrets_are_sealed_masked_and_kept_when_sent_back_masked(setup) -> None:  # type: ignore[no-untyped-def]
    app, api, a = setup
    config = {"token": "tok-1", "name": "n",
              "stripe": {"secret_key": "sk_test_123", "publishable_key": "pk_1",
                         "hooks": {"signing": "whsec_1"}}}
    resp = api.put(URL, a, json=config)
    assert resp.status_code == 200, resp.get_json()
    masked = {"token": "********", "name": "n",
              "stripe": {"secret_key": "********", "publishable_key": "pk_1",
                         "hooks": {"signing": "********"}}}
    assert resp.get_json() == masked
    assert api.get(URL, a).get_json() == masked
    assert api.get("/api/v1/plugins/nested", a).get_json()["config"] == masked
    raw = stored(app)
    for secret in ("tok-1", "sk_test_123", "whsec_1"):
        assert secret not in raw
    assert raw.count("$sealed") == 3 and "pk_1" in raw
    # the masked answer PUT back unchanged keeps every secret; a new one replaces its own
    changed = json.loads(json.dumps(masked))
    changed["stripe"]["hooks"]["signing"] = "whsec_2"
    assert api.put(URL, a, json=changed).status_code == 200
    with app.app_context():
        plain = kernel_services(app).activations.config_of(uuid.UUID(a.tenant_id), "nested")
    assert plain == {**config, "stripe": {**config["stripe"], "hooks": {"signing": "whsec_2"}}}


def test_a_mask_for_a_secret_never_set_is_not_a_value(setup) -> None:  # type: ignore[no-untyped-def]
    app, api, a = setup
    resp = api.put(URL, a, json={"stripe": {"secret_key": "********"}})
    assert resp.status_code == 200  # accepted as typed: there was nothing stored to keep
    with app.app_context():
        plain = kernel_services(app).activations.config_of(uuid.UUID(a.tenant_id), "nested")
    assert plain == {"stripe": {"secret_key": "********"}}
    body = assert_problem(api.put(URL, a, json={"stripe": {"secret_key": "abc"}}), 422)
    assert body["errors"][0]["pointer"] == "/stripe/secret_key"
