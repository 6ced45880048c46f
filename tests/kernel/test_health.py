"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from kernel import create_app
from kernel.services import kernel_services
from tests.conftest import base_config
from tests.helpers import Api, SmtpSink, free_port


def test_liveness(client: FlaskClient) -> None:
    for path in ("/health", "/health/live"):
        resp = client.get(path)
        assert resp.status_code == 200
        assert resp.get_json() == {"status": "ok"}


def test_readiness_reports_database_and_queue(client: FlaskClient, backend: str) -> None:
    resp = client.get("/health/ready")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "ok"
    checks = body["checks"]
    assert checks["database"] == {"status": "ok", "detail": backend}
    assert checks["queue"]["status"] == "ok"
    assert ("redis" in checks["queue"]["detail"]) == (backend == "postgresql")


def _app_with(tmp_path: Path, smtp_sink: SmtpSink, **overrides: str) -> Flask:
    return create_app({**base_config(tmp_path, smtp_sink.url), **overrides})


def test_readiness_503_when_database_is_down(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    app = _app_with(tmp_path, smtp_sink, database_url="postgresql+psycopg://x@127.0.0.1:1/x")
    try:
        client = app.test_client()
        resp = client.get("/health/ready")
        assert resp.status_code == 503
        body = resp.get_json()
        assert body["status"] == "down"
        assert body["checks"]["database"]["status"] == "down"
        assert body["checks"]["queue"]["status"] == "ok"
        assert "Traceback" not in resp.get_data(as_text=True)
        # liveness does not depend on the database
        assert client.get("/health").status_code == 200
    finally:
        kernel_services(app).engine.dispose()


def test_readiness_503_when_queue_is_down(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    app = _app_with(tmp_path, smtp_sink, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    try:
        resp = app.test_client().get("/health/ready")
        assert resp.status_code == 503
        checks = resp.get_json()["checks"]
        assert checks["queue"]["status"] == "down"
        assert checks["database"]["status"] == "ok"
    finally:
        kernel_services(app).engine.dispose()


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (labels in any order); 0 when absent."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name):line.rindex("}")]))
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests(client: FlaskClient) -> None:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain"
    text = resp.get_data(as_text=True)
    assert "# TYPE plugboard_http_requests_total counter" in text
    before = _sample(text, "plugboard_http_requests_total",
                     endpoint="/health", method="GET", status="200", plugin="kernel")
    for _ in range(3):
        client.get("/health")
    client.get("/api/v1/tenant")  # 401
    client.get("/no/such/page")
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "plugboard_http_requests_total",
                   endpoint="/health", method="GET", status="200", plugin="kernel") == before + 3
    assert _sample(text, "plugboard_http_requests_total",
                   endpoint="/api/v1/tenant", method="GET", status="401", plugin="kernel") == 1
    # unknown paths share one label instead of growing the series without bound
    assert _sample(text, "plugboard_http_requests_total",
                   endpoint="unmatched", method="GET", status="404", plugin="kernel") == 1
    assert "/no/such/page" not in text
    assert _sample(text, "plugboard_http_request_duration_seconds_count",
                   endpoint="/health", method="GET", plugin="kernel") == before + 3


def test_metrics_use_route_templates_not_ids(api: Api) -> None:
    acct = api.register("metrics-a")
    api.delete("/api/v1/tenant/domains/8f8f4c1e-0000-4000-8000-000000000000", acct)
    text = api.get("/metrics").get_data(as_text=True)
    assert _sample(text, "plugboard_http_requests_total", endpoint="/api/v1/tenant/domains/<uuid:domain_id>",
                   method="DELETE", status="404", plugin="kernel") == 1
    assert "8f8f4c1e" not in text


def test_request_id_is_echoed_or_made(client: FlaskClient) -> None:
    resp = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    made = client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
