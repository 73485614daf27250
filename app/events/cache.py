"""Small in-process caches for public event pages: rendered card fragments and ICS feed bodies.

Every key carries the data it was rendered from (a card's row, a feed's change signature), so an entry can
never be served for data that changed: a stale key is simply never asked for again and ages out of the LRU.
The caches live in each worker process (no shared state to invalidate); a TTL bounds what the keys cannot
see (a facility renamed under a linked booking).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class LRU:
    """A thread-safe, size-bounded mapping with an optional time-to-live per entry."""

    def __init__(self, max_entries: int, ttl_s: float | None = None):
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable) -> Any | None:
        """The value stored under KEY, or None (missing or expired)."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            stored_at, value = item
            if self.ttl_s is not None and time.monotonic() - stored_at > self.ttl_s:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        """Store VALUE under KEY, dropping the least recently used entries beyond the bound."""
        with self._lock:
            self._data[key] = (time.monotonic(), value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def get_or_make(self, key: Hashable, make: Callable[[], Any], *, single_flight: bool = False) -> Any:
        """The cached value of KEY, made (outside the main lock) and stored when missing.

        SINGLE_FLIGHT: threads missing the same key at once wait for one of them to make it (a feed that takes
        a second to build is built once, not once per waiting request)."""
        value = self.get(key)
        if value is not None:
            return value
        if not single_flight:
            value = make()
            self.put(key, value)
            return value
        with self._lock:
            key_lock = self._making.setdefault(key, threading.Lock())
        with key_lock:
            value = self.get(key)
            if value is None:
                value = make()
                self.put(key, value)
        with self._lock:
            self._making.pop(key, None)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


# Rendered event cards (about 600 bytes each): the list, the calendar and organization pages share them.
cards = LRU(max_entries=5000)
# Month calendars' links per day (up to 1,000 links), keyed by month, filters, language and change signature.
pages = LRU(max_entries=64, ttl_s=600)
# ICS bodies (up to about 1 MB for 2,000 events), keyed by feed, language and the data's change signature.
feeds = LRU(max_entries=24, ttl_s=600)
