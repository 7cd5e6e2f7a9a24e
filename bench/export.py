"""export_results CSV next to PostgreSQL's own `COPY (query) TO STDOUT` on 1,000,000 rows, in one run.

    python bench/export.py [--rows 1000000] [--rounds 5] [--pii-mode allow] [--dsn URL] [--json OUT]

Without --dsn the embedded PostgreSQL in /tmp/vfbench/pgdata is started (kept between runs) and the database
`vfbench_export` is created once with the table `export_rows` (reused later; a comment on the table records
its row count): int, bigint, numeric(12,2), text of varying length, text needing CSV quoting (commas,
quotes, line breaks), '' and NULL, timestamptz, date, boolean. Each round times, one after the other:

- floor: asyncpg `conn.copy_from_query(SELECT, output=<file>, format='csv', header=True)` on a plain
  connection of this process, to a file;
- vf-mcp: `export_results(query=SELECT, format='csv', include_metadata=false)` through an in-process MCP
  client (`mcp.Client(build_server(settings))`: the full tool pipeline, guard, PII policy, READ ONLY
  session, writer, store; no stdio framing, which carries only the small answer), timed until the answer
  arrives (the file is complete and published by then);
- the same rows with a bound parameter (`WHERE id >= $1`, params [0]), which cannot go through COPY: the
  cursor path every export took before (`--no-cursor` leaves it out).

Reported: medians of the rounds, rows/s and MB/s (MB = 10^6 bytes of the CSV file), the throughput ratio
vf-mcp / COPY (target >= 0.7), the peak RSS growth of this process during each export (VmHWM reset through
/proc/self/clear_refs before it; the server runs in this process), and whether the files are byte-identical.

pii_mode: `allow` by default, the policy under which nothing per value is needed. With `mask` or `hash`
(the product default is mask) every CSV line also passes the value-pattern net (emails, phones, cards in
any text) in Python, so the export takes the cursor path; `--pii-mode mask --rounds 1` shows that cost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any

import asyncpg
from mcp import Client

from vf_mcp.server import build_server
from vf_mcp.settings import Settings

WORK_DIR = Path("/tmp/vfbench")
DATABASE = "vfbench_export"
TABLE = "export_rows"
QUERY = f"SELECT * FROM {TABLE} ORDER BY id"
PARAM_QUERY = f"SELECT * FROM {TABLE} WHERE id >= $1 ORDER BY id"
"""The same rows with a bound parameter: export_results cannot use COPY for it (the cursor path)."""
TARGET = 0.7

# A realistic mix: integers, an exact numeric, free text of varying length (some needing CSV quoting:
# commas, quotes, newlines; some empty, some NULL), timestamps with time zone, dates, booleans.
CREATE = f"""
CREATE TABLE {TABLE} (
    id          integer PRIMARY KEY,
    account     bigint NOT NULL,
    amount      numeric(12,2),
    label       text NOT NULL,
    note        text,
    created_at  timestamptz NOT NULL,
    due_on      date,
    active      boolean
);
INSERT INTO {TABLE}
SELECT g,
       1000000000 + (g::bigint * 7919) % 900000000,
       CASE WHEN g % 17 = 0 THEN NULL ELSE round(((g::bigint * 7907) % 10000000) / 100.0 - 20000, 2) END,
       'item ' || g || ' ' || repeat(chr(97 + g % 26), 1 + g % 40),
       CASE g % 10
           WHEN 0 THEN NULL
           WHEN 1 THEN ''
           WHEN 2 THEN 'Smith, John'
           WHEN 3 THEN 'said "hello" to ' || g
           WHEN 4 THEN 'line one' || chr(10) || 'line two ' || g
           ELSE md5(g::text) || repeat(' lorem ipsum', g % 6)
       END,
       timestamptz '2024-01-01 00:00:00+00' + g * interval '37 seconds',
       CASE WHEN g % 13 = 0 THEN NULL ELSE date '2020-01-01' + (g % 2500) END,
       CASE WHEN g % 11 = 0 THEN NULL ELSE g % 3 = 0 END
FROM generate_series(1, $ROWS) AS g;
ANALYZE {TABLE};
COMMENT ON TABLE {TABLE} IS 'vfbench rows=$ROWS';
"""


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> int:
    """Reset VmHWM to the current RSS (Linux clear_refs 5); return the RSS in kB."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def with_database(dsn: str, database: str) -> str:
    base, _, query = dsn.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + database
    return base + (f"?{query}" if query else "")


async def ensure_table(admin_dsn: str, dsn: str, rows: int) -> str:
    """The bench table with `rows` rows: 'reused' or 'created'."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await admin.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await admin.close()
    conn = await asyncpg.connect(dsn)
    try:
        marker = await conn.fetchval("SELECT obj_description(to_regclass($1), 'pg_class')", TABLE)
        if marker == f"vfbench rows={rows}":
            return "reused"
        print(f"creating {TABLE} with {rows:,} rows ...", file=sys.stderr, flush=True)
        await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        await conn.execute(CREATE.replace("$ROWS", str(int(rows))))
        return "created"
    finally:
        await conn.close()


async def copy_floor(dsn: str, path: Path) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        with path.open("wb") as f:
            await conn.copy_from_query(QUERY, output=f, format="csv", header=True)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def vf_export(client: Client, *, cursor: bool = False) -> tuple[float, dict[str, Any], int]:
    """One export_results call: seconds, its structured answer, peak RSS growth in kB during it."""
    args: dict[str, Any] = {"query": QUERY, "format": "csv", "include_metadata": False}
    if cursor:
        args |= {"query": PARAM_QUERY, "params": [0]}
    base = reset_peak_rss()
    started = time.perf_counter()
    result = await client.call_tool("export_results", args)
    elapsed = time.perf_counter() - started
    if result.is_error:
        raise SystemExit(f"export_results failed: {result.content}")
    peak = _status_kb("VmHWM")
    return elapsed, dict(result.structured_content or {}), peak - base


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _first_difference(a: Path, b: Path) -> str:
    with a.open("rb") as fa, b.open("rb") as fb:
        offset = 0
        while True:
            x, y = fa.read(1 << 16), fb.read(1 << 16)
            if x != y:
                i = next((k for k in range(min(len(x), len(y))) if x[k] != y[k]), min(len(x), len(y)))
                near = slice(max(0, i - 40), i + 40)
                return f"first difference at byte {offset + i:,}: COPY {x[near]!r} vs vf-mcp {y[near]!r}"
            if not x:
                return "identical"
            offset += len(x)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stop = None
    if args.dsn:
        admin_dsn = args.dsn
        source = "--dsn"
    else:
        from vf_mcp.db.embedded import EmbeddedPostgres

        print(f"starting embedded PostgreSQL in {args.data_dir} ...", file=sys.stderr, flush=True)
        server = EmbeddedPostgres.start(args.data_dir, cleanup="stop")
        admin_dsn = server.dsn("postgres")
        source = f"embedded ({args.data_dir})"
        stop = server.stop
    dsn = with_database(admin_dsn, DATABASE)
    try:
        table = await ensure_table(admin_dsn, dsn, args.rows)
        conn = await asyncpg.connect(dsn)
        try:
            pg_version = await conn.fetchval("SELECT version()")
        finally:
            await conn.close()
        out_dir = Path(tempfile.mkdtemp(prefix="export-", dir=WORK_DIR))
        settings = Settings(
            dsn=dsn,  # type: ignore[arg-type]
            exports_dir=str(out_dir / "exports"),
            audit_log_path="off",
            pii_mode=args.pii_mode,
            query_cache_ttl_s=0,
            export_max_total_bytes=50 * 1024**3,
        )
        floor_s: list[float] = []
        vf_s: list[float] = []
        cursor_s: list[float] = []
        rss_kb: list[int] = []
        cursor_rss_kb: list[int] = []
        floor_file = out_dir / "copy.csv"
        last: dict[str, Any] = {}
        async with Client(build_server(settings)) as client:
            for i in range(args.warmup + args.rounds):
                copy_s = await copy_floor(dsn, floor_file)
                vf, last, grown = await vf_export(client)
                if args.cursor:
                    cur, cursor_last, cursor_grown = await vf_export(client, cursor=True)
                if i >= args.warmup:
                    floor_s.append(copy_s)
                    vf_s.append(vf)
                    rss_kb.append(grown)
                    if args.cursor:
                        cursor_s.append(cur)
                        cursor_rss_kb.append(cursor_grown)
                    print(f"round {i - args.warmup + 1}: COPY {copy_s:.3f} s, vf-mcp {vf:.3f} s", file=sys.stderr)
                if i < args.warmup + args.rounds - 1:
                    Path(last["file_path"]).unlink(missing_ok=True)
                    if args.cursor:
                        Path(cursor_last["file_path"]).unlink(missing_ok=True)
        vf_file = Path(last["file_path"])
        size_copy, size_vf = floor_file.stat().st_size, vf_file.stat().st_size
        same = _digest(floor_file) == _digest(vf_file)
        comparison = "identical" if same else _first_difference(floor_file, vf_file)
        cursor_cmp = None
        if args.cursor:
            cursor_file = Path(cursor_last["file_path"])
            cursor_cmp = (
                "identical"
                if _digest(cursor_file) == _digest(floor_file)
                else (_first_difference(floor_file, cursor_file))
            )
        rows = int(last["row_count"])
        shutil.rmtree(out_dir, ignore_errors=True)
    finally:
        if stop is not None:
            stop()
    copy_med, vf_med = statistics.median(floor_s), statistics.median(vf_s)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "mcp": pkg_version("mcp"),
            "asyncpg": pkg_version("asyncpg"),
            "vf_mcp": pkg_version("vf-mcp"),
        },
        "postgresql": pg_version,
        "source": source,
        "table": f"{TABLE} ({table})",
        "query": QUERY,
        "pii_mode": args.pii_mode,
        "rows": rows,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "load": f"{os.getloadavg()[0]:.2f}",
        "copy": {"seconds": floor_s, "median_s": copy_med, "bytes": size_copy},
        "vf_mcp": {"seconds": vf_s, "median_s": vf_med, "bytes": size_vf, "peak_rss_growth_kb": rss_kb},
        "cursor": (
            {
                "seconds": cursor_s,
                "median_s": statistics.median(cursor_s),
                "bytes": size_copy,
                "peak_rss_growth_kb": cursor_rss_kb,
                "ratio": copy_med / statistics.median(cursor_s),
                "files": cursor_cmp,
            }
            if cursor_s
            else None
        ),
        "ratio": copy_med / vf_med,
        "files": comparison,
        "command": "python bench/export.py " + " ".join(a for a in sys.argv[1:] if "://" not in a),
    }


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    rows = r["rows"]

    def line(name: str, d: dict[str, Any], extra: str) -> str:
        med = d["median_s"]
        return (
            f"{name:<44} {med:9.3f} {min(d['seconds']):9.3f} {rows / med:>12,.0f} {d['bytes'] / med / 1e6:8.1f}"
            f"  {extra}"
        ).rstrip()

    peak = max(r["vf_mcp"]["peak_rss_growth_kb"]) / 1024
    ratio = r["ratio"]
    return "\n".join(
        [
            f"vf-mcp export benchmark, {r['date']}",
            f"machine: {m['cores']} cores; {m['platform']}; python {m['python']}, mcp {m['mcp']}, "
            f"asyncpg {m['asyncpg']}, vf-mcp {m['vf_mcp']}",
            f"PostgreSQL: {r['postgresql']}",
            f"database: {r['source']}; table {r['table']}; query: {r['query']}",
            f"{rows:,} rows, CSV {r['copy']['bytes'] / 1e6:,.1f} MB; {r['rounds']} interleaved rounds after "
            f"{r['warmup']} warm-up; pii_mode {r['pii_mode']}; load average (1 min) at end {r['load']}",
            f"command: {r['command']}",
            "",
            f"{'measurement':<44} {'median s':>9} {'best s':>9} {'rows/s':>12} {'MB/s':>8}",
            line("floor: asyncpg copy_from_query (COPY) to file", r["copy"], ""),
            line("export_results csv (in-process mcp.Client)", r["vf_mcp"], f"peak RSS growth {peak:.1f} MB"),
            *(
                [
                    line(
                        "same with a bound parameter (cursor path)",
                        r["cursor"],
                        f"peak RSS growth {max(r['cursor']['peak_rss_growth_kb']) / 1024:.1f} MB; "
                        f"{r['cursor']['ratio']:.2f}x COPY; file vs COPY: {r['cursor']['files']}",
                    )
                ]
                if r["cursor"]
                else []
            ),
            "",
            f"throughput vs COPY: {ratio:.2f}x (target >= {TARGET}x): {'MET' if ratio >= TARGET else 'MISSED'}",
            f"files: {r['files']} ({r['copy']['bytes']:,} vs {r['vf_mcp']['bytes']:,} bytes)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--dsn", help="PostgreSQL URL of a server where the role may CREATE DATABASE (default: embedded)")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows in the bench table")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds (each: COPY, then export_results)")
    p.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    p.add_argument("--no-cursor", dest="cursor", action="store_false", help="skip the bound-parameter line")
    p.add_argument("--pii-mode", default="allow", choices=["mask", "hash", "allow"], help="vf-mcp's pii_mode")
    p.add_argument("--json", type=Path, help="also write every number as JSON to this file")
    p.add_argument("--data-dir", type=Path, default=WORK_DIR / "pgdata", help="embedded cluster directory")
    args = p.parse_args(argv)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(run(args))
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
