"""PostgreSQL row-level security: the database itself keeps tenants apart, even for raw SQL."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data.base import Base, is_tenant_owned
from kernel.data.session import db
from kernel.tenancy.scope import platform_scope, tenant_scope
from tests.helpers import Account, Api

pytestmark = pytest.mark.postgres_only

SET_TENANT = sa.text("SELECT set_config('plugboard.tenant_id', :tid, true)")
COUNT_MEMBERS = sa.text("SELECT count(*) FROM memberships")


def _two(api: Api) -> tuple[Account, Account]:
    a, b = api.register("rls-a"), api.register("rls-b")
    for acct in (a, b):
        resp = api.post("/api/v1/tenant/domains", acct, json={"hostname": f"{acct.tenant_slug}.example"})
        assert resp.status_code == 201
    return a, b


def test_app_role_is_subject_to_rls(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )).one()
        assert tuple(row) == (False, False)


def test_every_tenant_owned_table_has_forced_rls(app: Flask) -> None:
    owned = {m.local_table.name for m in Base.registry.mappers if is_tenant_owned(m.class_)}
    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname "
            "AND p.policyname = 'tenant_isolation') "
            "FROM pg_class c WHERE c.relkind = 'r' AND c.relname = ANY(:names)"
        ), {"names": sorted(owned)}).all()
    assert {"memberships", "domains", "api_keys", "audit_log"} <= {r[0] for r in rows}
    unprotected = [r[0] for r in rows if not (r[1] and r[2] and r[3])]
    assert unprotected == []


def test_raw_sql_without_scope_sees_nothing(api: Api, app: Flask) -> None:
    _two(api)
    with app.app_context():
        with platform_scope():
            assert db.session.scalar(COUNT_MEMBERS) == 2  # the rows exist
        with db.engine.connect() as conn:
            assert conn.scalar(COUNT_MEMBERS) == 0
            assert conn.scalar(sa.text("SELECT count(*) FROM domains")) == 0
            assert conn.scalar(sa.text("SELECT count(*) FROM api_keys")) == 0


def test_raw_sql_with_tenant_setting_sees_only_that_tenant(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(SET_TENANT, {"tid": a.tenant_id})
        assert conn.scalar(COUNT_MEMBERS) == 1
        tenants = conn.scalars(sa.text("SELECT DISTINCT tenant_id FROM domains")).all()
        assert [str(t) for t in tenants] == [a.tenant_id]
        # updates and deletes cannot reach B's rows either
        result = conn.execute(sa.text("UPDATE domains SET hostname = hostname || '.x'"))
        assert result.rowcount == 1
        result = conn.execute(sa.text("DELETE FROM memberships WHERE tenant_id = :b"),
                              {"b": b.tenant_id})
        assert result.rowcount == 0
        conn.rollback()


def test_insert_of_other_tenants_row_is_refused(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(SET_TENANT, {"tid": a.tenant_id})
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            conn.execute(sa.text(
                "INSERT INTO domains (id, hostname, created_at, tenant_id) "
                "VALUES (:id, 'evil.example', now(), :tid)"
            ), {"id": uuid.uuid4(), "tid": b.tenant_id})
        conn.rollback()
        conn.execute(SET_TENANT, {"tid": a.tenant_id})
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            # nor may A's own row be handed over to B
            conn.execute(sa.text("UPDATE domains SET tenant_id = :b"), {"b": b.tenant_id})
        conn.rollback()
    with app.app_context(), platform_scope():
        owners = db.session.execute(sa.text("SELECT hostname, tenant_id FROM domains")).all()
        assert sorted((h, str(t)) for h, t in owners) == sorted(
            [("rls-a.example", a.tenant_id), ("rls-b.example", b.tenant_id)])


def test_setting_is_transaction_local(api: Api, app: Flask) -> None:
    a, _ = _two(api)
    with app.app_context(), db.engine.connect() as conn:
        conn.execute(SET_TENANT, {"tid": a.tenant_id})
        assert conn.scalar(COUNT_MEMBERS) == 1
        conn.commit()  # a pooled connection must not carry a tenant into its next user
        assert conn.scalar(COUNT_MEMBERS) == 0


def test_session_keeps_the_setting_across_commits(api: Api, app: Flask) -> None:
    a, _ = _two(api)
    with app.app_context(), tenant_scope(a.tenant_id):
        assert db.session.scalar(COUNT_MEMBERS) == 1
        db.session.commit()
        assert db.session.scalar(COUNT_MEMBERS) == 1  # a new transaction: the setting again
        db.session.rollback()
        assert db.session.scalar(COUNT_MEMBERS) == 1
        with platform_scope():
            assert db.session.scalar(COUNT_MEMBERS) == 2
        assert db.session.scalar(COUNT_MEMBERS) == 1


def test_platform_audit_rows_are_hidden_from_tenants(api: Api, app: Flask) -> None:
    a, _ = _two(api)
    admin = api.make_admin()
    assert api.post("/api/v1/admin/tenants", admin, json={"name": "P", "slug": "rls-p"}).status_code == 201
    with app.app_context():
        with platform_scope():
            total = db.session.scalar(sa.text("SELECT count(*) FROM audit_log"))
        with tenant_scope(a.tenant_id):
            tenants = db.session.scalars(sa.text("SELECT DISTINCT tenant_id FROM audit_log")).all()
    assert total and total > 2
    assert [str(t) for t in tenants] == [a.tenant_id]
