"""The client's confirm and Stripe's webhook at the same moment: settled once, emitted once.

Two real HTTP requests hit a real threaded server on PostgreSQL at the same instant (a
barrier releases them together), for many payments in a row: whichever arrives second
finds the payment already settled and emits nothing.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
import requests

from tests.fakes.server import LoopbackServer
from tests.fakes.stripe import sign
from tests.plugins.payments.conftest import PAYMENTS, WEBHOOK_SECRET, World, paid_intent

ROUNDS = 12


def _post(url: str, body: bytes, headers: dict[str, str], results: list[Any],
          barrier: threading.Barrier) -> None:
    barrier.wait()
    answer = requests.post(url, data=body, timeout=30,
                           headers={"Content-Type": "application/json", **headers})
    results.append((answer.status_code, answer.json()))


@pytest.mark.postgres_only
def test_confirm_and_webhook_at_once_settle_once_and_emit_once(world: World) -> None:
    payments = [paid_intent(world, ref=f"race-{n}") for n in range(ROUNDS)]
    outcomes: Counter[str] = Counter()
    with LoopbackServer(world.app) as server:
        for payment in payments:
            body = world.intent_event(payment["provider_ref"]).encode()
            barrier, results = threading.Barrier(2), []  # type: ignore[var-annotated]
            threads = [
                threading.Thread(target=_post, args=(
                    f"{server.url}{PAYMENTS}/{payment['id']}/confirm", b"", world.owner.headers,
                    results, barrier)),
                threading.Thread(target=_post, args=(
                    f"{server.url}/api/v1/webhooks/payments/stripe/{world.tenant_id}", body,
                    {"Stripe-Signature": sign(body.decode(), WEBHOOK_SECRET)}, results, barrier)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert [status for status, _ in results] == [200, 200], results
            outcomes.update(body.get("outcomes", ["confirm"])[0] for _, body in results)
    succeeded = Counter(e["payment_id"] for e in world.events("payments.payment.succeeded"))
    assert succeeded == Counter({p["id"]: 1 for p in payments})
    assert {world.payment(p["id"])["status"] for p in payments} == {"succeeded"}
    # the webhook settled some (outcome succeeded) and found others settled (unchanged)
    assert outcomes["succeeded"] + outcomes["unchanged"] + outcomes["stale"] == ROUNDS, outcomes
