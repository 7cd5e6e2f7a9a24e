"""Load: one vf-mcp HTTP server, 50 concurrent MCP clients (each its own HTTP client and MCP session), 5,000
tool calls in all: a 500-call warm-up, then two waves of 2,250 (point queries, catalog tools, aggregations).

Every call must succeed and every checked answer must equal an independent asyncpg answer; PostgreSQL
connections opened by vf-mcp never exceed pool_max_size and do not grow between the waves; the server's
RSS after wave 2 stays within RSS_GROWTH_MAX of what it was after wave 1. A real subprocess over real HTTP.
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from helpers import clean_env, sql, vf_mcp_http
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from vf_mcp.ops.auth import hash_token

pytestmark = pytest.mark.anyio

CLIENTS = 50
WARMUP_CALLS = 500
WAVE_CALLS = 2_250  # warm-up + two waves = 5,000 calls
POOL_MAX = 5
RSS_GROWTH_MAX = 30 * 1024 * 1024
LOAD_TOKEN = "tok-load-0001"
ADMIN_TOKEN = "tok-load-admin-0002"

POINT_SQL = "SELECT id, drop_number, contractor_id, status::text AS status FROM drops WHERE id = $1"
CONNECTIONS_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vf-mcp' AND datname = current_database()"
)


@dataclass
class Truth:
    """Independent answers (plain asyncpg) the tool results are compared with."""

    drops: dict[int, list[Any]]
    status_counts: dict[str, int]
    contractor_counts: dict[int, int]


@dataclass
class Wave:
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    checked: int = 0
    seconds: float = 0.0

    @property
    def per_s(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


def write_config(path: Path) -> Path:
    path.write_text(
        f"""pool_max_size = {POOL_MAX}
[[api_keys]]
name = "load"
sha256 = "{hash_token(LOAD_TOKEN)}"
role = "analyst"
requests_per_hour = 1000000

[[api_keys]]
name = "load-admin"
sha256 = "{hash_token(ADMIN_TOKEN)}"
role = "admin"
requests_per_hour = 1000000
"""
    )
    return path


def client_for(url: str) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {LOAD_TOKEN}"}, timeout=120, verify=_tls())
    return Client(streamable_http_client(f"{url}/mcp", http_client=http))


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for all clients (plain HTTP here; httpx2 would build one per client, ~50 ms each)."""
    return ssl.create_default_context()


Check = Callable[[dict[str, Any]], bool]


def plan_calls(n: int, truth: Truth, seed: int) -> list[tuple[str, dict[str, Any], Check]]:
    """`n` calls: 50% run_query point queries (half of them refresh=true), 20% list_tables,
    15% get_table_schema, 8% calculate_metrics, 7% rank_entities, each with a check of its answer."""
    rng = random.Random(seed)
    ids = sorted(truth.drops)
    out: list[tuple[str, dict[str, Any], Check]] = []
    for i in range(n):
        r = rng.random()
        if r < 0.5:
            drop_id = rng.choice(ids)
            want = truth.drops[drop_id]
            args = {"sql": POINT_SQL, "params": [drop_id], "refresh": i % 2 == 0}
            out.append(("run_query", args, lambda sc, want=want: sc["rows"] == [want]))  # type: ignore[misc]
        elif r < 0.7:
            pattern = rng.choice([None, "drop*", "staff*", "onemap*"])
            args = {"name_pattern": pattern} if pattern else {}

            def tables_ok(sc: dict[str, Any], pattern: str | None = pattern) -> bool:
                names = {t["name"] for t in sc["tables"]}
                return "drops" in names if pattern in (None, "drop*") else sc["total"] >= 1

            out.append(("list_tables", args, tables_ok))
        elif r < 0.85:
            table = rng.choice(["drops", "staff", "contractors"])
            out.append(("get_table_schema", {"table_name": table}, lambda sc, t=table: sc["name"] == t))  # type: ignore[misc]
        elif r < 0.93:
            args = {"table_name": "drops", "metric": "count", "group_by": ["status"], "refresh": i % 3 == 0}
            out.append(
                (
                    "calculate_metrics",
                    args,
                    lambda sc: {row[0]: row[1] for row in sc["results"]} == truth.status_counts,
                )
            )
        else:
            args = {
                "table_name": "drops",
                "entity_column": "contractor_id",
                "rank_by": "id",
                "aggregation": "count",
                "limit": 5,
                "refresh": i % 3 == 0,
            }
            out.append(
                (
                    "rank_entities",
                    args,
                    lambda sc: (
                        all(truth.contractor_counts[e["entity"]] == e["value"] for e in sc["ranking"])
                        and [e["value"] for e in sc["ranking"]]
                        == sorted(truth.contractor_counts.values(), reverse=True)[: len(sc["ranking"])]
                        and len(sc["ranking"]) == 5
                    ),
                )
            )
    return out


async def run_wave(clients: list[Client], n: int, truth: Truth, seed: int) -> Wave:
    """`n` calls spread over the clients (each its own HTTP connection pool and MCP session), all at once."""
    plan = plan_calls(n, truth, seed)
    wave = Wave()

    async def one_client(client: Client, calls: list[tuple[str, dict[str, Any], Check]]) -> None:
        for tool, args, check in calls:
            result = await client.call_tool(tool, args)
            wave.calls += 1
            if result.is_error:
                wave.errors.append(f"{tool}({args}): {getattr(result.content[0], 'text', '')}")
                continue
            if not check(result.structured_content or {}):
                wave.errors.append(f"{tool}({args}) answered differently from SQL: {result.structured_content}")
            wave.checked += 1

    started = time.perf_counter()
    await asyncio.gather(*(one_client(c, plan[k :: len(clients)]) for k, c in enumerate(clients)))
    wave.seconds = time.perf_counter() - started
    return wave


async def independent_truth(dsn: str) -> Truth:
    drops = await sql(dsn, "SELECT id, drop_number, contractor_id, status::text FROM drops ORDER BY id")
    statuses = await sql(dsn, "SELECT status::text, count(*) FROM drops GROUP BY 1")
    contractors = await sql(dsn, "SELECT contractor_id, count(*) FROM drops GROUP BY 1")
    return Truth(
        drops={int(r[0]): list(r) for r in drops},
        status_counts={str(r[0]): int(r[1]) for r in statuses},
        contractor_counts={int(r[0]): int(r[1]) for r in contractors},
    )


async def health(url: str) -> dict[str, Any]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30) as http:
        r = await http.get(f"{url}/health")
        assert r.status_code == 200, r.text
        report: dict[str, Any] = r.json()
        return report


class ConnectionWatch:
    """Samples vf-mcp's PostgreSQL sessions (pg_stat_activity) every 50 ms while a wave runs."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.peak = 0
        self.samples = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            while not self._stop.is_set():
                self.peak = max(self.peak, int(await conn.fetchval(CONNECTIONS_SQL)))
                self.samples += 1
                await asyncio.sleep(0.05)
        finally:
            await conn.close()

    def stop(self) -> None:
        self._stop.set()


async def test_fifty_clients_five_thousand_calls(demo_dsn: str, tmp_path: Path) -> None:
    truth = await independent_truth(demo_dsn)
    assert len(truth.drops) >= 100 and len(truth.contractor_counts) >= 5
    config = write_config(tmp_path / "vf.toml")
    env = clean_env(VF_MCP_DSN=demo_dsn, VF_MCP_AUDIT_LOG_PATH="off", VF_MCP_LOG_LEVEL="WARNING")
    with vf_mcp_http(["serve", "--config", str(config)], env) as url:
        async with AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(client_for(url)) for _ in range(CLIENTS)]
            warm = await run_wave(clients, WARMUP_CALLS, truth, seed=0)
            assert warm.errors == [], warm.errors[:5]

            waves: list[Wave] = []
            after: list[dict[str, Any]] = []  # per wave: connections, peak, pool, rss
            for seed in (1, 2):
                watch = ConnectionWatch(demo_dsn)
                watcher = asyncio.create_task(watch.run())
                wave = await run_wave(clients, WAVE_CALLS, truth, seed=seed)
                watch.stop()
                await watcher
                report = await health(url)
                waves.append(wave)
                after.append(
                    {
                        "connections": int((await sql(demo_dsn, CONNECTIONS_SQL))[0][0]),
                        "peak": watch.peak,
                        "samples": watch.samples,
                        "pool": report["pool"],
                        "rss": report["memory"]["rss_bytes"],
                    }
                )

    one, two = waves
    summary = (
        f"wave 1: {one.calls} calls in {one.seconds:.1f} s ({one.per_s:.0f}/s), "
        f"wave 2: {two.calls} calls in {two.seconds:.1f} s ({two.per_s:.0f}/s); "
        f"errors {len(one.errors)}+{len(two.errors)}; "
        f"vf-mcp connections after/peak: {after[0]['connections']}/{after[0]['peak']}, "
        f"{after[1]['connections']}/{after[1]['peak']} (pool_max_size {POOL_MAX}); "
        f"RSS after wave 1 {after[0]['rss'] / 2**20:.1f} MiB, after wave 2 {after[1]['rss'] / 2**20:.1f} MiB"
    )
    print(summary)
    assert one.errors == [] and two.errors == [], (one.errors + two.errors)[:5]
    assert one.calls == two.calls == WAVE_CALLS and one.checked == two.checked == WAVE_CALLS
    for a in after:
        assert a["samples"] >= 3, summary  # the watcher really watched
        assert 1 <= a["peak"] <= POOL_MAX, summary
        assert a["connections"] <= POOL_MAX, summary
        assert all(p["size"] <= POOL_MAX and p["in_use"] == 0 for p in a["pool"].values()), a["pool"]
    assert after[1]["connections"] <= after[0]["connections"], summary  # no growth
    assert after[1]["peak"] <= POOL_MAX, summary
    assert after[1]["rss"] - after[0]["rss"] <= RSS_GROWTH_MAX, summary
