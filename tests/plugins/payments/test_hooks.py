"""The payments contract hooks: ``plugboard_payment_providers`` and the 1.1 answers of
``plugboard_resolve_payable`` (plus the 1.0 mapping answer, still accepted)."""

from __future__ import annotations

import types
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask

from hookspecs import PaymentProvider, PluginInfo, hookimpl
from kernel.services import kernel_services
from plugins.payments import plugin as payments_plugin
from tests.helpers import Api
from tests.plugins.payments.conftest import PAYMENTS, World, configure, enable, stripe_config
from tests.testplugins import acmepay


def test_hook_plugboard_payment_providers(world: World) -> None:
    app = world.app
    registry = kernel_services(app).registry
    with app.app_context():
        found = [p for group in registry.hook_for(frozenset({"payments", "acmepay"}),
                                                  "plugboard_payment_providers")() for p in group]
        only_payments = [p for group in registry.hook_for(frozenset({"payments"}),
                                                          "plugboard_payment_providers")() for p in group]
    assert {p.name for p in found} == {"stripe", "paynow", "manual", "acmepay"}
    assert all(isinstance(p, PaymentProvider) for p in found)  # the protocol, checked at runtime
    assert "acmepay" not in {p.name for p in only_payments}
    assert isinstance(acmepay.AcmePay(), PaymentProvider)


LEGACY = types.ModuleType("testplugin_legacy")
LEGACY.plugin_info = PluginInfo(name="legacy", version="1.0.0")  # type: ignore[attr-defined]


@hookimpl
def _legacy_resolve(kind: str, ref: str) -> dict[str, Any] | None:
    if kind != "legacy.bill":
        return None
    return {"amount": 1234, "currency": "GBP", "description": f"legacy {ref}"}


LEGACY.plugboard_resolve_payable = _legacy_resolve  # type: ignore[attr-defined]


def test_a_contract_1_0_payable_answer_is_still_understood(plugin_app: Callable[..., Flask],
                                                           fake_stripe: Any) -> None:
    app = plugin_app(payments_plugin, LEGACY)
    api = Api(app.test_client(), app)
    owner = api.register("legacy")
    enable(api, owner, "payments", "legacy")
    configure(api, owner, stripe=stripe_config())
    resp = api.post(PAYMENTS, owner, json={"kind": "legacy.bill", "ref": "7"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["amount"], body["currency"], body["description"], body["account"]) == (
        1234, "GBP", "legacy 7", "tenant")
    assert uuid.UUID(body["id"])
