"""The request guard: 402 for a suspended tenant, open routes, no query on the hot path,
and reactivation seen at once by another process (two apps sharing Redis)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel import create_app
from kernel.services import kernel_services
from tests.helpers import Api, assert_problem
from tests.plugins.billing.conftest import ADMIN, BILLING, Billed, set_account


def test_an_admin_suspension_refuses_the_tenants_api_but_not_billing_auth_or_tenant(
        api: Api, billed: Billed) -> None:
    set_account(api, billed.admin, billed.tenant_id, status="suspended")
    assert_problem(api.get("/api/v1/customers", billed.owner), 402, "billing-suspended")
    assert_problem(api.get("/api/v1/api-keys", billed.owner), 402, "billing-suspended")
    for path in (BILLING, f"{BILLING}/invoices", "/api/v1/tenant", "/api/v1/auth/me"):
        assert api.get(path, billed.owner).status_code == 200, path
    key = {"Authorization": "Bearer " + _key(api, billed)}
    resp = api.post(f"{BILLING}/usage/events", headers=key, json={"transaction_id": "x", "metric": "m"})
    assert_problem(resp, 402, "billing-suspended")
    # the daily job leaves an admin's suspension alone
    from tests.plugins.billing.conftest import run_job

    run_job(api.app, "billing.update_status", billed.tenant_id)
    assert_problem(api.get("/api/v1/customers", billed.owner), 402, "billing-suspended")
    set_account(api, billed.admin, billed.tenant_id, status="active")
    assert api.get("/api/v1/customers", billed.owner).status_code == 200


def _key(api: Api, billed: Billed) -> str:
    set_account(api, billed.admin, billed.tenant_id, status="active")
    resp = api.post("/api/v1/api-keys", billed.owner, json={"name": "k", "role": "manager"})
    set_account(api, billed.admin, billed.tenant_id, status="suspended")
    return str(resp.get_json()["key"])


def test_a_warm_guard_reads_no_database(api: Api, billed: Billed) -> None:
    assert api.get("/api/v1/customers", billed.owner).status_code == 200  # warms the cache
    seen: list[str] = []
    engine = kernel_services(api.app).engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert api.get("/api/v1/customers", billed.owner).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert not [s for s in seen if "billing_accounts" in s]


@pytest.mark.postgres_only
def test_reactivation_reaches_another_process_at_once(api: Api, billed: Billed) -> None:
    settings = kernel_services(api.app).settings
    other = _twin(api.app, settings)
    other_api = Api(other.test_client(), other)
    set_account(api, billed.admin, billed.tenant_id, status="suspended")
    assert_problem(other_api.get("/api/v1/customers", billed.owner), 402, "billing-suspended")  # cached
    set_account(api, billed.admin, billed.tenant_id, status="active")
    import time

    deadline = time.monotonic() + 2
    while other_api.get("/api/v1/customers", billed.owner).status_code == 402:
        assert time.monotonic() < deadline, "the other process still refuses after 2 s"
        time.sleep(0.02)
    kernel_services(other).broadcast.close()
    kernel_services(other).engine.dispose()


def _twin(app: Flask, settings: Any) -> Flask:
    """A second app on the same database and Redis namespace: another process's view."""
    from plugins.billing import plugin as billing_plugin
    from tests.testplugins import collector

    config = {name: getattr(settings, name) for name in (
        "env", "data_dir", "secret_key", "database_url", "redis_url", "redis_namespace", "s3_endpoint",
        "s3_access_key", "s3_secret_key", "s3_bucket", "s3_secure", "smtp_url", "log_level")}
    config.update(extra_plugins=[billing_plugin, collector], load_builtin_plugins=False,
                  load_entry_points=False, password_time_cost=1, password_memory_cost=1024,
                  password_parallelism=1)
    return create_app(config)


def test_admin_routes_list_accounts(api: Api, billed: Billed) -> None:
    accounts = api.get(f"{ADMIN}/accounts", billed.admin).get_json()
    assert [(a["tenant_id"], a["plan"], a["status"]) for a in accounts] == [
        (str(billed.tenant_id), "growth", "active")]
    assert_problem(api.get(f"{ADMIN}/accounts/00000000-0000-0000-0000-000000000000", billed.admin), 404)
