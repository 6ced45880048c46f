"""The demo tenant that ``plugboard demo`` seeds for a first run."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from kernel.data.base import utcnow
from kernel.data.models import Membership, Tenant, User
from kernel.data.session import db
from kernel.identity import accounts
from kernel.problems import Problem
from kernel.services import kernel_services
from kernel.tenancy.scope import tenant_scope

DEMO_SLUG = "demo"
log = logging.getLogger("plugboard.demo")


@dataclass(frozen=True)
class DemoResult:
    email: str
    password: str
    tenant_slug: str
    created: bool

    def describe(self, base_url: str) -> str:
        state = "created" if self.created else "already there; password reset to the one below"
        return (
            f"Demo tenant '{self.tenant_slug}' {state}.\n"
            f"  email:    {self.email}\n"
            f"  password: {self.password}\n"
            f"Log in:\n"
            f"  curl -s -X POST {base_url}/api/v1/auth/login -H 'Content-Type: application/json' "
            f"-d '{{\"email\": \"{self.email}\", \"password\": \"{self.password}\"}}'\n"
            f"Storefront (this tenant): curl -s -H 'X-Tenant: {self.tenant_slug}' "
            f"{base_url}/api/v1/public/tenant\n"
            f"API docs: {base_url}/api/docs"
        )


def _enable_builtins(tenant_id: uuid.UUID, actor: str) -> None:
    """Switch every built-in plugin on for the demo tenant (restricted ones too, as the
    platform would), so a first run shows events, payments, messages and invoices at once."""
    services = kernel_services()
    for record in services.registry.loaded():
        if record.source != "builtin":
            continue
        with tenant_scope(tenant_id):
            try:
                services.activations.set_enabled(tenant_id, record.name, True, actor,
                                                 as_admin=True, with_dependencies=True)
            except Problem as refused:  # a plugin may refuse (e.g. it needs config): say so
                db.session.rollback()
                log.warning("demo: plugin not enabled", extra={"plugin": record.name,
                                                               "reason": refused.description})


def seed_demo(email: str, password: str) -> DemoResult:
    passwords = kernel_services().passwords
    tenant = db.session.scalars(sa.select(Tenant).where(Tenant.slug == DEMO_SLUG)).one_or_none()
    user = accounts.user_by_email(email)
    created = tenant is None
    if tenant is None:
        tenant = Tenant(slug=DEMO_SLUG, name="Demo Company", settings={})
        db.session.add(tenant)
    if user is None:
        user = User(email=email, name="Demo Owner", password_hash="", email_verified_at=utcnow())
        db.session.add(user)
    user.password_hash = passwords.hash(password)
    db.session.flush()
    with tenant_scope(tenant.id):
        member = db.session.scalars(
            sa.select(Membership).where(Membership.user_id == user.id)
        ).one_or_none()
        if member is None:
            db.session.add(Membership(user_id=user.id, role="owner"))
        db.session.commit()
    if created:  # like every new tenant, it starts with the default-enabled plugins on
        kernel_services().activations.seed_new_tenant(tenant.id, str(user.id))
    _enable_builtins(tenant.id, str(user.id))
    for seed in kernel_services().demo_seeders:
        with tenant_scope(tenant.id):
            seed(tenant.id)
    kernel_services().tenants.invalidate()
    return DemoResult(email, password, DEMO_SLUG, created)
