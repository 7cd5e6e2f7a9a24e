"""A bounded result cache (entries, bytes and TTL), owned by one server; results are cached, never coroutines."""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

from cachetools import TTLCache


class ResultCache:
    """TTL + LRU cache bounded by entry count and approximate bytes (size of the JSON form)."""

    def __init__(self, *, ttl_s: float, max_entries: int, max_bytes: int) -> None:
        self.enabled = ttl_s > 0 and max_entries > 0 and max_bytes > 0
        self._max_bytes = max(1, max_bytes)
        self._cache: TTLCache[Hashable, tuple[int, Any]] = TTLCache(
            maxsize=self._max_bytes, ttl=max(ttl_s, 0.001), getsizeof=lambda v: v[0]
        )
        self._max_entries = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        if not self.enabled:
            return None
        hit = self._cache.get(key)
        if hit is None:
            self.misses += 1
            return None
        self.hits += 1
        return hit[1]

    def put(self, key: Hashable, value: Any, *, size_bytes: int | None = None) -> None:
        if not self.enabled:
            return
        size = size_bytes if size_bytes is not None else len(json.dumps(value, default=str))
        if size > self._max_bytes:
            return
        while len(self._cache) >= self._max_entries:
            self._cache.popitem()
        self._cache[key] = (size, value)

    def __len__(self) -> int:
        return len(self._cache)
