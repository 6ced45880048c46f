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
import socket
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
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            "PLUGBOARD_ENV": "development",
            "PLUGBOARD_DATA_DIR": str(tmp / "var"),
        })
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        # One connection per worker at a time: while the test holds a half-sent request on
        # one worker, every new connection lands on the other.
        command = [sys.executable, "-m", "gunicorn", "--config", str(CONF),
                   "--worker-connections", "1", "--threads", "1"]
        self.proc = subprocess.Popen(command,
                                     cwd=ROOT, env=env, stdout=self.log, stderr=self.log,
                                     start_new_session=True)

    def get(self, path: str) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def hold_a_worker(self) -> socket.socket:
        """Occupy one worker with a request whose end has not been sent yet."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        deadline = time.monotonic() + 30
        while self._accept_backlog() and time.monotonic() < deadline:  # until a worker took it
            time.sleep(0.05)
        assert self._accept_backlog() == 0
        return sock

    def _accept_backlog(self) -> int:
        """Connections waiting in the listening socket's accept queue (/proc/net/tcp)."""
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == self.port:
                return int(fields[4].split(":")[1], 16)
        raise AssertionError("gunicorn is not listening")

    @staticmethod
    def release(sock: socket.socket) -> None:
        sock.sendall(b"\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 200")
        sock.close()

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


def _sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name):line.rindex("}")]))
            if found == labels:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def _metrics(server: Gunicorn) -> tuple[float, float, float]:
    text = server.get("/metrics")[1]
    return (_sample(text, "plugboard_http_requests_total", method="GET", endpoint="/health",
                    status="200", plugin="kernel"),
            _sample(text, "plugboard_http_requests_total", method="GET",
                    endpoint="/api/v1/hello/messages", status="401", plugin="hello"),
            _sample(text, "plugboard_http_request_duration_seconds_count", method="GET",
                    endpoint="/api/v1/hello/messages", plugin="hello"))


def test_metrics_are_summed_over_both_workers(gunicorn: Gunicorn) -> None:
    health_before = _metrics(gunicorn)[0]

    held = gunicorn.hold_a_worker()  # worker A is busy: B serves what follows
    for _ in range(30):
        assert gunicorn.get("/health")[0] == 200
    for _ in range(10):
        assert gunicorn.get("/api/v1/hello/messages")[0] == 401
    seen_by_b = _metrics(gunicorn)
    held_b = gunicorn.hold_a_worker()  # now B is busy
    gunicorn.release(held)  # and A free: it serves what follows
    for _ in range(20):
        assert gunicorn.get("/health")[0] == 200
    for _ in range(5):
        assert gunicorn.get("/api/v1/hello/messages")[0] == 401
    seen_by_a = _metrics(gunicorn)
    gunicorn.release(held_b)

    # both workers served requests: each wrote its own counter file
    assert len(list(gunicorn.metrics_dir.glob("counter_*.db"))) == 2
    # B's scrape counted B's requests; A's scrape, answered by A, counts both workers'
    assert seen_by_b == (health_before + 30, 10, 10)
    assert seen_by_a == (health_before + 30 + 1 + 20, 15, 15)  # + 1: the released /health


def test_gunicorn_error_log_is_json(gunicorn: Gunicorn) -> None:
    os.killpg(gunicorn.proc.pid, signal.SIGTERM)
    gunicorn.proc.wait(timeout=30)
    lines = [line for line in gunicorn.output().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # nothing gunicorn or the app wrote is plain text
    messages = " ".join(e["msg"] for e in entries if e.get("logger") == "gunicorn.error")
    assert "Booting worker" in messages and "Shutting down" in messages, lines
