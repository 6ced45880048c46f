"""The ORM tenant scope: tenant-owned models are filtered by tenant, and refuse to run outside one."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from kernel.data import scoping
from kernel.data.models import ApiKey, Domain, Membership, Tenant, User
from kernel.data.session import db
from kernel.tenancy.scope import TenantScopeError, current_tenant_id, platform_scope, tenant_scope
from tests.helpers import Account, Api


def _two(api: Api) -> tuple[Account, Account]:
    a, b = api.register("scope-a"), api.register("scope-b")
    for acct in (a, b):
        assert api.post("/api/v1/tenant/domains", acct,
                        json={"hostname": f"shop.{acct.tenant_slug}.example"}).status_code == 201
    return a, b


def test_query_outside_scope_raises(api: Api, app: Flask) -> None:
    _two(api)
    with app.app_context():
        for model in (Membership, Domain, ApiKey):
            with pytest.raises(TenantScopeError, match=model.__name__):
                db.session.scalars(sa.select(model)).all()
        with pytest.raises(TenantScopeError):
            db.session.execute(sa.update(Domain).values(hostname="x.example"))
        with pytest.raises(TenantScopeError):
            db.session.execute(sa.delete(Membership))
        with pytest.raises(TenantScopeError):
            current_tenant_id()
        # a tenant-owned table anywhere in the statement counts, not only the selected entity
        with pytest.raises(TenantScopeError, match="Membership"):
            db.session.execute(sa.select(User.email).join(Membership, Membership.user_id == User.id))
        with pytest.raises(TenantScopeError, match="Membership"):
            db.session.scalar(sa.select(sa.func.count()).select_from(Membership))
        with pytest.raises(TenantScopeError, match="ApiKey"):
            db.session.execute(sa.select(User).where(User.id.in_(sa.select(ApiKey.created_by))))
        # kernel tables that are not tenant-owned need no scope
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 2


def test_session_get_outside_scope_raises_even_when_cached(api: Api, app: Flask) -> None:
    _two(api)
    with app.app_context():
        with platform_scope():
            member = db.session.scalars(sa.select(Membership)).first()
            assert member is not None
        with pytest.raises(TenantScopeError):
            db.session.get(Membership, member.id)  # in the identity map: must still be refused


def test_tenant_scope_sees_only_its_rows(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context():
        with platform_scope():
            b_member = db.session.scalars(
                sa.select(Membership).where(Membership.tenant_id == uuid.UUID(b.tenant_id))
            ).one()
            assert len(db.session.scalars(sa.select(Domain)).all()) == 2
        with tenant_scope(a.tenant_id):
            members = db.session.scalars(sa.select(Membership)).all()
            assert [str(m.tenant_id) for m in members] == [a.tenant_id]
            domains = db.session.scalars(sa.select(Domain)).all()
            assert [d.hostname for d in domains] == ["shop.scope-a.example"]
            # B's row is in this session's identity map, yet A's scope must not get it
            assert db.session.get(Membership, b_member.id) is None
            # an explicit filter on B's id finds nothing either
            found = db.session.scalars(
                sa.select(Domain).where(Domain.tenant_id == uuid.UUID(b.tenant_id))
            ).all()
            assert found == []
            # joins and subqueries are filtered too
            joined = db.session.execute(
                sa.select(User.email).join(Membership, Membership.user_id == User.id)
            ).scalars().all()
            assert joined == [a.email]
            count = db.session.scalar(sa.select(sa.func.count()).select_from(Membership))
            assert count == 1


def test_session_get_of_other_tenant_in_fresh_session(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context(), platform_scope():
        b_domain = db.session.scalars(
            sa.select(Domain).where(Domain.tenant_id == uuid.UUID(b.tenant_id))
        ).one()
        b_id = b_domain.id
    with app.app_context(), tenant_scope(a.tenant_id):
        assert db.session.get(Domain, b_id) is None
    with app.app_context(), tenant_scope(b.tenant_id):
        assert db.session.get(Domain, b_id) is not None


def test_bulk_update_and_delete_stay_in_scope(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context():
        with tenant_scope(a.tenant_id):
            updated = db.session.execute(sa.update(Membership).values(role="analyst"))
            assert updated.rowcount == 1
            deleted = db.session.execute(sa.delete(Domain))
            assert deleted.rowcount == 1
            db.session.commit()
        with platform_scope():
            roles = dict(db.session.execute(sa.select(Membership.tenant_id, Membership.role)).all())
            assert roles == {uuid.UUID(a.tenant_id): "analyst", uuid.UUID(b.tenant_id): "owner"}
            hostnames = db.session.scalars(sa.select(Domain.hostname)).all()
            assert hostnames == ["shop.scope-b.example"]


def test_bulk_update_by_primary_key_and_explicit_parameters_stay_in_scope(
        api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context():
        with platform_scope():
            ids = dict(db.session.execute(sa.select(Domain.tenant_id, Domain.id)).all())
        a_id, b_id = ids[uuid.UUID(a.tenant_id)], ids[uuid.UUID(b.tenant_id)]
        with tenant_scope(a.tenant_id):
            # B's primary key, given as the statement's own parameters: not A's to change
            rows = [{"id": b_id, "hostname": "taken.example"}]
            with pytest.raises(TenantScopeError, match="synchronize_session"):
                db.session.execute(sa.update(Domain), rows)
            with pytest.raises(TenantScopeError, match="moving Domain rows"):
                db.session.execute(sa.update(Domain), [{"id": a_id, "tenant_id": b.tenant_id}],
                                   execution_options={"synchronize_session": False})
            unsynchronized = {"synchronize_session": None}
            # the tenant's WHERE matches nothing (checked below, after the commit)
            db.session.execute(sa.update(Domain), rows, execution_options=unsynchronized)
            db.session.execute(sa.update(Domain), [{"id": a_id, "hostname": "mine.example"}],
                               execution_options=unsynchronized)
            by_param = sa.select(Domain).where(Domain.id == sa.bindparam("wanted"))
            assert db.session.scalars(by_param, {"wanted": b_id}).all() == []
            assert [d.id for d in db.session.scalars(by_param, {"wanted": a_id})] == [a_id]
            db.session.commit()
        with platform_scope():
            assert db.session.get(Domain, b_id).hostname == "shop.scope-b.example"
            assert db.session.get(Domain, a_id).hostname == "mine.example"


def test_bulk_update_and_delete_synchronise_the_sessions_objects_in_a_tenant_scope(
        api: Api, app: Flask) -> None:
    a, _ = _two(api)
    with app.app_context(), tenant_scope(a.tenant_id):
        domain = db.session.scalars(sa.select(Domain)).one()
        # "auto"/"evaluate": the WHERE, tenant criterion included, is evaluated in Python
        db.session.execute(sa.update(Domain).where(Domain.hostname == domain.hostname)
                           .values(hostname="renamed.example"))
        assert domain.hostname == "renamed.example"
        db.session.execute(sa.delete(Domain).where(Domain.hostname == "renamed.example"))
        assert sa.inspect(domain).deleted
        db.session.rollback()


def test_a_statement_given_another_tenant_for_the_scope_parameter_still_stays_in_scope(
        api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context(), tenant_scope(a.tenant_id):
        # a caller cannot pick the tenant by passing the criterion's parameter itself
        rows = db.session.scalars(sa.select(Domain),
                                  {scoping.TENANT_PARAMETER: uuid.UUID(b.tenant_id)}).all()
        assert [str(d.tenant_id) for d in rows] == [a.tenant_id]


def test_flush_of_other_tenants_row_raises(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context(), tenant_scope(a.tenant_id):
        db.session.add(Domain(hostname="sneaky.example", tenant_id=uuid.UUID(b.tenant_id)))
        with pytest.raises(TenantScopeError, match="belongs to tenant"):
            db.session.flush()
        db.session.rollback()
        # a new row without tenant_id gets the scope's
        domain = Domain(hostname="own.example")
        db.session.add(domain)
        db.session.commit()
        assert str(domain.tenant_id) == a.tenant_id


def test_moving_a_row_between_tenants_raises(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context():
        with platform_scope():
            b_domain = db.session.scalars(
                sa.select(Domain).where(Domain.tenant_id == uuid.UUID(b.tenant_id))
            ).one()
            b_id = b_domain.id
        with tenant_scope(a.tenant_id):
            b_domain.tenant_id = uuid.UUID(a.tenant_id)  # steal B's row into A
            with pytest.raises(TenantScopeError):
                db.session.flush()
            db.session.rollback()
    with app.app_context(), platform_scope():
        owner = db.session.scalar(sa.select(Domain.tenant_id).where(Domain.id == b_id))
        assert str(owner) == b.tenant_id


def test_bulk_insert_of_other_tenants_row_raises(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context(), tenant_scope(a.tenant_id):
        with pytest.raises(TenantScopeError):
            db.session.execute(sa.insert(Domain).values(
                id=uuid.uuid4(), hostname="bulk.example", tenant_id=uuid.UUID(b.tenant_id),
                created_at=sa.func.now()))
        db.session.rollback()
        with pytest.raises(TenantScopeError):
            db.session.execute(sa.insert(Domain), [
                {"hostname": "bulk2.example", "tenant_id": uuid.UUID(b.tenant_id)}])
        db.session.rollback()
    with app.app_context(), platform_scope():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Domain)) == 2


def test_flush_outside_scope_raises(api: Api, app: Flask) -> None:
    a, _ = _two(api)
    with app.app_context():
        db.session.add(Domain(hostname="loose.example", tenant_id=uuid.UUID(a.tenant_id)))
        with pytest.raises(TenantScopeError):
            db.session.flush()
        db.session.rollback()
    with app.app_context(), platform_scope():
        db.session.add(Domain(hostname="nobody.example"))
        with pytest.raises(TenantScopeError, match="tenant_id"):
            db.session.flush()  # the platform scope cannot pick a tenant for the row


def test_scopes_nest_and_restore(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context(), tenant_scope(a.tenant_id):
        with tenant_scope(b.tenant_id):
            assert db.session.scalars(sa.select(Domain.hostname)).all() == ["shop.scope-b.example"]
        assert db.session.scalars(sa.select(Domain.hostname)).all() == ["shop.scope-a.example"]
        with platform_scope():
            assert len(db.session.scalars(sa.select(Domain.hostname)).all()) == 2
        assert current_tenant_id() == uuid.UUID(a.tenant_id)


def _domains() -> sa.Select[tuple[str]]:
    """A new statement object of the same shape (the same SQLAlchemy cache key) each call."""
    return sa.select(Domain.hostname).order_by(Domain.hostname)


def test_cached_scope_decisions_never_cross_scopes(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context():
        # outside a scope first: the decision for this shape is computed and kept
        with pytest.raises(TenantScopeError, match="Domain"):
            db.session.scalars(_domains()).all()
        assert _domains()._generate_cache_key().key in scoping._TOUCHED
        # the same shape in A's scope, then in B's: each sees only its own rows, though the
        # statement compiles once and the criterion of each tenant is reused
        for _ in range(2):
            with tenant_scope(a.tenant_id):
                assert db.session.scalars(_domains()).all() == ["shop.scope-a.example"]
            with tenant_scope(b.tenant_id):
                assert db.session.scalars(_domains()).all() == ["shop.scope-b.example"]
        with platform_scope():
            assert db.session.scalars(_domains()).all() == ["shop.scope-a.example",
                                                           "shop.scope-b.example"]
        # and after all of those, the same shape outside a scope still raises, from the cache
        with pytest.raises(TenantScopeError, match="Domain"):
            db.session.scalars(_domains()).all()
        with pytest.raises(TenantScopeError, match="Domain"):
            db.session.scalar(sa.select(sa.func.count()).select_from(Domain))


def test_cached_insert_decision_still_checks_the_tenant(api: Api, app: Flask) -> None:
    a, b = _two(api)
    with app.app_context():
        with tenant_scope(a.tenant_id):  # A writes its own row: allowed, and the shape cached
            db.session.execute(sa.insert(Domain), [
                {"hostname": "bulk-a.example", "tenant_id": uuid.UUID(a.tenant_id)}])
            db.session.commit()
        with tenant_scope(b.tenant_id):  # the same shape, A's tenant, in B's scope: refused
            with pytest.raises(TenantScopeError, match=a.tenant_id):
                db.session.execute(sa.insert(Domain), [
                    {"hostname": "bulk-b.example", "tenant_id": uuid.UUID(a.tenant_id)}])
            db.session.rollback()
        with pytest.raises(TenantScopeError, match="Domain"):  # and outside any scope
            db.session.execute(sa.insert(Domain), [
                {"hostname": "bulk-c.example", "tenant_id": uuid.UUID(a.tenant_id)}])
        db.session.rollback()
    with app.app_context(), platform_scope():
        assert sorted(db.session.scalars(sa.select(Domain.hostname))) == [
            "bulk-a.example", "shop.scope-a.example", "shop.scope-b.example"]

