"""A byte cache in Redis shared by several instances; a down Redis behaves as an empty cache, never as an error."""

from __future__ import annotations

import logging
import math

from redis.asyncio import Redis

from vf_mcp.ops._redis import REDIS_ERRORS, RedisGuard, client_for

log = logging.getLogger("vf_mcp.ops.shared_cache")


class RedisCache:
    """get/set of bytes with a TTL under a key prefix. Errors count as misses and are logged (rate-limited)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | None = None,
        prefix: str = "vf-mcp:cache:",
        guard: RedisGuard | None = None,
    ) -> None:
        self._redis, self._owns_client = client_for(url, client, "RedisCache")
        self._prefix = prefix
        self.guard = guard or RedisGuard("the shared cache")
        self.hits = 0
        self.misses = 0
        self.errors = 0  # failed Redis operations (each get among them also counts as a miss)

    async def get(self, key: str) -> bytes | None:
        """The cached value, or None (absent, expired, or Redis unreachable)."""
        if not self.guard.available():
            self.misses += 1
            return None
        try:
            value = await self._redis.get(self._prefix + key)
        except REDIS_ERRORS as exc:
            self._failed(exc)
            self.misses += 1
            return None
        self.guard.succeeded()
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        return value.encode("utf-8") if isinstance(value, str) else bytes(value)

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        """Store `value` for `ttl_s` seconds (ttl_s <= 0: not stored). Never raises for Redis failures."""
        if ttl_s <= 0 or not self.guard.available():
            return
        try:
            await self._redis.set(self._prefix + key, value, px=max(1, math.ceil(ttl_s * 1000)))
        except REDIS_ERRORS as exc:
            self._failed(exc)
            return
        self.guard.succeeded()

    def stats(self) -> dict[str, float]:
        """Counters for a metrics gauge source."""
        return {
            "vf_mcp_shared_cache_hits_total": self.hits,
            "vf_mcp_shared_cache_misses_total": self.misses,
            "vf_mcp_shared_cache_errors_total": self.errors,
            "vf_mcp_shared_cache_up": 0.0 if self.guard.down else 1.0,
        }

    async def close(self) -> None:
        """Close the Redis client if this cache created it."""
        if self._owns_client:
            await self._redis.aclose()

    def _failed(self, exc: BaseException) -> None:
        self.errors += 1
        self.guard.failed(exc)
