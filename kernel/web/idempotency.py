"""``Idempotency-Key`` on every POST, kernel's and plugins': a retried request runs once.

Stripe's semantics. The first answer to a POST carrying ``Idempotency-Key`` (status,
headers, body) is kept for 24 hours per (tenant, caller, key) and given again, marked
``Idempotent-Replayed: true``, to every retry with the same key; the view does not run
again. The same key with another request (a hash of method, path, query and body) is
422 ``idempotency-key-reused``; with the first request still running, 409
``idempotency-key-in-use`` (retry shortly). The key: 1 to 255 visible ASCII characters,
else 400.

Not kept, so that a retry runs again: answers that mean the request never started
(400, 401, 403, 404, 405, 406, 408, 413, 415, 422 validation, 429), server errors (5xx:
unlike Stripe, so a retry after a failure can succeed), streamed answers and bodies over
1 MiB. Other 4xx (402, 409 conflicts, 410) are the operation's outcome and are kept.

Who the caller is: the authenticated API key or user; for anonymous callers (storefront,
``/api/v1/auth``) a digest of the credential they present (a customer's token, a cart
token), else their IP address, within the tenant of the Host/X-Tenant header. A stored
answer is thus only given to whoever could have made the request (same credential or
address, same key, same request), never to another anonymous caller who guesses a key.

Where it runs: around each POST view, after every ``before_request`` (rate limits,
plugin gates, a blueprint's body size limit) and after authentication, before the
view's own decorators (permissions, argument validation) and its side effects. The
claim is a row (state ``in_flight``) committed before the view runs; a unique
constraint on (scope, key) makes two concurrent first requests resolve to one winner.
A claim left by a crashed process is taken over after :data:`LOCK_TIMEOUT`. Expired
records are purged daily (kernel job ``kernel.purge_idempotency_keys``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, Request, Response, g, request
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.exceptions import HTTPException

from hookspecs import JobSpec
from kernel.data.base import Base, JSONType, TenantOwned, utcnow
from kernel.data.session import db, insert_on_conflict
from kernel.problems import problem
from kernel.request_hooks import Globals, request_hooks
from kernel.runtime import audit
from kernel.services import kernel_services
from kernel.tenancy.scope import platform_scope, tenant_scope

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")
KEY_PATTERN = r"^[\x21-\x7E]{1,255}$"  # the same, for the OpenAPI document
TTL = dt.timedelta(hours=24)
LOCK_TIMEOUT = dt.timedelta(seconds=60)  # beyond any request's run time (gunicorn: 30 s)
MAX_STORED_BODY = 1024 * 1024
NOT_KEPT = frozenset({400, 401, 403, 404, 405, 406, 408, 413, 415, 422, 429})
# per answer, not part of it: never stored (the replay gets its own)
NOT_REPLAYED = frozenset({
    "content-length", "date", "server", "connection", "keep-alive", "transfer-encoding",
    "set-cookie", "x-request-id", "ratelimit", "ratelimit-policy", REPLAYED.lower(),
    "x-content-type-options", "referrer-policy", "content-security-policy",
    "strict-transport-security", "access-control-allow-origin", "access-control-expose-headers",
})
PUBLIC_PREFIXES = ("/api/v1/public/", "/api/v1/webhooks/")
IN_FLIGHT, COMPLETED = "in_flight", "completed"

log = logging.getLogger("plugboard.idempotency")


class IdempotencyRecord(TenantOwned, Base):
    """One key's claim, then its stored answer. Platform-level rows (no tenant) too."""

    __tablename__ = "idempotency_keys"
    __tenant_nullable__ = True
    __table_args__ = (sa.UniqueConstraint("scope", "key"),
                      sa.Index("ix_idempotency_keys_expires_at", "expires_at"))

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(  # type: ignore[assignment]
        sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    scope: Mapped[str] = mapped_column(sa.String(160))  # tenant (or "-") and caller
    key: Mapped[str] = mapped_column(sa.String(255))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16), default=IN_FLIGHT)
    status: Mapped[int | None]
    headers: Mapped[list[list[str]] | None] = mapped_column(JSONType)
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    locked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


@dataclass(frozen=True)
class Claim:
    """The current request holds this key; its answer completes the record."""

    id: uuid.UUID
    tenant_id: uuid.UUID | None


@contextmanager
def _scope(tenant_id: uuid.UUID | None) -> Iterator[None]:
    """The tenant's scope for its rows (row-level security applies); the platform's for
    rows without a tenant."""
    with tenant_scope(tenant_id) if tenant_id is not None else platform_scope():
        yield


def request_hash(method: str, full_path: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method} {full_path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def claim(tenant_id: uuid.UUID | None, scope: str, key: str, digest: str) -> Claim | Response:
    """Claim ``key`` for this request, or the answer owed instead: a replay, 409 or 422."""
    session = db.session
    now = utcnow()
    with _scope(tenant_id):
        inserted = session.execute(
            insert_on_conflict(IdempotencyRecord)
            .values(id=uuid.uuid4(), tenant_id=tenant_id, scope=scope, key=key, request_hash=digest,
                    state=IN_FLIGHT, locked_at=now, expires_at=now + TTL)
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(IdempotencyRecord.id)).scalar_one_or_none()
        session.commit()
        if inserted is not None:
            return Claim(inserted, tenant_id)
        row = session.scalars(sa.select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)).one()
        if row.expires_at <= now or (row.state == IN_FLIGHT and row.locked_at <= now - LOCK_TIMEOUT):
            return _take_over(row, digest, now)
        if row.request_hash != digest:
            problem(422, "idempotency-key-reused", title="Idempotency key reused",
                    detail=f"This {HEADER} was used with another request (method, path or "
                           "body); use a new key for a new request.")
        if row.state == IN_FLIGHT:
            problem(409, "idempotency-key-in-use", title="Request in progress",
                    detail=f"A request with this {HEADER} is still running; retry shortly.",
                    headers={"Retry-After": "1"})
        return _replay(row)


def _rowcount(statement: Any) -> int:
    result = cast("sa.CursorResult[Any]", db.session.execute(
        statement.execution_options(synchronize_session=False)))
    return int(result.rowcount or 0)


def _take_over(row: IdempotencyRecord, digest: str, now: dt.datetime) -> Claim:
    """Re-claim an expired record or an abandoned claim, unless another request did first."""
    taken = _rowcount(
        sa.update(IdempotencyRecord)
        .where(IdempotencyRecord.id == row.id, IdempotencyRecord.state == row.state,
               IdempotencyRecord.locked_at == row.locked_at)
        .values(request_hash=digest, state=IN_FLIGHT, locked_at=now, expires_at=now + TTL,
                status=None, headers=None, body=None))
    db.session.commit()
    if taken != 1:
        problem(409, "idempotency-key-in-use", title="Request in progress",
                detail=f"A request with this {HEADER} is still running; retry shortly.",
                headers={"Retry-After": "1"})
    return Claim(row.id, row.tenant_id)


def _replay(row: IdempotencyRecord) -> Response:
    audit.skip()  # nothing happened this time
    response = Response(row.body or b"", status=row.status or 200,
                        headers=[(name, value) for name, value in row.headers or []])
    response.headers[REPLAYED] = "true"
    return response


def keepable(response: Response) -> bool:
    return (response.status_code < 500 and response.status_code not in NOT_KEPT
            and not response.is_streamed and not response.direct_passthrough
            and (response.content_length or 0) <= MAX_STORED_BODY)


def complete(held: Claim, response: Response) -> None:
    """Store the answer of the request holding ``held``, or forget the key."""
    session = db.session
    session.rollback()  # a failed view's half-done work is never committed with the record
    with _scope(held.tenant_id):
        stmt: sa.Update | sa.Delete = sa.delete(IdempotencyRecord).where(IdempotencyRecord.id == held.id)
        if keepable(response):
            body = response.get_data()
            headers = [[k, v] for k, v in response.headers.items() if k.lower() not in NOT_REPLAYED]
            stmt = sa.update(IdempotencyRecord).where(IdempotencyRecord.id == held.id).values(
                state=COMPLETED, status=response.status_code, headers=headers, body=body)
        session.execute(stmt.execution_options(synchronize_session=False))
        session.commit()


# -- who is calling, and the view wrapper -----------------------------------------------


def valid_key() -> str | None:
    """The request's ``Idempotency-Key``; None without one; 400 problem when malformed."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_RE.fullmatch(key):
        problem(400, "invalid-idempotency-key", title="Invalid idempotency key",
                detail=f"{HEADER} must be 1 to 255 visible ASCII characters (no spaces).")
    return key


def caller() -> tuple[uuid.UUID | None, str]:
    """The tenant and the caller a key belongs to (see the module docstring)."""
    from kernel.identity.auth import authenticate

    principal = g.get("principal")
    credential = request.headers.get("Authorization")
    if principal is None and credential and not request.path.startswith(PUBLIC_PREFIXES):
        try:
            principal = authenticate()
        except HTTPException:
            principal = None  # the view answers the bad credential (or ignores it)
    if principal is not None:
        return principal.tenant_id, f"{principal.tenant_id or '-'}:{principal.kind}:{principal.actor_id}"
    tenant = g.get("public_tenant")
    if tenant is None and request.path.startswith(PUBLIC_PREFIXES):
        tenant = kernel_services().tenants.for_public_request(request)
    tenant_id = tenant.id if tenant is not None else None
    credential = credential or request.headers.get("X-Cart-Token")
    who = ("token:" + hashlib.sha256(credential.encode()).hexdigest()[:40] if credential
           else "ip:" + (request.remote_addr or "unknown"))
    return tenant_id, f"{tenant_id or '-'}:anonymous:{who}"


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a view: POSTs with ``Idempotency-Key`` run once per key."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.method != "POST":
            return view(*args, **kwargs)
        key = valid_key()
        if key is None:
            return view(*args, **kwargs)
        tenant_id, scope = caller()
        digest = request_hash("POST", request.full_path, request.get_data(cache=True))
        held = claim(tenant_id, scope, key, digest)
        if isinstance(held, Response):
            return held
        g.idempotency_claim = held
        return view(*args, **kwargs)

    wrapper.__dict__["plugboard_idempotent"] = True
    return wrapper


def init_app(app: Flask) -> None:
    """Wrap every view that takes POST; call once every route is registered."""
    posting = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())}
    for endpoint in posting:
        view = app.view_functions[endpoint]
        if not getattr(view, "plugboard_idempotent", False):
            app.view_functions[endpoint] = idempotent(view)

    hooks = request_hooks(app)

    @hooks.after
    def _store_answer(req: Request, g: Globals, response: Response) -> Response:
        held = g.pop("idempotency_claim", None)
        if held is not None:
            try:
                complete(held, response)
            except Exception:  # the answer stands; the key is left to expire or be taken over
                log.exception("storing an idempotent answer failed", extra={"path": req.path})
                db.session.rollback()
        return response

    @hooks.teardown
    def _forget_claim(g: Globals, exc: BaseException | None) -> None:
        held = g.pop("idempotency_claim", None)
        if held is None:
            return
        try:  # no answer was made (an error escaped): the key is free again
            db.session.rollback()
            with _scope(held.tenant_id):
                _rowcount(sa.delete(IdempotencyRecord).where(IdempotencyRecord.id == held.id))
                db.session.commit()
        except Exception:  # the claim is taken over after LOCK_TIMEOUT
            log.exception("releasing an idempotency key failed", extra={"path": request.path})
            db.session.rollback()


# -- housekeeping -----------------------------------------------------------------------


def purge_idempotency_keys() -> int:
    """Delete expired records (a daily kernel job); returns how many."""
    with platform_scope():
        deleted = _rowcount(sa.delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow()))
        db.session.commit()
    return deleted


def kernel_job_specs() -> list[JobSpec]:
    return [JobSpec("kernel.purge_idempotency_keys", purge_idempotency_keys, queue="default",
                    timeout=600, cron="41 3 * * *")]
