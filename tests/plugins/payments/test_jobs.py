"""Reconciliation: a payment whose webhook never came is read from the provider and settled;
one left unpaid too long expires. Runs every 15 minutes through the kernel's cron."""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa

from kernel.services import kernel_services
from tests.plugins.payments.conftest import World, paid_intent


def age(world: World, payment_id: str, minutes: int) -> None:
    from kernel.data.session import db
    from kernel.tenancy.scope import tenant_scope
    from plugins.payments.models import Payment

    with world.app.app_context(), tenant_scope(uuid.UUID(world.tenant_id)):
        db.session.execute(sa.update(Payment).where(Payment.id == uuid.UUID(payment_id)).values(
            created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)))
        db.session.commit()


def reconcile(world: World) -> str:
    from kernel.runtime.jobs import execute

    with world.app.app_context():
        return execute("payments.reconcile", world.tenant_id, {}, key=f"test-{uuid.uuid4()}")


def test_the_job_is_on_a_15_minute_cron(world: World) -> None:
    plugin, spec = kernel_services(world.app).job_specs["payments.reconcile"]
    assert (plugin, spec.cron) == ("payments", "*/15 * * * *")


def test_reconciliation_settles_a_payment_whose_webhook_never_came(world: World) -> None:
    payment = paid_intent(world)
    fresh = paid_intent(world, "o-2")
    age(world, payment["id"], 30)
    assert reconcile(world) == "succeeded"
    assert world.payment(payment["id"])["status"] == "succeeded"
    assert world.payment(fresh["id"])["status"] == "pending"  # within the grace period
    assert len(world.events("payments.payment.succeeded")) == 1
    # the late webhook then changes nothing
    assert world.stripe_webhook(world.intent_event(payment["provider_ref"])).get_json()["outcomes"] == [
        "unchanged"]
    reconcile(world)
    assert len(world.events("payments.payment.succeeded")) == 1


def test_reconciliation_expires_what_stayed_unpaid(world: World) -> None:
    world.order("o-1")
    payment = world.pay("o-1")
    age(world, payment["id"], 60 * 25)  # beyond the default 24 hours
    reconcile(world)
    assert world.payment(payment["id"])["status"] == "expired"
    failed = world.events("payments.payment.failed")
    assert len(failed) == 1 and failed[0]["status"] == "expired"
    # the payer paid after all: the provider's word wins
    world.stripe.succeed(payment["provider_ref"])
    world.stripe_webhook(world.intent_event(payment["provider_ref"]))
    assert world.payment(payment["id"])["status"] == "succeeded"
