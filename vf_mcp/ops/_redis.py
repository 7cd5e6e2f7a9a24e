"""Redis plumbing shared by the rate limiter and the cache: one client factory and an availability guard."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

log = logging.getLogger("vf_mcp.ops.redis")

# What a down, slow or misbehaving Redis raises (OSError covers refused/reset sockets).
REDIS_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


def redis_client(url: str, *, timeout_s: float = 1.0, max_connections: int = 32) -> Redis:
    """A client with short timeouts and one retry, so a dead Redis costs a tool call little time.

    The pool blocks (up to 5 s) when all connections are busy instead of raising, so a burst of calls
    queues for a connection rather than being mistaken for a Redis outage.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5.0,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )
    return Redis.from_pool(pool)


def client_for(url: str | None, client: Redis | None, what: str) -> tuple[Redis, bool]:
    """The given client, or a new one for `url`; and whether the caller owns (and must close) it."""
    if client is not None:
        return client, False
    if url is None:
        raise ValueError(f"{what} needs a url or a client")
    return redis_client(url), True


class RedisGuard:
    """Tracks Redis health: after a failure Redis is skipped for `cooldown_s`; warnings at most every `warn_every_s`."""

    def __init__(
        self,
        what: str,
        *,
        cooldown_s: float = 5.0,
        warn_every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.cooldown_s = cooldown_s
        self.warn_every_s = warn_every_s
        self.failures = 0  # total failed Redis operations
        self._clock = clock
        self._down_until = float("-inf")
        self._last_warn = float("-inf")
        self._suppressed = 0
        self._down = False

    @property
    def down(self) -> bool:
        """True after a failure until the next success."""
        return self._down

    def available(self) -> bool:
        """Whether to try Redis now (False during the cooldown after a failure)."""
        return self._clock() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        """Record a failure; log a warning unless one was logged recently."""
        now = self._clock()
        self.failures += 1
        self._down = True
        self._down_until = now + self.cooldown_s
        if now - self._last_warn >= self.warn_every_s:
            more = f" ({self._suppressed} more failures since the last warning)" if self._suppressed else ""
            log.warning("Redis unavailable for %s: %s: %s%s", self.what, type(exc).__name__, exc, more)
            self._last_warn = now
            self._suppressed = 0
        else:
            self._suppressed += 1

    def succeeded(self) -> None:
        """Record a success; log once when Redis comes back."""
        if self._down:
            log.info("Redis is reachable again for %s", self.what)
            self._down = False
            self._suppressed = 0
            self._last_warn = float("-inf")
        self._down_until = float("-inf")
