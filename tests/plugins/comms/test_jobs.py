"""The send job claims a text once; the sweep re-sends lost jobs and fails interrupted sends."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
import sqlalchemy as sa

from kernel.data.base import utcnow
from kernel.data.session import db
from kernel.services import kernel_services
from kernel.tenancy.scope import tenant_scope
from plugins.comms import jobs
from plugins.comms.models import Message
from tests.fakes.twilio import FakeTwilio
from tests.helpers import Account, Api
from tests.plugins.comms.conftest import CUSTOMER, tenant_id, work


def stored_text(api: Api, account: Account, age: dt.timedelta,
                started: dt.timedelta | None = None) -> uuid.UUID:
    """A queued outbound text as a lost or cut-off job leaves it (no job queued for it)."""
    tid = uuid.UUID(tenant_id(api, account))
    with api.app.app_context(), tenant_scope(tid):
        message = Message(tenant_id=tid, direction="outbound", to_number=CUSTOMER, body="Lost?",
                          status="queued", created_at=utcnow() - age, updated_at=utcnow() - age,
                          send_started_at=utcnow() - started if started is not None else None)
        db.session.add(message)
        db.session.commit()
        return message.id


def text(api: Api, account: Account, message_id: uuid.UUID) -> Message:
    with api.app.app_context(), tenant_scope(uuid.UUID(tenant_id(api, account))):
        found = db.session.get(Message, message_id)
        assert found is not None
        db.session.expunge(found)
        return found


def run(api: Api, account: Account, job: str, key: str | None = None, **kwargs: str) -> None:
    with api.app.app_context():
        kernel_services(api.app).jobs.submit(job, uuid.UUID(tenant_id(api, account)), key, kwargs)
    work(api.app)


def test_the_sweep_resends_a_text_whose_job_was_lost_once(
        api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    lost = stored_text(api, owner, age=dt.timedelta(minutes=20))
    recent = stored_text(api, owner, age=dt.timedelta(minutes=1))  # its job may still be queued
    run(api, owner, "comms.sweep_stuck")
    assert [r.form["Body"] for r in fake_twilio.sends()] == ["Lost?"]
    assert text(api, owner, lost).provider_sid == fake_twilio.sends()[0].extra["sid"]
    assert text(api, owner, recent).send_started_at is None
    run(api, owner, "comms.sweep_stuck")  # again, and a stray second job for the same text
    run(api, owner, "comms.send_sms", key="stray", message_id=str(lost))
    assert len(fake_twilio.sends()) == 1


def test_a_send_cut_off_before_twilio_answered_is_failed_not_sent_again(
        api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    cut = stored_text(api, owner, age=dt.timedelta(minutes=30), started=dt.timedelta(minutes=20))
    running = stored_text(api, owner, age=dt.timedelta(minutes=30), started=dt.timedelta(minutes=2))
    run(api, owner, "comms.sweep_stuck")
    assert fake_twilio.requests == []
    failed = text(api, owner, cut)
    assert failed.status == "failed" and failed.error_message == jobs.INTERRUPTED
    assert text(api, owner, running).status == "queued"  # its job may still be at work


@pytest.mark.postgres_only
def test_two_jobs_racing_for_one_text_send_it_once(
        api: Api, owner: Account, fake_twilio: FakeTwilio) -> None:
    message_id = stored_text(api, owner, age=dt.timedelta(minutes=20))
    tid = uuid.UUID(tenant_id(api, owner))
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def worker() -> None:
        with api.app.app_context(), tenant_scope(tid):
            barrier.wait()
            outcomes.append(jobs.send_sms(str(message_id), tid))
            db.session.commit()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["nothing to do"] * 3 + ["sent"]
    assert len(fake_twilio.sends()) == 1
    with api.app.app_context(), tenant_scope(tid):
        assert db.session.scalar(sa.select(Message.provider_sid).where(Message.id == message_id))
