"""The core calls on MariaDB next to PostgreSQL: the same Chinook database, the same tools, one run.

    python bench/engines.py [--repeat 30]

Starts an embedded PostgreSQL 18 and a MariaDB (Debian's mariadb-server, tests/mysql_server.py) in temporary
directories, loads Chinook into both (tests/data), and times each tool call through an in-process MCP client
(result caches off, catalog cache on as by default), interleaving the engines call by call; then the same point
query through the raw drivers (asyncpg, asyncmy). Medians in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from mcp import Client

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.mysql_server import load_chinook, start_mariadb  # noqa: E402
from vf_mcp.server import build_server  # noqa: E402
from vf_mcp.settings import Settings  # noqa: E402

CALLS: dict[str, tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]] = {
    "run_query point query": (
        ("run_query", {"sql": "SELECT * FROM track WHERE track_id = 7"}),
        ("run_query", {"sql": "SELECT * FROM Track WHERE TrackId = 7"}),
    ),
    "run_query 1,000 rows": (
        ("run_query", {"sql": "SELECT * FROM track ORDER BY track_id LIMIT 1000", "limit": 1000}),
        ("run_query", {"sql": "SELECT * FROM Track ORDER BY TrackId LIMIT 1000", "limit": 1000}),
    ),
    "list_tables": (("list_tables", {}), ("list_tables", {})),
    "get_table_schema": (
        ("get_table_schema", {"table_name": "invoice"}),
        ("get_table_schema", {"table_name": "Invoice"}),
    ),
    "get_database_overview": (("get_database_overview", {}), ("get_database_overview", {})),
    "calculate_metrics sum by country": (
        ("calculate_metrics", {"table_name": "invoice", "metric": "sum", "column": "total",
                               "group_by": ["billing_country"]}),
        ("calculate_metrics", {"table_name": "Invoice", "metric": "sum", "column": "Total",
                               "group_by": ["BillingCountry"]}),
    ),
    "calculate_metrics median": (
        ("calculate_metrics", {"table_name": "track", "metric": "median", "column": "milliseconds"}),
        ("calculate_metrics", {"table_name": "Track", "metric": "median", "column": "Milliseconds"}),
    ),
}  # fmt: skip


def settings(dsn: str) -> Settings:
    return Settings(dsn=dsn, pii_mode="allow", query_cache_ttl_s=0, aggregation_cache_ttl_s=0)


async def timed(client: Client, tool: str, args: dict[str, Any]) -> float:
    started = time.perf_counter()
    result = await client.call_tool(tool, args)
    elapsed = (time.perf_counter() - started) * 1000.0
    assert not result.is_error, result.content
    return elapsed


async def raw_pg(dsn: str, repeat: int) -> list[float]:
    conn = await asyncpg.connect(dsn)
    out = []
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            await conn.fetch("SELECT * FROM track WHERE track_id = $1", 7)
            out.append((time.perf_counter() - started) * 1000.0)
    finally:
        await conn.close()
    return out


async def raw_my(server: Any, repeat: int) -> list[float]:
    from asyncmy import connect

    conn = await connect(host=server.host, port=server.port, user=server.user, password=server.password,
                         database="chinook", autocommit=True)  # fmt: skip
    out = []
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            stmt = await conn.prepare("SELECT * FROM Track WHERE TrackId = ?")
            await stmt.execute((7,))
            await stmt.close()
            out.append((time.perf_counter() - started) * 1000.0)
    finally:
        conn.close()
    return out


async def run(pg_dsn: str, my_dsn: str, maria: Any, repeat: int) -> None:
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in CALLS}
    async with Client(build_server(settings(pg_dsn))) as pg, Client(build_server(settings(my_dsn))) as my:
        for (t1, a1), (t2, a2) in CALLS.values():  # warm up: pools, catalogs, plans
            await timed(pg, t1, a1)
            await timed(my, t2, a2)
        for _ in range(repeat):
            for name, ((t1, a1), (t2, a2)) in CALLS.items():
                times[name][0].append(await timed(pg, t1, a1))
                times[name][1].append(await timed(my, t2, a2))
    print("| call | PostgreSQL 18 | MariaDB 10.11 | ratio |")
    print("|---|---|---|---|")
    for name, (a, b) in times.items():
        pa, mb = statistics.median(a), statistics.median(b)
        print(f"| {name} | {pa:.2f} ms | {mb:.2f} ms | {mb / pa:.2f}x |")
    pa, mb = statistics.median(await raw_pg(pg_dsn, repeat)), statistics.median(await raw_my(maria, repeat))
    print(f"| raw driver point query (asyncpg / asyncmy, prepared, one connection) | {pa:.2f} ms | {mb:.2f} ms | |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    from vf_mcp.db.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="vfbench-engines-") as tmp:
        server = EmbeddedPostgres.start(Path(tmp) / "pgdata", cleanup="delete")
        try:
            text = (ROOT / "tests" / "data" / "chinook" / "chinook.sql").read_text(encoding="utf-8")
            match = re.search(r"^\\c .*$", text, flags=re.MULTILINE)
            body = text[match.end() :] if match else text

            async def load_pg() -> str:
                admin = await asyncpg.connect(server.dsn("postgres"))
                await admin.execute("CREATE DATABASE chinook_bench")
                await admin.close()
                conn = await asyncpg.connect(server.dsn("chinook_bench"))
                await conn.execute(body)
                await conn.execute("ANALYZE")
                await conn.close()
                return server.dsn("chinook_bench")

            pg_dsn = asyncio.run(load_pg())
            with start_mariadb(Path(tmp) / "maria") as maria:
                asyncio.run(load_chinook(maria))
                asyncio.run(run(pg_dsn, maria.dsn("chinook"), maria, args.repeat))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
