"""Mail sent by the kernel, as background jobs.

A request never waits on (or fails with) the SMTP server, and answers the same whether
or not the mail goes out, so a reset request reveals nothing about the account. Each job
takes ids only and creates its single-use token itself: no secret is ever stored in a
job's arguments (Redis, ``job_runs``) or shown to admins.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from hookspecs import JobSpec
from kernel.data.models import Tenant, User
from kernel.data.session import db
from kernel.identity import accounts
from kernel.services import kernel_services


def _mail_job(name: str, func: Callable[..., None]) -> JobSpec:
    # SMTP hiccups are worth three more tries, spaced out
    return JobSpec(name, func, queue="mail", retry=3, retry_intervals=(10, 60, 300))


def _user(user_id: str) -> User | None:
    user = db.session.get(User, uuid.UUID(user_id))
    return user if user is not None and user.is_active else None


def mail_password_reset(user_id: str) -> None:
    user = _user(user_id)
    if user is None:
        return
    ttl = kernel_services().settings.password_reset_ttl
    token = accounts.create_user_token(user, accounts.RESET, ttl)
    db.session.commit()
    kernel_services().mailer.send(
        user.email, "password_reset", name=user.name, token=token, ttl_minutes=ttl // 60,
        tenant_name=None)


def mail_verification(user_id: str) -> None:
    user = _user(user_id)
    if user is None or user.email_verified_at is not None:
        return
    ttl = kernel_services().settings.email_verify_ttl
    token = accounts.create_user_token(user, accounts.VERIFY, ttl)
    db.session.commit()
    kernel_services().mailer.send(user.email, "verify_email", name=user.name,
                                                    token=token)


def mail_invitation(tenant_id: uuid.UUID, user_id: str, role: str, inviter: str,
                    set_password: bool) -> None:
    """Tell a new member of the job's tenant; one with no password yet gets a link to set it."""
    user = _user(user_id)
    tenant = db.session.get(Tenant, tenant_id)
    if user is None or tenant is None:
        return
    ttl = kernel_services().settings.password_reset_ttl
    token = accounts.create_user_token(user, accounts.RESET, ttl) if set_password else None
    db.session.commit()
    kernel_services().mailer.send(
        user.email, "invitation", name=user.name, tenant_name=tenant.name, role=role,
        inviter=inviter, token=token, ttl_minutes=ttl // 60)


def mail_customer_password_reset(tenant_id: uuid.UUID, customer_id: str) -> None:
    """A storefront customer's reset link (runs in the customer's tenant scope)."""
    from kernel.identity.customer_auth import create_reset_token
    from kernel.identity.customers import Customer

    customer = db.session.get(Customer, uuid.UUID(customer_id))
    tenant = db.session.get(Tenant, tenant_id)
    if customer is None or tenant is None or not customer.is_active or not customer.has_account:
        return
    ttl = kernel_services().settings.password_reset_ttl
    token = create_reset_token(customer, ttl)
    db.session.commit()
    kernel_services().mailer.send(
        customer.email, "customer_password_reset", name=customer.name or customer.email,
        token=token, ttl_minutes=ttl // 60, tenant_name=tenant.name)


def kernel_job_specs() -> list[JobSpec]:
    return [
        _mail_job("kernel.mail_customer_password_reset", mail_customer_password_reset),
        _mail_job("kernel.mail_password_reset", mail_password_reset),
        _mail_job("kernel.mail_verification", mail_verification),
        _mail_job("kernel.mail_invitation", mail_invitation),
    ]
