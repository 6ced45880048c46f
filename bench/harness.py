"""Helpers shared by ``python -m bench`` and ``bench.soak``: servers, load, databases.

* ``Server``: gunicorn on a loopback port with ``GUNICORN_ARGS`` (the same for every
  server), its workers' RSS from ``/proc``, and a stop that always reaps the process group;
* ``load``: ``wrk`` (Debian's package) when installed, else a Python keep-alive client;
* ``BenchDatabase``: a fresh PostgreSQL database owned by a non-superuser role, dropped
  (with its Redis namespace and data folder) by ``drop``.
"""

from __future__ import annotations

import http.client
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
PG_ADMIN = os.environ.get("PLUGBOARD_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("PLUGBOARD_BENCH_REDIS", "redis://127.0.0.1:6379/0")
APP_ROLE = "plugboard_app"
# The same for every server, so ratios compare the apps and nothing else. No config
# file (deploy/gunicorn.conf.py sizes workers by CPU count); no recycling mid-run.
GUNICORN_ARGS = ("--workers", "2", "--worker-class", "gthread", "--threads", "4",
                 "--max-requests", "0", "--keep-alive", "5", "--timeout", "30",
                 "--log-level", "warning")


def gunicorn_args(worker_class: str = "gthread") -> tuple[str, ...]:
    """``GUNICORN_ARGS`` with another worker class (``sync``: one request at a time)."""
    if worker_class == "gthread":
        return GUNICORN_ARGS
    args = list(GUNICORN_ARGS)
    args[args.index("--worker-class") + 1] = worker_class
    return tuple(args)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine() -> dict[str, Any]:
    return {"nproc": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg": os.getloadavg(),
            "load_generator": "wrk" if shutil.which("wrk") else "python"}


# -- servers ---------------------------------------------------------------------------


class Server:
    """gunicorn serving ``spec`` on a loopback port until ``stop``."""

    def __init__(self, spec: str, env: dict[str, str],
                 args: tuple[str, ...] = GUNICORN_ARGS) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                        *args, spec]
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server
        self._proc = subprocess.Popen(self.command, cwd=ROOT, env=env,  # noqa: S603 - argv, no shell
                                      stdout=self._log, stderr=self._log, start_new_session=True)

    def wait_ready(self, path: str, headers: dict[str, str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._proc.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", path, headers=headers)
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{' '.join(self.command)} did not answer 200 on {path}:\n{self.log()}")

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-3000:]

    @property
    def pid(self) -> int:
        return self._proc.pid

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children")
        return sorted(int(pid) for pid in children.read_text().split())

    def worker_rss_kib(self) -> dict[int, int]:
        """VmRSS of each worker, in KiB."""
        return {pid: rss_kib(pid) for pid in self.worker_pids()}

    def stop(self) -> None:
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=10)
        self._log.close()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU time of each live process in ``pids``, in seconds."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        out[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


def postgres_pids(database: str | None = None) -> list[int]:
    """Local PostgreSQL processes: all of them, or the backends serving ``database``.

    A backend's process title names its database, so other people's databases on a
    shared server (test suites, say) stay out of a bench's count when it names its own.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if not (entry / "comm").read_text().startswith("postgres"):
                    continue
                if database is None or f" {database} ".encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU seconds spent by a server's processes and by PostgreSQL between two readings.

    With ``database``, PostgreSQL means that database's backends only (not the server's
    background processes, nor other databases' backends).
    """

    def __init__(self, server: Server, database: str | None = None) -> None:
        self._server = server
        self._database = database
        self._before = self._read()

    def _read(self) -> dict[str, dict[int, float]]:
        return {"app": cpu_seconds([self._server.pid, *self._server.worker_pids()]),
                "postgres": cpu_seconds(postgres_pids(self._database))}

    def spent(self) -> dict[str, float]:
        """Seconds per group since the meter started (processes started since count whole)."""
        after = self._read()
        return {group: sum(t - self._before[group].get(pid, 0.0) for pid, t in times.items())
                for group, times in after.items()}


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]


# -- load ------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def load(url: str, headers: dict[str, str], duration: float, connections: int,
         wrk_threads: int = 2) -> dict[str, Any]:
    """GET ``url`` for ``duration`` s: req/s, p50/p99 in ms, errors (non-2xx, socket)."""
    if shutil.which("wrk"):
        return wrk(url, headers, duration, connections, wrk_threads)
    return python_load(url, headers, duration, connections)


def wrk(url: str, headers: dict[str, str], duration: float, connections: int,
        threads: int) -> dict[str, Any]:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True,  # noqa: S603 - argv, no shell
                         check=True, timeout=duration + 60).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
            # wrk leaves a percentile out when it has no sample there (a run of timeouts)
            "p50_ms": _ms(percentiles["50"]) if "50" in percentiles else float("nan"),
            "p99_ms": _ms(percentiles["99"]) if "99" in percentiles else float("nan"),
            "errors": errors}


class Tally:
    """Latencies and errors from many client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors = 0
        self.error_samples: list[str] = []

    def add(self, latencies: list[float], errors: list[str]) -> None:
        with self.lock:
            self.latencies += latencies
            self.errors += len(errors)
            self.error_samples += errors[: max(0, 5 - len(self.error_samples))]

    def summary(self, duration: float) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]
        return {"rps": len(self.latencies) / duration, "requests": len(self.latencies),
                "p50_ms": ordered[len(ordered) // 2] * 1000,
                "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
                "errors": self.errors, "error_samples": self.error_samples}


def request(conn: http.client.HTTPConnection, method: str, path: str, headers: dict[str, str],
            body: bytes | None = None) -> int:
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def python_load(url: str, headers: dict[str, str], duration: float, connections: int) -> dict[str, Any]:
    """Keep-alive GETs from ``connections`` threads (the fallback without wrk, and warm-ups)."""
    host_port, path = url.removeprefix("http://").split("/", 1)
    host, port = host_port.split(":")
    stop, tally = time.monotonic() + duration, Tally()

    def client() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        latencies: list[float] = []
        errors: list[str] = []
        while (start := time.monotonic()) < stop:
            try:
                status = request(conn, "GET", "/" + path, headers)
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                conn.close()
                continue
            latencies.append(time.monotonic() - start)
            if status >= 300:
                errors.append(f"GET /{path}: {status}")
        conn.close()
        tally.add(latencies, errors)

    run_threads(client, connections)
    return tally.summary(duration)


def run_threads(target: Any, count: int) -> None:
    threads = [threading.Thread(target=target, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# -- database --------------------------------------------------------------------------


class BenchDatabase:
    """A throw-away database owned by ``APP_ROLE``, a Redis namespace and a data folder."""

    def __init__(self, prefix: str = "plugboard_bench") -> None:
        self.name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.namespace = f"pbbench-{uuid.uuid4().hex[:8]}"
        self.data_dir = tempfile.mkdtemp(prefix="plugboard-bench-")
        self.secret_key = "bench-" + uuid.uuid4().hex * 2  # one for every process: tokens verify
        self._admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as conn:
            if not conn.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}):
                conn.execute(sa.text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"))
            conn.execute(sa.text(f'CREATE DATABASE "{self.name}" OWNER {APP_ROLE}'))
        self.url = sa.make_url(PG_ADMIN).set(database=self.name, username=APP_ROLE, password=None
                                             ).render_as_string(hide_password=False)

    def env(self) -> dict[str, str]:
        """The servers' environment: production profile, this database, Redis and folder."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGBOARD_")}
        env.update({
            "PLUGBOARD_ENV": "production", "PLUGBOARD_SECRET_KEY": self.secret_key,
            "PLUGBOARD_DATABASE_URL": self.url, "PLUGBOARD_REDIS_URL": REDIS,
            "PLUGBOARD_REDIS_NAMESPACE": self.namespace, "PLUGBOARD_DATA_DIR": self.data_dir,
            "PLUGBOARD_LOG_LEVEL": "INFO", "PLUGBOARD_ACCESS_TOKEN_TTL": "7200",
            # one client address sends everything: off unless the bench measures the limits
            "PLUGBOARD_RATE_LIMITS": os.environ.get("PLUGBOARD_BENCH_RATE_LIMITS", "off"),
        })
        return env

    def drop(self) -> None:
        import redis

        with self._admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()
        client = redis.Redis.from_url(REDIS)
        keys = list(client.scan_iter(f"{self.namespace}*"))
        if keys:
            client.delete(*keys)
        shutil.rmtree(self.data_dir, ignore_errors=True)
