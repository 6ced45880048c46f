"""Usage events: API keys, batches, idempotency by transaction_id, the time window, summaries."""

from __future__ import annotations

import datetime as dt

import time_machine

from kernel.api import utcnow
from tests.helpers import Api, assert_problem, assert_rejected, row_counts
from tests.plugins.billing.conftest import ADMIN, BILLING, Billed

EVENTS = f"{BILLING}/usage/events"


def test_one_event_with_an_api_key(api: Api, billed: Billed) -> None:
    key = billed.key(api)
    resp = api.post(EVENTS, headers=key, json={"transaction_id": "t-1", "metric": "api_calls"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"accepted": 1, "duplicates": 0}


def test_a_repeated_transaction_id_is_accepted_and_not_counted_twice(api: Api, billed: Billed) -> None:
    key = billed.key(api)
    batch = [{"transaction_id": f"t-{n}", "metric": "api_calls", "properties": {"n": n}} for n in range(10)]
    assert api.post(EVENTS, headers=key, json={"events": batch}).get_json() == {
        "accepted": 10, "duplicates": 0}
    again = [*batch[5:], {"transaction_id": "t-10", "metric": "api_calls"},
             {"transaction_id": "t-10", "metric": "api_calls"}]
    assert api.post(EVENTS, headers=key, json={"events": again}).get_json() == {
        "accepted": 7, "duplicates": 6}
    summary = api.get(f"{BILLING}/usage/summary", billed.owner).get_json()
    assert summary["metrics"]["api_calls"]["events"] == 11
    assert summary["metrics"]["api_calls"]["quantity"] == "11"


def test_timestamps_outside_the_window_are_refused_and_nothing_is_stored(api: Api, billed: Billed) -> None:
    key = billed.key(api)
    now = utcnow()
    ok = {"transaction_id": "ok", "metric": "api_calls", "timestamp": now.isoformat()}
    future = {"transaction_id": "f", "metric": "api_calls",
              "timestamp": (now + dt.timedelta(hours=1)).isoformat()}
    old = {"transaction_id": "o", "metric": "api_calls",
           "timestamp": (now - dt.timedelta(days=40)).isoformat()}
    before = row_counts(api.app)
    resp = api.post(EVENTS, headers=key, json={"events": [ok, future, old]})
    problem = assert_problem(resp, 422, "validation-error")
    assert [e["pointer"] for e in problem["errors"]] == ["/events/1/timestamp", "/events/2/timestamp"]
    assert row_counts(api.app) == before


def test_bad_events_name_the_field(api: Api, billed: Billed) -> None:
    key = billed.key(api)
    api_key_account = None
    resp = api.post(EVENTS, api_key_account, headers=key, json={"events": [{"metric": "x"}]})
    problem = assert_problem(resp, 422, "validation-error")
    assert "/events/0/transaction_id" in [e["pointer"] for e in problem["errors"]]
    too_many = [{"transaction_id": str(n), "metric": "x"} for n in range(1001)]
    assert_rejected(api, "POST", EVENTS, billed.owner, {"events": too_many}, "/events")


def test_analysts_cannot_send_usage(api: Api, billed: Billed) -> None:
    key = billed.key(api, role="analyst")
    assert_problem(api.post(EVENTS, headers=key, json={"transaction_id": "a", "metric": "m"}), 403)


def test_usage_of_an_invoiced_period_is_refused(api: Api, admin) -> None:
    from tests.plugins.billing.conftest import billed_tenant, create_plan, relogin, run_job

    with time_machine.travel(dt.datetime(2026, 10, 15, tzinfo=dt.UTC), tick=False):
        admin = relogin(api, admin)
        create_plan(api, admin)
        tenant = billed_tenant(api, admin, "acme")
        key = tenant.key(api)
    with time_machine.travel(dt.datetime(2026, 11, 1, 0, 0, 5, tzinfo=dt.UTC), tick=False):
        assert run_job(api.app, "billing.generate_invoices", tenant.tenant_id) == "succeeded"
    with time_machine.travel(dt.datetime(2026, 11, 2, tzinfo=dt.UTC), tick=False):
        late = {"transaction_id": "late", "metric": "api_calls", "timestamp": "2026-10-31T23:59:59Z"}
        problem = assert_problem(api.post(EVENTS, headers=key, json=late), 422, "validation-error")
        assert problem["errors"][0]["pointer"] == "/timestamp"
        assert "2026-10 is already invoiced" in problem["errors"][0]["message"]
        on_time = {**late, "timestamp": "2026-11-01T00:00:00Z"}
        assert api.post(EVENTS, headers=key, json=on_time).status_code == 200


def test_admin_usage_report_across_tenants(api: Api, billed: Billed) -> None:
    from tests.plugins.billing.conftest import billed_tenant

    other = billed_tenant(api, billed.admin, "globex")
    for tenant, count in ((billed, 3), (other, 2)):
        events = [{"transaction_id": f"x{n}", "metric": "api_calls"} for n in range(count)]
        assert api.post(EVENTS, headers=tenant.key(api), json={"events": events}).status_code == 200
    report = api.get(f"{ADMIN}/usage", billed.admin).get_json()
    assert sorted((r["tenant_id"], r["events"]) for r in report) == sorted(
        [(str(billed.tenant_id), 3), (str(other.tenant_id), 2)])
    only = api.get(f"{ADMIN}/usage", billed.admin, query_string={"tenant": str(other.tenant_id)})
    assert [r["events"] for r in only.get_json()] == [2]
