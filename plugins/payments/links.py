"""Payment links: ``/pay/<token>`` for someone with no account (e.g. from an e-mail).

The token is 256 random bits (``secrets.token_urlsafe(32)``); only its SHA-256 is stored.
A link names a payable, not an amount: what is due is asked of its owner each time, so a
link to something already paid answers 409 saying so.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from hookspecs import Payable
from kernel.api import db, utcnow
from plugins.payments import services
from plugins.payments.errors import InvalidAmount, LinkExpired, LinkNotFound
from plugins.payments.models import Payment, PaymentLink

MAX_TTL = dt.timedelta(days=366)
DEFAULT_TTL = dt.timedelta(days=30)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(kind: str, ref: str, expires_at: dt.datetime | None, actor: str) -> tuple[PaymentLink, str]:
    """A new link and its token (shown this once)."""
    services.resolve(kind, ref)  # payable now, or the refusal says why not
    now = utcnow()
    expires_at = expires_at or now + DEFAULT_TTL
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=dt.UTC)
    if not now < expires_at <= now + MAX_TTL:
        raise InvalidAmount("expires_at must be in the future and within a year.",
                            errors=[{"field": "expires_at", "pointer": "/expires_at",
                                     "location": "json", "message": "future, at most a year away"}])
    token = secrets.token_urlsafe(32)
    link = PaymentLink(token_hash=digest(token), token_prefix=token[:8], kind=kind, ref=ref,
                       expires_at=expires_at, created_by=actor)
    db.session.add(link)
    db.session.flush()
    return link, token


def by_token(token: str) -> PaymentLink:
    """The link of ``token`` in the tenant in scope; 404 unknown, 410 expired."""
    if not 20 <= len(token) <= 100:
        raise LinkNotFound("No such payment link.")
    link = db.session.scalars(sa.select(PaymentLink).where(PaymentLink.token_hash == digest(token))).first()
    if link is None:
        raise LinkNotFound("No such payment link.")
    if link.expires_at is not None and link.expires_at <= utcnow():
        raise LinkExpired("This payment link has expired; ask for a new one.")
    return link


def due(link: PaymentLink) -> Payable:
    return services.resolve(link.kind, link.ref)


def latest_payment(link: PaymentLink) -> Payment | None:
    return db.session.scalars(sa.select(Payment).where(Payment.kind == link.kind, Payment.ref == link.ref)
                              .order_by(Payment.created_at.desc())).first()


def list_links() -> sa.Select[tuple[PaymentLink]]:
    return sa.select(PaymentLink).order_by(PaymentLink.created_at.desc(), PaymentLink.id)
