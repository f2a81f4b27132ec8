"""Indicators and signals derived from the bars are cached within a bound in bytes."""

from __future__ import annotations

import numpy as np

from stratopt.data._market import _BoundedCache


def test_the_cache_evicts_the_least_recently_used_beyond_its_bytes() -> None:
    cache = _BoundedCache(limit=10 * 800)
    arrays = {key: np.full(100, float(key)) for key in range(30)}  # 800 bytes each
    for key in range(10):
        cache.put(key, arrays[key])
    assert cache.get(0) is arrays[0]  # 0 is now the most recently used
    for key in range(10, 30):
        cache.put(key, arrays[key])
        assert cache.size <= cache.limit
    assert len(cache) == 10 and cache.size == 10 * 800
    assert cache.get(0) is None and cache.get(1) is None
    assert cache.get(29) is arrays[29]


def test_tuples_count_every_array_and_what_exceeds_the_bound_is_not_kept() -> None:
    cache = _BoundedCache(limit=1000)
    pair = (np.zeros(50), np.zeros(50, dtype=bool))
    cache.put("pair", pair)
    assert cache.size == 450 and cache.get("pair") is pair
    cache.put("huge", np.zeros(200))
    assert cache.get("huge") is None and cache.size == 450
