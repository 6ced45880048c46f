"""The storefront's in-process cache of published pages, per (tenant, path).

A warm storefront fetch is two dict look-ups and no SQL: the entry holds the response
body, its strong ETag and its headers, ready to send. Entries are dropped per tenant
when :func:`announce` is called after a publish, unpublish, restore, move or delete:
:mod:`kernel.runtime.broadcast` carries that to every process (Redis pub/sub), typically within
milliseconds. A load that raced with such a change is not stored (generation check),
so a stale page can never stick.

Pages that embed other plugins' components (``plugboard_component_data``) hold data
those plugins own; their entries expire after ``component_data_ttl`` seconds.
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

TOPIC = "pages"
EXTENSION = "pages.cache"
INDEX = "*"  # the key of the tenant's page list (never a page path: those start with '/')


@dataclass(frozen=True)
class Entry:
    """A ready response: ``status`` 200 with ``body``, or 404 (known not to be published)."""

    status: int
    body: bytes = b""
    etag: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    expires: float | None = None  # time.monotonic() deadline, None: until invalidated

    def fresh(self) -> bool:
        return self.expires is None or self.expires > time.monotonic()


MISSING = Entry(404)


def entry(body: bytes, headers: dict[str, str], ttl: float | None) -> Entry:
    etag = hashlib.sha256(body).hexdigest()[:32]
    all_headers = {**headers, "ETag": f'"{etag}"'}
    expires = None if ttl is None else time.monotonic() + ttl
    return Entry(200, body, etag, tuple(all_headers.items()), expires)


class PageCache:
    """Bounded: at most ``max_entries`` pages and as many known-missing paths.

    Reads take no lock (a dict look-up is atomic); writers and invalidation do.
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._found: dict[tuple[uuid.UUID, str], Entry] = {}
        self._missing: dict[tuple[uuid.UUID, str], Entry] = {}
        self._generations: dict[uuid.UUID, int] = {}
        self._epoch = 0
        self._lock = threading.Lock()

    def get(self, tenant_id: uuid.UUID, key: str) -> Entry | None:
        found = self._found.get((tenant_id, key)) or self._missing.get((tenant_id, key))
        if found is None or not found.fresh():
            return None
        return found

    def generation(self, tenant_id: uuid.UUID) -> tuple[int, int]:
        """Take before loading; pass to :meth:`put`."""
        return self._epoch, self._generations.get(tenant_id, 0)

    def put(self, tenant_id: uuid.UUID, key: str, value: Entry, generation: tuple[int, int]) -> None:
        """Keep ``value`` unless the tenant was invalidated since ``generation`` was taken."""
        table = self._found if value.status == 200 else self._missing
        with self._lock:
            if self.generation(tenant_id) != generation:
                return
            if len(table) >= self.max_entries:
                del table[next(iter(table))]  # the oldest insertion
            table[(tenant_id, key)] = value

    def drop(self, key: str | None) -> None:
        """The broadcast subscriber: forget one tenant (``key``) or everything (None)."""
        with self._lock:
            if key is None:
                self._epoch += 1
                self._found.clear()
                self._missing.clear()
                return
            tenant_id = uuid.UUID(key)
            self._generations[tenant_id] = self._generations.get(tenant_id, 0) + 1
            for table in (self._found, self._missing):
                for cached in [k for k in table if k[0] == tenant_id]:
                    del table[cached]

    def __len__(self) -> int:
        return len(self._found) + len(self._missing)


def install(app: Flask) -> PageCache:
    """Create the app's cache and subscribe it to invalidations (once per app)."""
    cache = PageCache()
    app.extensions[EXTENSION] = cache
    broadcast(app).subscribe(TOPIC, cache.drop)
    return cache


def announce(tenant_id: uuid.UUID) -> None:
    """Every process drops this tenant's cached pages once the current transaction commits."""
    bus = broadcast()
    after_commit(lambda: bus.publish(TOPIC, str(tenant_id)))


def load(cache: PageCache, tenant_id: uuid.UUID, key: str, build: Callable[[], Entry]) -> Entry:
    """The cached entry of ``key``, else ``build()``'s, stored for the next caller."""
    found = cache.get(tenant_id, key)
    if found is not None:
        return found
    broadcast().ensure_listening()  # once per process: hear other processes' changes
    generation = cache.generation(tenant_id)
    built = build()
    cache.put(tenant_id, key, built, generation)
    return built
