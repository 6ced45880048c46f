"""Audit trail: every successful mutating API call leaves one row.

Views may name the action and entity with :func:`describe`; otherwise the action is
the endpoint name. The row is written after the view, in its own transaction, so a
plugin cannot forget it.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, Request, Response, g, request

from kernel.data.models import AuditEntry
from kernel.data.session import db
from kernel.identity.credentials import redact
from kernel.request_hooks import Globals, request_hooks
from kernel.tenancy.scope import platform_scope

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
log = logging.getLogger("plugboard.audit")


def describe(
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: Any = None,
    tenant_id: uuid.UUID | None = None,
    actor_id: Any = None,
    actor_type: str | None = None,
    **details: Any,
) -> None:
    """Name what the current request did, for its audit row."""
    info = g.setdefault("audit", {})
    if actor_type is not None:
        info["actor_type"] = actor_type
    if action:
        info["action"] = action
    if entity_type:
        info["entity_type"] = entity_type
    if entity_id is not None:
        info["entity_id"] = str(entity_id)
    if tenant_id is not None:
        info["tenant_id"] = tenant_id
    if actor_id is not None:
        info["actor_id"] = str(actor_id)
    if details:
        info.setdefault("details", {}).update(redact(details))


def skip() -> None:
    """This call is not worth an audit row (e.g. a token refresh, a provider's webhook).

    .. versionadded:: 1.1 in :mod:`kernel.api` (as ``audit_skip``)
    """
    g.audit_skip = True


def _write(response: Response) -> None:
    info = g.get("audit", {})
    principal = g.get("principal")
    tenant_id = info.get("tenant_id") or (principal.tenant_id if principal else None)
    actor_id = info.get("actor_id") or (principal.actor_id if principal else None)
    # a view may name the user it acted for (e.g. registration, before any token exists)
    actor_type = principal.kind if principal else (
        info.get("actor_type") or ("customer" if g.get("customer") is not None else None)
        or ("user" if actor_id else "anonymous"))
    entry = AuditEntry(
        tenant_id=tenant_id,
        actor_type=actor_type,
        actor_id=actor_id,
        action=(info.get("action") or request.endpoint or request.path)[:120],
        entity_type=(info.get("entity_type") or "")[:64] or None,
        entity_id=(info.get("entity_id") or "")[:64] or None,
        status=response.status_code,
        ip=(request.remote_addr or "")[:64],
        user_agent=(request.user_agent.string or "")[:400],
        request_id=g.get("request_id"),
        details=info.get("details", {}),
    )
    with platform_scope():
        session = db.session
        session.rollback()  # never commit half a failed view's work along with the audit row
        session.add(entry)
        session.commit()


def init_app(app: Flask) -> None:
    @request_hooks(app).after
    def _audit(req: Request, g: Globals, response: Response) -> Response:
        if (
            req.method in MUTATING
            and response.status_code < 400
            and req.path.startswith("/api/")
            and not g.get("audit_skip")
        ):
            try:
                _write(response)
            except Exception:  # the call succeeded; a lost audit row must not turn it into a 500
                log.exception("audit write failed", extra={"path": req.path})
                db.session.rollback()
        return response
