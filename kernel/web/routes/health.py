"""``/health`` and ``/health/live`` (liveness) and ``/health/ready`` (database, queue, storage, plugins)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

from kernel.data.session import db
from kernel.services import kernel_services

log = logging.getLogger("plugboard.health")

# name -> check returning (ok, detail); plugins of the kernel add theirs at start-up
Check = Callable[[], tuple[str, str]]


def _database() -> tuple[str, str]:
    db.session.execute(sa.text("SELECT 1"))
    return "ok", db.engine.dialect.name


def _queue() -> tuple[str, str]:
    settings = kernel_services().settings
    if not settings.redis_url:
        return "ok", "inline (no Redis configured)"
    import redis

    redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2).ping()
    return "ok", "redis"


def _storage() -> tuple[str, str]:
    return "ok", kernel_services().storage.check()


def readiness_checks(app: Flask) -> dict[str, Check]:
    return kernel_services(app).health_checks


def init_app(app: Flask) -> None:
    checks = readiness_checks(app)
    checks.setdefault("database", _database)
    checks.setdefault("queue", _queue)
    checks.setdefault("storage", _storage)

    @app.get("/health")
    @app.get("/health/live", endpoint="health_live")
    def health() -> ResponseReturnValue:
        """Liveness: the process answers; touches no database, queue or storage."""
        return jsonify(status="ok")

    @app.get("/health/ready")
    def ready() -> ResponseReturnValue:
        report: dict[str, Any] = {}
        healthy = True
        for name, check in checks.items():
            try:
                status, detail = check()
            except Exception as exc:  # a readiness probe reports, it never raises
                log.warning("readiness check failed", extra={"check": name, "error": str(exc)})
                db.session.rollback()
                status, detail = "down", type(exc).__name__
            report[name] = {"status": status, "detail": detail}
            healthy = healthy and status != "down"
        degraded = any(v["status"] == "degraded" for v in report.values())
        overall = "down" if not healthy else ("degraded" if degraded else "ok")
        return jsonify(status=overall, checks=report), (200 if healthy else 503)
