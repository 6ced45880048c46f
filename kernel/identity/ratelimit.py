"""Login throttling: failed attempts counted per account and per client IP.

Counters live in Redis when ``PLUGBOARD_REDIS_URL`` is set (so every process shares
them), in memory otherwise. Built on the ``limits`` library's moving window.
"""

from __future__ import annotations

import time

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from kernel.config import Settings
from kernel.problems import problem


class LoginThrottle:
    def __init__(self, settings: Settings, namespace: str = "plugboard") -> None:
        storage: Storage
        if settings.redis_url:
            storage = RedisStorage(settings.redis_url, key_prefix=f"{namespace}:limits")
        else:
            storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        window = settings.login_failure_window
        self._per_account = RateLimitItemPerSecond(settings.login_max_failures_per_account, window)
        self._per_ip = RateLimitItemPerSecond(settings.login_max_failures_per_ip, window)

    def check(self, account: str, ip: str) -> None:
        """429 problem when either counter is exhausted."""
        for item, key in ((self._per_account, f"acct:{account}"), (self._per_ip, f"ip:{ip}")):
            if not self._limiter.test(item, "login", key):
                reset_at, _remaining = self._limiter.get_window_stats(item, "login", key)
                retry = max(1, int(reset_at - time.time()))
                problem(
                    429, "too-many-login-attempts", title="Too many login attempts",
                    detail=f"Too many failed logins; try again in {retry} seconds.",
                    headers={"Retry-After": str(retry)},
                )

    def failed(self, account: str, ip: str) -> None:
        self._limiter.hit(self._per_account, "login", f"acct:{account}")
        self._limiter.hit(self._per_ip, "login", f"ip:{ip}")

    def succeeded(self, account: str) -> None:
        self._limiter.clear(self._per_account, "login", f"acct:{account}")
