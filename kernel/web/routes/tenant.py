"""``/api/v1/tenant``: the caller's tenant, its members and its storefront domains."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError

from kernel.data.models import Domain, Membership, Tenant, User
from kernel.data.session import db
from kernel.identity import accounts
from kernel.identity.auth import auth_required, current_principal
from kernel.identity.credentials import new_token
from kernel.identity.rbac import may_grant
from kernel.problems import problem
from kernel.runtime import audit
from kernel.services import kernel_services
from kernel.tenancy.scope import current_tenant_id, platform_scope
from kernel.web.pagination import paginate
from kernel.web.schemas import (
    DomainCreateSchema,
    DomainSchema,
    MemberCreateSchema,
    MemberPatchSchema,
    MemberSchema,
    TenantPatchSchema,
    TenantSchema,
)

blp = Blueprint("tenant", __name__, url_prefix="/api/v1/tenant", description="The caller's tenant")


def _tenant() -> Tenant:
    tenant = db.session.get(Tenant, current_tenant_id())
    if tenant is None:
        problem(404, "not-found", title="Not found", detail="The tenant no longer exists.")
    assert tenant is not None
    return tenant


@blp.route("")
class TenantProfile(MethodView):
    @auth_required("tenant.read")
    @blp.response(200, TenantSchema)
    def get(self) -> Tenant:
        """The current tenant's profile and settings."""
        return _tenant()

    @auth_required("tenant.write")
    @blp.arguments(TenantPatchSchema)
    @blp.response(200, TenantSchema)
    def patch(self, data: dict[str, Any]) -> Tenant:
        """Update the name or settings (settings are merged key by key; null removes a key)."""
        tenant = _tenant()
        if "name" in data:
            tenant.name = data["name"]
        if "settings" in data:
            merged = {**tenant.settings, **data["settings"]}
            tenant.settings = {k: v for k, v in merged.items() if v is not None}
        db.session.commit()
        kernel_services().tenants.invalidate()
        audit.describe("tenant.update", "tenant", tenant.id, fields=sorted(data))
        return tenant


def _member_json(m: Membership) -> dict[str, Any]:
    return {"id": m.id, "user_id": m.user_id, "email": m.user.email, "name": m.user.name,
            "role": m.role, "created_at": m.created_at}


def _member(member_id: uuid.UUID) -> Membership:
    member = db.session.get(Membership, member_id)
    if member is None:
        problem(404, "not-found", title="Not found", detail="No such member in this tenant.")
    assert member is not None
    return member


def _owner_count() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Membership).where(Membership.role == "owner")
    ) or 0


def _may_grant(role: str) -> None:
    """Nobody grants or touches a role above their own."""
    principal = current_principal()
    if not may_grant(principal.role if principal else None, role):
        problem(403, "forbidden", title="Forbidden",
                detail=f"Your role ({principal.role if principal else None}) cannot manage {role}s.")


@blp.route("/members")
class Members(MethodView):
    @auth_required("members.read")
    @blp.response(200, MemberSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[dict[str, Any]]:
        """Members of the tenant, oldest first."""
        stmt = sa.select(Membership).order_by(Membership.created_at, Membership.id)
        return [_member_json(m) for m in paginate(stmt, pagination_parameters)]

    @auth_required("members.write")
    @blp.arguments(MemberCreateSchema)
    @blp.response(201, MemberSchema)
    @blp.alt_response(409, description="Already a member")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Add a user with a role; a new user is created and mailed a link to set a password."""
        _may_grant(data["role"])
        tenant = _tenant()
        user = accounts.user_by_email(data["email"])
        new_user = user is None
        if user is None:
            passwords = kernel_services().passwords
            user = User(email=data["email"], name=data.get("name") or data["email"].split("@")[0],
                        password_hash=passwords.hash(new_token()))
            db.session.add(user)
            db.session.flush()
        member = Membership(user_id=user.id, role=data["role"])
        db.session.add(member)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            problem(409, "already-a-member", title="Already a member",
                    detail=f"{data['email']} is already a member; change their role instead.")
        kernel_services().memberships.changed(member.user_id, member.tenant_id)
        inviter = current_principal()
        kernel_services().jobs.enqueue(
            "kernel.mail_invitation", tenant.id, user_id=str(user.id), role=member.role,
            inviter=_inviter_name(inviter.user_id if inviter else None), set_password=new_user)
        db.session.commit()
        audit.describe("members.add", "membership", member.id, role=member.role)
        return _member_json(member)


def _inviter_name(user_id: uuid.UUID | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.name if user else "An administrator"


@blp.route("/members/<uuid:member_id>")
class MemberItem(MethodView):
    @auth_required("members.read")
    @blp.response(200, MemberSchema)
    def get(self, member_id: uuid.UUID) -> dict[str, Any]:
        """One member of the tenant."""
        return _member_json(_member(member_id))

    @auth_required("members.write")
    @blp.arguments(MemberPatchSchema)
    @blp.response(200, MemberSchema)
    @blp.alt_response(409, description="The last owner cannot be demoted")
    def patch(self, data: dict[str, Any], member_id: uuid.UUID) -> dict[str, Any]:
        """Change a member's role; the last owner cannot be demoted."""
        member = _member(member_id)
        _may_grant(member.role)
        _may_grant(data["role"])
        if member.role == "owner" and data["role"] != "owner" and _owner_count() <= 1:
            problem(409, "last-owner", title="Last owner",
                    detail="A tenant needs an owner; promote another member first.")
        member.role = data["role"]
        with platform_scope():
            accounts.revoke_user_tokens(member.user_id, member.tenant_id)
        db.session.commit()
        kernel_services().memberships.changed(member.user_id, member.tenant_id)
        audit.describe("members.update", "membership", member.id, role=member.role)
        return _member_json(member)

    @auth_required("members.write")
    @blp.response(204)
    @blp.alt_response(409, description="The last owner cannot be removed")
    def delete(self, member_id: uuid.UUID) -> None:
        """Remove a member; the last owner cannot be removed. Their sessions here end."""
        member = _member(member_id)
        _may_grant(member.role)
        if member.role == "owner" and _owner_count() <= 1:
            problem(409, "last-owner", title="Last owner",
                    detail="A tenant needs an owner; promote another member first.")
        user_id, tenant_id = member.user_id, member.tenant_id
        with platform_scope():
            accounts.revoke_user_tokens(user_id, tenant_id)
        db.session.delete(member)
        db.session.commit()
        kernel_services().memberships.changed(user_id, tenant_id)
        audit.describe("members.remove", "membership", member_id)


@blp.route("/domains")
class Domains(MethodView):
    @auth_required("domains.read")
    @blp.response(200, DomainSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: Any) -> list[Domain]:
        """Custom domains that resolve storefront requests to this tenant."""
        return paginate(sa.select(Domain).order_by(Domain.hostname), pagination_parameters)

    @auth_required("domains.write")
    @blp.arguments(DomainCreateSchema)
    @blp.response(201, DomainSchema)
    @blp.alt_response(409, description="The domain is attached to a tenant already")
    def post(self, data: dict[str, Any]) -> Domain:
        """Add a custom domain (globally unique)."""
        base = kernel_services().settings.base_domain.lower()
        if data["hostname"] == base or data["hostname"].endswith("." + base):
            problem(422, "validation-error", title="Validation failed",
                    detail=f"Subdomains of {base} resolve by tenant slug already.",
                    errors=[{"field": "hostname", "pointer": "/hostname", "location": "json",
                             "message": f"must not be under {base}"}])
        domain = Domain(hostname=data["hostname"])
        db.session.add(domain)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            problem(409, "domain-taken", title="Domain taken",
                    detail=f"{data['hostname']} is already attached to a tenant.")
        kernel_services().tenants.invalidate()
        audit.describe("domains.add", "domain", domain.id, hostname=domain.hostname)
        return domain


def _domain(domain_id: uuid.UUID) -> Domain:
    domain = db.session.get(Domain, domain_id)
    if domain is None:
        problem(404, "not-found", title="Not found", detail="No such domain in this tenant.")
    assert domain is not None
    return domain


@blp.route("/domains/<uuid:domain_id>")
class DomainItem(MethodView):
    @auth_required("domains.read")
    @blp.response(200, DomainSchema)
    def get(self, domain_id: uuid.UUID) -> Domain:
        """One custom domain of the tenant."""
        return _domain(domain_id)

    @auth_required("domains.write")
    @blp.response(204)
    def delete(self, domain_id: uuid.UUID) -> None:
        """Detach a custom domain."""
        domain = _domain(domain_id)
        db.session.delete(domain)
        db.session.commit()
        kernel_services().tenants.invalidate()
        audit.describe("domains.remove", "domain", domain_id)
