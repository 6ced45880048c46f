"""``kernel.api.emit`` / ``enqueue`` for plugins, and the payment cooperation hooks."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from hookspecs import PluginRefusal
from kernel.api import EventNameError, TenantScopeError, emit, tenant_hook
from kernel.data.session import db
from kernel.runtime.events import OutboxEvent
from kernel.runtime.plugin_calls import check_event_name
from kernel.tenancy.scope import tenant_scope
from tests.conftest import drain_jobs
from tests.helpers import Api
from tests.testplugins import emitter


@pytest.fixture
def world(plugin_app: Callable[..., Flask]) -> dict[str, Any]:
    app = plugin_app(emitter)
    api = Api(app.test_client(), app)
    a, b = api.register("alpha"), api.register("bravo")
    assert api.put("/api/v1/plugins/emitter/activation", a, json={"enabled": True}).status_code == 200
    emitter.SEEN.clear()
    return {"app": app, "api": api, "a": uuid.UUID(a.tenant_id), "b": uuid.UUID(b.tenant_id)}


@pytest.mark.parametrize("name", ["payments.payment.succeeded", "ticketing.ticket.checked_in",
                                  "billing.invoice.paid", "comms.sms.sent", "crm.quote.accepted"])
def test_well_formed_names(name: str) -> None:
    check_event_name(name, name.split(".")[0])


@pytest.mark.parametrize("name, plugin, says", [
    ("payment.succeeded", "payments", "must be"),
    ("Payments.Payment.Succeeded", "payments", "must be"),
    ("billing.invoice.paid", "payments", "own namespace"),
    ("payments.payment.succeed", "payments", "past-tense"),
    ("payments.payment.create", "payments", "past-tense"),
])
def test_malformed_names_are_refused(name: str, plugin: str, says: str) -> None:
    with pytest.raises(EventNameError, match=says):
        check_event_name(name, plugin)


def test_emit_records_for_the_tenant_in_scope_and_delivers(world: dict[str, Any]) -> None:
    app = world["app"]
    with app.app_context(), tenant_scope(world["a"]):
        event_id = emitter.announce("emitter.thing.happened", {"n": 1})
        db.session.commit()
    drain_jobs(app)
    with app.app_context(), tenant_scope(world["a"]):
        row = db.session.get(OutboxEvent, event_id)
        assert row is not None and row.tenant_id == world["a"]
    assert ("event", (world["a"], {"n": 1})) in emitter.SEEN


def test_emit_checks_the_callers_namespace_and_scope(world: dict[str, Any]) -> None:
    app = world["app"]
    with app.app_context(), tenant_scope(world["a"]):
        with pytest.raises(EventNameError, match="own namespace"):
            emitter.announce("payments.payment.succeeded", {})
        with pytest.raises(RuntimeError, match="no loaded plugin"):
            emit("emitter.thing.happened", {})  # this test module is not a plugin
        db.session.rollback()
    with app.app_context(), pytest.raises(TenantScopeError):
        emitter.announce("emitter.thing.happened", {})
    with app.app_context(), tenant_scope(world["a"]):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 0


def test_enqueue_runs_the_job_for_the_tenant_after_commit(world: dict[str, Any]) -> None:
    app = world["app"]
    with app.app_context(), tenant_scope(world["a"]):
        db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent))  # a transaction
        emitter.later("first")
        assert emitter.SEEN == []  # not before the commit
        db.session.commit()
    drain_jobs(app)
    assert ("job", (world["a"], "first")) in emitter.SEEN
    with app.app_context(), tenant_scope(world["a"]):
        db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent))
        emitter.later("rolled back")
        db.session.rollback()
    drain_jobs(app)
    assert all(label != "rolled back" for kind, (_t, label) in
               [s for s in emitter.SEEN if s[0] == "job"])


def _ask(world: dict[str, Any], tenant: uuid.UUID, hook: str, **kwargs: Any) -> Any:
    with world["app"].app_context(), tenant_scope(tenant):
        return tenant_hook(hook)(tenant_id=tenant, **kwargs)


def test_hook_plugboard_start_payment(world: dict[str, Any]) -> None:
    answer = _ask(world, world["a"], "plugboard_start_payment", kind="emitter.bill", ref="7",
                  provider=None, return_url=None)
    assert answer == {"payment_id": "pay-7", "status": "pending", "amount": 500,
                      "currency": "USD", "provider": "manual"}
    assert _ask(world, world["a"], "plugboard_start_payment", kind="other.thing", ref="7",
                provider=None, return_url=None) is None
    # a tenant without a collecting plugin gets no answer (the caller degrades clearly)
    assert _ask(world, world["b"], "plugboard_start_payment", kind="emitter.bill", ref="7",
                provider=None, return_url=None) is None
    with pytest.raises(PluginRefusal):
        _ask(world, world["a"], "plugboard_start_payment", kind="emitter.bill", ref="paid",
             provider="stripe", return_url=None)


def test_hook_plugboard_refund_payment(world: dict[str, Any]) -> None:
    answer = _ask(world, world["a"], "plugboard_refund_payment", payment_id="pay-7", amount=200,
                  reason="cancelled")
    assert answer["refund_id"] == "ref-pay-7" and answer["amount"] == 200
    assert _ask(world, world["a"], "plugboard_refund_payment", payment_id="other", amount=None,
                reason=None) is None
    assert _ask(world, world["b"], "plugboard_refund_payment", payment_id="pay-7", amount=None,
                reason=None) is None


def test_hook_plugboard_payment_link(world: dict[str, Any]) -> None:
    answer = _ask(world, world["a"], "plugboard_payment_link", kind="emitter.bill", ref="9",
                  expires_at=None)
    assert answer["url"] == "https://pay.example/9"
    assert _ask(world, world["b"], "plugboard_payment_link", kind="emitter.bill", ref="9",
                expires_at=None) is None
