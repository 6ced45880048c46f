"""``plugboard demo``'s payments seed: a settled cash payment with a partial refund, once."""

from __future__ import annotations

import uuid

from tests.plugins.payments.conftest import World


def test_the_demo_seed_is_idempotent_and_readable(world: World) -> None:
    from plugins.payments import demo

    with world.app.app_context():
        demo.seed(uuid.UUID(world.tenant_id))
        demo.seed(uuid.UUID(world.tenant_id))
    listed = world.api.get("/api/v1/payments?kind=demo.order", world.owner).get_json()
    assert len(listed) == 1
    detail = world.payment(listed[0]["id"])
    assert (detail["status"], detail["amount"], detail["amount_refunded"]) == (
        "partially_refunded", 2500, 500)
    assert [r["amount"] for r in detail["refunds"]] == [500]
