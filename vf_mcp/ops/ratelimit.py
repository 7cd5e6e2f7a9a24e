"""Token-bucket rate limits per identity: in process, or in Redis so several instances share one bucket.

A bucket holds at most `per_hour` tokens and refills at `per_hour / 3600` tokens per second; each tool
call takes one token.

Redis down: the Redis limiter falls back to a local bucket per instance and logs a warning (rate-limited).
Failing closed would refuse every tool call while Redis is away, and failing open would remove the limit;
a local bucket keeps each instance limited (N instances allow at most N times the rate meanwhile).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # redis loads only when a Redis URL is configured
    from redis.asyncio import Redis

    from vf_mcp.ops._redis import RedisGuard

log = logging.getLogger("vf_mcp.ops.ratelimit")


@dataclass(frozen=True)
class RateDecision:
    """Outcome of one take(): allowed, seconds until the next token when refused, whole tokens left."""

    allowed: bool
    retry_after_s: float
    remaining: int


class LocalRateLimiter:
    """In-process token buckets; exact under asyncio concurrency (no await between read and write)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # name -> (tokens, timestamp)

    async def take(self, name: str, per_hour: int) -> RateDecision:
        """Take one token from `name`'s bucket."""
        return self.take_nowait(name, per_hour)

    def take_nowait(self, name: str, per_hour: int) -> RateDecision:
        """take() without the coroutine (atomic: it never yields)."""
        capacity = float(max(1, per_hour))
        rate = capacity / 3600.0
        now = self._clock()
        tokens, ts = self._buckets.get(name, (capacity, now))
        tokens = min(capacity, tokens + max(0.0, now - ts) * rate)
        if tokens >= 1.0:
            tokens -= 1.0
            decision = RateDecision(True, 0.0, int(tokens))
        else:
            decision = RateDecision(False, (1.0 - tokens) / rate, 0)
        self._buckets[name] = (tokens, now)
        return decision

    async def close(self) -> None:
        """Nothing to release."""


# KEYS[1] bucket hash; ARGV[1] capacity, ARGV[2] tokens per second. Uses the Redis clock so instances agree.
_TAKE_LUA = """
if redis.replicate_commands then redis.replicate_commands() end
local cap = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil or ts == nil then
  tokens = cap
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(cap, tokens + elapsed * rate)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((cap - tokens) / rate * 1000) + 1000)
return {allowed, string.format('%.17g', retry), string.format('%.17g', tokens)}
"""


class RedisRateLimiter:
    """Token buckets in Redis (one hash per identity, expiring once full again), updated atomically by a Lua script.

    Falls back to a LocalRateLimiter while Redis is unreachable (see the module docstring).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | None = None,
        prefix: str = "vf-mcp:ratelimit:",
        clock: Callable[[], float] = time.monotonic,
        guard: RedisGuard | None = None,
    ) -> None:
        from vf_mcp.ops._redis import REDIS_ERRORS, RedisGuard, client_for

        self._errors = REDIS_ERRORS
        self._redis, self._owns_client = client_for(url, client, "RedisRateLimiter")
        self._prefix = prefix
        self._script = self._redis.register_script(_TAKE_LUA)
        self._fallback = LocalRateLimiter(clock=clock)
        self.guard = guard or RedisGuard("rate limits", clock=clock)

    @property
    def degraded(self) -> bool:
        """True while decisions come from the local fallback."""
        return self.guard.down

    async def take(self, name: str, per_hour: int) -> RateDecision:
        """Take one token from `name`'s shared bucket (local bucket while Redis is down)."""
        if self.guard.available():
            capacity = max(1, per_hour)
            try:
                raw = await self._script(keys=[self._prefix + name], args=[capacity, repr(capacity / 3600.0)])
            except self._errors as exc:
                self.guard.failed(exc)
            else:
                self.guard.succeeded()
                allowed, retry, tokens = raw
                return RateDecision(bool(int(allowed)), float(retry), max(0, math.floor(float(tokens))))
        return self._fallback.take_nowait(name, per_hour)

    async def close(self) -> None:
        """Close the Redis client if this limiter created it."""
        if self._owns_client:
            await self._redis.aclose()


def rate_limiter(
    redis_url: str | None, *, clock: Callable[[], float] = time.monotonic
) -> LocalRateLimiter | RedisRateLimiter:
    """A RedisRateLimiter when redis_url is set, else a LocalRateLimiter."""
    if redis_url:
        return RedisRateLimiter(redis_url, clock=clock)
    return LocalRateLimiter(clock=clock)
