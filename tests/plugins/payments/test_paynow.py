"""Paynow through the real ``paynow`` SDK against the fake server: web and EcoCash payments,
the result URL checked by its hash, status polled."""

from __future__ import annotations

from tests.helpers import assert_problem
from tests.plugins.payments.conftest import PAYMENTS, PAYNOW_ID, PAYNOW_KEY, World
from tests.testplugins import shop


def result(world: World, form: dict[str, str]):
    return world.api.post(f"/api/v1/webhooks/payments/paynow/{world.tenant_id}", data=form)


def test_web_payment_redirects_and_the_result_url_settles_it(world: World) -> None:
    world.order("o-1", 1050, "USD")
    payment = world.pay(provider="paynow", return_url="https://shop.example/thanks")
    assert payment["redirect_url"].startswith(world.paynow.url + "/payment/confirm/")
    sent = world.paynow.requests[-1]
    assert (sent["id"], sent["amount"], sent["reference"]) == (PAYNOW_ID, "10.5", payment["id"])
    assert sent["resulturl"].endswith(f"/api/v1/webhooks/payments/paynow/{world.tenant_id}")
    world.paynow.set_status(payment["id"], "Paid")
    form = world.paynow.result_post(payment["id"])
    outcomes = [result(world, form).get_json()["outcomes"] for _ in range(3)]
    assert outcomes == [["succeeded"], ["duplicate"], ["duplicate"]]
    assert world.payment(payment["id"])["status"] == "succeeded"
    assert len(world.events("payments.payment.succeeded")) == 1


def test_a_result_with_a_bad_hash_is_refused(world: World) -> None:
    world.order()
    payment = world.pay(provider="paynow")
    form = world.paynow.result_post(payment["id"], status="Paid", key="00000000-wrong-key")
    assert_problem(result(world, form), 400, "webhook-signature-invalid")
    forged = {**world.paynow.result_post(payment["id"], status="Sent"), "status": "Paid"}
    assert_problem(result(world, forged), 400, "webhook-signature-invalid")
    assert_problem(result(world, {"reference": payment["id"], "status": "Paid"}), 400)
    assert world.payment(payment["id"])["status"] == "pending"


def test_ecocash_mobile_payment_and_polling(world: World) -> None:
    world.order("o-1", 500, "USD")
    payment = world.pay(provider="paynow", method="ecocash", phone="0771234567", email="payer@example.com")
    sent = world.paynow.requests[-1]
    assert (sent["method"], sent["phone"], sent["authemail"]) == (
        "ecocash", "0771234567", "payer@example.com")
    assert payment["redirect_url"] is None and payment["status"] == "pending"
    world.paynow.set_status(payment["id"], "Paid")
    confirmed = world.api.post(f"{PAYMENTS}/{payment['id']}/confirm", world.owner).get_json()
    assert confirmed["status"] == "succeeded"  # polled through the SDK's poll URL


def test_mobile_without_phone_and_unknown_integration(world: World) -> None:
    world.order()
    assert_problem(world.api.post(PAYMENTS, world.owner, json={
        "kind": "shop.order", "ref": "o-1", "provider": "paynow", "method": "ecocash",
        "email": "p@example.com"}), 422, "payment-provider-error")
    world.paynow.integrations.clear()
    assert_problem(world.api.post(PAYMENTS, world.owner, json={
        "kind": "shop.order", "ref": "o-1", "provider": "paynow"}), 409, "payment-provider-error")
    assert world.api.get(PAYMENTS, world.owner).get_json() == []
    assert PAYNOW_KEY not in str(world.paynow.requests)  # the key signs, it is never sent


def test_paynow_refunds_are_refused_clearly(world: World) -> None:
    world.order()
    payment = world.pay(provider="paynow")
    world.paynow.set_status(payment["id"], "Paid")
    result(world, world.paynow.result_post(payment["id"]))
    body = assert_problem(world.api.post(f"{PAYMENTS}/{payment['id']}/refunds", world.owner, json={}), 409)
    assert "dashboard" in body["detail"]
    assert world.payment(payment["id"])["refunds"] == []
    assert shop.ORDERS[(world.tenant_id, "o-1")]["state"] in ("open", "paid")


def test_refunded_and_disputed_results_are_recorded(world: World) -> None:
    world.order("o-r", 800, "USD")
    payment = world.pay("o-r", provider="paynow")
    world.paynow.set_status(payment["id"], "Paid")
    result(world, world.paynow.result_post(payment["id"]))
    assert result(world, world.paynow.result_post(payment["id"], status="Disputed")).get_json()[
        "outcomes"] == ["dispute-opened"]
    assert result(world, world.paynow.result_post(payment["id"], status="Refunded")).get_json()[
        "outcomes"] == ["refund-succeeded"]
    detail = world.payment(payment["id"])
    assert (detail["status"], detail["amount_refunded"], len(detail["disputes"])) == ("refunded", 800, 1)
