"""The storefront's in-process cache of the public event listing and event pages.

A warm fetch is a dict look-up and no SQL: an entry holds the response body and its
strong ETag. Two things end an entry:

* a catalogue change (an event, ticket type or quota edited, published, cancelled):
  :func:`announce` publishes the tenant on :func:`kernel.api.broadcast` once the
  transaction commits, and every process drops that tenant's entries;
* time: availability changes with every order, so entries live ``availability_ttl``
  seconds (tenant config, default 5). The order endpoint, which locks the quotas, is the
  truth; the listing may lag it by that much. A load that raced with an invalidation is
  not stored (generation check), so stale catalogue data never sticks.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

from kernel.api import after_commit, broadcast

TOPIC = "ticketing"
EXTENSION = "ticketing.cache"
LISTING = "*"  # the key of the tenant's event list (never a slug: slugs have no '*')


@dataclass(frozen=True)
class Entry:
    """A ready 200 response (``body``, ``etag``), or a known 404 (``status`` 404)."""

    status: int
    body: bytes = b""
    etag: str = ""
    expires: float = 0.0  # time.monotonic() deadline

    def fresh(self) -> bool:
        return self.expires > time.monotonic()


def entry(status: int, body: bytes, ttl: float) -> Entry:
    etag = hashlib.sha256(body).hexdigest()[:32] if status == 200 else ""
    return Entry(status, body, etag, time.monotonic() + ttl)


class StoreCache:
    """Bounded (``max_entries``); reads take no lock, writers and invalidation do."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[uuid.UUID, str], Entry] = {}
        self._generations: dict[uuid.UUID, int] = {}
        self._epoch = 0
        self._lock = threading.Lock()

    def get(self, tenant_id: uuid.UUID, key: str) -> Entry | None:
        found = self._entries.get((tenant_id, key))
        return found if found is not None and found.fresh() else None

    def generation(self, tenant_id: uuid.UUID) -> tuple[int, int]:
        return self._epoch, self._generations.get(tenant_id, 0)

    def put(self, tenant_id: uuid.UUID, key: str, value: Entry, generation: tuple[int, int]) -> None:
        with self._lock:
            if self.generation(tenant_id) != generation:
                return
            if len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[(tenant_id, key)] = value

    def drop(self, key: str | None) -> None:
        """The broadcast subscriber: forget one tenant (``key``) or everything (None)."""
        with self._lock:
            if key is None:
                self._epoch += 1
                self._entries.clear()
                return
            tenant_id = uuid.UUID(key)
            self._generations[tenant_id] = self._generations.get(tenant_id, 0) + 1
            for cached in [k for k in self._entries if k[0] == tenant_id]:
                del self._entries[cached]


def install(app: Flask) -> StoreCache:
    store = StoreCache()
    app.extensions[EXTENSION] = store
    broadcast(app).subscribe(TOPIC, store.drop)
    return store


def announce(tenant_id: uuid.UUID) -> None:
    """Every process drops this tenant's entries once the current transaction commits."""
    bus = broadcast()
    after_commit(lambda: bus.publish(TOPIC, str(tenant_id)))


def load(store: StoreCache, tenant_id: uuid.UUID, key: str, build: Callable[[], Entry]) -> Entry:
    found = store.get(tenant_id, key)
    if found is not None:
        return found
    broadcast().ensure_listening()  # once per process: hear other processes' changes
    generation = store.generation(tenant_id)
    built = build()
    store.put(tenant_id, key, built, generation)
    return built
