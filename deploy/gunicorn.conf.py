"""gunicorn settings for the Plugboard API (the Docker image's command uses this file).

Tunable from the environment, so one image fits every host:

- ``GUNICORN_BIND`` (default ``0.0.0.0:8000``)
- ``WEB_CONCURRENCY``: worker processes (default ``2 * CPUs + 1``, at most 8)
- ``GUNICORN_THREADS``: threads per worker (default 4)
- ``GUNICORN_TIMEOUT``: seconds before a silent worker is restarted (default 30)
- ``FORWARDED_ALLOW_IPS``: proxies whose ``X-Forwarded-*`` headers are trusted (read by
  gunicorn itself; default ``127.0.0.1``)
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


wsgi_app = "kernel:create_app()"

# Inside a container the API must listen on every interface; the proxy in front decides
# what is exposed.
bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]

workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8))
# Threads let a worker keep serving while one request waits on the database or storage.
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5

# Recycle workers now and then so a slow leak (in a plugin, say) cannot grow forever;
# the jitter keeps them from restarting all at once.
# Recycling a worker empties its in-process caches (tenants, activations, pages), so keep
# it rare: at storefront rates 2,000 requests is a few seconds.
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
# gunicorn's access log stays off; its error log goes to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "plugboard-api"
