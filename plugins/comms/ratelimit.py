"""Each tenant's texts leave at most ``sms_per_second`` per second, across every worker.

The ``limits`` library's moving window counts sends per tenant: in Redis when the
installation has it (every worker process shares the window), in process memory in the
embedded profile (jobs run inline in that one process). A send that finds the window
full waits until a slot frees, so texts queue up instead of failing.
"""

from __future__ import annotations

import threading
import time
import uuid
from fractions import Fraction

from flask import Flask
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from kernel.api import redis_config

EXTENSION = "comms.limiter"
MAX_WAIT = 600.0  # seconds; a job waiting longer than this gives the slot up and errors
_lock = threading.Lock()


def _window(per_second: float) -> RateLimitItemPerSecond:
    """``per_second`` as a whole number of sends per whole number of seconds (0.5/s: 1 per 2 s)."""
    rate = Fraction(per_second).limit_denominator(100)
    return RateLimitItemPerSecond(max(1, rate.numerator), max(1, rate.denominator))


class Limiter:
    def __init__(self, storage: Storage) -> None:
        self._limiter = MovingWindowRateLimiter(storage)

    def acquire(self, tenant_id: uuid.UUID, per_second: float) -> float:
        """Block until a send for ``tenant_id`` is allowed; returns the seconds waited."""
        item = _window(per_second)
        started = time.monotonic()
        while not self._limiter.hit(item, "comms-sms", str(tenant_id)):
            reset_at, _ = self._limiter.get_window_stats(item, "comms-sms", str(tenant_id))
            waited = time.monotonic() - started
            if waited > MAX_WAIT:
                raise TimeoutError(f"no SMS slot for tenant {tenant_id} within {MAX_WAIT:.0f}s")
            time.sleep(min(1.0, max(0.01, reset_at - time.time())))
        return time.monotonic() - started


def limiter(app: Flask) -> Limiter:
    """The app's limiter, made on first use (Redis when configured, else memory)."""
    found = app.extensions.get(EXTENSION)
    if found is None:
        with _lock:
            found = app.extensions.get(EXTENSION)
            if found is None:
                url, namespace = redis_config(app)
                storage: Storage = (RedisStorage(url, key_prefix=f"{namespace}:comms-limits") if url
                                    else MemoryStorage())
                found = app.extensions[EXTENSION] = Limiter(storage)
    return found  # type: ignore[no-any-return]


__all__ = ["Limiter", "limiter"]
