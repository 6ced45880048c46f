"""The kernel's housekeeping jobs: purge what has expired, collect orphaned bundle blobs.

Both run once, platform-wide, from ``plugboard cron`` (daily), and are safe to run again
at any time: each deletes only what can never be used again.

.. versionadded:: 1.1
"""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from hookspecs import JobSpec
from kernel.data.base import utcnow
from kernel.data.models import RefreshToken, UserToken
from kernel.data.session import db
from kernel.identity.customers import CustomerRefreshToken, CustomerToken
from kernel.registry import bundles
from kernel.tenancy.scope import platform_scope

log = logging.getLogger("plugboard.maintenance")

# Spent and revoked refresh tokens are kept a while: reuse detection needs to recognise a
# stolen token presented after its rotation, and the audit of a session wants its tail.
SPENT_TOKENS_KEPT = dt.timedelta(days=7)


def purge_expired() -> dict[str, int]:
    """Delete expired or long-spent refresh tokens and single-use mail tokens (staff and
    customers of every tenant); the number deleted per table."""
    now = utcnow()
    spent_before = now - SPENT_TOKENS_KEPT
    removed: dict[str, int] = {}
    with platform_scope():
        for model in (RefreshToken, CustomerRefreshToken):
            removed[model.__tablename__] = _delete(model, sa.or_(
                model.expires_at <= now,
                model.revoked_at <= spent_before,
                model.used_at <= spent_before,
            ))
        for token_model in (UserToken, CustomerToken):
            removed[token_model.__tablename__] = _delete(token_model, sa.or_(
                token_model.expires_at <= now, token_model.used_at.is_not(None)))
        db.session.commit()
    log.info("purged expired tokens", extra={"removed": removed})
    return removed


def _delete(model: type[RefreshToken] | type[CustomerRefreshToken] | type[UserToken]
            | type[CustomerToken], condition: sa.ColumnElement[bool]) -> int:
    result = db.session.execute(sa.delete(model).where(condition))
    return int(getattr(result, "rowcount", 0) or 0)


def collect_bundle_blobs() -> int:
    """Delete stored bundle blobs no version refers to (left by an upload that died
    between writing its files and committing its row); the number deleted.

    Runs under the bundle upload lock, so no upload is half-way while it decides.
    """
    return bundles.collect_orphans()


def kernel_job_specs() -> list[JobSpec]:
    return [
        JobSpec("kernel.purge_expired", purge_expired, queue="default", cron="17 3 * * *"),
        JobSpec("kernel.collect_bundle_blobs", collect_bundle_blobs, queue="default",
                cron="43 3 * * *", timeout=600),
    ]
