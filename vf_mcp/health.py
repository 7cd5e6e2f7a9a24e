"""Health report for GET /health and `vf-mcp check`: database, pool, cache, memory, uptime, version."""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from typing import TYPE_CHECKING, Required, TypedDict

from vf_mcp import __version__
from vf_mcp.app import Hub
from vf_mcp.errors import VfError
from vf_mcp.redaction import redact_text

if TYPE_CHECKING:
    from vf_mcp.ops.auth import Identity

PING_TIMEOUT_S = 3.0
HEALTH_CACHE_TTL_S = 5.0
"""How long the status-only /health answer (callers without admin rights) is reused: no ping per request."""


def rss_bytes() -> int:
    """Current resident memory (Linux /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import os

        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


class Ping(TypedDict, total=False):
    """One database's state as the health report shows it."""

    status: Required[str]
    error: str
    breaker: str
    pool: dict[str, int]
    latency_ms: float
    server_version: str
    role: str
    read_only_role: bool


async def _ping(hub: Hub, name: str, *, role: bool = True) -> Ping:
    """The database's state without queueing behind callers: 'ok', 'busy' (every pool connection is in use:
    up, but saturated) or 'unavailable' (breaker open, connection refused, no answer)."""
    app = hub.apps[name]
    breaker = app.db.breaker.state
    if breaker == "open":
        return {"status": "unavailable", "error": "circuit breaker open after connection failures", "breaker": breaker}
    if _saturated(app.db.pool_stats()):
        return {"status": "busy", "breaker": breaker, "pool": app.db.pool_stats()}
    started = time.perf_counter()
    try:
        await asyncio.wait_for(app.db.fetch("SELECT 1"), PING_TIMEOUT_S)
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        if not role:
            return {"status": "ok", "latency_ms": latency_ms, "breaker": app.db.breaker.state}
        safety = await asyncio.wait_for(app.catalog.cached("role_safety", app.db.role_safety), PING_TIMEOUT_S)
    except (VfError, TimeoutError) as exc:
        if isinstance(exc, TimeoutError) and _saturated(app.db.pool_stats()):
            return {"status": "busy", "breaker": app.db.breaker.state, "pool": app.db.pool_stats()}
        return {
            "status": "unavailable",
            "error": redact_text(exc.message)
            if isinstance(exc, VfError)
            else f"no answer within {PING_TIMEOUT_S:.0f} s",
            "breaker": app.db.breaker.state,
        }
    return {
        "status": "ok",
        "latency_ms": latency_ms,
        "server_version": safety.server_version,
        "role": safety.role,
        "read_only_role": safety.is_read_only,
        "breaker": app.db.breaker.state,
    }


def _saturated(pool: dict[str, int]) -> bool:
    return pool["size"] > 0 and pool["in_use"] >= pool["max_size"]


def _code(status: str) -> int:
    return 503 if status == "unavailable" else 200


class HealthCache:
    """The status-only answer for callers without admin rights: at most one database ping per ttl_s."""

    def __init__(self, ttl_s: float = HEALTH_CACHE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._value: tuple[int, dict[str, object]] | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def status(self, hub: Hub) -> tuple[int, dict[str, object]]:
        """(200 or 503, {"status": ok | busy | unavailable}), from cache when younger than ttl_s."""
        if self._value is not None and time.monotonic() - self._at < self.ttl_s:
            return self._value
        async with self._lock:  # concurrent misses share one ping
            if self._value is None or time.monotonic() - self._at >= self.ttl_s:
                database = await _ping(hub, hub.default, role=False)
                self._value = (_code(database["status"]), {"status": database["status"]})
                self._at = time.monotonic()
            return self._value


async def health_report(
    hub: Hub, identity: Identity | None = None, *, details: bool | None = None, cache: HealthCache | None = None
) -> tuple[int, dict[str, object]]:
    """(200 or 503, report). Only admins (and the local user) see details; others get the (cached) status.

    'busy' (every pool connection in use) answers 200: the database is up, callers just queue.
    """
    show = details if details is not None else identity is not None and identity.role in ("admin", "local")
    if not show:
        if cache is not None:
            return await cache.status(hub)
        database = await _ping(hub, hub.default, role=False)
        return _code(database["status"]), {"status": database["status"]}
    database = await _ping(hub, hub.default)
    status = database["status"]
    pools = {name: app.db.pool_stats() for name, app in hub.apps.items()}
    caches = {name: app.query_cache.stats() for name, app in hub.apps.items()}
    ops = hub.ops
    report: dict[str, object] = {
        "status": status,
        "version": __version__,
        "uptime_s": round(time.time() - ops.started_at, 1) if ops is not None else None,
        "database": {"source": hub.default, **database},
        "pool": pools,
        "cache": caches,
        "memory": {"rss_bytes": rss_bytes()},
    }
    if ops is not None:
        report["calls"] = ops.metrics.snapshot()
    return _code(status), report
