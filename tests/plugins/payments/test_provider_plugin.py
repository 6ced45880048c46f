"""A third-party provider plugin (``acmepay``) and a third-party payable plugin (``shop``):
paid end to end without payments knowing either."""

from __future__ import annotations

import json

from tests.helpers import assert_problem
from tests.plugins.payments.conftest import PAYMENTS, World, drain, enable
from tests.testplugins import acmepay, shop

SECRET = "acme-secret-123"


def test_a_third_party_provider_collects_a_third_party_payable(world: World) -> None:
    world.order("o-9", 999, "EUR")
    assert_problem(world.api.post(PAYMENTS, world.owner, json={
        "kind": "shop.order", "ref": "o-9", "provider": "acmepay"}), 422, "payment-provider-unknown")
    enable(world.api, world.owner, "acmepay")
    assert world.api.put("/api/v1/plugins/acmepay/config", world.owner,
                         json={"webhook_secret": SECRET}).status_code == 200
    names = {p["name"] for p in world.api.get(f"{PAYMENTS}/providers", world.owner).get_json()}
    assert "acmepay" in names
    payment = world.pay("o-9", provider="acmepay")
    assert payment["redirect_url"].startswith("https://acme.example/pay/")
    assert acmepay.BOOKED[payment["provider_ref"]]["key"] == f"plugboard-payment-{payment['id']}"
    body = json.dumps({"id": "acme_evt_1", "reference": payment["provider_ref"],
                       "status": "succeeded"}).encode()
    url = f"/api/v1/webhooks/payments/acmepay/{world.tenant_id}"
    bad = world.api.post(url, data=body, content_type="application/json",
                         headers={"X-Acme-Signature": acmepay.sign(body, "wrong")})
    assert_problem(bad, 400, "webhook-signature-invalid")
    good = world.api.post(url, data=body, content_type="application/json",
                          headers={"X-Acme-Signature": acmepay.sign(body, SECRET)})
    assert good.get_json()["outcomes"] == ["succeeded"]
    drain(world.app)
    assert shop.ORDERS[(world.tenant_id, "o-9")]["state"] == "paid"
    assert [name for name, _ in shop.HANDLED] == ["payments.payment.succeeded"]
