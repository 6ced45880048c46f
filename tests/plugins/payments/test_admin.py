"""``/api/v1/admin/payments``: every tenant's payments for platform admins; tenants get 403."""

from __future__ import annotations

from tests.helpers import assert_problem
from tests.plugins.payments.conftest import World, configure, enable, stripe_config

ADMIN = "/api/v1/admin/payments/payments"


def test_platform_admins_see_every_tenants_payments(world: World) -> None:
    world.order("o-1")
    mine = world.pay("o-1")
    other = world.api.register("bravo")
    enable(world.api, other, "payments", "shop")
    configure(world.api, other, stripe=stripe_config())
    from tests.testplugins import shop

    shop.add_order(other.tenant_id, "b-1", 700)
    theirs = world.api.post("/api/v1/payments", other, json={"kind": "shop.order", "ref": "b-1"}).get_json()
    admin = world.api.make_admin()
    listed = world.api.get(ADMIN, admin)
    assert listed.status_code == 200
    assert {p["id"] for p in listed.get_json()} == {mine["id"], theirs["id"]}
    assert all("client_secret" not in p for p in listed.get_json())
    only = world.api.get(f"{ADMIN}?tenant_id={other.tenant_id}", admin).get_json()
    assert [p["id"] for p in only] == [theirs["id"]]
    assert_problem(world.api.get(f"{ADMIN}?tenant_id=nope", admin), 422)


def test_tenants_staff_get_403_and_anonymous_401(world: World) -> None:
    assert_problem(world.api.get(ADMIN, world.owner), 403, "forbidden")
    assert_problem(world.api.get(ADMIN), 401)
