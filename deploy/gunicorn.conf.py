"""gunicorn settings for the Plugboard API (the Docker image's command uses this file).

Tunable from the environment, so one image fits every host:

- ``GUNICORN_BIND`` (default ``0.0.0.0:8000``)
- ``WEB_CONCURRENCY``: worker processes (default ``2 * CPUs + 1``, at most
  ``GUNICORN_MAX_WORKERS``, default 8). CPUs are the container's CPU quota (cgroup
  ``cpu.max``) when one is set, else the CPUs this process may run on: a container limited
  to 2 CPUs on a 64-core host gets 5 workers, not 8 that fight over 2 CPUs.
- ``GUNICORN_THREADS``: threads per worker (default 4)
- ``GUNICORN_TIMEOUT``: seconds before a silent worker is restarted (default 30)
- ``GUNICORN_GRACEFUL_TIMEOUT``: seconds a stopping worker may finish its requests
  (default 30; the orchestrator's stop grace period must be longer)
- ``GUNICORN_KEEPALIVE``: seconds an idle client connection stays open (default 75)
- ``GUNICORN_MAX_REQUESTS``: requests before a worker is recycled (default 100000)
- ``GUNICORN_LOG_LEVEL``: gunicorn's own log level (default ``info``)
- ``FORWARDED_ALLOW_IPS``: proxies whose ``X-Forwarded-*`` headers are trusted (read by
  gunicorn itself; default ``127.0.0.1``)
- ``PROMETHEUS_MULTIPROC_DIR``: where the workers' metric files go (default: a fresh
  directory under ``/dev/shm``); ``/metrics`` sums them, whichever worker answers.
"""

import math
import os
import shutil
import tempfile
from pathlib import Path

# Before any worker imports prometheus_client: the library picks its file-backed values
# at import when this variable is set. A directory of its own per master, on tmpfs.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _shm = "/dev/shm"  # noqa: S108 - tmpfs, the place for per-process scratch files
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix="plugboard-metrics-", dir=_shm if os.path.isdir(_shm) else None)


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def container_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process can use: the cgroup quota (v2 ``cpu.max``, v1 CFS) rounded up,
    capped by the CPUs it may be scheduled on."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = period = -1
    try:
        quota_text, period_text = (cgroup / "cpu.max").read_text().split()
        if quota_text != "max":
            quota, period = int(quota_text), int(period_text)
    except (OSError, ValueError):
        try:
            quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
            period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            pass
    if quota > 0 and period > 0:
        return max(1, min(available, math.ceil(quota / period)))
    return max(1, available)


wsgi_app = "kernel:create_app()"

# Inside a container the API must listen on every interface; the proxy in front decides
# what is exposed.
bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]

workers = _int("WEB_CONCURRENCY", min(2 * container_cpus() + 1, _int("GUNICORN_MAX_WORKERS", 8)))
# Threads let a worker keep serving while one request waits on the database or storage.
# Each thread may hold one pooled database connection: see docs/operations.md#capacity.
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Longer than the idle timeout of the load balancer in front (AWS ALB 60 s, nginx's
# upstream keepalive_timeout 60 s, Google's 600 s: raise it there): the proxy, not
# gunicorn, must be the one to close an idle connection, or a request it sends just as
# gunicorn closes fails with a 502.
keepalive = _int("GUNICORN_KEEPALIVE", 75)

# Recycle workers now and then so a slow leak (in a plugin, say) cannot grow forever;
# the jitter keeps them from restarting all at once. Recycling a worker empties its
# in-process caches (tenants, activations, pages), so keep it rare: 100,000 requests.
max_requests = _int("GUNICORN_MAX_REQUESTS", 100_000)
max_requests_jitter = max_requests // 10

# The app is built in each worker, never in the master: database pools, Redis
# connections and plugin state must not be shared across fork().
preload_app = False

# Heartbeat files on tmpfs: a disk-backed /tmp can stall workers under I/O pressure.
# Only gunicorn's own per-worker files go there, never data.
if os.path.isdir("/dev/shm"):  # noqa: S108
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# No control socket (gunicorn 25+): the container is managed with signals (HUP reloads,
# TERM stops), and the unprivileged user has no home directory to put the socket in.
control_socket_disable = True

# The app writes its own JSON access log line per request (with the request id), so
# gunicorn's access log stays off. gunicorn's error log (worker starts, timeouts, boot
# failures) goes to stderr as the same JSON lines, so one parser reads the whole stream.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "kernel.web.observability.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                            "stream": "ext://sys.stderr"}},
    # the root logger is left to the app (kernel.web.observability.configure_logging)
    "root": {"level": "WARNING", "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
}
proc_name = "plugboard-api"


def on_starting(server: object) -> None:
    """Start the metrics from zero: files left by an earlier run would be summed in."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if directory.is_dir():
        for stale in directory.glob("*.db"):
            stale.unlink()
    directory.mkdir(parents=True, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    """A worker's counters stay counted; its live gauges are dropped."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def on_exit(server: object) -> None:
    """Remove the directory this file made (not one the operator named)."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if Path(directory).name.startswith("plugboard-metrics-"):
        shutil.rmtree(directory, ignore_errors=True)
