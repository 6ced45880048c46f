"""Request ids, structured JSON logs and Prometheus metrics.

Metrics are per process unless ``PROMETHEUS_MULTIPROC_DIR`` is set (deploy/gunicorn.conf.py
sets it before the workers start): then every process writes its counters to files there
and ``/metrics`` answers the sum over all of them, whichever worker serves the scrape.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from typing import Any

from flask import Flask, Request, Response, g, has_app_context
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from kernel.identity.credentials import redact
from kernel.request_hooks import Globals, request_hooks
from kernel.services import kernel_services

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

_ENCODER = json.JSONEncoder(default=str)  # one encoder, not one per line (json.dumps(default=))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id when there is one."""

    RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
    _second: tuple[int, str] = (-1, "")  # the last second formatted: one strftime per second

    def _timestamp(self, record: logging.LogRecord) -> str:
        """ISO 8601 in UTC (the ``Z``), with milliseconds."""
        second, text = self._second
        if second != int(record.created):
            second = int(record.created)
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, text)
        return f"{text}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        if has_app_context():  # a test, not try/except: the public edge logs without one
            entry["request_id"] = g.get("request_id")
        for key in sorted(record.__dict__.keys() - self.RESERVED):  # the extras, in C
            if not key.startswith("_"):
                entry[key] = redact(record.__dict__[key])
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return _ENCODER.encode(entry)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())


KERNEL = "kernel"  # the plugin label of the kernel's own routes


class Metrics:
    """The app's Prometheus metrics: requests and latency per route and plugin, and the
    plugin hook calls that raised."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "plugboard_http_requests_total", "HTTP requests",
            ["method", "endpoint", "status", "plugin"], registry=self.registry,
        )
        self.latency = Histogram(
            "plugboard_http_request_duration_seconds", "HTTP request latency",
            ["method", "endpoint", "plugin"], registry=self.registry,
        )
        self.hook_errors = Counter(
            "plugboard_plugin_hook_errors_total", "Plugin hook calls that raised",
            ["plugin", "hook"], registry=self.registry,
        )
        self._children: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}
        # read when prometheus_client chose its value class (at import), not per scrape
        self._multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

    def observe(self, method: str, endpoint: str, status: int, elapsed: float,
                plugin: str = KERNEL) -> None:
        """Count one request. The labelled children are looked up once per label set:
        ``labels()`` costs a lock and a tuple per call, on every request."""
        key = (method, endpoint, status, plugin)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(method, endpoint, str(status), plugin),
                        self.latency.labels(method, endpoint, plugin))
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)

    def hook_error(self, plugin: str, hook: str) -> None:
        self.hook_errors.labels(plugin, hook).inc()

    def render(self) -> Response:
        registry = self.registry
        if self._multiprocess:
            # read every process's files, this one's included, afresh on each scrape
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


access_log = logging.getLogger("plugboard.access")


def new_request_id(given: str | None) -> str:
    """The caller's ``X-Request-ID`` when well-formed, else 32 random hex digits.

    ``os.urandom(16).hex()``, not ``uuid4().hex``: the same randomness without building a
    UUID object, on every request's path.
    """
    return given if given and REQUEST_ID_RE.match(given) else os.urandom(16).hex()


def finish_request(metrics: Metrics, method: str, endpoint: str, path: str, status: int,
                   started: float, request_id: str | None = None, plugin: str = KERNEL) -> None:
    """Metrics and the access log line of one request (Flask's path and the public edge).

    ``request_id``: when there is no request context to read it from (the public edge).
    ``plugin``: the plugin whose route answered (``kernel`` for the kernel's own).
    The record is made directly rather than with ``access_log.info``: that would also walk
    the stack for the caller's file and line, which no access line shows.
    """
    elapsed = time.perf_counter() - started
    metrics.observe(method, endpoint, status, elapsed, plugin)
    if access_log.isEnabledFor(logging.INFO):
        extra: dict[str, Any] = {"status": status, "duration_ms": round(elapsed * 1000, 2)}
        if request_id is not None:
            extra["request_id"] = request_id
        access_log.handle(access_log.makeRecord(access_log.name, logging.INFO, __file__, 0,
                                                "%s %s %s", (method, path, status), None,
                                                extra=extra))


def init_app(app: Flask) -> None:
    metrics = Metrics()
    kernel_services(app).metrics = metrics
    # blueprint name -> plugin, filled when the plugins' blueprints are installed
    owners = kernel_services(app).blueprint_plugins

    hooks = request_hooks(app)

    @hooks.before
    def _start(req: Request, g: Globals) -> None:
        g.request_id = new_request_id(req.headers.get("X-Request-ID"))
        g.started = time.perf_counter()

    @hooks.after
    def _finish(req: Request, g: Globals, response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        started = g.get("started")
        if started is not None:
            rule = req.url_rule
            finish_request(metrics, req.method, rule.rule if rule else "unmatched", req.path,
                           response.status_code, started,
                           plugin=owners.get(req.blueprint or "", KERNEL))
        return response

    app.add_url_rule("/metrics", "metrics", metrics.render)
