"""vf-mcp over streamable HTTP under concurrency: calls/s and p50/p95 latency at 1, 10 and 50 clients.

    python bench/http_load.py [--dsn URL] [--calls N] [--concurrency 1,10,50] [--json OUT]

One `vf-mcp serve --transport http` subprocess (stateless streamable HTTP, behind its API-key gateway, with an
[[api_keys]] entry whose rate is out of reach) is driven by N concurrent MCP clients, each with its own
httpx2 client and MCP session, all in this process. Measured at each concurrency, interleaved round-robin:

  floor: no-op tool over HTTP   bench/noop_server.py's MCPServer served the same way (stateless streamable HTTP,
                                uvicorn) in a second subprocess: the SDK and HTTP on their own
  floor: raw asyncpg            the same point query through an asyncpg pool of the same size as vf-mcp's
  get_table_schema('drops')     a cached tool: answered from vf-mcp's catalog cache, no PostgreSQL
  run_query point, refresh      SELECT * FROM staff WHERE id = 7 with refresh=true: bypasses the result cache,
                                so every call reaches PostgreSQL

Without --dsn an embedded PostgreSQL is started in /tmp/vfbench/pgdata (shared with bench/run.py) with the
VelocityFibre demo database (scale 1). See bench/README.md for the figures and how to read them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import socket
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from run import _load, _redacted_argv  # bench/ is on sys.path when this script runs
from run import machine as run_machine

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK_DIR = Path("/tmp/vfbench")

POINT_SQL = "SELECT * FROM staff WHERE id = 7"
SCHEMA_TABLE = "drops"

NOOP = "noop"
RAW = "raw"
SCHEMA = "schema"
QUERY = "query"
LABELS = {
    NOOP: "floor: no-op tool over HTTP",
    RAW: "floor: raw asyncpg pool.fetch, point query",
    SCHEMA: f"get_table_schema('{SCHEMA_TABLE}') (catalog cache)",
    QUERY: "run_query point, refresh=true (PostgreSQL)",
}
ORDER = [NOOP, RAW, SCHEMA, QUERY]


# --------------------------------------------------------------------------------------------------- results


@dataclass
class Series:
    """One case at one concurrency: every call's latency, the wall time of its bursts, CPU spent."""

    case: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    server_cpu_s: float | None = None

    def summary(self) -> dict[str, Any]:
        ms = sorted(x * 1000.0 for x in self.latencies)
        n = len(ms)
        return {
            "case": self.case,
            "label": LABELS[self.case],
            "clients": self.clients,
            "calls": n,
            "calls_per_s": n / self.wall_s if self.wall_s else None,
            "p50_ms": statistics.median(ms),
            "p95_ms": ms[max(0, math.ceil(0.95 * n) - 1)],  # nearest rank
            "p99_ms": ms[max(0, math.ceil(0.99 * n) - 1)],
            "mean_ms": statistics.fmean(ms),
            "max_ms": ms[-1],
            "client_cpu_ms_per_call": 1000.0 * self.client_cpu_s / n,
            "server_cpu_ms_per_call": None if self.server_cpu_s is None else 1000.0 * self.server_cpu_s / n,
        }


@dataclass
class Report:
    meta: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    after: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def spawn(argv: list[str], env: dict[str, str], port: int, errlog: TextIO, wait_s: float = 60.0) -> Server:
    proc = subprocess.Popen([sys.executable, *argv], env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL, stderr=errlog)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{' '.join(argv)} exited with {proc.returncode}; see {errlog.name}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Server(proc, f"http://127.0.0.1:{port}")
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{' '.join(argv)} did not listen on port {port} within {wait_s:.0f} s")


def serve_noop(port: int) -> None:
    """Internal (--serve-noop PORT): bench/noop_server.py's server over stateless streamable HTTP."""
    import uvicorn

    sys.path.insert(0, str(BENCH_DIR))
    from noop_server import server

    app = server.streamable_http_app(stateless_http=True, host="127.0.0.1")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def start_vf_mcp(args: argparse.Namespace, dsn: str, token: str, admin_token: str, errlog: TextIO) -> Server:
    from vf_mcp.ops.auth import hash_token

    config = WORK_DIR / "http_load.toml"
    config.write_text(
        f"""# written by bench/http_load.py
[[api_keys]]
name = "bench"
sha256 = "{hash_token(token)}"
role = "analyst"
requests_per_hour = 100000000

[[api_keys]]
name = "bench-admin"
sha256 = "{hash_token(admin_token)}"
role = "admin"
requests_per_hour = 100000000
"""
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VF_MCP_")}
    env.update(
        VF_MCP_DSN=dsn,
        VF_MCP_POOL_MAX_SIZE=str(args.pool_max),
        VF_MCP_AUDIT_LOG_PATH=args.audit_log,
        VF_MCP_LOG_LEVEL="WARNING",
    )
    port = free_port()
    return spawn(["-m", "vf_mcp.cli", "serve", "--config", str(config), "--port", str(port), "--transport", "http"],
                 env, port, errlog)  # fmt: skip


def start_noop(errlog: TextIO) -> Server:
    port = free_port()
    return spawn([str(Path(__file__).resolve()), "--serve-noop", str(port)], dict(os.environ), port, errlog)


# --------------------------------------------------------------------------------------------------- clients

_TLS: ssl.SSLContext | None = None


def http_client(token: str | None) -> httpx2.AsyncClient:
    """One HTTP client per MCP client (its own connection pool); one TLS context shared (plain HTTP here)."""
    global _TLS
    if _TLS is None:
        _TLS = ssl.create_default_context()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(headers=headers, timeout=120, verify=_TLS)


def mcp_client(url: str, token: str | None) -> Client:
    """A client as an AI assistant's host would hold it (client-side response cache off, like bench/run.py)."""
    return Client(streamable_http_client(f"{url}/mcp", http_client=http_client(token)), cache=None)


def check(name: str, result: Any) -> None:
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise RuntimeError(f"{name} failed: {text}")


Call = Callable[[int], Awaitable[None]]  # worker index -> one call


async def burst(call: Call, clients: int, n: int) -> tuple[list[float], float]:
    """`n` calls by `clients` concurrent workers pulling from one budget (all stay busy to the end)."""
    left = n
    latencies: list[float] = []

    async def worker(i: int) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            t0 = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(clients)))
    return latencies, time.perf_counter() - t0


async def measure_level(
    args: argparse.Namespace, vf: Server, noop: Server, dsn: str, token: str, clients: int
) -> list[Series]:
    """All four cases at one concurrency: warm-up, then `rounds` rounds of (noop, raw, schema, query) bursts."""
    async with AsyncExitStack() as stack:
        vf_clients = [await stack.enter_async_context(mcp_client(vf.url, token)) for _ in range(clients)]
        noop_clients = [await stack.enter_async_context(mcp_client(noop.url, None)) for _ in range(clients)]
        pool = await asyncpg.create_pool(dsn, min_size=args.pool_max, max_size=args.pool_max)
        stack.push_async_callback(pool.close)

        async def call_noop(i: int) -> None:
            check("noop", await noop_clients[i].call_tool("noop", {}))

        async def call_raw(i: int) -> None:
            rows = await pool.fetch(POINT_SQL)
            assert len(rows) == 1

        async def call_schema(i: int) -> None:
            check("get_table_schema", await vf_clients[i].call_tool("get_table_schema", {"table_name": SCHEMA_TABLE}))

        async def call_query(i: int) -> None:
            result = await vf_clients[i].call_tool("run_query", {"sql": POINT_SQL, "refresh": True})
            check("run_query", result)
            sc = result.structured_content or {}
            assert sc.get("from_cache") is False and sc.get("row_count") == 1, sc

        calls: dict[str, tuple[Call, Server | None]] = {
            NOOP: (call_noop, noop),
            RAW: (call_raw, None),
            SCHEMA: (call_schema, vf),
            QUERY: (call_query, vf),
        }
        for call, _ in calls.values():
            await burst(call, clients, args.warmup * clients)
        series = {
            case: Series(case, clients, server_cpu_s=None if srv is None else 0.0) for case, (_, srv) in calls.items()
        }
        per_round = max(1, args.calls // args.rounds)
        for _ in range(args.rounds):
            for case, (call, srv) in calls.items():
                s = series[case]
                cpu0, srv0 = time.process_time(), (srv.cpu_s() if srv else 0.0)
                latencies, wall = await burst(call, clients, per_round)
                s.client_cpu_s += time.process_time() - cpu0
                if srv is not None and s.server_cpu_s is not None:
                    s.server_cpu_s += srv.cpu_s() - srv0
                s.latencies += latencies
                s.wall_s += wall
        return [series[c] for c in ORDER]


async def after_report(vf: Server, dsn: str, admin_token: str, pool_max: int) -> dict[str, Any]:
    """vf-mcp's /health (pool, RSS) and its PostgreSQL sessions, after the run."""
    async with http_client(admin_token) as http:
        health = (await http.get(f"{vf.url}/health")).json()
    conn = await asyncpg.connect(dsn)
    try:
        sessions = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vf-mcp' AND datname = current_database()"
        )
    finally:
        await conn.close()
    return {
        "rss_bytes": health.get("memory", {}).get("rss_bytes"),
        "pool": health.get("pool"),
        "pool_max_size": pool_max,
        "vf_mcp_pg_sessions": int(sessions),
    }


# --------------------------------------------------------------------------------------------------- the run


async def prepare_database(args: argparse.Namespace) -> tuple[str, str, Callable[[], None] | None]:
    if args.dsn:
        return args.dsn, "--dsn", None
    from vf_mcp.db.embedded import EmbeddedPostgres
    from vf_mcp.demo.setup import ensure_demo_database

    print(f"starting embedded PostgreSQL in {args.data_dir} ...", file=sys.stderr, flush=True)
    server = EmbeddedPostgres.start(args.data_dir, cleanup="stop")
    dsn = await ensure_demo_database(server, scale=1)
    return dsn, f"embedded ({args.data_dir})", server.stop


def machine() -> dict[str, Any]:
    """bench/run.py's machine description plus the HTTP stack's versions."""
    return {**run_machine(), "httpx2": pkg_version("httpx2"), "uvicorn": pkg_version("uvicorn")}


async def amain(args: argparse.Namespace) -> Report:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    dsn, source, stop_pg = await prepare_database(args)
    report = Report()
    token, admin_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    log_path = WORK_DIR / "servers.log"
    servers: list[Server] = []
    try:
        conn = await asyncpg.connect(dsn)
        try:
            pg_version = await conn.fetchval("SELECT version()")
        finally:
            await conn.close()
        report.meta = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "postgres": pg_version,
            "source": source,
            "command": "python bench/http_load.py " + " ".join(_redacted_argv()),
            "calls": args.calls,
            "rounds": args.rounds,
            "warmup_per_client": args.warmup,
            "pool_max_size": args.pool_max,
            "audit_log": args.audit_log,
            "load_start": _load(),
        }
        with log_path.open("a") as errlog:
            errlog.write(f"\n--- http_load run {report.meta['date']}\n")
            errlog.flush()
            vf = start_vf_mcp(args, dsn, token, admin_token, errlog)
            servers.append(vf)
            noop = start_noop(errlog)
            servers.append(noop)
            for clients in args.concurrency:
                print(f"{clients} concurrent client(s) ...", file=sys.stderr, flush=True)
                for s in await measure_level(args, vf, noop, dsn, token, clients):
                    row = s.summary()
                    report.rows.append(row)
                    print(
                        f"  {row['label']}: {row['calls_per_s']:.0f} calls/s, p50 {row['p50_ms']:.2f} ms, "
                        f"p95 {row['p95_ms']:.2f} ms",
                        file=sys.stderr,
                        flush=True,
                    )
            report.after = await after_report(vf, dsn, admin_token, args.pool_max)
    finally:
        for srv in servers:
            srv.stop()
        if stop_pg is not None:
            stop_pg()
    report.meta["servers_log"] = str(log_path)
    report.meta["load_end"] = _load()
    return report


# --------------------------------------------------------------------------------------------------- output


def _row(report: Report, case: str, clients: int) -> dict[str, Any] | None:
    return next((r for r in report.rows if r["case"] == case and r["clients"] == clients), None)


def _f(value: float | None, spec: str = ".2f") -> str:
    return "" if value is None else format(value, spec)


def render(report: Report) -> str:
    m = report.meta
    mc = m["machine"]
    out = [
        f"vf-mcp HTTP load benchmark, {m['date']}",
        f"machine: {mc['cores']} cores, {mc['cpu']}; {mc['platform']}",
        f"python {mc['python']}, mcp {mc['mcp']}, httpx2 {mc['httpx2']}, uvicorn {mc['uvicorn']}, "
        f"asyncpg {mc['asyncpg']}, vf-mcp {mc['vf_mcp']}; stateless streamable HTTP",
        f"PostgreSQL: {m['postgres']}",
        f"database: {m['source']}; vf-mcp pool_max_size {m['pool_max_size']} (the raw asyncpg pool: the same); "
        f"audit log: {m['audit_log']}",
        f"load average (1 min) at start {m['load_start']}, at end {m['load_end']} (clients, both servers and "
        "PostgreSQL share these cores: compare lines of the same run)",
        f"command: {m['command']}",
        f"{m['calls']} timed calls per line in {m['rounds']} interleaved rounds, after {m['warmup_per_client']} "
        "warm-up calls per client; p50/p95 by nearest rank; CPU = ms of CPU time per call",
        "",
    ]
    head = ("clients", "measurement", "calls", "calls/s", "p50 ms", "p95 ms", "p99 ms", "server CPU", "client CPU",
            "p50 vs no-op", "p50 vs raw", "calls/s vs no-op")  # fmt: skip
    rows: list[tuple[str, ...]] = []
    for r in report.rows:
        noop = _row(report, NOOP, r["clients"])
        raw = _row(report, RAW, r["clients"])
        mcp_case = r["case"] in (SCHEMA, QUERY)
        rows.append(
            (
                str(r["clients"]),
                r["label"],
                f"{r['calls']:,}",
                _f(r["calls_per_s"], ",.0f"),
                _f(r["p50_ms"]),
                _f(r["p95_ms"]),
                _f(r["p99_ms"]),
                _f(r["server_cpu_ms_per_call"]),
                _f(r["client_cpu_ms_per_call"]),
                f"{r['p50_ms'] / noop['p50_ms']:.2f}x" if mcp_case and noop else "",
                f"{r['p50_ms'] / raw['p50_ms']:.1f}x" if r["case"] == QUERY and raw else "",
                f"{r['calls_per_s'] / noop['calls_per_s']:.2f}x" if mcp_case and noop else "",
            )
        )
    widths = [max(len(head[i]), *(len(row[i]) for row in rows)) for i in range(len(head))]
    left = {0, 1}

    def fmt(row: tuple[str, ...]) -> str:
        cells = [c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    out.append(fmt(head))
    out.append("  ".join("-" * w for w in widths))
    prev = None
    for row in rows:
        if prev is not None and row[0] != prev:
            out.append("")
        out.append(fmt(row))
        prev = row[0]
    a = report.after
    if a:
        rss = a.get("rss_bytes")
        out += [
            "",
            f"after the run: vf-mcp RSS {rss / 2**20:.1f} MiB" if rss else "after the run:",
            f"  pool {a.get('pool')}; vf-mcp sessions in pg_stat_activity: {a['vf_mcp_pg_sessions']} "
            f"(pool_max_size {a['pool_max_size']})",
        ]
    return "\n".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--dsn", help="PostgreSQL URL of a database with the demo tables (default: embedded demo)")
    p.add_argument("--calls", type=int, default=1000, help="timed calls per measurement line")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds the calls are split into")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls per client before each concurrency")
    p.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 50], help="e.g. 1,10,50"
    )
    p.add_argument("--pool-max", type=int, default=5, help="vf-mcp pool_max_size and the raw pool's size")
    p.add_argument(
        "--audit-log",
        default=str(WORK_DIR / "http_load_audit.jsonl"),
        help="vf-mcp's audit log (a rotating file, on as in production; 'off' to disable)",
    )
    p.add_argument("--json", type=Path, help="also write every number as JSON to this file")
    p.add_argument("--data-dir", type=Path, default=WORK_DIR / "pgdata", help="embedded cluster directory")
    p.add_argument("--serve-noop", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_noop:
        serve_noop(args.serve_noop)
        return 0
    report = asyncio.run(amain(args))
    print(render(report))
    if args.json:
        data = {"meta": report.meta, "lines": report.rows, "after": report.after}
        args.json.write_text(json.dumps(data, indent=2, default=str) + "\n")
        print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
