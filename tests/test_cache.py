"""The one result cache: TTL per family, LRU bounded by entries and bytes, single flight, refresh."""

from __future__ import annotations

import asyncio

import pytest
from conftest import PgCluster
from helpers import call, mcp_client

from vf_mcp.db.cache import ResultCache

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cache(clock: Clock, **kw: int) -> ResultCache:
    ttls = {"schema": 600.0, "table_stats": 600.0, "aggregation": 300.0, "kpi": 60.0, "query": 300.0}
    return ResultCache(
        ttls=ttls, max_entries=kw.get("max_entries", 100), max_bytes=kw.get("max_bytes", 10_000), clock=clock
    )


async def test_ttl_per_family() -> None:
    clock = Clock()
    c = cache(clock)
    await c.put("k1", {"v": 1}, family="kpi")
    await c.put("k2", {"v": 2}, family="aggregation")
    clock.now += 59
    assert await c.get("k1", family="kpi") == {"v": 1}
    clock.now += 2  # 61 s: the KPI entry (1 min) is gone, the aggregation (5 min) is not
    assert await c.get("k1", family="kpi") is None
    assert await c.get("k2", family="aggregation") == {"v": 2}
    clock.now += 240
    assert await c.get("k2", family="aggregation") is None
    assert c.hits == 2 and c.misses == 2


async def test_lru_bounded_by_entries_and_bytes() -> None:
    clock = Clock()
    c = cache(clock, max_entries=3)
    for k in "abc":
        await c.put(k, k, size_bytes=10)
    assert await c.get("a") == "a"  # a is now the most recently used
    await c.put("d", "d", size_bytes=10)  # evicts b, the least recently used
    assert [await c.get(k) for k in "abcd"] == ["a", None, "c", "d"]
    small = cache(clock, max_bytes=100)
    for i in range(5):
        await small.put(i, i, size_bytes=30)
    assert small.stats()["bytes"] <= 100 and len(small) == 3
    assert [await small.get(i) for i in range(5)] == [None, None, 2, 3, 4]
    await small.put("huge", "x", size_bytes=101)  # bigger than the whole cache: not stored
    assert await small.get("huge") is None


async def test_single_flight_and_refresh() -> None:
    c = cache(Clock())
    runs = []

    async def compute() -> list[int]:
        runs.append(1)
        await asyncio.sleep(0.05)
        return [1, 2, 3]

    results = await asyncio.gather(*(c.get_or_compute("rel", compute) for _ in range(20)))
    assert results == [[1, 2, 3]] * 20 and len(runs) == 1
    assert await c.get_or_compute("rel", compute) == [1, 2, 3] and len(runs) == 1
    assert await c.get_or_compute("rel", compute, refresh=True) == [1, 2, 3] and len(runs) == 2


async def test_failures_are_not_cached() -> None:
    c = cache(Clock())
    calls = []

    async def boom() -> int:
        calls.append(1)
        raise RuntimeError("down")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            await c.get_or_compute("x", boom)
    assert len(calls) == 2


async def test_identical_concurrent_tool_calls_compute_once(pg: PgCluster) -> None:
    """Ten identical run_query calls at once: one runs the statement, nine get its answer (single flight)."""
    dsn = await pg.acreate_database(
        "vf_single_flight", "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 50) g"
    )
    query = {"sql": "SELECT count(*) AS n, pg_sleep(0.3)::text AS slept FROM t"}
    async with mcp_client(dsn) as client:
        results = await asyncio.gather(*(call(client, "run_query", query) for _ in range(10)))
        assert [r["rows"][0][0] for r in results] == [50] * 10
        assert sorted(r["from_cache"] for r in results) == [False] + [True] * 9
        # a failing call releases its claim: the waiters run the statement themselves and fail the same way
        bad = {"sql": "SELECT 1/0 AS boom, pg_sleep(0.2)::text"}
        errors = await asyncio.gather(*(client.call_tool("run_query", bad) for _ in range(3)))
        assert all(e.is_error and "division by zero" in e.content[0].text for e in errors)  # type: ignore[union-attr]
