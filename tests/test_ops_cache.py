"""The Redis-backed shared cache: hits, misses, TTL, and a down Redis behaving as an empty cache."""

from __future__ import annotations

import asyncio
import logging

import pytest
from test_ops_ratelimit import RedisProcess, free_port, needs_redis, redis_url  # noqa: F401 (fixture)

from vf_mcp.ops._redis import RedisGuard
from vf_mcp.ops.shared_cache import RedisCache

pytestmark = pytest.mark.anyio


@needs_redis
async def test_get_set_ttl_and_counters(redis_url: str) -> None:  # noqa: F811
    a = RedisCache(redis_url, prefix="c1:")
    b = RedisCache(redis_url, prefix="c1:")  # another instance sees the same entries
    try:
        assert await a.get("q") is None
        await a.set("q", b"\x00rows\xff", ttl_s=30)
        assert await b.get("q") == b"\x00rows\xff"
        assert await a.get("q") == b"\x00rows\xff"
        assert (a.hits, a.misses, b.hits, b.misses) == (1, 1, 1, 0)
        await a.set("short", b"x", ttl_s=0.05)
        assert await a.get("short") == b"x"
        await asyncio.sleep(0.15)
        assert await a.get("short") is None
        await a.set("never", b"x", ttl_s=0)
        assert await a.get("never") is None
        assert a.stats()["vf_mcp_shared_cache_up"] == 1.0
        other = RedisCache(redis_url, prefix="c2:")
        assert await other.get("q") is None  # prefixes separate caches
        await other.close()
    finally:
        await a.close()
        await b.close()


async def test_unreachable_redis_is_a_miss(caplog: pytest.LogCaptureFixture) -> None:
    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with caplog.at_level(logging.WARNING, logger="vf_mcp.ops.redis"):
            for _ in range(50):
                await cache.set("k", b"v", ttl_s=10)
                assert await cache.get("k") is None
        assert cache.misses == 50 and cache.hits == 0
        assert cache.errors == 1  # then Redis is skipped during the cooldown
        assert cache.stats()["vf_mcp_shared_cache_up"] == 0.0
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "shared cache" in warnings[0].getMessage()
    finally:
        await cache.close()


@needs_redis
async def test_outage_then_recovery(caplog: pytest.LogCaptureFixture) -> None:
    server = RedisProcess().start()
    cache = RedisCache(server.url, guard=RedisGuard("the shared cache", cooldown_s=0.0, warn_every_s=60))
    try:
        await cache.set("k", b"v", ttl_s=60)
        assert await cache.get("k") == b"v"
        server.stop()
        with caplog.at_level(logging.WARNING, logger="vf_mcp.ops.redis"):
            for _ in range(5):
                assert await cache.get("k") is None
        assert cache.errors == 5
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1  # rate-limited warning
        server.start()
        await cache.set("k", b"again", ttl_s=60)
        assert await cache.get("k") == b"again"
        assert not cache.guard.down
    finally:
        await cache.close()
        server.close()
