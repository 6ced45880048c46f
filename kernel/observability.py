"""Request ids, structured JSON logs and Prometheus metrics."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Keys whose values never reach a log line, whatever their nesting.
SECRET_KEYS = re.compile(r"pass(word)?|secret|token|authorization|api[_-]?key|cookie", re.I)
BEARER_RE = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.I)
API_KEY_RE = re.compile(r"pbk_[0-9a-f]{8}_[A-Za-z0-9_-]+")


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "[redacted]" if SECRET_KEYS.search(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return API_KEY_RE.sub("pbk_[redacted]", BEARER_RE.sub(r"\1[redacted]", value))
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id when there is one."""

    RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        with contextlib.suppress(RuntimeError):  # outside a request: no id
            entry["request_id"] = g.get("request_id")
        for key, value in record.__dict__.items():
            if key not in self.RESERVED and not key.startswith("_"):
                entry[key] = redact(value)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "plugboard_http_requests_total", "HTTP requests",
            ["method", "endpoint", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "plugboard_http_request_duration_seconds", "HTTP request latency",
            ["method", "endpoint"], registry=self.registry,
        )

    def render(self) -> Response:
        return Response(generate_latest(self.registry), content_type=CONTENT_TYPE_LATEST)


access_log = logging.getLogger("plugboard.access")


def init_app(app: Flask) -> None:
    metrics = Metrics()
    app.extensions["plugboard.metrics"] = metrics

    @app.before_request
    def _start() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID_RE.match(given) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        started = g.get("started")
        if started is not None:
            elapsed = time.perf_counter() - started
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            metrics.requests.labels(request.method, endpoint, str(response.status_code)).inc()
            metrics.latency.labels(request.method, endpoint).observe(elapsed)
            access_log.info(
                "%s %s %s", request.method, request.path, response.status_code,
                extra={"status": response.status_code, "duration_ms": round(elapsed * 1000, 2)},
            )
        return response

    app.add_url_rule("/metrics", "metrics", metrics.render)
