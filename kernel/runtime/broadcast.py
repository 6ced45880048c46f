"""Cross-process invalidation: ``publish(topic, key)`` reaches every process's subscribers.

In-process caches (tenant activation snapshots, published pages) subscribe to a topic
and drop the key they are told about. The publishing process applies the message at
once; with ``PLUGBOARD_REDIS_URL`` set, a daemon thread per process listens on a Redis
pub/sub channel and applies other processes' messages, typically within milliseconds.
If the listener loses its connection it tells every subscriber to drop everything
(``key=None``) once it is back, so a missed message can never leave a stale cache.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable

import redis

log = logging.getLogger("plugboard.broadcast")

Subscriber = Callable[[str | None], None]


class Broadcast:
    def __init__(self, redis_url: str = "", namespace: str = "plugboard") -> None:
        self._url = redis_url
        self._channel = f"{namespace}:bus"
        self._subscribers: dict[str, list[Subscriber]] = {}
        self._origin = f"{os.getpid()}-{id(self)}"
        self._listener: threading.Thread | None = None
        self._listener_pid = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._client: redis.Redis | None = None

    def subscribe(self, topic: str, callback: Subscriber) -> None:
        self._subscribers.setdefault(topic, []).append(callback)

    def publish(self, topic: str, key: str | None) -> None:
        """Tell every process that ``key`` of ``topic`` changed (None: all of it)."""
        self._apply(topic, key)
        if self._url:
            message = json.dumps({"topic": topic, "key": key, "origin": self._origin})
            self._redis().publish(self._channel, message)

    def ensure_listening(self) -> None:
        """Start this process's listener (once per process; after a fork, again)."""
        if not self._url or (self._listener_pid == os.getpid() and self._listener is not None):
            return
        with self._lock:
            if self._listener_pid == os.getpid() and self._listener is not None:
                return
            ready = threading.Event()
            self._client = None  # a forked child must not share the parent's sockets
            self._listener = threading.Thread(
                target=self._listen, args=(ready,), name="plugboard-broadcast", daemon=True
            )
            self._listener_pid = os.getpid()
            self._listener.start()
            ready.wait(timeout=5)

    def close(self) -> None:
        self._stop.set()

    def _redis(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(self._url, socket_connect_timeout=2)
        return self._client

    def _apply(self, topic: str, key: str | None) -> None:
        for callback in self._subscribers.get(topic, ()):
            try:
                callback(key)
            except Exception:  # one broken cache must not stop the others
                log.exception("broadcast subscriber failed", extra={"topic": topic})

    def _reset_all(self) -> None:
        for topic in list(self._subscribers):
            self._apply(topic, None)

    def _listen(self, ready: threading.Event) -> None:
        first = True
        while not self._stop.is_set():
            try:
                client = redis.Redis.from_url(self._url, socket_connect_timeout=2)
                pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(self._channel)
                if not first:
                    self._reset_all()  # we may have missed messages while away
                first = False
                ready.set()
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._handle(message["data"])
            except redis.RedisError:
                log.warning("broadcast listener lost Redis; retrying", exc_info=True)
                ready.set()
                time.sleep(0.5)

    def _handle(self, data: bytes) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            return
        if message.get("origin") == self._origin:
            return  # already applied when published
        self._apply(str(message.get("topic")), message.get("key"))
