"""The in-process LRU used for event cards and feed bodies: bound, TTL, and single-flight building."""

from __future__ import annotations

import threading
import time

from app.events.cache import LRU


def test_lru_drops_the_least_recently_used_beyond_its_bound():
    cache = LRU(max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3


def test_entries_expire_after_their_ttl(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    cache = LRU(max_entries=10, ttl_s=60)
    cache.put("feed", b"body")
    clock[0] += 59
    assert cache.get("feed") == b"body"
    clock[0] += 2
    assert cache.get("feed") is None


def test_single_flight_builds_once_for_concurrent_misses():
    cache = LRU(max_entries=10)
    calls = []
    gate = threading.Event()

    def make():
        calls.append(1)
        gate.wait(1)
        return "built"

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_make("k", make, single_flight=True)))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    gate.set()
    for thread in threads:
        thread.join()
    assert results == ["built"] * 6 and len(calls) == 1
