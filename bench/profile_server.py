"""Profile one benchmark call: the vf-mcp server under cProfile (server side) and this client (client side).

    python bench/profile_server.py CASE [--dsn URL] [--calls N] [--top N] [--out DIR]

CASE is one of: point, rows1000, capped, list_tables, schema, overview, overview_wide, noop. The server runs
as `python -m cProfile -o OUT -m vf_mcp.cli serve` over stdio (cache off); its profile is written when
the client closes stdin, then both profiles are printed (cumulative time, top N) and saved under --out
(default /tmp/vfbench/profiles) for snakeviz/pstats. Uses the same embedded cluster as bench/run.py.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
from pathlib import Path
from typing import Any

from mcp import StdioServerParameters
from run import (
    CACHE_OFF,
    CAPPED_SERIES_SQL,
    NOOP_SERVER,
    POINT_SQL,
    ROOT,
    ROWS_1000_SQL,
    SCHEMA_TABLE,
    WORK_DIR,
    ToolCall,
    connect,
    parse_args,
    prepare_databases,
)

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "point": ("run_query", {"sql": POINT_SQL}),
    "rows1000": ("run_query", {"sql": ROWS_1000_SQL}),
    "capped": ("run_query", {"sql": CAPPED_SERIES_SQL}),
    "list_tables": ("list_tables", {}),
    "schema": ("get_table_schema", {"table_name": SCHEMA_TABLE}),
    "overview": ("get_database_overview", {}),
    "overview_wide": ("get_database_overview", {}),
    "noop": ("noop", {}),
}


async def profile(case: str, dsn: str, calls: int, out_dir: Path) -> tuple[Path, pstats.Stats]:
    tool, arguments = CASES[case]
    server_prof = out_dir / f"{case}.server.prof"
    target = [str(NOOP_SERVER)] if case == "noop" else ["-m", "vf_mcp.cli", "serve"]
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cProfile", "-o", str(server_prof), *target],
        env={"VF_MCP_DSN": dsn, **CACHE_OFF},
        cwd=str(ROOT),
    )
    client_prof = cProfile.Profile()
    with (WORK_DIR / "servers.log").open("a") as errlog:
        async with connect(params, errlog) as client:
            call = ToolCall(client, tool, arguments)
            for _ in range(min(20, calls)):
                await call()
            client_prof.enable()
            for _ in range(calls):
                await call()
            client_prof.disable()
    for _ in range(50):  # the server writes its profile as it exits
        if server_prof.exists():
            break
        await asyncio.sleep(0.1)
    client_prof.dump_stats(out_dir / f"{case}.client.prof")
    return server_prof, pstats.Stats(client_prof)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("case", choices=sorted(CASES))
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--top", type=int, default=35)
    p.add_argument("--out", type=Path, default=WORK_DIR / "profiles")
    p.add_argument("--dsn")
    opts, rest = p.parse_known_args()
    args = parse_args(([f"--dsn={opts.dsn}"] if opts.dsn else []) + rest)
    opts.out.mkdir(parents=True, exist_ok=True)

    async def run() -> tuple[Path, pstats.Stats]:
        dbs = await prepare_databases(args)
        try:
            dsn = dbs.wide_dsn if opts.case == "overview_wide" and dbs.wide_dsn else dbs.demo_dsn
            return await profile(opts.case, dsn, opts.calls, opts.out)
        finally:
            if dbs.stop is not None:
                dbs.stop()

    server_prof, client_stats = asyncio.run(run())
    print(f"=== server ({opts.calls} x {opts.case}), cumulative, from {server_prof}")
    pstats.Stats(str(server_prof)).sort_stats("cumulative").print_stats(opts.top)
    print(f"=== client ({opts.calls} x {opts.case}), cumulative")
    client_stats.sort_stats("cumulative").print_stats(opts.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
