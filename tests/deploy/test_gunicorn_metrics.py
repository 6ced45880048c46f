"""/metrics under a real gunicorn with two workers, started with deploy/gunicorn.conf.py.

Each worker counts the requests it serves in its own files (prometheus_client's
multiprocess mode); whichever worker answers a scrape must report the sum over both.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "gunicorn.conf.py"


class Gunicorn:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.metrics_dir = tmp / "metrics"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PLUGBOARD_", "PROMETHEUS_"))}
        env.update({
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_THREADS": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            "PLUGBOARD_ENV": "development",
            "PLUGBOARD_DATA_DIR": str(tmp / "var"),
        })
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        # One connection per worker at a time: a client holding a keep-alive connection to
        # one worker makes the next connection land on the other, so the test knows that
        # each of its two connections talks to a different worker.
        command = [sys.executable, "-m", "gunicorn", "--config", str(CONF), "--worker-connections", "1"]
        self.proc = subprocess.Popen(command,
                                     cwd=ROOT, env=env, stdout=self.log, stderr=self.log,
                                     start_new_session=True)

    def get(self, path: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            # a new connection per request, so the kernel spreads them over both workers
            conn.request("GET", path, headers={"Connection": "close"})
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            if children.exists() and len(children.read_text().split()) == 2:
                try:
                    if self.get("/health/live")[0] in (200, 404) and self.get("/health")[0] == 200:
                        return
                except OSError:
                    pass
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not start:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if not self.log.closed:
            self.log.close()


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Gunicorn]:
    server = Gunicorn(tmp_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, str]:
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name):line.rindex("}")]))
            if found == labels:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_are_summed_over_both_workers(gunicorn: Gunicorn) -> None:
    first = http.client.HTTPConnection("127.0.0.1", gunicorn.port, timeout=10)
    second = http.client.HTTPConnection("127.0.0.1", gunicorn.port, timeout=10)
    try:
        health_before = _sample(_get(first, "/metrics")[1], "plugboard_http_requests_total",
                                method="GET", endpoint="/health", status="200", plugin="kernel")
        assert _get(second, "/health")[0] == 200  # second is now held by the other worker
        for conn in (first, second) * 30:
            assert _get(conn, "/health")[0] == 200
        for conn in (first, second) * 10:
            assert _get(conn, "/api/v1/hello/messages")[0] == 401

        # both workers served requests: each wrote its own counter file
        pids = {f.name for f in gunicorn.metrics_dir.glob("counter_*.db")}
        assert len(pids) == 2, pids

        # a scrape answered by either worker sees the sum over both
        for conn in (first, second):
            text = _get(conn, "/metrics")[1]
            assert _sample(text, "plugboard_http_requests_total", method="GET", endpoint="/health",
                           status="200", plugin="kernel") == health_before + 61
            assert _sample(text, "plugboard_http_requests_total", method="GET",
                           endpoint="/api/v1/hello/messages", status="401", plugin="hello") == 20
            assert _sample(text, "plugboard_http_request_duration_seconds_count", method="GET",
                           endpoint="/api/v1/hello/messages", plugin="hello") == 20
    finally:
        first.close()
        second.close()


def test_gunicorn_error_log_is_json(gunicorn: Gunicorn) -> None:
    os.killpg(gunicorn.proc.pid, signal.SIGTERM)
    gunicorn.proc.wait(timeout=30)
    lines = [line for line in gunicorn.output().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # nothing gunicorn or the app wrote is plain text
    messages = " ".join(e["msg"] for e in entries if e.get("logger") == "gunicorn.error")
    assert "Booting worker" in messages and "Shutting down" in messages, lines
