"""``plugboard demo``: the comms log has something to show, seeded once."""

from __future__ import annotations

from flask import Flask

from kernel.tenancy.demo import seed_demo
from tests.helpers import Api
from tests.plugins.comms.conftest import COMMS


def test_demo_seeds_templates_messages_and_a_call_once(app: Flask, api: Api) -> None:
    for _ in range(2):  # `make run` seeds on every start
        with app.app_context():
            seed_demo("demo@example.com", "demo password 123")
    tokens = api.login("demo@example.com", "demo password 123")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (
        api.put("/api/v1/plugins/comms/activation", headers=headers, json={"enabled": True}).status_code
        == 200
    )
    assert len(api.get(f"{COMMS}/templates", headers=headers).get_json()) == 2
    messages = api.get(f"{COMMS}/messages", headers=headers).get_json()
    assert sorted(m["status"] for m in messages) == ["delivered", "received", "sent"]
    [call] = api.get(f"{COMMS}/calls", headers=headers).get_json()
    assert call["cost"] == {"amount": 7, "currency": "USD", "exact": "0.0731"} and call["summary"]
    assert [o["keyword"] for o in api.get(f"{COMMS}/opt-outs", headers=headers).get_json()] == ["STOP"]
