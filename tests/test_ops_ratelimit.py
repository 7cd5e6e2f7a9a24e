"""Token-bucket rate limits: the in-process limiter (fake clock) and the Redis limiter against a real redis-server."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from vf_mcp.ops._redis import RedisGuard
from vf_mcp.ops.ratelimit import LocalRateLimiter, RateDecision, RedisRateLimiter, rate_limiter

pytestmark = pytest.mark.anyio

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
needs_redis = pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisProcess:
    """A throwaway redis-server on a free port (no persistence)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="vfmcp-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisProcess:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self._dir.name,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = RedisProcess().start()
    try:
        yield server.url
    finally:
        server.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- local ------------------------------------------------------------------------------------------------


async def test_local_burst_is_exact() -> None:
    limiter = LocalRateLimiter()
    decisions = await asyncio.gather(*(limiter.take("team", 100) for _ in range(250)))
    assert sum(d.allowed for d in decisions) == 100
    assert all(d.remaining == 0 for d in decisions if not d.allowed)


async def test_local_retry_after_and_refill() -> None:
    clock = FakeClock()
    limiter = LocalRateLimiter(clock=clock)
    first = await limiter.take("team", 100)
    assert first == RateDecision(True, 0.0, 99)
    for _ in range(99):
        assert (await limiter.take("team", 100)).allowed
    refused = await limiter.take("team", 100)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(36.0)  # one token every 3600/100 s
    clock.now += 18
    half = await limiter.take("team", 100)
    assert not half.allowed and half.retry_after_s == pytest.approx(18.0)
    clock.now += 18
    assert (await limiter.take("team", 100)).allowed
    assert not (await limiter.take("team", 100)).allowed
    clock.now += 10 * 3600  # refills up to capacity, never beyond
    decisions = [await limiter.take("team", 100) for _ in range(150)]
    assert sum(d.allowed for d in decisions) == 100
    assert (await limiter.take("other", 100)).allowed  # buckets are per identity


async def test_factory() -> None:
    assert isinstance(rate_limiter(None), LocalRateLimiter)
    limiter = rate_limiter("redis://127.0.0.1:1/0")
    assert isinstance(limiter, RedisRateLimiter)
    await limiter.close()


# --- redis ------------------------------------------------------------------------------------------------


@needs_redis
async def test_redis_burst_is_exact(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, prefix="t1:")
    try:
        decisions = await asyncio.gather(*(limiter.take("team", 100) for _ in range(250)))
        assert sum(d.allowed for d in decisions) == 100
        refused = [d for d in decisions if not d.allowed]
        assert all(d.remaining == 0 for d in refused)
        assert refused[-1].retry_after_s == pytest.approx(36.0, abs=0.5)
        assert not limiter.degraded
    finally:
        await limiter.close()


@needs_redis
async def test_redis_two_instances_share_one_bucket(redis_url: str) -> None:
    a = RedisRateLimiter(redis_url, prefix="t2:")
    b = RedisRateLimiter(redis_url, prefix="t2:")
    try:
        decisions = await asyncio.gather(*((a if i % 2 else b).take("team", 100) for i in range(250)))
        assert sum(d.allowed for d in decisions) == 100
        assert not (await a.take("team", 100)).allowed
        assert not (await b.take("team", 100)).allowed
        assert (await b.take("other", 100)).allowed
    finally:
        await a.close()
        await b.close()


@needs_redis
async def test_redis_refill_and_expiry(redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_url, prefix="t3:")
    raw = Redis.from_url(redis_url)
    try:
        decisions = [await limiter.take("team", 10) for _ in range(12)]
        assert [d.allowed for d in decisions] == [True] * 10 + [False] * 2
        assert decisions[0].remaining == 9
        ttl_ms = await raw.pttl("t3:team")
        assert 0 < ttl_ms <= 3600 * 1000 + 1000  # expires once it would be full again
        # Move the bucket's timestamp back half an hour (Redis time drives refills): 5 tokens come back.
        ts = float(await raw.hget("t3:team", "ts") or 0)
        await raw.hset("t3:team", "ts", repr(ts - 1800))
        later = [await limiter.take("team", 10) for _ in range(7)]
        assert sum(d.allowed for d in later) == 5
        await raw.hset("t3:team", "ts", repr(ts - 10 * 3600))
        assert sum([(await limiter.take("team", 10)).allowed for _ in range(15)]) == 10
    finally:
        await raw.aclose()
        await limiter.close()


async def test_redis_down_falls_back_to_local(caplog: pytest.LogCaptureFixture) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    limiter = RedisRateLimiter(dead)
    try:
        with caplog.at_level(logging.WARNING, logger="vf_mcp.ops.redis"):
            decisions = await asyncio.gather(*(limiter.take("team", 100) for _ in range(250)))
        assert sum(d.allowed for d in decisions) == 100
        assert limiter.degraded
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "rate limits" in warnings[0].getMessage()
    finally:
        await limiter.close()


@needs_redis
async def test_redis_outage_and_recovery() -> None:
    server = RedisProcess().start()
    limiter = RedisRateLimiter(server.url, guard=RedisGuard("rate limits", cooldown_s=0.0))
    try:
        assert (await limiter.take("team", 100)).remaining == 99
        server.stop()
        during = await limiter.take("team", 100)  # local bucket: a fresh one
        assert during.allowed and limiter.degraded
        server.start()  # same port, empty data
        after = await limiter.take("team", 100)
        assert after.allowed and after.remaining == 99 and not limiter.degraded
    finally:
        await limiter.close()
        server.close()
