"""Analytics tools vs the single SQL aggregation each one pushes down, side by side in one run.

    python bench/analytics.py [--scale 100] [--repeat 5] [--data-dir /tmp/vfbench/pgdata]

For each call the tool reports the SQL and parameters it ran; the same statement is then timed through a
plain asyncpg connection (prepared, READ ONLY transaction), alternating tool and raw runs. Ratio = tool
median / raw median (the tool's time includes the in-process MCP round trip, validation and result shaping).
Result caches are off (VF_MCP_QUERY_CACHE_TTL_S=0 equivalent) so every tool call reaches PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import asyncpg
from mcp import Client

from vf_mcp.db.embedded import EmbeddedPostgres
from vf_mcp.demo.setup import demo_database_name, ensure_demo_database
from vf_mcp.server import build_server
from vf_mcp.settings import Settings

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("calculate_metrics", {"table_name": "nokia_velocity", "metric": "count", "group_by": ["oper_status"]}),
    (
        "calculate_metrics",
        {
            "table_name": "onemap_properties",
            "metric": "count",
            "group_by": [{"column": "created_at", "period": "month"}],
            "limit": 1000,
        },
    ),
    (
        "rank_entities",
        {
            "table_name": "nokia_velocity",
            "entity_column": "ont_model",
            "rank_by": "rx_power_dbm",
            "aggregation": "avg",
            "limit": 10,
        },
    ),
    (
        "analyze_trends",
        {
            "table_name": "onemap_properties",
            "metric": "count",
            "period": "weekly",
            "start_date": "2025-01-01",
            "end_date": "2026-11-20",
        },
    ),
]


async def raw_ms(dsn: str, sql: str, params: list[Any], repeat: int) -> list[float]:
    conn = await asyncpg.connect(dsn)
    try:
        out = []
        for _ in range(repeat):
            t = time.perf_counter()
            async with conn.transaction(readonly=True):
                stmt = await conn.prepare(sql)
                await stmt.fetch(*params)
            out.append((time.perf_counter() - t) * 1000)
        return out
    finally:
        await conn.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data-dir", type=Path, default=Path("/tmp/vfbench/pgdata"))
    args = ap.parse_args()
    server = EmbeddedPostgres.start(args.data_dir, cleanup=None)
    dsn = await ensure_demo_database(server, scale=args.scale)
    admin = server.dsn(demo_database_name(args.scale))
    conn = await asyncpg.connect(admin)
    rows = await conn.fetchval("SELECT sum(reltuples)::bigint FROM pg_class WHERE relkind = 'r'")
    await conn.close()
    print(f"demo scale {args.scale}: ~{rows:,} rows; repeat {args.repeat}; caches off")
    print(f"{'tool':20s} {'table':20s} {'tool ms':>9s} {'raw SQL ms':>11s} {'ratio':>6s}")
    settings = Settings(dsn=dsn, query_cache_ttl_s=0, aggregation_cache_ttl_s=0, statement_timeout_ms=120_000)
    async with Client(build_server(settings)) as client:
        for tool, call_args in CALLS:
            first = await client.call_tool(tool, call_args)
            assert not first.is_error, first.content
            data = first.structured_content or {}
            sql, params = data["sql"], data["params"]
            if tool == "analyze_trends":  # parameters come back as text; rebind them typed
                params = [_typed(p) for p in params]
            tool_times, raw_times = [], []
            for _ in range(args.repeat):
                t = time.perf_counter()
                await client.call_tool(tool, call_args)
                tool_times.append((time.perf_counter() - t) * 1000)
                raw_times += await raw_ms(dsn, sql, params, 1)
            tm, rm = statistics.median(tool_times), statistics.median(raw_times)
            print(f"{tool:20s} {call_args['table_name']:20s} {tm:9.1f} {rm:11.1f} {tm / rm:5.2f}x")


def _typed(p: Any) -> Any:
    from datetime import datetime

    if isinstance(p, str):
        try:
            return datetime.fromisoformat(p)
        except ValueError:
            return p
    return p


if __name__ == "__main__":
    asyncio.run(main())
