"""vf-mcp benchmark: every figure of the performance issue, side by side with its floor, in one run.

    python bench/run.py [--dsn URL] [--repeat N] [--json OUT]

Everything is measured from a client talking JSON-RPC over stdio to `python -m vf_mcp.cli serve`
subprocesses (the way Claude Desktop and other clients run it), next to two floors measured in the same
run: a no-op tool on an otherwise empty MCPServer (bench/noop_server.py) over the same transport, and the
same SQL through a plain asyncpg connection in this process. See bench/README.md for what each line means.

Without --dsn an embedded PostgreSQL is started in /tmp/vfbench/pgdata (reused between runs) with the
VelocityFibre demo database (scale 1) and a generated database of 1,000 small tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from mcp import Client, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK_DIR = Path("/tmp/vfbench")
NOOP_SERVER = BENCH_DIR / "noop_server.py"

POINT_SQL = "SELECT * FROM staff WHERE id = 7"
AGG_SQL = "SELECT status, count(*) AS n FROM drops GROUP BY status ORDER BY n DESC LIMIT 5"
AGG_METRICS = {  # refresh: the aggregation cache (its own family, 5 minutes) is skipped, as the query cache is off
    "table_name": "drops",
    "metric": "count",
    "group_by": ["status"],
    "order_by": "desc",
    "limit": 5,
    "refresh": True,
}
ROWS_1000_SQL = "SELECT * FROM onemap_properties ORDER BY id LIMIT 1000"
CAPPED_SERIES_SQL = "SELECT g, md5(g::text) FROM generate_series(1, 100000) g"
CAPPED_TABLE_SQL = "SELECT * FROM onemap_properties"
SLEEP_SQL = "SELECT pg_sleep(60)"
SCHEMA_TABLE = "drops"

WIDE_DB = "vfbench_1000_tables"
WIDE_TABLES = 1000
WIDE_MARKER = f"vf-mcp bench: {WIDE_TABLES} small tables, v1"

CACHE_OFF = {"VF_MCP_QUERY_CACHE_TTL_S": "0"}
Mode = Literal["legacy", "auto"]  # Client(mode=...): the initialize handshake, or server/discover first
KB = 1024


# --------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Stat:
    """Summary of one timed series (milliseconds)."""

    n: int
    median_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Stat:
        ms = sorted(s * 1000.0 for s in seconds)
        return cls(
            n=len(ms),
            median_ms=statistics.median(ms),
            p90_ms=ms[max(0, math.ceil(0.9 * len(ms)) - 1)],  # nearest rank
            min_ms=ms[0],
            max_ms=ms[-1],
            mean_ms=statistics.fmean(ms),
        )


@dataclass
class Line:
    """One printed line: a measurement, optionally with its floor, target and verdict."""

    key: str
    label: str
    stat: Stat | None = None
    payload_bytes: int | None = None
    floor_ms: float | None = None
    target: str | None = None
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.stat is None or not self.floor_ms:
            return None
        return self.stat.median_ms / self.floor_ms


@dataclass
class Report:
    meta: dict[str, Any] = field(default_factory=dict)
    lines: list[Line] = field(default_factory=list)
    tools: dict[str, int] = field(default_factory=dict)

    def add(self, line: Line) -> Line:
        self.lines.append(line)
        print(f"  measured {line.label}: {_brief(line)}", file=sys.stderr, flush=True)
        return line

    def get(self, key: str) -> Line | None:
        return next((x for x in self.lines if x.key == key), None)

    def median(self, key: str) -> float | None:
        line = self.get(key)
        return line.stat.median_ms if line and line.stat else None


def _brief(line: Line) -> str:
    if line.stat is None:
        return line.note or "-"
    return f"median {line.stat.median_ms:.3f} ms, p90 {line.stat.p90_ms:.3f} ms (n={line.stat.n})"


def payload_size(result: CallToolResult) -> int:
    """Bytes of the JSON-RPC result, as the issue defines it."""
    return len(json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True)))


# --------------------------------------------------------------------------------------------------- timing

Call = Callable[[], Awaitable[Any]]


async def interleaved(cases: dict[str, Call], *, n: int, warmup: int) -> dict[str, list[float]]:
    """Time each case `n` times, round-robin (so drift hits every case alike), after `warmup` rounds."""
    for _ in range(warmup):
        for fn in cases.values():
            await fn()
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(n):
        for key, fn in cases.items():
            t0 = time.perf_counter()
            await fn()
            samples[key].append(time.perf_counter() - t0)
    return samples


class ToolCall:
    """A tools/call with fixed arguments; remembers the last result and what run_query said about it.

    Calling it goes through `Client.call_tool`, which re-validates structured results against the tool's
    outputSchema (jsonschema, in this process); `unvalidated` sends the same request without that step.
    """

    def __init__(self, client: Client, name: str, arguments: dict[str, Any] | None = None) -> None:
        self.client = client
        self.name = name
        self.arguments = arguments or {}
        self.last: CallToolResult | None = None
        self.server_ms: list[float] = []  # run_query's own execution_time_ms, per call

    async def __call__(self) -> CallToolResult:
        return self._check(await self.client.call_tool(self.name, self.arguments))

    async def unvalidated(self) -> CallToolResult:
        request = types.CallToolRequest(params=types.CallToolRequestParams(name=self.name, arguments=self.arguments))
        return self._check(await self.client.session.send_request(request, types.CallToolResult))

    def _check(self, result: CallToolResult) -> CallToolResult:
        if result.is_error:
            text = " ".join(getattr(c, "text", "") for c in result.content)
            raise RuntimeError(f"{self.name}({self.arguments}) failed: {text}")
        self.last = result
        sc = result.structured_content or {}
        if isinstance(sc.get("execution_time_ms"), int | float) and not sc.get("from_cache"):
            self.server_ms.append(float(sc["execution_time_ms"]))
        return result

    async def client_validation_ms(self, reps: int = 10) -> float:
        """Median time the client spends re-validating the last structured result against the outputSchema."""
        assert self.last is not None
        samples = []
        for _ in range(reps):
            t0 = time.perf_counter()
            await self.client.session.validate_tool_result(self.name, self.last)
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples) * 1000.0


# --------------------------------------------------------------------------------------------------- servers


def _server_params(script: list[str], env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=script, env=env, cwd=str(ROOT))


def vf_params(dsn: str, **env: str) -> StdioServerParameters:
    return _server_params(["-m", "vf_mcp.cli", "serve"], {"VF_MCP_DSN": dsn, **env})


def noop_params() -> StdioServerParameters:
    return _server_params([str(NOOP_SERVER)], {})


@asynccontextmanager
async def connect(params: StdioServerParameters, errlog: TextIO, *, mode: Mode = "auto") -> AsyncIterator[Client]:
    """A connected client (server stderr goes to `errlog`; client-side response cache off)."""
    async with Client(stdio_client(params, errlog=errlog), mode=mode, cache=None) as client:
        yield client


# --------------------------------------------------------------------------------------------------- databases


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


async def ensure_wide_database(admin_dsn: str, wide_dsn: str) -> str:
    """A database of 1,000 small tables (id, label, amount, created_at; 5 rows each), analysed; reused."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        comment = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", WIDE_DB
        )
        if comment == WIDE_MARKER:
            return "reused"
        print(f"creating {WIDE_DB} ({WIDE_TABLES} tables) ...", file=sys.stderr, flush=True)
        await admin.execute(f'DROP DATABASE IF EXISTS "{WIDE_DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{WIDE_DB}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(with_database(admin_dsn, WIDE_DB))  # DDL as the admin, not the served role
    try:
        async with conn.transaction():
            for start in range(1, WIDE_TABLES + 1, 100):
                sql = []
                for i in range(start, min(start + 100, WIDE_TABLES + 1)):
                    t = f"t_{i:04d}"
                    sql.append(
                        f"CREATE TABLE {t} (id int PRIMARY KEY, label text NOT NULL, amount numeric(10,2), "
                        f"created_at timestamptz NOT NULL);"
                        f"INSERT INTO {t} SELECT g, 'row ' || g, g * 1.5, now() - g * interval '9 days' "
                        f"FROM generate_series(1, 5) g;"
                    )
                await conn.execute("\n".join(sql))
        await conn.execute("ANALYZE")
        reader = urlsplit(wide_dsn).username
        if reader:  # the served (least-privilege) role reads these tables like the demo's
            grant = await conn.fetchval(
                "SELECT format('GRANT CONNECT ON DATABASE %I TO %I; GRANT USAGE ON SCHEMA public TO %I; "
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I', current_database(), $1::text, $1::text, $1::text)",
                reader,
            )
            await conn.execute(grant)
        await conn.execute(f"COMMENT ON DATABASE \"{WIDE_DB}\" IS '{WIDE_MARKER}'")
    finally:
        await conn.close()
    return "created"


@dataclass
class Databases:
    demo_dsn: str
    wide_dsn: str | None
    source: str
    wide_note: str
    stop: Callable[[], None] | None = None


async def prepare_databases(args: argparse.Namespace) -> Databases:
    if args.dsn:
        demo_dsn: str = args.dsn
        admin_dsn = args.dsn
        source = "--dsn"
        stop = None
    else:
        from vf_mcp.db.embedded import EmbeddedPostgres

        try:
            from vf_mcp.demo.setup import ensure_demo_database
        except ImportError as exc:  # the generator is still being written: say so, do not guess
            raise SystemExit(f"vf_mcp.demo is not importable yet ({exc}); retry in a few minutes") from exc
        data_dir: Path = args.data_dir
        print(f"starting embedded PostgreSQL in {data_dir} ...", file=sys.stderr, flush=True)
        server = EmbeddedPostgres.start(data_dir, cleanup="stop")
        demo_dsn = await ensure_demo_database(server, scale=1)
        admin_dsn = server.dsn("postgres")
        source = f"embedded ({data_dir})"
        stop = server.stop
    wide_dsn = args.wide_dsn or with_database(demo_dsn, WIDE_DB)
    try:
        if args.wide_dsn:
            wide_note = "given"
        else:
            wide_note = await ensure_wide_database(admin_dsn, wide_dsn)
    except (OSError, asyncpg.PostgresError) as exc:
        wide_note = f"skipped: cannot create {WIDE_DB}: {exc}"
        wide_dsn = None
    return Databases(demo_dsn=demo_dsn, wide_dsn=wide_dsn, source=source, wide_note=wide_note, stop=stop)


async def raw_capped(conn: asyncpg.Connection, sql: str, rows: int) -> list[asyncpg.Record]:
    """A capped read the way run_query asks for it: prepare, a portal, fetch rows+1, in a READ ONLY transaction."""
    async with conn.transaction(readonly=True):
        stmt = await conn.prepare(sql)
        cur = await stmt.cursor()
        out: list[asyncpg.Record] = await cur.fetch(rows + 1)
        return out


async def raw_sequence(pool: asyncpg.Pool, sql: str, rows: int) -> list[asyncpg.Record]:
    """vf-mcp's whole protocol sequence per run_query: acquire, BEGIN READ ONLY, prepare, portal, COMMIT, reset."""
    async with pool.acquire() as conn:
        return await raw_capped(conn, sql, rows)


def raw_pool_settings() -> dict[str, str]:
    """The startup parameters vf-mcp's pool uses (vf_mcp/db/pool.py), with the default timeouts."""
    return {
        "application_name": "vf-bench-raw",
        "default_transaction_read_only": "on",
        "statement_timeout": "30000",
        "lock_timeout": "2000",
        "idle_in_transaction_session_timeout": "60000",
    }


async def raw_overview(conn: asyncpg.Connection) -> None:
    """The four statements get_database_overview runs (vf_mcp's own SQL, read from the package)."""
    from vf_mcp.db.catalog import RELATIONS_SQL, TABLE_STATS_SQL
    from vf_mcp.db.pool import ROLE_SAFETY_SQL

    await conn.fetch(RELATIONS_SQL)
    await conn.fetch(TABLE_STATS_SQL)
    await conn.fetch(
        "SELECT current_database() AS db, pg_database_size(current_database()) AS size, "
        "current_setting('server_version') AS version"
    )
    await conn.fetch(ROLE_SAFETY_SQL)


# --------------------------------------------------------------------------------------------------- the run


class Bench:
    def __init__(self, args: argparse.Namespace, dbs: Databases, report: Report, errlog: TextIO) -> None:
        self.args = args
        self.dbs = dbs
        self.report = report
        self.errlog = errlog
        self.n_fast: int = args.repeat
        self.n_slow: int = max(10, args.repeat // 4)
        self.warmup: int = args.warmup
        self._noop: ToolCall | None = None  # set by run(): a no-op server kept open for the whole run

    @property
    def noop(self) -> ToolCall:
        assert self._noop is not None, "Bench.run() opens the no-op server"
        return self._noop

    async def run(self) -> None:
        async with connect(noop_params(), self.errlog) as noop_client:
            self._noop = ToolCall(noop_client, "noop")
            for title, step in (
                ("floors, run_query and catalog tools (demo database)", self.demo),
                ("cached figures", self.cached),
                ("1,000-table database", self.wide),
                ("statement timeout", self.timeout),
                ("start-up", self.startup),
            ):
                print(f"{title} ...", file=sys.stderr, flush=True)
                await step()

    def line(self, key: str, label: str, samples: list[float] | None = None, **kw: Any) -> Line:
        return self.report.add(Line(key=key, label=label, stat=Stat.of(samples) if samples else None, **kw))

    async def measure(
        self, call: ToolCall, *, n: int, warmup: int, floors: dict[str, Call] | None = None
    ) -> dict[str, list[float]]:
        """The call (validated and unvalidated), the no-op floor and other floors, interleaved round-robin."""
        call.server_ms.clear()
        cases: dict[str, Call] = {"noop": self.noop, **(floors or {}), "vf": call, "vf_nv": call.unvalidated}
        return await interleaved(cases, n=n, warmup=warmup)

    async def tool_line(
        self,
        key: str,
        label: str,
        call: ToolCall,
        samples: dict[str, list[float]],
        *,
        raw_ms: float = 0.0,
        target: str | None = None,
        limit_ms: float | None = None,
        max_payload: int | None = None,
    ) -> Line:
        noop_ms = Stat.of(samples["noop"]).median_ms  # measured in the same rounds
        line = self.line(key, label, samples["vf"], payload_bytes=_p(call), floor_ms=noop_ms + raw_ms, target=target)
        line.extra["noop_same_rounds_ms"] = noop_ms
        nv = Stat.of(samples["vf_nv"])
        line.extra["unvalidated"] = asdict(nv)
        line.extra["client_validation_ms"] = await call.client_validation_ms()
        if call.server_ms:
            line.extra["server_execution_ms_median"] = statistics.median(call.server_ms)
        if call.last is not None:
            sc = call.last.structured_content or {}
            text = "".join(getattr(c, "text", "") for c in call.last.content)
            line.extra["text_content_bytes"] = len(text.encode())
            line.extra["structured_content_bytes"] = len(json.dumps(sc))
            for k in ("row_count", "truncated", "truncated_reason", "total_tables", "total"):
                if k in sc:
                    line.extra[k] = sc[k]
        if limit_ms is not None:
            line.met = _below(line, limit_ms) and (max_payload is None or (line.payload_bytes or 0) < max_payload)
            line.extra["met_without_client_validation"] = nv.median_ms < limit_ms and (
                max_payload is None or (line.payload_bytes or 0) < max_payload
            )
        return line

    # ---- floors, run_query and the catalog tools against the demo database (cache off)

    async def demo(self) -> None:
        a = self.report
        max_rows = 1000  # vf-mcp's default max_rows: a capped answer fetches max_rows + 1
        async with AsyncExitStack() as stack:
            raw = await asyncpg.connect(self.dbs.demo_dsn)
            stack.push_async_callback(raw.close)
            pool = await asyncpg.create_pool(
                self.dbs.demo_dsn, min_size=1, max_size=1, server_settings=raw_pool_settings()
            )
            stack.push_async_callback(pool.close)
            a.meta["postgresql"] = await raw.fetchval("SELECT version()")
            vf = await stack.enter_async_context(connect(vf_params(self.dbs.demo_dsn, **CACHE_OFF), self.errlog))
            a.meta["protocol_version"] = vf.protocol_version

            def rq(sql: str) -> ToolCall:
                return ToolCall(vf, "run_query", {"sql": sql})

            def fetch(sql: str) -> Call:
                return lambda: raw.fetch(sql)

            def capped(sql: str) -> Call:
                return lambda: raw_capped(raw, sql, max_rows)

            # 1 + 2: the floors and the point query, interleaved
            point = rq(POINT_SQL)
            s = await self.measure(
                point,
                n=self.n_fast,
                warmup=self.warmup,
                floors={
                    "raw": fetch(POINT_SQL),
                    "seq": lambda: raw_sequence(pool, POINT_SQL, max_rows),
                },
            )
            self.line("floor.noop", "floor: no-op tool over stdio", s["noop"], payload_bytes=_p(self.noop))
            raw_point = self.line("floor.raw.point", "floor: raw asyncpg conn.fetch, point query", s["raw"])
            self.line(
                "floor.raw.point.sequence",
                "floor: raw asyncpg, run_query's DB sequence (acquire, BEGIN, prepare, portal, COMMIT, reset)",
                s["seq"],
            )
            line = await self.tool_line(
                "run_query.point",
                f"run_query point ({POINT_SQL})",
                point,
                s,
                raw_ms=_med(raw_point),
                target="< 1.4 ms and <= 1.3x floor",
            )
            line.met = _below(line, 1.4) and (line.ratio or 99.0) <= 1.3
            nv = line.extra["unvalidated"]["median_ms"]
            line.extra["met_without_client_validation"] = nv < 1.4 and nv / (line.floor_ms or 1) <= 1.3

            # 2b: a small aggregate (GROUP BY, top 5) as SQL and as calculate_metrics
            agg = rq(AGG_SQL)
            s = await self.measure(agg, n=self.n_fast, warmup=self.warmup, floors={"raw": fetch(AGG_SQL)})
            raw_agg = self.line("floor.raw.agg", "floor: raw asyncpg conn.fetch, GROUP BY top 5", s["raw"])
            line = await self.tool_line(
                "run_query.agg", f"run_query GROUP BY top 5 ({AGG_SQL})", agg, s, target="<= 1.2x no-op"
            )
            line.extra["ratio_to_noop_plus_raw"] = _med(line) / (line.floor_ms + _med(raw_agg))
            line.met = (line.ratio or 99.0) <= 1.2
            metrics = ToolCall(vf, "calculate_metrics", AGG_METRICS)
            s = await self.measure(metrics, n=self.n_fast, warmup=self.warmup)
            line = await self.tool_line(
                "calculate_metrics.agg",
                "calculate_metrics count by drops.status, top 5 (refresh)",
                metrics,
                s,
                target="<= 1.2x no-op",
            )
            line.met = (line.ratio or 99.0) <= 1.2

            # 3: 1,000 rows
            rows = rq(ROWS_1000_SQL)
            s = await self.measure(rows, n=self.n_slow, warmup=self.warmup, floors={"raw": fetch(ROWS_1000_SQL)})
            raw_line = self.line("floor.raw.rows1000", "floor: raw asyncpg conn.fetch, 1,000 rows", s["raw"])
            await self.tool_line(
                "run_query.rows1000",
                f"run_query 1,000 rows ({ROWS_1000_SQL})",
                rows,
                s,
                raw_ms=_med(raw_line),
                target="< 8 ms",
                limit_ms=8.0,
            )

            # 4: 100,000 rows answered capped (and the demo's biggest table, 32,564 rows, capped)
            for key, label, sql in (
                ("series", "100,000-row generate_series", CAPPED_SERIES_SQL),
                ("table", "all of onemap_properties", CAPPED_TABLE_SQL),
            ):
                call = rq(sql)
                s = await self.measure(
                    call, n=self.n_slow, warmup=min(self.warmup, 5), floors={"all": fetch(sql), "cap": capped(sql)}
                )
                self.line(f"floor.raw.capped_{key}.all", f"floor: raw asyncpg conn.fetch, {label}", s["all"])
                cap_line = self.line(
                    f"floor.raw.capped_{key}.cursor",
                    f"floor: raw asyncpg, {label}, READ ONLY portal fetch {max_rows + 1} rows",
                    s["cap"],
                )
                await self.tool_line(
                    f"run_query.capped_{key}",
                    f"run_query capped: {sql}",
                    call,
                    s,
                    raw_ms=_med(cap_line),
                    target="< 20 ms, payload < 300 KB",
                    limit_ms=20.0,
                    max_payload=300 * KB,
                )

            # 5: catalog tools on the demo database
            overview = ToolCall(vf, "get_database_overview")
            await overview()
            tables = (overview.last.structured_content or {}).get("total_tables") if overview.last else None
            a.meta["demo_tables"] = tables
            for key, label, call, limit_ms, n in (
                ("list_tables", "list_tables()", ToolCall(vf, "list_tables"), 3.0, self.n_fast),
                (
                    "get_table_schema",
                    f"get_table_schema('{SCHEMA_TABLE}')",
                    ToolCall(vf, "get_table_schema", {"table_name": SCHEMA_TABLE}),
                    3.0,
                    self.n_fast,
                ),
                ("overview.demo", f"get_database_overview ({tables} tables)", overview, 10.0, self.n_slow),
            ):
                s = await self.measure(call, n=n, warmup=self.warmup)
                await self.tool_line(key, label, call, s, target=f"< {limit_ms:g} ms", limit_ms=limit_ms)
            s = await interleaved({"raw": lambda: raw_overview(raw)}, n=self.n_slow, warmup=5)
            self.line("floor.raw.overview.demo", "floor: raw asyncpg, the overview's 4 catalog queries", s["raw"])

            # 7: tools/list: the bytes on the wire (compact JSON, as the SDK sends it), and spaced JSON
            listing = await vf.list_tools()
            total = len(listing.model_dump_json(by_alias=True, exclude_none=True))
            spaced = len(json.dumps(listing.model_dump(mode="json", by_alias=True, exclude_none=True)))
            for tool in listing.tools:
                a.tools[tool.name] = len(
                    json.dumps(tool.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))
                )
            s = await interleaved({"noop": self.noop, "vf": vf.list_tools}, n=self.n_fast, warmup=self.warmup)
            line = self.line(
                "tools_list",
                f"tools/list ({len(listing.tools)} tools; payload = whole result on the wire)",
                s["vf"],
                payload_bytes=total,
                floor_ms=Stat.of(s["noop"]).median_ms,
                target="<= 20 KB, all tools",
                note=f"{total:,} B compact (the wire), {spaced:,} B as spaced JSON; KB = 1,024 bytes",
            )
            line.met = total <= 20 * KB and spaced <= 20 * KB
            line.extra["spaced_json_bytes"] = spaced

    # ---- the same with the result cache on (the server's default: 300 s)

    async def cached(self) -> None:
        async with connect(vf_params(self.dbs.demo_dsn), self.errlog) as vf:
            for key, label, sql, n in (
                ("point", "point query", POINT_SQL, self.n_fast),
                ("agg", "GROUP BY top 5", AGG_SQL, self.n_fast),
                ("rows1000", "1,000 rows", ROWS_1000_SQL, self.n_slow),
            ):
                call = ToolCall(vf, "run_query", {"sql": sql})
                s = await self.measure(call, n=n, warmup=self.warmup)
                call.server_ms.clear()  # only the first (missed) call ran the query: not a timing of these
                from_cache = bool(call.last and (call.last.structured_content or {}).get("from_cache"))
                await self.tool_line(
                    f"cached.run_query.{key}",
                    f"CACHED run_query {label} (cache on, from_cache={from_cache})",
                    call,
                    s,
                )

    # ---- get_database_overview on 1,000 tables

    async def wide(self) -> None:
        if self.dbs.wide_dsn is None:
            self.line("overview.wide", "get_database_overview (1,000 tables)", note=self.dbs.wide_note)
            return
        raw = await asyncpg.connect(self.dbs.wide_dsn)
        try:
            async with connect(vf_params(self.dbs.wide_dsn, **CACHE_OFF), self.errlog) as vf:
                overview = ToolCall(vf, "get_database_overview")
                s = await self.measure(
                    overview, n=self.n_slow, warmup=min(self.warmup, 5), floors={"raw": lambda: raw_overview(raw)}
                )
                self.line(
                    "floor.raw.overview.wide", "floor: raw asyncpg, the overview's 4 queries, 1,000 tables", s["raw"]
                )
                tables = (overview.last.structured_content or {}).get("total_tables") if overview.last else None
                await self.tool_line(
                    "overview.wide",
                    f"get_database_overview ({tables} tables)",
                    overview,
                    s,
                    target="< 100 ms",
                    limit_ms=100.0,
                )
                listing = ToolCall(vf, "list_tables")
                s = await self.measure(listing, n=self.n_slow, warmup=min(self.warmup, 5))
                await self.tool_line("list_tables.wide", f"list_tables() ({tables} tables)", listing, s)
        finally:
            await raw.close()

    # ---- start-up: spawn to answered handshake

    async def startup(self) -> None:
        """Spawn-to-handshake for both servers and both handshakes, interleaved round-robin (load drifts)."""
        modes: dict[Mode, str] = {"legacy": "initialize", "auto": "server/discover"}
        servers = {"noop": noop_params(), "vf": vf_params(self.dbs.demo_dsn, **CACHE_OFF)}
        samples: dict[tuple[str, Mode], list[float]] = {(srv, m): [] for srv in servers for m in modes}
        first_call: list[float] = []
        for _ in range(self.args.starts):
            for (srv, mode), series in samples.items():
                t0 = time.perf_counter()
                async with connect(servers[srv], self.errlog, mode=mode) as client:
                    series.append(time.perf_counter() - t0)
                    if srv == "vf" and mode == "auto":
                        t1 = time.perf_counter()
                        await ToolCall(client, "run_query", {"sql": POINT_SQL})()
                        first_call.append(time.perf_counter() - t1)
        for (srv, mode), series in samples.items():
            name = "vf-mcp" if srv == "vf" else "noop"
            line = self.line(
                f"startup.{srv}.{mode}", f"start-up {name}: spawn to answered {modes[mode]} ({mode})", series
            )
            if srv == "vf":
                line.floor_ms = self.report.median(f"startup.noop.{mode}")
                line.target = "< 700 ms"
                line.met = _below(line, 700.0)
        self.line(
            "first_call.vf",
            "first run_query after start-up (pool + catalog cold)",
            first_call,
            floor_ms=self.report.median("run_query.point"),
        )

    # ---- statement timeout

    async def timeout(self) -> None:
        runs: int = self.args.timeout_runs
        samples: list[float] = []
        messages: list[str] = []
        env = {**CACHE_OFF, "VF_MCP_STATEMENT_TIMEOUT_MS": "1000"}
        raw = await asyncpg.connect(self.dbs.demo_dsn)
        try:
            async with connect(vf_params(self.dbs.demo_dsn, **env), self.errlog) as vf:
                await ToolCall(vf, "run_query", {"sql": POINT_SQL})()  # pool and catalog warm
                for _ in range(runs):
                    t0 = time.perf_counter()
                    result = await vf.call_tool("run_query", {"sql": SLEEP_SQL})
                    samples.append(time.perf_counter() - t0)
                    messages.append(" ".join(getattr(c, "text", "") for c in result.content))
                    if not result.is_error:
                        raise RuntimeError("pg_sleep(60) under a 1 s statement timeout did not fail")
                left = await raw.fetch(
                    "SELECT pid, state, now() - query_start AS running FROM pg_stat_activity "
                    "WHERE query ILIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid() AND state <> 'idle'"
                )
        finally:
            await raw.close()
        line = self.line(
            "timeout",
            f"{SLEEP_SQL} under a 1 s statement timeout: time to the error answer",
            samples,
            target="<= 1.2 s, no pg_sleep left",
            note=f"pg_sleep still running afterwards: {len(left)}; the error: {messages[-1][:160]!r}",
        )
        line.met = _below(line, 1200.0, inclusive=True) and not left
        line.extra["pg_sleep_left"] = [dict(r) | {"running": str(r["running"])} for r in left]
        line.extra["error_message"] = messages[-1] if messages else None


def _p(call: ToolCall) -> int | None:
    return payload_size(call.last) if call.last is not None else None


def _med(line: Line | None) -> float:
    return line.stat.median_ms if line and line.stat else 0.0


def _below(line: Line, limit_ms: float, *, inclusive: bool = False) -> bool:
    if line.stat is None:
        return False
    return line.stat.median_ms <= limit_ms if inclusive else line.stat.median_ms < limit_ms


# --------------------------------------------------------------------------------------------------- output


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                cpu = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "mcp": pkg_version("mcp"),
        "asyncpg": pkg_version("asyncpg"),
        "vf_mcp": pkg_version("vf-mcp"),
    }


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "" if value is None else format(value, spec)


def _bytes(n: int | None) -> str:
    if n is None:
        return ""
    return f"{n:,} B" if n < 10 * KB else f"{n / KB:,.1f} KB"


def _table(rows: list[tuple[str, ...]], *, right: set[int], indent: str = "") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for i, r in enumerate(rows):
        cells = [c.rjust(widths[j]) if j in right else c.ljust(widths[j]) for j, c in enumerate(r)]
        out.append(indent + "  ".join(cells).rstrip())
        if i == 0:
            out.append(indent + "  ".join("-" * w for w in widths))
    return out


def render(report: Report) -> str:
    m = report.meta
    out = [
        f"vf-mcp benchmark, {m['date']}",
        f"machine: {m['machine']['cores']} cores, {m['machine']['cpu']}; {m['machine']['platform']}",
        f"python {m['machine']['python']}, mcp {m['machine']['mcp']}, asyncpg {m['machine']['asyncpg']}, "
        f"vf-mcp {m['machine']['vf_mcp']}; MCP protocol {m.get('protocol_version')} over stdio",
        f"PostgreSQL: {m.get('postgresql')}",
        f"database: {m['source']}; demo: {m.get('demo_tables')} tables; {WIDE_DB}: {m['wide']}",
        f"load average (1 min) at start {m['load_start']}, at end {m.get('load_end')} "
        "(other processes share the machine: compare lines of the same run, not across runs)",
        f"command: {m['command']}",
        f"bytecode: {m.get('bytecode')}",
        f"repeat {m['repeat']} (slow calls {m['repeat_slow']}), warm-up {m['warmup']}, start-ups {m['starts']}; "
        "run_query result cache OFF (VF_MCP_QUERY_CACHE_TTL_S=0) except the lines marked CACHED",
        "",
    ]
    head = ("measurement", "n", "median ms", "p90 ms", "payload", "floor ms", "ratio", "target", "met")
    rows: list[tuple[str, ...]] = [head]
    for x in report.lines:
        st = x.stat
        rows.append(
            (
                x.label,
                str(st.n) if st else "",
                _fmt(st.median_ms if st else None),
                _fmt(st.p90_ms if st else None),
                _bytes(x.payload_bytes),
                _fmt(x.floor_ms),
                _fmt(x.ratio, ".2f") + ("x" if x.ratio is not None else ""),
                x.target or "",
                "" if x.met is None else ("MET" if x.met else "MISSED"),
            )
        )
    out += _table(rows, right={1, 2, 3, 4, 5, 6})
    notes = [x for x in report.lines if x.note and x.stat is not None]
    if notes:
        out.append("")
        out.extend(f"note: {x.label}: {x.note}" for x in notes)
    out += [
        "",
        "where the time goes (medians, ms). 'unvalidated' = the same tools/call sent without the client's",
        "jsonschema re-validation of structuredContent (Client.call_tool does it; 'client validate' is that step",
        "alone); 'run_query says' = its execution_time_ms (guard, acquire, BEGIN, prepare, fetch, convert).",
    ]
    head2 = ("call", "round trip", "unvalidated", "met unval.", "noop floor", "run_query says", "client validate")
    rows2: list[tuple[str, ...]] = [(*head2, "rows", "truncated", "text/structured bytes")]
    for x in report.lines:
        e = x.extra
        if "unvalidated" not in e or x.stat is None:
            continue
        met_nv = e.get("met_without_client_validation")
        rows2.append(
            (
                x.key,
                _fmt(x.stat.median_ms),
                _fmt(e["unvalidated"]["median_ms"]),
                "" if met_nv is None else ("MET" if met_nv else "MISSED"),
                _fmt(e.get("noop_same_rounds_ms")),
                _fmt(e.get("server_execution_ms_median")),
                _fmt(e.get("client_validation_ms")),
                "" if e.get("row_count") is None else str(e["row_count"]),
                "" if e.get("truncated") is None else str(e["truncated"]),
                f"{e['text_content_bytes']:,}/{e['structured_content_bytes']:,}" if "text_content_bytes" in e else "",
            )
        )
    out += _table(rows2, right={1, 2, 4, 5, 6, 7}, indent="  ")
    out += ["", "tools/list, bytes per tool (compact JSON of each Tool):"]
    out += [f"  {name:28s} {size:7,d}" for name, size in report.tools.items()]
    out.append(f"  {'total (' + str(len(report.tools)) + ' tools)':28s} {sum(report.tools.values()):7,d}")
    met = [x for x in report.lines if x.met is True]
    missed = [x for x in report.lines if x.met is False]
    out += ["", f"targets met: {len(met)}; missed: {len(missed)}"]
    out += [f"  MISSED: {x.label} ({x.target})" for x in missed]
    return "\n".join(out)


def to_json(report: Report) -> dict[str, Any]:
    lines = []
    for x in report.lines:
        d = asdict(x)
        d["ratio"] = x.ratio
        lines.append(d)
    return {"meta": report.meta, "tools_list_bytes": report.tools, "lines": lines}


# --------------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--dsn", help="PostgreSQL URL of a database with the demo tables (default: embedded demo)")
    p.add_argument("--wide-dsn", help="a database with ~1,000 analysed tables (default: created next to --dsn)")
    p.add_argument("--repeat", type=int, default=200, help="timed calls for fast calls (slow ones: repeat/4)")
    p.add_argument("--warmup", type=int, default=20, help="untimed calls before each series")
    p.add_argument("--starts", type=int, default=10, help="server start-ups timed per server and handshake")
    p.add_argument("--timeout-runs", type=int, default=3, help="pg_sleep(60) calls under the 1 s timeout")
    p.add_argument("--json", type=Path, help="also write every number as JSON to this file")
    p.add_argument("--data-dir", type=Path, default=WORK_DIR / "pgdata", help="embedded cluster directory")
    return p.parse_args(argv)


async def amain(args: argparse.Namespace) -> Report:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    compiled = _compile_package()
    dbs = await prepare_databases(args)
    report = Report()
    report.meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "source": dbs.source,
        "wide": dbs.wide_note,
        "command": "python bench/run.py " + " ".join(_redacted_argv()),
        "repeat": args.repeat,
        "repeat_slow": max(10, args.repeat // 4),
        "warmup": args.warmup,
        "starts": args.starts,
        "load_start": _load(),
        "bytecode": compiled,
    }
    log_path = WORK_DIR / "servers.log"
    try:
        with log_path.open("a") as errlog:
            errlog.write(f"\n--- bench run {report.meta['date']}\n")
            errlog.flush()
            await Bench(args, dbs, report, errlog).run()
    finally:
        if dbs.stop is not None:
            dbs.stop()
    report.meta["servers_log"] = str(log_path)
    report.meta["load_end"] = _load()
    return report


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def _redacted_argv() -> list[str]:
    from vf_mcp.settings import redact_dsn

    return [redact_dsn(a) if "://" in a else a for a in sys.argv[1:]]


def _compile_package() -> str:
    """Compile vf_mcp's bytecode before timing start-ups, as pip does when it installs a wheel.

    An editable install writes it on first import, unless PYTHONDONTWRITEBYTECODE is set: then every start
    would compile vf-mcp's modules from source while the no-op server's SDK modules load from bytecode."""
    import compileall

    ok = compileall.compile_dir(str(ROOT / "vf_mcp"), quiet=1)
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE")
    return f"vf_mcp compiled before the run ({'ok' if ok else 'errors'}); PYTHONDONTWRITEBYTECODE={flag or 'unset'}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = asyncio.run(amain(args))
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(to_json(report), indent=2, default=str) + "\n")
        print(f"\nJSON written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
