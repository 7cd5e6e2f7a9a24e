"""Health report for GET /health and `vf-mcp check`: database, pool, cache, memory, uptime, version."""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from typing import Any

from vf_mcp import __version__
from vf_mcp.errors import VfError
from vf_mcp.tools.common import Hub

PING_TIMEOUT_S = 3.0


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


async def _ping(hub: Hub, name: str) -> dict[str, Any]:
    app = hub.apps[name]
    started = time.perf_counter()
    try:
        await asyncio.wait_for(app.db.fetch("SELECT 1"), PING_TIMEOUT_S)
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        safety = await asyncio.wait_for(app.catalog.cached("role_safety", app.db.role_safety), PING_TIMEOUT_S)
    except (VfError, TimeoutError) as exc:
        return {
            "status": "unavailable",
            "error": exc.message if isinstance(exc, VfError) else f"no answer within {PING_TIMEOUT_S:.0f} s",
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


async def health_report(hub: Hub, identity: Any = None, *, details: bool | None = None) -> tuple[int, dict[str, Any]]:
    """(200 or 503, report). Only admins (and the local user) see details; others get the status."""
    database = await _ping(hub, hub.default)
    ok = database["status"] == "ok"
    status = "ok" if ok else "unavailable"
    show = details if details is not None else identity is not None and identity.role in ("admin", "local")
    if not show:
        return (200 if ok else 503), {"status": status}
    pools = {name: app.db.pool_stats() for name, app in hub.apps.items()}
    caches = {name: app.query_cache.stats() for name, app in hub.apps.items()}
    ops = hub.ops
    report: dict[str, Any] = {
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
    return (200 if ok else 503), report
