"""``/api/v1/public/account``: a storefront's customer accounts (tenant from Host/X-Tenant).

Customer tokens open only these routes and plugins' customer routes
(``customer_required``); they never open staff routes, and staff tokens never act here.

.. versionadded:: 1.1
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_smorest import Blueprint

from kernel.data.session import db
from kernel.identity import customer_auth, customers
from kernel.runtime import audit
from kernel.services import kernel_services
from kernel.web.routes.customer_schemas import (
    AccountForgotSchema,
    AccountLoginSchema,
    AccountPatchSchema,
    AccountRefreshSchema,
    AccountRegisteredSchema,
    AccountRegisterSchema,
    AccountResetSchema,
    CustomerSchema,
    CustomerTokenPairSchema,
)

blp = Blueprint("account", __name__, url_prefix="/api/v1/public/account",
                description="Storefront customer accounts")



def _pair(pair: customer_auth.CustomerTokenPair) -> dict[str, Any]:
    return {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
            "token_type": pair.token_type, "expires_in": pair.expires_in}


@blp.post("/register")
@blp.arguments(AccountRegisterSchema)
@blp.response(201, AccountRegisteredSchema)
@blp.alt_response(409, description="An account with this e-mail exists")
def register(data: dict[str, Any]) -> dict[str, Any]:
    """Create a storefront account (a guest from an earlier checkout claims their record)."""
    tenant_id = customer_auth.open_storefront_scope()
    customer, pair = customer_auth.register(data["email"], data["password"], data["name"],
                                            data.get("phone"), data["marketing_consent"])
    db.session.commit()
    audit.describe("account.register", "customer", customer.id, tenant_id=tenant_id,
                   actor_id=customer.id, actor_type="customer")
    return {"customer": customer, **_pair(pair)}


@blp.post("/login")
@blp.arguments(AccountLoginSchema)
@blp.response(200, CustomerTokenPairSchema)
@blp.alt_response(401, description="Wrong e-mail or password")
@blp.alt_response(429, description="Too many failed attempts")
def login(data: dict[str, Any]) -> dict[str, Any]:
    """Exchange e-mail and password for a customer token pair of this storefront."""
    customer_auth.open_storefront_scope()
    pair = customer_auth.login(data["email"], data["password"], request.remote_addr or "")
    db.session.commit()
    audit.skip()
    return _pair(pair)


@blp.post("/refresh")
@blp.arguments(AccountRefreshSchema)
@blp.response(200, CustomerTokenPairSchema)
@blp.alt_response(401, description="The refresh token is invalid, expired or spent")
def refresh(data: dict[str, Any]) -> dict[str, Any]:
    """Rotate a refresh token; a spent one revokes its whole family."""
    customer_auth.open_storefront_scope()
    pair = customer_auth.refresh(data["refresh_token"])
    db.session.commit()
    audit.skip()
    return _pair(pair)


@blp.post("/logout")
@blp.arguments(AccountRefreshSchema)
@blp.response(204)
def logout(data: dict[str, Any]) -> None:
    """Revoke the refresh token and every token rotated from the same login."""
    customer_auth.open_storefront_scope()
    customer_auth.logout(data["refresh_token"])
    db.session.commit()
    audit.skip()


@blp.route("/me", methods=["GET"])
@customer_auth.customer_required
@blp.response(200, CustomerSchema)
def me() -> customers.Customer:
    """The logged-in customer's profile."""
    customer = customer_auth.current_customer()
    assert customer is not None
    return customer


@blp.route("/me", methods=["PATCH"])
@customer_auth.customer_required
@blp.arguments(AccountPatchSchema)
@blp.response(200, CustomerSchema)
def update_me(data: dict[str, Any]) -> customers.Customer:
    """Change the logged-in customer's name, phone or marketing consent."""
    customer = customer_auth.current_customer()
    assert customer is not None
    customers.update_customer(customer, data)
    db.session.commit()
    audit.describe("account.update", "customer", customer.id, actor_id=customer.id,
                   actor_type="customer", fields=sorted(data))
    return customer


@blp.post("/password/forgot")
@blp.arguments(AccountForgotSchema)
@blp.response(202)
def forgot_password(data: dict[str, Any]) -> Response:
    """Mail a single-use reset link; answers the same whether or not the account exists."""
    tenant_id = customer_auth.open_storefront_scope()
    customer = customers.customer_by_email(data["email"])
    if customer is not None and customer.is_active and customer.has_account:
        kernel_services().jobs.enqueue(
            "kernel.mail_customer_password_reset", tenant=tenant_id, customer_id=str(customer.id))
    db.session.commit()
    audit.skip()
    return Response(status=202)


@blp.post("/password/reset")
@blp.arguments(AccountResetSchema)
@blp.response(204)
def reset_password(data: dict[str, Any]) -> None:
    """Set a new password with a reset token; every session of the account is revoked."""
    customer_auth.open_storefront_scope()
    customer = customer_auth.reset_password(data["token"], data["password"])
    db.session.commit()
    audit.describe("account.password_reset", "customer", customer.id, actor_id=customer.id,
                   actor_type="customer")
