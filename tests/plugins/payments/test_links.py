"""Payment links: unguessable token, expiry, what is due, paying without an account."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from tests.helpers import assert_problem
from tests.plugins.payments.conftest import PAYMENTS, World, drain

LINKS = f"{PAYMENTS}/links"
PUBLIC = "/api/v1/public/payments/links"


def make_link(world: World, ref: str = "o-1", **body: object) -> dict:
    resp = world.api.post(LINKS, world.owner, json={"kind": "shop.order", "ref": ref, **body})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()  # type: ignore[no-any-return]


def public(world: World, method: str, token: str, **kw: object):
    return world.api.call(method, f"{PUBLIC}/{token}", headers={"X-Tenant": "acme"}, **kw)


def test_a_link_says_what_is_due_and_can_be_paid_without_an_account(world: World) -> None:
    world.order("o-1", 3100, "USD")
    link = make_link(world)
    assert len(link["token"]) >= 43 and link["url"].endswith(f"/pay/{link['token']}")
    due = public(world, "GET", link["token"]).get_json()
    assert (due["amount"], due["currency"], due["payment"]) == (3100, "USD", None)
    assert {p["name"] for p in due["providers"]} == {"stripe", "paynow"}
    resp = public(world, "POST", link["token"], json={"provider": "stripe"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["client_secret"] and resp.get_json()["amount"] == 3100
    intent_id = next(iter(world.stripe.intents))
    world.stripe.succeed(intent_id)
    world.stripe_webhook(world.intent_event(intent_id))
    drain(world.app)  # shop marks its order paid on payments.payment.succeeded
    body = assert_problem(public(world, "GET", link["token"]), 409, "payable-refused")
    assert body["reason"] == "paid"
    listed = world.api.get(LINKS, world.owner).get_json()
    assert [item["token_prefix"] for item in listed] == [link["token"][:8]]
    assert "token" not in listed[0]


def test_unknown_expired_and_other_tenants_links(world: World) -> None:
    world.order()
    link = make_link(world, expires_at=(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat())
    assert_problem(public(world, "GET", "x" * 43), 404, "payment-link-not-found")
    assert_problem(public(world, "GET", "short"), 404)
    other = world.api.register("bravo")
    world.api.put("/api/v1/plugins/payments/activation", other, json={"enabled": True})
    resp = world.api.get(f"{PUBLIC}/{link['token']}", headers={"X-Tenant": "bravo"})
    assert_problem(resp, 404, "payment-link-not-found")
    time.sleep(1.1)
    assert_problem(public(world, "GET", link["token"]), 410, "payment-link-expired")
    assert_problem(public(world, "POST", link["token"], json={}), 410)


@pytest.mark.parametrize("body", [
    {"kind": "shop.order"}, {"kind": "shop.order", "ref": "o-1", "expires_at": "yesterday"},
    {"kind": "shop.order", "ref": "o-1", "expires_at": "2001-01-01T00:00:00Z"},
    {"kind": "shop.order", "ref": "o-1", "expires_at": "2999-01-01T00:00:00Z"},
    {"kind": "shop.order", "ref": "o-1", "expires_at": "2030-01-01T00:00:00"},
    {"kind": "shop.order", "ref": "o-1", "amount": 5},
])
def test_bad_link_bodies_store_nothing(world: World, body: dict) -> None:
    world.order()
    resp = world.api.post(LINKS, world.owner, json=body)
    assert 400 <= resp.status_code < 500 and resp.mimetype == "application/problem+json"
    assert world.api.get(LINKS, world.owner).get_json() == []


def test_a_link_to_something_not_payable_is_refused(world: World) -> None:
    world.order("o-p", state="paid")
    assert_problem(world.api.post(LINKS, world.owner, json={"kind": "shop.order", "ref": "o-p"}), 409)
    assert_problem(world.api.post(LINKS, world.owner, json={"kind": "shop.order", "ref": "none"}), 404)


def test_bad_public_pay_bodies(world: World) -> None:
    world.order()
    link = make_link(world)
    for body in ({"provider": "stripe", "amount": 1}, {"return_url": "ftp://x"}, {"method": "card"}):
        assert_problem(public(world, "POST", link["token"], json=body), 422)
    assert world.stripe.intents == {}
