"""The DBA tools: explain_query, get_slow_queries, recommend_indexes, check_database_health.

Everything is read-only: EXPLAIN (ANALYZE) runs guarded SELECTs inside the READ ONLY transaction under the
statement timeout; hypothetical indexes (hypopg) live in the session's memory and are reset before the
connection goes back to the pool; CREATE/DROP INDEX statements are returned, never run.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import asyncpg
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from vf_mcp.app import App
from vf_mcp.compute import dba as cd
from vf_mcp.db import dba as dd
from vf_mcp.db.catalog import Relation
from vf_mcp.db.gate import check_user_sql
from vf_mcp.db.runner import _coerce_param
from vf_mcp.errors import InvalidArgumentError, RefusedError, VfError, db_errors
from vf_mcp.models.dba import (
    DropCandidate,
    ExplainResult,
    Finding,
    HealthReport,
    IndexAdvice,
    IndexCandidate,
    IndexGain,
    PlanNode,
    SlowQueries,
    SlowQuery,
)
from vf_mcp.tools.common import SourceArg, app_of, compact_json, respond, tool_errors
from vf_mcp.tools.core import READ_ONLY
from vf_mcp.units import human_bytes

SortBy = Literal["total_time", "mean_time", "calls", "io"]
WORKLOAD_QUERIES = 25
WORKLOAD_SCAN = 200
MAX_LISTED = 25
_EXPLAINABLE = ("select", "values", "table")


def register(server: MCPServer[App]) -> None:
    """Register the DBA tools on `server`."""

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def explain_query(
        sql: Annotated[str, Field(description="One SELECT/VALUES/TABLE query; $1, $2 ... for values")],
        ctx: Context[App],
        params: Annotated[list[Any], Field(description="Values for $1, $2 ...")] = [],  # noqa: B006
        analyze: Annotated[bool, Field(description="Run it (read-only) for actual rows, time, buffers")] = False,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, ExplainResult]:
        """Why is this query slow? EXPLAIN (FORMAT JSON; analyze: ANALYZE, BUFFERS, TIMING) plus a digest:
        costliest nodes, seq scans of large tables, row estimates off >10x, sorts/hashes spilling to disk,
        nested loops over large inputs, and concrete fixes (CREATE INDEX, CREATE STATISTICS, work_mem).
        $n without params: the generic plan (analyze: sample values from column statistics)."""
        return await _explain(app_of(ctx, source), sql, params, analyze)

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def get_slow_queries(
        ctx: Context[App],
        sort_by: Annotated[SortBy, Field(description="io: blocks read from disk + temp files")] = "total_time",
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, SlowQueries]:
        """Which queries cost the most? From pg_stat_statements: normalized query, calls, total/mean/max ms,
        rows, shared blocks hit/read, cache hit ratio, share of total time, notes. Says how to enable the
        extension when it is missing."""
        return await _slow_queries(app_of(ctx, source), sort_by, limit)

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def recommend_indexes(
        ctx: Context[App],
        queries: Annotated[
            list[str] | None, Field(max_length=50, description="SQL to tune (default: top pg_stat_statements)")
        ] = None,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, IndexAdvice]:
        """Which indexes are missing or useless? CREATE INDEX CONCURRENTLY statements (never run here) from
        WHERE/JOIN/ORDER BY/GROUP BY columns, existing indexes subtracted, plus foreign keys without an index;
        gain from hypopg when installed, else a statistics estimate; size and queries helped. Also unused,
        duplicate and invalid indexes to drop."""
        return await _recommend(app_of(ctx, source), queries)

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def check_database_health(
        ctx: Context[App], source: SourceArg = None
    ) -> Annotated[CallToolResult, HealthReport]:
        """Is the database healthy? Cache hit ratios, bloat, dead tuples and vacuum/analyze staleness,
        xid wraparound, connections, long and idle-in-transaction sessions, blocking chains, replication,
        sequences near their limit, invalid constraints/indexes, settings. Findings carry severity
        (critical/warning/info), numbers and a fix."""
        return await _health(app_of(ctx, source))


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


def _resolve(rels: Sequence[Relation], schema: str | None, name: str) -> Relation | None:
    if schema:
        return next((r for r in rels if r.schema == schema and r.name == name), None)
    cands = [r for r in rels if r.name == name]
    if len(cands) == 1:
        return cands[0]
    return next((r for r in cands if r.schema == "public"), None)


def _lookup(facts: dict[int, cd.TableFacts]) -> Callable[[str | None, str], cd.TableFacts | None]:
    by_name: dict[str, list[cd.TableFacts]] = {}
    for t in facts.values():
        by_name.setdefault(t.name, []).append(t)

    def lookup(schema: str | None, name: str) -> cd.TableFacts | None:
        cands = by_name.get(name, [])
        if schema:
            return next((t for t in cands if t.schema == schema), None)
        if len(cands) == 1:
            return cands[0]
        return next((t for t in cands if t.schema == "public"), None)

    return lookup


def _finding(i: cd.Issue) -> Finding:
    return Finding(
        check=i.check,
        severity=i.severity,
        object=i.object,
        evidence=_jsonable(i.evidence),
        recommendation=i.recommendation,
    )


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in json.loads(compact_json(d)).items() if v is not None}


def _short(sql: str, n: int = 160) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= n else text[: n - 1] + "…"


_DEFAULTS: dict[str, Callable[[], Any]] = {
    "int2": lambda: 1,
    "int4": lambda: 1,
    "int8": lambda: 1,
    "oid": lambda: 1,
    "float4": lambda: 1.0,
    "float8": lambda: 1.0,
    "numeric": lambda: Decimal(1),
    "bool": lambda: True,
    "text": lambda: "a",
    "varchar": lambda: "a",
    "bpchar": lambda: "a",
    "name": lambda: "a",
    "date": lambda: date.today(),
    "timestamp": lambda: datetime.now(),
    "timestamptz": lambda: datetime.now(UTC),
    "uuid": lambda: uuid.UUID(int=0),
    "json": lambda: "{}",
    "jsonb": lambda: "{}",
    "interval": lambda: timedelta(days=1),
}


def _sample_args(
    ptypes: Sequence[str],
    shape: cd.QueryShape | None,
    bound: dict[str, cd.TableFacts],
    samples: dict[tuple[int, str], str],
) -> tuple[list[Any], list[str]]:
    """A value per $n: the compared column's most common value (statistics), else a typed default."""
    source: dict[int, tuple[int, str]] = {}
    if shape is not None:
        for p in shape.predicates:
            t = cd.owner(p.ref, bound)
            if p.param is not None and t is not None:
                source.setdefault(p.param, (t.oid, p.ref.column))
    args: list[Any] = []
    shown: list[str] = []
    for i, ptype in enumerate(ptypes, start=1):
        value: Any = None
        origin = "default"
        key = source.get(i)
        if key is not None and key in samples:
            try:
                value, origin = _coerce_param(samples[key], ptype), f"most common {key[1]}"
            except (VfError, ValueError, TypeError):
                value = None
        if value is None and ptype in _DEFAULTS:
            value = _DEFAULTS[ptype]()
        args.append(value)
        shown.append(f"${i}={_short(str(value), 40)} ({origin})")
    return args, shown


# --------------------------------------------------------------------------------------------------
# explain_query
# --------------------------------------------------------------------------------------------------


async def _explain(app: App, sql: str, params: list[Any], analyze: bool) -> CallToolResult:
    checked = await check_user_sql(app.db, app.catalog, sql)
    if checked.kind not in _EXPLAINABLE:
        raise InvalidArgumentError(
            f"explain_query takes the query itself (SELECT, VALUES or TABLE); got {checked.kind.upper()}. "
            "Send it without EXPLAIN (use analyze=true for EXPLAIN ANALYZE); SHOW has no plan."
        )
    server = await dd.server_facts(app.db)
    rels = await app.catalog.relations()
    shape = cd.query_shape(sql)
    oids = sorted(
        {r.oid for t in (shape.tables if shape else []) if (r := _resolve(rels, t.schema, t.name)) is not None}
    )
    facts = await dd.table_facts(app.db, oids)
    bound = cd.bind_tables(shape, _lookup(facts)) if shape else {}
    samples: dict[tuple[int, str], str] = {}
    if analyze and not params and shape is not None:
        pairs = {
            (t.oid, p.ref.column)
            for p in shape.predicates
            if p.param is not None and (t := cd.owner(p.ref, bound)) is not None
        }
        samples = await dd.sample_values(app.db, sorted(pairs))
    timeout = app.db.client_timeout_s(None)
    started = time.perf_counter()
    async with app.db.read_only() as conn:
        with db_errors(statement_timeout_ms=app.db.effective_timeout_ms(None)):
            stmt = await conn.prepare(sql, timeout=timeout)
            ptypes = [p.name for p in stmt.get_parameters()]
            if params:
                if len(params) != len(ptypes):
                    raise InvalidArgumentError(
                        f"The query has {len(ptypes)} parameter(s) but {len(params)} value(s) were given."
                    )
                args = [_coerce_param(v, t) for v, t in zip(params, ptypes, strict=True)]
                mode = "given values"
                plan = await dd.explain_json(conn, sql, args, analyze=analyze, timeout=timeout)
            elif ptypes and not analyze:
                mode = "generic plan (no values given: the plan used for any value)"
                plan = await dd.explain_json(conn, sql, [], analyze=False, generic_params=len(ptypes), timeout=timeout)
            elif ptypes:
                args, shown = _sample_args(ptypes, shape, bound, samples)
                mode = "sample values: " + ", ".join(shown)
                plan = await dd.explain_json(conn, sql, args, analyze=True, timeout=timeout)
            else:
                mode = "no parameters"
                plan = await dd.explain_json(conn, sql, [], analyze=analyze, timeout=timeout)
    elapsed = (time.perf_counter() - started) * 1000.0
    # facts for relations the plan reads that the query text did not name (views, inheritance)
    names = {
        (n.get("Schema"), str(n["Relation Name"]))
        for n, _ in cd.walk_plan(cd.plan_root(plan) or {})
        if n.get("Relation Name")
    }
    extra = sorted({r.oid for s, n in names if (r := _resolve(rels, s, n)) is not None and r.oid not in facts})
    if extra:
        facts.update(await dd.table_facts(app.db, extra))
    by_name: dict[str, cd.TableFacts] = {}
    for s, n in names:
        r = _resolve(rels, s, n)
        if r is not None and r.oid in facts:
            by_name[n] = facts[r.oid]
    digest = cd.digest_plan(plan, tables=by_name, shape=shape, bound=bound, work_mem_kb=server.work_mem_kb())
    crit = sum(1 for i in digest.issues if i.severity == "critical")
    timing = (
        f"ran in {digest.execution_ms:,.1f} ms"
        if digest.execution_ms is not None
        else f"explained in {elapsed:,.0f} ms"
    )
    msg = (
        f"{'EXPLAIN ANALYZE' if digest.analyzed else 'EXPLAIN'}: total cost {digest.total_cost:,.0f}, {timing}; "
        f"{len(digest.issues)} issue(s)"
        + (f" ({crit} critical)" if crit else "")
        + f", {len(digest.suggestions)} suggestion(s); parameters: {mode}"
    )
    result = ExplainResult(
        analyzed=digest.analyzed,
        params_mode=mode,
        total_cost=digest.total_cost,
        planning_time_ms=digest.planning_ms,
        execution_time_ms=digest.execution_ms,
        top_nodes=[
            PlanNode(
                node=c.label,
                self_cost=c.self_cost,
                self_time_ms=c.self_time_ms,
                share_pct=c.share_pct,
                rows_estimated=c.rows_estimated,
                rows_actual=c.rows_actual,
                loops=c.loops,
            )
            for c in digest.top_nodes
        ],
        issues=[_finding(i) for i in digest.issues],
        suggestions=digest.suggestions,
        plan=plan,
        message=msg,
    )
    body = ["plan:", *digest.lines]
    body.append("top nodes (self): " + "; ".join(f"{c.label} {c.share_pct}%" for c in digest.top_nodes[:3]))
    if digest.issues:
        body.append("issues:")
        body += [f"[{i.severity}] {i.check} {i.object}: {i.recommendation}" for i in digest.issues]
    if digest.suggestions:
        body.append("suggestions:")
        body += digest.suggestions
    return respond(result, "\n".join(body))


# --------------------------------------------------------------------------------------------------
# get_slow_queries
# --------------------------------------------------------------------------------------------------


def _enable_steps(server: dd.ServerFacts, *, preloaded: bool | None, created: bool) -> list[str]:
    steps: list[str] = []
    libs_raw = server.settings.get("shared_preload_libraries")
    if preloaded is not True:
        libs = [x.strip() for x in (libs_raw or "").split(",") if x.strip() and x.strip() != "pg_stat_statements"]
        value = ", ".join([*libs, "pg_stat_statements"])
        known = "" if libs_raw is not None else " (keep any libraries already listed there)"
        steps.append(
            f"As a superuser: ALTER SYSTEM SET shared_preload_libraries = '{value}';{known} or set it in "
            "postgresql.conf (managed services: the parameter group / database flags)"
        )
        steps.append("Restart PostgreSQL (a reload is not enough), e.g. sudo systemctl restart postgresql")
    if not created:
        steps.append(f"In database {server.database}, as a superuser: CREATE EXTENSION pg_stat_statements;")
    if not server.monitor:
        steps.append("GRANT pg_monitor TO <this role>; (includes pg_read_all_stats) to see other roles' queries")
    if server.settings.get("track_io_timing") == "off":
        steps.append("Optional: ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf(); (I/O times)")
    steps.append("Let the workload run for a while, then call get_slow_queries again")
    return steps


async def _slow_queries(app: App, sort_by: str, limit: int) -> CallToolResult:
    server = await dd.server_facts(app.db)
    libs = server.settings.get("shared_preload_libraries")
    preloaded = None if libs is None else "pg_stat_statements" in [x.strip() for x in libs.split(",")]
    rows: list[dict[str, Any]] | None = None
    if server.pgss_schema is not None:
        try:
            rows = await dd.slow_queries(app.db, server.pgss_schema, sort_by, limit)
        except VfError as exc:
            if "shared_preload_libraries" not in exc.message:
                raise
            preloaded = False
    if rows is None:
        steps = _enable_steps(server, preloaded=preloaded, created=server.pgss_schema is not None)
        if server.pgss_schema is None:
            why = "the pg_stat_statements extension is not installed in this database"
            if preloaded is False:
                why += " and not in shared_preload_libraries"
        else:
            why = "pg_stat_statements is installed but not loaded (shared_preload_libraries)"
        result = SlowQueries(
            available=False,
            sort_by=sort_by,
            queries=[],
            enable_steps=steps,
            message=f"No query statistics: {why}. To enable it: "
            + " ".join(f"{i}. {s}" for i, s in enumerate(steps, start=1)),
        )
        return respond(result, "\n".join(steps))
    since = await dd.pgss_stats_since(app.db, server.pgss_schema or "public")
    queries: list[SlowQuery] = []
    hidden = 0
    for r in rows:
        hit, read = int(r["shared_blks_hit"] or 0), int(r["shared_blks_read"] or 0)
        share = float(r["share_pct"] or 0.0)
        text = str(r["query"] or "")
        hidden += text == "<insufficient privilege>"
        queries.append(
            SlowQuery(
                queryid=r["queryid"],
                query=text,
                calls=int(r["calls"] or 0),
                total_time_ms=round(float(r["total_ms"] or 0), 3),
                mean_time_ms=round(float(r["mean_ms"] or 0), 3),
                max_time_ms=round(float(r["max_ms"] or 0), 3),
                rows=int(r["rows"] or 0),
                shared_blks_hit=hit,
                shared_blks_read=read,
                cache_hit_ratio=round(hit / (hit + read), 4) if hit + read else None,
                temp_blks_written=int(r["temp_blks_written"] or 0),
                share_of_total_time_pct=round(share, 2),
                notes=cd.slow_query_notes(r, share),
            )
        )
    since_text = since.isoformat() if isinstance(since, datetime) else None
    msg = f"{len(queries)} statement(s) by {sort_by} from pg_stat_statements" + (
        f" (since {since_text})" if since_text else ""
    )
    if hidden:
        msg += f"; {hidden} query text(s) hidden: GRANT pg_monitor (pg_read_all_stats) to this role to see them"
    if not queries:
        msg += ": none recorded yet for this database"
    result = SlowQueries(available=True, sort_by=sort_by, queries=queries, stats_since=since_text, message=msg)
    head = "[total_ms,mean_ms,max_ms,calls,rows,hit_ratio,share_pct,query,notes]"
    body = [head] + [
        compact_json(
            [
                q.total_time_ms,
                q.mean_time_ms,
                q.max_time_ms,
                q.calls,
                q.rows,
                q.cache_hit_ratio,
                q.share_of_total_time_pct,
                _short(q.query, 300),
                q.notes,
            ]
        )
        for q in queries
    ]
    return respond(result, "\n".join(body))


# --------------------------------------------------------------------------------------------------
# recommend_indexes
# --------------------------------------------------------------------------------------------------


@dataclass
class _Work:
    sql: str
    calls: int | None
    label: str
    explainable: bool = False


@dataclass
class _Measure:
    before: float
    after: float
    used: bool
    size: int | None


async def _recommend(app: App, queries: list[str] | None) -> CallToolResult:
    server = await dd.server_facts(app.db)
    facts = await dd.table_facts(app.db)
    lookup = _lookup(facts)
    skipped: list[str] = []
    work: list[_Work] = []
    if queries:
        work = [_Work(q, None, f"query {i}: {_short(q)}") for i, q in enumerate(queries, start=1)]
    elif server.pgss_schema is not None:
        try:
            # the costliest statements on user tables that could use an index (DDL, COPY, INSERT ... VALUES
            # and catalog queries are passed over)
            rows = await dd.slow_queries(app.db, server.pgss_schema, "total_time", WORKLOAD_SCAN)
            for r in rows:
                text = str(r["query"] or "")
                shape = cd.query_shape(text) if text != "<insufficient privilege>" else None
                if shape is not None and cd.shape_candidates(shape, cd.bind_tables(shape, lookup), min_rows=0):
                    calls = int(r["calls"] or 0)
                    work.append(_Work(text, calls, f"{calls:,} calls: {_short(text)}"))
                if len(work) >= WORKLOAD_QUERIES:
                    break
        except VfError as exc:
            skipped.append(f"workload: pg_stat_statements unreadable ({exc.message}); pass queries instead")
    else:
        skipped.append(
            "workload: pg_stat_statements is not installed, so no queries were analysed; pass queries, or "
            "enable it (get_slow_queries lists the steps). Foreign keys and existing indexes were still checked."
        )
    shapes: dict[int, tuple[cd.QueryShape, dict[str, cd.TableFacts]]] = {}
    cands: list[cd.Candidate] = []
    for i, w in enumerate(work):
        shape = cd.query_shape(w.sql)
        if shape is None:
            if queries:
                skipped.append(f"{w.label}: not one parsable SELECT, UPDATE or DELETE")
            continue
        bound = cd.bind_tables(shape, lookup)
        if not bound:
            if queries:
                skipped.append(f"{w.label}: no user table found")
            continue
        shapes[i] = (shape, bound)
        if shape.kind == "select":
            try:
                w.explainable = (await check_user_sql(app.db, app.catalog, w.sql)).kind in _EXPLAINABLE
            except RefusedError:
                w.explainable = False
        for c in cd.shape_candidates(shape, bound):
            if cd.covering_index(c.table, c.columns, c.eq_count) is None:
                c.queries.add(i)
                cands.append(c)
    merged = cd.merge_candidates(cands)
    costs = server.costs()
    method = "hypopg" if server.hypopg_schema else "statistics"
    measures: dict[tuple[tuple[int, tuple[str, ...]], int], _Measure] = {}
    seq_tables: dict[int, set[str]] = {}
    if merged:
        if server.hypopg_schema:
            measures = await _hypopg_measure(app, server.hypopg_schema, work, merged)
        else:
            seq_tables = await _seq_scanned(app, work, {i for c in merged for i in c.queries})
    create: list[tuple[cd.Candidate, IndexGain, int | None, float]] = []
    for c in merged:
        mine = {i: m for (key, i), m in measures.items() if key == c.key}
        if mine:
            used = {i: m for i, m in mine.items() if m.used}
            before = sum(m.before for m in used.values())
            after = sum(m.after for m in used.values())
            pct = 100.0 * (before - after) / before if before > 0 else 0.0
            if not used or pct < cd.MIN_GAIN_PCT:
                continue
            c.queries = set(used)
            weight = sum((work[i].calls or 1) * (m.before - m.after) for i, m in used.items())
            size = next((m.size for m in used.values() if m.size), None)
            gain = IndexGain(
                method="hypopg",
                cost_before=round(before, 2),
                cost_after=round(after, 2),
                improvement_pct=round(pct, 1),
                note="planner cost of the helped queries with a hypothetical index (hypopg), one execution each",
            )
            create.append((c, gain, size, weight))
            continue
        planned = [i for i in c.queries if i in seq_tables]
        if c.kind in ("filter", "join") and planned and not any(c.table.name in seq_tables[i] for i in planned):
            continue  # the current plans already avoid a sequential scan of this table
        est = cd.estimate_gain(c, costs)
        if est.improvement_pct is not None and est.improvement_pct < cd.MIN_GAIN_PCT:
            continue
        calls = sum(work[i].calls or 1 for i in c.queries) or 1
        weight = calls * ((est.cost_before or 0) - (est.cost_after or 0))
        create.append((c, _gain(est), None, weight))
    fk_cands = cd.unindexed_foreign_keys(list(facts.values()))
    chosen = [c for c, *_ in create]
    weak: list[str] = []
    for fk in fk_cands:
        host = next(
            (
                c
                for c in chosen
                if c.table.oid == fk.table.oid
                and cd.covering_index(cd._as_index_table(c), fk.columns, fk.eq_count) is not None
            ),
            None,
        )
        if host is not None:
            host.reasons.append(fk.reason)
            continue
        est = cd.estimate_gain(fk, costs)
        if est.improvement_pct is not None and est.improvement_pct < cd.MIN_GAIN_PCT:
            weak.append(f"{fk.table.display} ({', '.join(fk.columns)})")
            continue
        create.append((fk, _gain(est), None, -1.0))
    if weak:
        skipped.append(
            f"foreign keys without an index where one would not beat a scan (few distinct values): {', '.join(weak)}"
        )
    entries: list[IndexCandidate] = []
    for c, gain, size, _weight in sorted(create, key=lambda x: (x[0].kind == "foreign_key", -x[3])):
        size = size or cd.estimate_index_bytes(c.table, c.columns, costs.block_size)
        if c.kind == "foreign_key":
            sev = "warning" if c.table.rows >= cd.LARGE_TABLE_ROWS else "info"
        else:
            sev = "warning" if (gain.improvement_pct or 0) >= 50 else "info"
        entries.append(
            IndexCandidate(
                table=c.table.display,
                columns=list(c.columns),
                statement=c.statement(),
                reason="; ".join(c.reasons),
                source="foreign_key" if c.kind == "foreign_key" else "workload",
                severity=sev,
                estimated_size_bytes=size,
                estimated_size=human_bytes(size),
                gain=gain,
                helps=[work[i].label for i in sorted(c.queries)],
            )
        )
    since = server.stats_reset.isoformat() if isinstance(server.stats_reset, datetime) else "statistics began"
    drops = [
        DropCandidate(
            index=f"{d.table.schema}.{d.index.name}",
            table=d.table.display,
            kind=d.kind,
            severity=d.severity,
            size_bytes=d.index.size_bytes,
            size=human_bytes(d.index.size_bytes),
            evidence=_jsonable(d.evidence),
            statement=d.statement(),
            reason=d.reason,
        )
        for d in sorted(
            cd.drop_candidates(list(facts.values()), stats_since=since),
            key=lambda d: (cd.SEVERITY_ORDER[d.severity], -d.index.size_bytes),
        )
    ]
    shown_create, shown_drop = entries[:MAX_LISTED], drops[:MAX_LISTED]
    msg = (
        f"{len(entries)} index(es) to create, {len(drops)} to drop (nothing was executed); gain by "
        + (
            "hypopg hypothetical indexes"
            if method == "hypopg"
            else "estimate from planner statistics (install hypopg for measured plans)"
        )
        + f"; {len(shapes)} of {len(work)} queries analysed"
    )
    if len(entries) > MAX_LISTED or len(drops) > MAX_LISTED:
        msg += f"; showing the first {MAX_LISTED} of each"
    result = IndexAdvice(
        method=method,
        queries_analyzed=len(shapes),
        create=shown_create,
        drop=shown_drop,
        skipped=skipped,
        message=msg,
    )
    body = ["create:"] + [
        f"[{e.severity}] {e.statement} -- {e.estimated_size}; "
        + (f"{e.gain.improvement_pct}% ({e.gain.method}); " if e.gain and e.gain.improvement_pct is not None else "")
        + e.reason
        + (f"; helps {len(e.helps)} quer{'y' if len(e.helps) == 1 else 'ies'}" if e.helps else "")
        for e in shown_create
    ]
    body += ["drop:"] + [f"[{d.severity}] {d.kind} {d.statement} -- {d.size}; {d.reason}" for d in shown_drop]
    body += [f"skipped: {s}" for s in skipped]
    return respond(result, "\n".join(body))


def _gain(est: cd.Estimate) -> IndexGain:
    return IndexGain(
        method="statistics",
        cost_before=est.cost_before,
        cost_after=est.cost_after,
        improvement_pct=est.improvement_pct,
        rows_read_before=est.rows_before,
        rows_read_after=est.rows_after,
        note=est.note,
    )


async def _plan(conn: asyncpg.Connection, sql: str, timeout: float) -> Any:
    stmt = await conn.prepare(sql, timeout=timeout)
    n = len(stmt.get_parameters())
    return await dd.explain_json(conn, sql, [], analyze=False, generic_params=n, timeout=timeout)


async def _seq_scanned(app: App, work: list[_Work], wanted: set[int]) -> dict[int, set[str]]:
    """query index -> relation names its current (generic) plan reads with a sequential scan."""
    out: dict[int, set[str]] = {}
    timeout = app.db.client_timeout_s(None)
    async with app.db.read_only() as conn:
        for i in sorted(wanted):
            if not work[i].explainable:
                continue
            try:
                async with conn.transaction():
                    plan = await _plan(conn, work[i].sql, timeout)
            except (asyncpg.PostgresError, asyncpg.InterfaceError):
                continue
            root = cd.plan_root(plan) or {}
            out[i] = {
                str(n["Relation Name"])
                for n, _ in cd.walk_plan(root)
                if n.get("Node Type") == "Seq Scan" and n.get("Relation Name")
            }
    return out


async def _hypopg_measure(
    app: App, schema: str, work: list[_Work], cands: list[cd.Candidate]
) -> dict[tuple[tuple[int, tuple[str, ...]], int], _Measure]:
    """Planner cost of each explainable query before and with each of its candidates as a hypothetical index."""
    ext = '"' + schema.replace('"', '""') + '"'
    out: dict[tuple[tuple[int, tuple[str, ...]], int], _Measure] = {}
    timeout = app.db.client_timeout_s(None)
    per_query: dict[int, list[cd.Candidate]] = {}
    for c in cands:
        for i in c.queries:
            if work[i].explainable:
                per_query.setdefault(i, []).append(c)
    if not per_query:
        return out
    async with app.db.read_only() as conn:
        try:
            for i, mine in sorted(per_query.items()):
                try:
                    async with conn.transaction():
                        base = await _plan(conn, work[i].sql, timeout)
                        before = float((cd.plan_root(base) or {}).get("Total Cost") or 0.0)
                        for c in mine:
                            cols = ", ".join(cd.ident(x) for x in c.columns)
                            row = await conn.fetchrow(
                                f"{dd.MARK} SELECT indexrelid, {ext}.hypopg_relation_size(indexrelid) AS size "
                                f"FROM {ext}.hypopg_create_index($1)",
                                f"CREATE INDEX ON {c.table.sql_name} ({cols})",
                                timeout=timeout,
                            )
                            assert row is not None
                            plan = await _plan(conn, work[i].sql, timeout)
                            after = float((cd.plan_root(plan) or {}).get("Total Cost") or 0.0)
                            used = f"<{int(row['indexrelid'])}>" in json.dumps(plan)
                            await conn.fetchval(
                                f"{dd.MARK} SELECT {ext}.hypopg_drop_index($1)", row["indexrelid"], timeout=timeout
                            )
                            out[(c.key, i)] = _Measure(before, after, used, int(row["size"] or 0) or None)
                except (asyncpg.PostgresError, asyncpg.InterfaceError):
                    continue
        finally:
            try:  # hypothetical indexes live in the backend, not the transaction: never hand them back
                await conn.fetchval(f"{dd.MARK} SELECT {ext}.hypopg_reset()", timeout=timeout)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                conn.terminate()
    return out


# --------------------------------------------------------------------------------------------------
# check_database_health
# --------------------------------------------------------------------------------------------------

_CHECK_KEYS: dict[str, tuple[str, ...]] = {
    "cache_hit_ratio": ("cache",),
    "bloat": ("bloat",),
    "vacuum": ("vacuum",),
    "wraparound": ("wraparound_db", "wraparound_tables"),
    "connections": ("connections",),
    "long_sessions": ("sessions",),
    "locks": ("waiting",),
    "replication": ("replication", "standbys", "slots"),
    "sequences": ("sequences",),
    "invalid_objects": ("invalid_constraints", "invalid_indexes"),
    "settings": ("database",),
}
_PER_CHECK = 10


async def _health(app: App) -> CallToolResult:
    started = time.perf_counter()
    server = await dd.server_facts(app.db)
    data, errors = await dd.health_data(app.db)
    ram, rotational = dd.machine_facts(server.settings.get("data_directory"))
    settings = server.settings
    findings: list[cd.Issue] = []
    checks: dict[str, str] = {}

    def one(key: str) -> dict[str, Any]:
        rows = data.get(key) or [{}]
        return rows[0]

    def run(name: str, fn: Callable[[], list[cd.Issue]], ok: str) -> None:
        failed = [errors[k] for k in _CHECK_KEYS[name] if k in errors]
        if failed:
            hint = " (needs pg_monitor: GRANT pg_monitor TO this role)" if any("42501" in f for f in failed) else ""
            checks[name] = f"skipped: {failed[0][:200]}{hint}"
            return
        found = sorted(fn(), key=lambda i: cd.SEVERITY_ORDER.get(i.severity, 9))
        findings.extend(found[:_PER_CHECK])
        if not found:
            checks[name] = f"ok: {ok}" if ok else "ok"
        else:
            counts = {s: sum(1 for i in found if i.severity == s) for s in ("critical", "warning", "info")}
            checks[name] = ", ".join(f"{n} {s}" for s, n in counts.items() if n) + (
                f" (first {_PER_CHECK} listed)" if len(found) > _PER_CHECK else ""
            )

    cache = one("cache")
    hh, hr, ih, ir = (int(cache.get(k) or 0) for k in ("heap_hit", "heap_read", "idx_hit", "idx_read"))

    def ratio(h: int, r: int) -> str:
        return f"{h / (h + r):.2%}" if h + r else "no reads yet"

    run(
        "cache_hit_ratio",
        lambda: cd.rule_cache(cache | {"shared_buffers": settings.get("shared_buffers")}),
        f"tables {ratio(hh, hr)}, indexes {ratio(ih, ir)}",
    )
    run(
        "bloat",
        lambda: cd.rule_bloat(data.get("bloat") or [], int(settings.get("block_size") or 8192)),
        f"{len(data.get('bloat') or [])} relations over 10 MB estimated",
    )
    run("vacuum", lambda: cd.rule_vacuum(data.get("vacuum") or [], settings), "")
    dbs = data.get("wraparound_db") or []
    oldest = max((int(d.get("xid_age") or 0) for d in dbs), default=0)
    run(
        "wraparound",
        lambda: cd.rule_wraparound(
            dbs, data.get("wraparound_tables") or [], int(settings.get("autovacuum_freeze_max_age") or 200_000_000)
        ),
        f"oldest xid age {oldest:,} ({100 * oldest / cd.XID_LIMIT:.1f}% of the limit)",
    )
    states: dict[str, int] = {}
    hidden = 0
    for r in data.get("connections") or []:
        if r.get("state") is None:
            hidden += int(r["n"])
        else:
            states[str(r["state"])] = int(r["n"])
    max_conn = int(settings.get("max_connections") or 100)
    reserved = int(settings.get("superuser_reserved_connections") or 3) + int(settings.get("reserved_connections") or 0)
    total = sum(states.values()) + hidden
    run(
        "connections",
        lambda: cd.rule_connections(states, max_conn, reserved, hidden),
        f"{total} of {max_conn - reserved} usable connections ({', '.join(f'{k} {v}' for k, v in states.items())})",
    )
    run(
        "long_sessions",
        lambda: cd.rule_sessions(data.get("sessions") or []),
        "no statement over 5 min, no idle-in-transaction over 1 min",
    )
    sessions = {int(s["pid"]): s for s in data.get("blockers") or []}
    run("locks", lambda: cd.rule_blocking(data.get("waiting") or [], sessions), "no session waiting on a lock")
    repl, standbys, slots = one("replication"), data.get("standbys") or [], data.get("slots") or []
    none = not repl.get("in_recovery") and not standbys and not slots
    run(
        "replication",
        lambda: cd.rule_replication(repl, standbys, slots),
        "no replication configured" if none else f"{len(standbys)} standby(s), {len(slots)} slot(s)",
    )
    run(
        "sequences",
        lambda: cd.rule_sequences(data.get("sequences") or []),
        f"{len(data.get('sequences') or [])} used sequence(s), all below 75% of their range",
    )
    run(
        "invalid_objects",
        lambda: cd.rule_invalid(data.get("invalid_constraints") or [], data.get("invalid_indexes") or []),
        "no invalid constraints or indexes",
    )
    dbrow = one("database")
    run(
        "settings",
        lambda: cd.rule_settings(
            settings,
            db_bytes=server.db_bytes,
            temp_bytes=int(dbrow.get("temp_bytes") or 0),
            temp_files=int(dbrow.get("temp_files") or 0),
            ram_bytes=ram,
            rotational=rotational,
        ),
        "",
    )
    if not server.monitor:
        checks["privileges"] = (
            "this role lacks pg_monitor: other roles' sessions, queries and replication details are hidden "
            "(GRANT pg_monitor TO this role)"
        )
    status = cd.worst(findings)
    elapsed = (time.perf_counter() - started) * 1000.0
    counts = {s: sum(1 for i in findings if i.severity == s) for s in ("critical", "warning", "info")}
    msg = (
        f"{status.upper()}: {counts['critical']} critical, {counts['warning']} warning, {counts['info']} info "
        f"finding(s) over {len(checks)} checks of {server.database} in {elapsed:,.0f} ms"
    )
    result = HealthReport(status=status, findings=[_finding(i) for i in findings], checks=checks, message=msg)
    body = [f"{k}: {v}" for k, v in checks.items()] + [
        f"[{i.severity}] {i.check} {i.object}: {i.recommendation} {compact_json(_jsonable(i.evidence))}"
        for i in findings
    ]
    return respond(result, "\n".join(body))
