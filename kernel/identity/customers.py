"""Customers: the people a tenant serves, one record per person per tenant.

Every plugin refers to the same customer id, so a tenant sees one person across tickets,
orders, appointments, invoices, messages and calls. A customer may have a storefront
login (see :mod:`kernel.identity.customer_auth`) or be a guest known by e-mail; plugins find or
create guests at checkout with :func:`find_or_create_customer`.

Data-subject requests gather every enabled plugin's answer through the cooperation hooks
``plugboard_customer_timeline``, ``plugboard_customer_export`` and
``plugboard_customer_erase``. Erasing anonymises the kernel's record and asks each plugin
to anonymise its own; money records are kept (anonymised), never deleted.

Services here flush and never commit: the view, job or event handler that calls them
commits.

.. versionadded:: 1.1
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kernel.data.base import Base, TenantOwned, utcnow
from kernel.data.session import db, insert_on_conflict
from kernel.problems import problem
from kernel.services import kernel_services
from kernel.tenancy.scope import current_tenant_id

log = logging.getLogger("plugboard.customers")

ERASED_NAME = "Erased customer"


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)


class Customer(TenantOwned, Base):
    """A person a tenant serves; ``email`` is unique per tenant (stored lower-case)."""

    __tablename__ = "customers"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "email"),
        sa.Index("ix_customers_tenant_phone", "tenant_id", "phone"),
        sa.Index("ix_customers_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    email: Mapped[str] = mapped_column(sa.String(320))
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    email_verified_at: Mapped[dt.datetime | None]
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    erased_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    @property
    def has_account(self) -> bool:
        return self.password_hash is not None


class CustomerRefreshToken(TenantOwned, Base):
    """A customer's refresh token; rotated on use, a whole family revoked on reuse."""

    __tablename__ = "customer_refresh_tokens"

    id: Mapped[uuid.UUID] = _uuid_pk()
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class CustomerToken(TenantOwned, Base):
    """A single-use, expiring token mailed to a customer (password reset)."""

    __tablename__ = "customer_tokens"

    id: Mapped[uuid.UUID] = _uuid_pk()
    customer_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(32))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


# -- validation ---------------------------------------------------------------------------


def normalise_phone(phone: str, region: str | None = None) -> str:
    """``phone`` in E.164 (``+263771234567``); ValueError when it is not a valid number.

    A number without a leading ``+`` needs ``region`` (ISO 3166 alpha-2).
    """
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number; use the international form, e.g. +14155550123") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("not a valid phone number; use the international form, e.g. +14155550123")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _field_problem(status: int, type_: str, title: str, field: str, message: str) -> NoReturn:
    problem(status, type_, title=title, detail=f"{field}: {message}",
            errors=[{"field": field, "pointer": f"/{field}", "location": "json", "message": message}])


# -- look-ups -------------------------------------------------------------------------------


def get_customer(customer_id: uuid.UUID) -> Customer:
    """The tenant's customer ``customer_id``; 404 problem when there is none (or it is erased)."""
    row = db.session.get(Customer, customer_id)
    if row is None or row.tenant_id != current_tenant_id():
        problem(404, "not-found", title="Not found", detail="No such customer.")
    assert row is not None
    return row


def customer_by_email(email: str) -> Customer | None:
    return db.session.scalars(
        sa.select(Customer).where(Customer.email == email.strip().lower())
    ).one_or_none()


def customer_by_phone(phone: str) -> Customer | None:
    """The tenant's (first) customer with this phone number (any format), or None.

    .. versionadded:: 1.1
    """
    try:
        e164 = normalise_phone(phone)
    except ValueError:
        return None
    return db.session.scalars(
        sa.select(Customer).where(Customer.phone == e164, Customer.erased_at.is_(None))
        .order_by(Customer.created_at).limit(1)
    ).first()


def search(q: str | None = None, email: str | None = None) -> sa.Select[Any]:
    """A select of the tenant's customers, newest first, filtered by ``q`` and ``email``."""
    stmt = sa.select(Customer).where(Customer.erased_at.is_(None))
    if email:
        stmt = stmt.where(Customer.email == email.strip().lower())
    if q:
        pattern = "%" + q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(
            Customer.email.like(pattern, escape="\\"),
            sa.func.lower(Customer.name).like(pattern, escape="\\"),
            Customer.phone.like(pattern, escape="\\"),
        ))
    return stmt.order_by(Customer.created_at.desc(), Customer.id)


# -- changes --------------------------------------------------------------------------------


def create_customer(email: str, name: str = "", phone: str | None = None,
                    marketing_consent: bool = False, password_hash: str | None = None) -> Customer:
    """A new customer of the tenant in scope; 409 problem when the e-mail is taken."""
    if customer_by_email(email) is not None:
        _field_problem(409, "customer-exists", "Customer exists", "email",
                       "a customer with this email exists")
    row = _insert(email, name, phone, marketing_consent, password_hash)
    _flush_unique()
    _emit("customer.created", {"customer_id": str(row.id)})
    return row


def _insert(email: str, name: str, phone: str | None, marketing_consent: bool = False,
            password_hash: str | None = None) -> Customer:
    row = Customer(tenant_id=current_tenant_id(), email=email.strip().lower(), name=name.strip(),
                   phone=phone, marketing_consent=marketing_consent, password_hash=password_hash)
    db.session.add(row)
    return row


def _insert_if_absent(email: str, name: str, phone: str | None) -> Customer | None:
    """The new customer, or None when the tenant has one with this e-mail already.

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` instead of a savepoint, an insert
    and its release: a racing transaction's uncommitted insert of the same e-mail makes
    this one wait for it, then do nothing if it committed.
    """
    values = {"id": uuid.uuid4(), "tenant_id": current_tenant_id(), "email": email.strip().lower(),
              "name": name.strip(), "phone": phone}
    statement = (insert_on_conflict(Customer).values(values)
                 .on_conflict_do_nothing(index_elements=["tenant_id", "email"]).returning(Customer))
    return db.session.scalars(statement).one_or_none()


def find_or_create_customer(email: str, name: str = "", phone: str | None = None) -> Customer:
    """The tenant's customer with this e-mail, created as a guest when there is none.

    For plugins at checkout: a buyer who gave an e-mail becomes (or is found as) the same
    customer every plugin refers to. An existing customer's name is filled in when it was
    empty, never overwritten. Flushes; the caller commits. Safe when two checkouts race on
    the same e-mail (one insert wins, the other finds it).

    .. versionadded:: 1.1
    """
    found = customer_by_email(email)
    if found is None:
        created = _insert_if_absent(email, name, phone)
        if created is not None:
            _emit("customer.created", {"customer_id": str(created.id)})
            return created
        found = customer_by_email(email)  # a racing checkout inserted it first
    if found is None:  # pragma: no cover - only if the winner was deleted meanwhile
        raise RuntimeError("customer vanished while being created")
    if name and not found.name:
        found.name = name.strip()
    if phone and not found.phone:
        found.phone = phone
    return found


def update_customer(row: Customer, changes: dict[str, Any]) -> Customer:
    if "email" in changes:
        email = changes["email"].strip().lower()
        other = customer_by_email(email)
        if other is not None and other.id != row.id:
            _field_problem(409, "customer-exists", "Customer exists", "email",
                           "a customer with this email exists")
        if email != row.email:
            row.email_verified_at = None
        row.email = email
    for key in ("name", "phone", "marketing_consent"):
        if key in changes:
            setattr(row, key, changes[key])
    row.updated_at = utcnow()
    _flush_unique()
    return row


def _flush_unique() -> None:
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        if db.session().in_nested_transaction():
            raise
        db.session.rollback()
        problem(409, "customer-exists", title="Customer exists",
                detail="A customer with this email exists.")


def _emit(name: str, payload: dict[str, Any]) -> None:
    from kernel.runtime import events

    events.emit(current_tenant_id(), name, payload)


# -- data-subject requests ----------------------------------------------------------------


def _answers(hook: str, customer_id: uuid.UUID, robust: bool) -> Iterable[tuple[str, Any]]:
    """``(plugin, answer)`` of every enabled plugin implementing ``hook``."""
    activations = kernel_services().activations
    tenant_id = current_tenant_id()
    enabled = activations.snapshot.enabled(tenant_id)
    caller = activations.registry.hook_for(enabled, hook)
    for impl in reversed(caller.get_hookimpls()):
        func: Callable[..., Any] = impl.function
        kwargs = {k: v for k, v in {"tenant_id": tenant_id, "customer_id": customer_id}.items()
                  if k in impl.argnames}
        try:
            answer = func(**kwargs)
        except Exception:
            if robust:
                log.exception("%s failed in plugin %s; left out of the answer", hook, impl.plugin_name)
                continue
            log.exception("%s failed in plugin %s", hook, impl.plugin_name)
            db.session.rollback()  # nothing of a half-done erasure or export may be kept
            problem(500, "plugin-failed", title="A plugin failed",
                    detail=f"The {impl.plugin_name} plugin failed to answer for this customer; "
                    "nothing was changed. Try again later, or ask the platform's support.")
        yield impl.plugin_name, answer


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else value


def timeline(customer: Customer) -> list[dict[str, Any]]:
    """Every enabled plugin's dated entries for the customer, newest first.

    A plugin whose hook raises is left out (and logged): one broken plugin must not hide
    the rest of a person's history from the tenant's staff.
    """
    entries: list[dict[str, Any]] = [{
        "at": customer.created_at, "plugin": "kernel", "type": "customer.created",
        "title": "Customer created", "ref": str(customer.id), "data": {},
    }]
    for plugin, answer in _answers("plugboard_customer_timeline", customer.id, robust=True):
        for entry in answer or []:
            item = dict(entry)
            at = item.get("at")
            if not isinstance(at, dt.datetime):
                log.warning("plugin %s gave a timeline entry without a datetime 'at'", plugin)
                continue
            entries.append({
                "at": at if at.tzinfo else at.replace(tzinfo=dt.UTC), "plugin": plugin,
                "type": str(item.get("type", plugin)), "title": str(item.get("title", "")),
                "ref": None if item.get("ref") is None else str(item["ref"]),
                "data": {k: _iso(v) for k, v in dict(item.get("data") or {}).items()},
            })
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries


def export(customer: Customer) -> dict[str, Any]:
    """The person's data held by the kernel and by every enabled plugin (JSON-ready)."""
    plugins: dict[str, Any] = {}
    for plugin, answer in _answers("plugboard_customer_export", customer.id, robust=False):
        if answer is not None:
            plugins[plugin] = answer
    return {
        "customer": {
            "id": str(customer.id), "email": customer.email, "name": customer.name,
            "phone": customer.phone, "marketing_consent": customer.marketing_consent,
            "email_verified": customer.email_verified_at is not None,
            "has_account": customer.has_account,
            "created_at": customer.created_at.isoformat(),
            "updated_at": customer.updated_at.isoformat(),
        },
        "plugins": plugins,
        "exported_at": utcnow().isoformat(),
    }


def erase(customer: Customer) -> None:
    """Anonymise the customer here and in every enabled plugin; emit ``customer.erased``.

    All or nothing: a plugin that raises aborts the erasure (the caller rolls back), so a
    person is never left half-erased. Plugins keep their money records, anonymised.
    """
    for _plugin, _answer in _answers("plugboard_customer_erase", customer.id, robust=False):
        pass
    customer.email = f"erased-{customer.id.hex}@erased.invalid"
    customer.name = ERASED_NAME
    customer.phone = None
    customer.password_hash = None
    customer.email_verified_at = None
    customer.marketing_consent = False
    customer.is_active = False
    customer.erased_at = utcnow()
    db.session.execute(
        sa.update(CustomerRefreshToken)
        .where(CustomerRefreshToken.customer_id == customer.id,
               CustomerRefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    db.session.execute(sa.delete(CustomerToken).where(CustomerToken.customer_id == customer.id))
    db.session.flush()
    _emit("customer.erased", {"customer_id": str(customer.id)})
