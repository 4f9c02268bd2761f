"""The bounded, short-lived cache of unknown token hashes (pure; the test passes the clock)."""
from __future__ import annotations

from dsync_services.gateway.negative_cache import NegativeCache


def test_remembered_until_the_ttl_ends() -> None:
    cache = NegativeCache(max_size=10, ttl_s=2.0)
    assert not cache.known_bad(b"a", 0.0)
    cache.remember(b"a", 0.0)
    assert cache.known_bad(b"a", 1.9)
    assert not cache.known_bad(b"a", 2.0)
    assert len(cache) == 0  # the expired entry is dropped


def test_size_is_bounded_oldest_dropped_first() -> None:
    cache = NegativeCache(max_size=3, ttl_s=60.0)
    for i in range(5):
        cache.remember(bytes([i]), float(i))
    assert len(cache) == 3
    assert not cache.known_bad(bytes([0]), 5.0) and not cache.known_bad(bytes([1]), 5.0)
    assert all(cache.known_bad(bytes([i]), 5.0) for i in (2, 3, 4))


def test_forget_on_creation_and_disabled_cache() -> None:
    cache = NegativeCache(max_size=3, ttl_s=60.0)
    cache.remember(b"t", 0.0)
    cache.forget(b"t")
    assert not cache.known_bad(b"t", 0.0)
    off = NegativeCache(max_size=0, ttl_s=60.0)
    off.remember(b"t", 0.0)
    assert not off.known_bad(b"t", 0.0)
