"""``/api/v1/admin``: platform administration (tenants, audit log).

Platform admins are users flagged ``is_platform_admin``; it is not a tenant role.
These views run in the platform scope, across tenants, on purpose.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError

from kernel.data.models import AuditEntry, Membership, Tenant
from kernel.data.session import db
from kernel.identity import accounts
from kernel.identity.auth import platform_admin_required
from kernel.problems import problem
from kernel.runtime import audit
from kernel.services import kernel_services
from kernel.web.pagination import paginate
from kernel.web.schemas import (
    AdminTenantCreateSchema,
    AdminTenantPatchSchema,
    AdminTenantQuerySchema,
    AuditEntrySchema,
    AuditQuerySchema,
    TenantSchema,
)

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Platform administration")


def tenant_or_404(tenant_id: uuid.UUID) -> Tenant:
    """The tenant with this id, or a 404 problem."""
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        problem(404, "not-found", title="Not found", detail="No such tenant.")
    assert tenant is not None
    return tenant


@blp.route("/tenants")
class AdminTenants(MethodView):
    @platform_admin_required
    @blp.arguments(AdminTenantQuerySchema, location="query")
    @blp.response(200, TenantSchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[Tenant]:
        """Every tenant; ``q`` searches slug and name, ``status`` filters."""
        stmt = sa.select(Tenant).order_by(Tenant.created_at, Tenant.slug)
        if query.get("q"):
            q = query["q"].lower()  # literally: % and _ are not wildcards here
            stmt = stmt.where(sa.or_(Tenant.slug.contains(q, autoescape=True),
                                     sa.func.lower(Tenant.name).contains(q, autoescape=True)))
        if query.get("status"):
            stmt = stmt.where(Tenant.status == query["status"])
        return paginate(stmt, pagination_parameters)

    @platform_admin_required
    @blp.arguments(AdminTenantCreateSchema)
    @blp.response(201, TenantSchema)
    @blp.alt_response(409, description="The slug is taken")
    def post(self, data: dict[str, Any]) -> Tenant:
        """Create a tenant, optionally with an existing user as its owner."""
        owner = None
        if data.get("owner_email"):
            owner = accounts.user_by_email(data["owner_email"])
            if owner is None:
                problem(422, "validation-error", title="Validation failed",
                        detail="owner_email names no user; the user must register first.",
                        errors=[{"field": "owner_email", "pointer": "/owner_email",
                                 "location": "json", "message": "no such user"}])
        tenant = Tenant(slug=data["slug"], name=data["name"], settings={})
        db.session.add(tenant)
        try:
            db.session.flush()
            if owner is not None:
                db.session.add(Membership(tenant_id=tenant.id, user_id=owner.id, role="owner"))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            problem(409, "slug-taken", title="Tenant slug taken",
                    detail=f"The slug {data['slug']!r} is in use; choose another.")
        kernel_services().tenants.invalidate()  # a cached miss of the slug
        kernel_services().activations.seed_new_tenant(tenant.id, "platform-admin")
        audit.describe("admin.tenants.create", "tenant", tenant.id, tenant_id=tenant.id)
        return tenant


@blp.route("/tenants/<uuid:tenant_id>")
class AdminTenantItem(MethodView):
    @platform_admin_required
    @blp.response(200, TenantSchema)
    def get(self, tenant_id: uuid.UUID) -> Tenant:
        """One tenant."""
        return tenant_or_404(tenant_id)

    @platform_admin_required
    @blp.arguments(AdminTenantPatchSchema)
    @blp.response(200, TenantSchema)
    def patch(self, data: dict[str, Any], tenant_id: uuid.UUID) -> Tenant:
        """Rename, suspend or reactivate a tenant, or merge settings."""
        tenant = tenant_or_404(tenant_id)
        for key in ("name", "status"):
            if key in data:
                setattr(tenant, key, data[key])
        if "settings" in data:
            merged = {**tenant.settings, **data["settings"]}
            tenant.settings = {k: v for k, v in merged.items() if v is not None}
        db.session.commit()
        kernel_services().tenants.invalidate()
        audit.describe("admin.tenants.update", "tenant", tenant.id, tenant_id=tenant.id,
                       fields=sorted(data))
        return tenant


@blp.route("/audit-log")
class AuditLog(MethodView):
    @platform_admin_required
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEntrySchema(many=True))
    @blp.paginate()
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[AuditEntry]:
        """Audit entries, newest first; filter by tenant, actor, action (prefix), time."""
        stmt = sa.select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id)
        if "tenant" in query:
            stmt = stmt.where(AuditEntry.tenant_id == query["tenant"])
        if "actor" in query:
            stmt = stmt.where(AuditEntry.actor_id == query["actor"])
        if "action" in query:
            stmt = stmt.where(AuditEntry.action.startswith(query["action"], autoescape=True))
        if "since" in query:
            stmt = stmt.where(AuditEntry.created_at >= query["since"])
        if "until" in query:
            stmt = stmt.where(AuditEntry.created_at < query["until"])
        return paginate(stmt, pagination_parameters)
