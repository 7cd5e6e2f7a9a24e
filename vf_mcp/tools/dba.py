"""The DBA tools: explain_query, get_slow_queries, recommend_indexes, check_database_health.

Everything is read-only: EXPLAIN (ANALYZE) runs guarded SELECTs inside the READ ONLY transaction under the
statement timeout; hypothetical indexes (hypopg) live in the session's memory and are reset before the
connection goes back to the pool; CREATE/DROP INDEX statements are returned, never run. Every statement
is vf_mcp.db.dba's; the rules and the plan digest are vf_mcp.compute.dba's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from vf_mcp.app import App
from vf_mcp.compute import dba as cd
from vf_mcp.db import dba as dd
from vf_mcp.db.catalog import Relation
from vf_mcp.db.gate import check_user_sql
from vf_mcp.db.name_hints import name_hints
from vf_mcp.errors import InvalidArgumentError, RefusedError, VfError
from vf_mcp.jsontypes import as_float, as_int
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
from vf_mcp.tools.common import SourceArg, ToolDef, app_of, compact_json, respond, tool_errors
from vf_mcp.units import human_bytes

SortBy = Literal["total_time", "mean_time", "calls", "io"]
WORKLOAD_QUERIES = 25
WORKLOAD_SCAN = 200
MAX_LISTED = 25
_EXPLAINABLE = ("select", "values", "table")


@tool_errors
async def explain_query(
    sql: Annotated[str, Field(description="One SELECT/VALUES/TABLE query; $1, $2 ... for values")],
    ctx: Context[App],
    params: Annotated[list[Any], Field(description="Values for $1, $2 ...")] = [],  # noqa: B006
    analyze: Annotated[bool, Field(description="Run it (read-only) for actual rows, time, buffers")] = False,
    source: SourceArg = None,
) -> Annotated[CallToolResult, ExplainResult]:
    """Why is this query slow? The plan with a digest (costliest nodes, large scans, estimates off >10x,
    spills, large nested loops) and concrete fixes."""
    app = app_of(ctx, source)
    async with name_hints(app.catalog, sql):
        return await _explain(app, sql, params, analyze)


@tool_errors
async def get_slow_queries(
    ctx: Context[App],
    sort_by: Annotated[SortBy, Field(description="io: blocks read from disk + temp files")] = "total_time",
    limit: Annotated[int, Field(ge=1, le=100)] = 10,
    source: SourceArg = None,
) -> Annotated[CallToolResult, SlowQueries]:
    """Which queries cost the most? Per normalized query: calls, total/mean/max ms, rows, I/O, share of
    time."""
    return await _slow_queries(app_of(ctx, source), sort_by, limit)


@tool_errors
async def recommend_indexes(
    ctx: Context[App],
    queries: Annotated[
        list[str] | None, Field(max_length=50, description="SQL to tune (default: top pg_stat_statements)")
    ] = None,
    source: SourceArg = None,
) -> Annotated[CallToolResult, IndexAdvice]:
    """Which indexes are missing or useless? CREATE INDEX statements (never run here) for the queries'
    filter, join and sort columns and unindexed foreign keys, with estimated gain; indexes to drop."""
    return await _recommend(app_of(ctx, source), queries)


@tool_errors
async def check_database_health(ctx: Context[App], source: SourceArg = None) -> Annotated[CallToolResult, HealthReport]:
    """Is the database healthy? Findings with severity, numbers and a fix: caching, bloat, vacuum,
    wraparound, connections, blocked sessions, replication, sequences, settings."""
    return await _health(app_of(ctx, source))


TOOLS = (
    ToolDef(explain_query),
    ToolDef(get_slow_queries),
    ToolDef(recommend_indexes),
    ToolDef(check_database_health),
)


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


def _jsonable(d: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in json.loads(compact_json(d)).items() if v is not None}


def _short(sql: str, n: int = 160) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# --------------------------------------------------------------------------------------------------
# explain_query
# --------------------------------------------------------------------------------------------------


async def _explain(app: App, sql: str, params: Sequence[object], analyze: bool) -> CallToolResult:
    if app.engine.name == "mysql":
        return await _mysql_explain(app, sql, params, analyze)
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
    started = time.perf_counter()
    run = await dd.explain_statement(app.db, sql, params, analyze=analyze, shape=shape, bound=bound, samples=samples)
    elapsed = (time.perf_counter() - started) * 1000.0
    # facts for relations the plan reads that the query text did not name (views, inheritance)
    names = {
        (n.get("Schema"), str(n["Relation Name"]))
        for n, _ in cd.walk_plan(cd.plan_root(run.plan) or {})
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
    digest = cd.digest_plan(run.plan, tables=by_name, shape=shape, bound=bound, work_mem_kb=server.work_mem_kb())
    return _explain_result(digest, run, elapsed)


def _explain_result(digest: cd.PlanDigest, run: dd.ExplainRun, elapsed: float) -> CallToolResult:
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
        + f", {len(digest.suggestions)} suggestion(s); parameters: {run.mode}"
    )
    result = ExplainResult(
        analyzed=digest.analyzed,
        params_mode=run.mode,
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
        plan=run.plan,
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
    if app.engine.name == "mysql":
        return await _mysql_slow(app, sort_by, limit)
    server = await dd.server_facts(app.db)
    libs = server.settings.get("shared_preload_libraries")
    preloaded = None if libs is None else "pg_stat_statements" in [x.strip() for x in libs.split(",")]
    rows: list[dd.Row] | None = None
    if server.pgss_schema is not None:
        try:
            rows = await dd.slow_queries(app.db, server.pgss_schema, sort_by, limit)
        except VfError as exc:
            if "shared_preload_libraries" not in exc.message:
                raise
            preloaded = False
    if rows is None:
        return _slow_unavailable(server, sort_by, preloaded)
    since = await dd.pgss_stats_since(app.db, server.pgss_schema or "public")
    queries = [_slow_query(r) for r in rows]
    hidden = sum(1 for q in queries if q.query == "<insufficient privilege>")
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


def _slow_unavailable(server: dd.ServerFacts, sort_by: str, preloaded: bool | None) -> CallToolResult:
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


def _slow_query(r: dd.Row) -> SlowQuery:
    hit, read = int(r["shared_blks_hit"] or 0), int(r["shared_blks_read"] or 0)
    share = float(r["share_pct"] or 0.0)
    return SlowQuery(
        queryid=r["queryid"],
        query=str(r["query"] or ""),
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
class _Plan:
    """What recommend_indexes gathered: the queries, their candidates, and what it skipped and why."""

    work: list[_Work] = field(default_factory=list)
    shapes: dict[int, tuple[cd.QueryShape, dict[str, cd.TableFacts]]] = field(default_factory=dict)
    cands: list[cd.Candidate] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


_Entry = tuple[cd.Candidate, IndexGain, int | None, float]
"""(candidate, gain, measured size, weight for the order)."""


async def _recommend(app: App, queries: list[str] | None) -> CallToolResult:
    if app.engine.name == "mysql":
        return await _mysql_recommend(app, queries)
    server = await dd.server_facts(app.db)
    facts = await dd.table_facts(app.db)
    lookup = _lookup(facts)
    todo = _Plan()
    await _workload(app, server, queries, lookup, todo)
    await _shape_work(app, queries, lookup, todo)
    work = todo.work
    merged = cd.merge_candidates(todo.cands)
    costs = server.costs()
    method = "hypopg" if server.hypopg_schema else "statistics"
    measures: dict[dd.MeasureKey, dd.Measure] = {}
    seq_tables: dict[int, set[str]] = {}
    if merged:
        if server.hypopg_schema:
            per_query: dict[int, tuple[str, list[cd.Candidate]]] = {}
            for c in merged:
                for i in c.queries:
                    if work[i].explainable:
                        per_query.setdefault(i, (work[i].sql, []))[1].append(c)
            measures = await dd.hypopg_measure(app.db, server.hypopg_schema, per_query)
        else:
            seq_tables = await _seq_scanned(app, work, {i for c in merged for i in c.queries})
    create = _workload_entries(merged, measures, seq_tables, work, costs)
    create += _fk_entries(facts, create, costs, todo.skipped)
    entries = _index_entries(create, work, costs)
    since = server.stats_reset.isoformat() if isinstance(server.stats_reset, datetime) else "statistics began"
    drops = _drops(facts, since)
    return _advice_result(entries, drops, method, todo)


async def _workload(
    app: App,
    server: dd.ServerFacts,
    queries: list[str] | None,
    lookup: Callable[[str | None, str], cd.TableFacts | None],
    todo: _Plan,
) -> None:
    if queries:
        todo.work = [_Work(q, None, f"query {i}: {_short(q)}") for i, q in enumerate(queries, start=1)]
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
                    todo.work.append(_Work(text, calls, f"{calls:,} calls: {_short(text)}"))
                if len(todo.work) >= WORKLOAD_QUERIES:
                    break
        except VfError as exc:
            todo.skipped.append(f"workload: pg_stat_statements unreadable ({exc.message}); pass queries instead")
    else:
        todo.skipped.append(
            "workload: pg_stat_statements is not installed, so no queries were analysed; pass queries, or "
            "enable it (get_slow_queries lists the steps). Foreign keys and existing indexes were still checked."
        )


async def _shape_work(
    app: App, queries: list[str] | None, lookup: Callable[[str | None, str], cd.TableFacts | None], todo: _Plan
) -> None:
    for i, w in enumerate(todo.work):
        shape = cd.query_shape(w.sql)
        if shape is None:
            if queries:
                todo.skipped.append(f"{w.label}: not one parsable SELECT, UPDATE or DELETE")
            continue
        bound = cd.bind_tables(shape, lookup)
        if not bound:
            if queries:
                todo.skipped.append(f"{w.label}: no user table found")
            continue
        todo.shapes[i] = (shape, bound)
        if shape.kind == "select":
            try:
                w.explainable = (await check_user_sql(app.db, app.catalog, w.sql)).kind in _EXPLAINABLE
            except RefusedError:
                w.explainable = False
        for c in cd.shape_candidates(shape, bound):
            if cd.covering_index(c.table, c.columns, c.eq_count) is None:
                c.queries.add(i)
                todo.cands.append(c)


def _workload_entries(
    merged: list[cd.Candidate],
    measures: Mapping[dd.MeasureKey, dd.Measure],
    seq_tables: Mapping[int, set[str]],
    work: list[_Work],
    costs: cd.CostSettings,
) -> list[_Entry]:
    create: list[_Entry] = []
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
    return create


def _fk_entries(
    facts: Mapping[int, cd.TableFacts], create: list[_Entry], costs: cd.CostSettings, skipped: list[str]
) -> list[_Entry]:
    chosen = [c for c, *_ in create]
    out: list[_Entry] = []
    weak: list[str] = []
    for fk in cd.unindexed_foreign_keys(list(facts.values())):
        host = next(
            (
                c
                for c in chosen
                if c.table.oid == fk.table.oid
                and cd.covering_index(cd.as_index_table(c), fk.columns, fk.eq_count) is not None
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
        out.append((fk, _gain(est), None, -1.0))
    if weak:
        skipped.append(
            f"foreign keys without an index where one would not beat a scan (few distinct values): {', '.join(weak)}"
        )
    return out


def _index_entries(create: list[_Entry], work: list[_Work], costs: cd.CostSettings) -> list[IndexCandidate]:
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
    return entries


def _drops(facts: Mapping[int, cd.TableFacts], since: str) -> list[DropCandidate]:
    return [
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


def _advice_result(
    entries: list[IndexCandidate], drops: list[DropCandidate], method: str, todo: _Plan
) -> CallToolResult:
    shown_create, shown_drop = entries[:MAX_LISTED], drops[:MAX_LISTED]
    msg = (
        f"{len(entries)} index(es) to create, {len(drops)} to drop (nothing was executed); gain by "
        + (
            "hypopg hypothetical indexes"
            if method == "hypopg"
            else "estimate from planner statistics (install hypopg for measured plans)"
        )
        + f"; {len(todo.shapes)} of {len(todo.work)} queries analysed"
    )
    if len(entries) > MAX_LISTED or len(drops) > MAX_LISTED:
        msg += f"; showing the first {MAX_LISTED} of each"
    result = IndexAdvice(
        method=method,
        queries_analyzed=len(todo.shapes),
        create=shown_create,
        drop=shown_drop,
        skipped=todo.skipped,
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
    body += [f"skipped: {s}" for s in todo.skipped]
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


async def _seq_scanned(app: App, work: list[_Work], wanted: set[int]) -> dict[int, set[str]]:
    """query index -> relation names its current (generic) plan reads with a sequential scan."""
    plans = await dd.generic_plans(app.db, {i: work[i].sql for i in sorted(wanted) if work[i].explainable})
    return {
        i: {
            str(n["Relation Name"])
            for n, _ in cd.walk_plan(cd.plan_root(plan) or {})
            if n.get("Node Type") == "Seq Scan" and n.get("Relation Name")
        }
        for i, plan in plans.items()
    }


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


@dataclass
class _Checks:
    """The health checks' raw data, and the findings and per-check summaries as the rules run."""

    data: dict[str, list[dd.Row]]
    errors: dict[str, str]
    findings: list[cd.Issue] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)

    def one(self, key: str) -> dd.Row:
        rows = self.data.get(key) or [{}]
        return rows[0]

    def rows(self, key: str) -> list[dd.Row]:
        return self.data.get(key) or []

    def run(self, name: str, fn: Callable[[], list[cd.Issue]], ok: str) -> None:
        failed = [self.errors[k] for k in _CHECK_KEYS[name] if k in self.errors]
        if failed:
            hint = " (needs pg_monitor: GRANT pg_monitor TO this role)" if any("42501" in f for f in failed) else ""
            self.checks[name] = f"skipped: {failed[0][:200]}{hint}"
            return
        found = sorted(fn(), key=lambda i: cd.SEVERITY_ORDER.get(i.severity, 9))
        self.findings.extend(found[:_PER_CHECK])
        if not found:
            self.checks[name] = f"ok: {ok}" if ok else "ok"
        else:
            counts = {s: sum(1 for i in found if i.severity == s) for s in ("critical", "warning", "info")}
            self.checks[name] = ", ".join(f"{n} {s}" for s, n in counts.items() if n) + (
                f" (first {_PER_CHECK} listed)" if len(found) > _PER_CHECK else ""
            )


async def _health(app: App) -> CallToolResult:
    if app.engine.name == "mysql":
        return await _mysql_health(app)
    started = time.perf_counter()
    server = await dd.server_facts(app.db)
    data, errors = await dd.health_data(app.db)
    ram, rotational = dd.machine_facts(server.settings.get("data_directory"))
    run = _Checks(data, errors)
    _storage_checks(run, server.settings)
    _session_checks(run, server.settings)
    dbrow = run.one("database")
    run.run(
        "settings",
        lambda: cd.rule_settings(
            server.settings,
            db_bytes=server.db_bytes,
            temp_bytes=int(dbrow.get("temp_bytes") or 0),
            temp_files=int(dbrow.get("temp_files") or 0),
            ram_bytes=ram,
            rotational=rotational,
        ),
        "",
    )
    if not server.monitor:
        run.checks["privileges"] = (
            "this role lacks pg_monitor: other roles' sessions, queries and replication details are hidden "
            "(GRANT pg_monitor TO this role)"
        )
    findings, checks = run.findings, run.checks
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


def _ratio(h: int, r: int) -> str:
    return f"{h / (h + r):.2%}" if h + r else "no reads yet"


def _storage_checks(run: _Checks, settings: dict[str, str]) -> None:
    """Cache hit ratio, bloat, vacuum and xid wraparound."""
    cache = run.one("cache")
    hh, hr, ih, ir = (int(cache.get(k) or 0) for k in ("heap_hit", "heap_read", "idx_hit", "idx_read"))
    run.run(
        "cache_hit_ratio",
        lambda: cd.rule_cache(cache | {"shared_buffers": settings.get("shared_buffers")}),
        f"tables {_ratio(hh, hr)}, indexes {_ratio(ih, ir)}",
    )
    run.run(
        "bloat",
        lambda: cd.rule_bloat(run.rows("bloat"), int(settings.get("block_size") or 8192)),
        f"{len(run.rows('bloat'))} relations over 10 MB estimated",
    )
    run.run("vacuum", lambda: cd.rule_vacuum(run.rows("vacuum"), settings), "")
    dbs = run.rows("wraparound_db")
    oldest = max((int(d.get("xid_age") or 0) for d in dbs), default=0)
    run.run(
        "wraparound",
        lambda: cd.rule_wraparound(
            dbs, run.rows("wraparound_tables"), int(settings.get("autovacuum_freeze_max_age") or 200_000_000)
        ),
        f"oldest xid age {oldest:,} ({100 * oldest / cd.XID_LIMIT:.1f}% of the limit)",
    )


def _session_checks(run: _Checks, settings: dict[str, str]) -> None:
    """Connections, long sessions, locks, replication, sequences and invalid objects."""
    states: dict[str, int] = {}
    hidden = 0
    for r in run.rows("connections"):
        if r.get("state") is None:
            hidden += int(r["n"])
        else:
            states[str(r["state"])] = int(r["n"])
    max_conn = int(settings.get("max_connections") or 100)
    reserved = int(settings.get("superuser_reserved_connections") or 3) + int(settings.get("reserved_connections") or 0)
    total = sum(states.values()) + hidden
    run.run(
        "connections",
        lambda: cd.rule_connections(states, max_conn, reserved, hidden),
        f"{total} of {max_conn - reserved} usable connections ({', '.join(f'{k} {v}' for k, v in states.items())})",
    )
    run.run(
        "long_sessions",
        lambda: cd.rule_sessions(run.rows("sessions")),
        "no statement over 5 min, no idle-in-transaction over 1 min",
    )
    sessions = {int(s["pid"]): s for s in run.rows("blockers")}
    run.run("locks", lambda: cd.rule_blocking(run.rows("waiting"), sessions), "no session waiting on a lock")
    repl, standbys, slots = run.one("replication"), run.rows("standbys"), run.rows("slots")
    none = not repl.get("in_recovery") and not standbys and not slots
    run.run(
        "replication",
        lambda: cd.rule_replication(repl, standbys, slots),
        "no replication configured" if none else f"{len(standbys)} standby(s), {len(slots)} slot(s)",
    )
    run.run(
        "sequences",
        lambda: cd.rule_sequences(run.rows("sequences")),
        f"{len(run.rows('sequences'))} used sequence(s), all below 75% of their range",
    )
    run.run(
        "invalid_objects",
        lambda: cd.rule_invalid(run.rows("invalid_constraints"), run.rows("invalid_indexes")),
        "no invalid constraints or indexes",
    )


# --------------------------------------------------------------------------------------------------
# MySQL/MariaDB: EXPLAIN FORMAT=JSON, performance_schema digests, status variables
# --------------------------------------------------------------------------------------------------


async def _mysql_explain(app: App, sql: str, params: Sequence[object], analyze: bool) -> CallToolResult:
    from vf_mcp.compute.dba.mysql import digest_plan
    from vf_mcp.db.mysql import dba as my

    started = time.perf_counter()
    plan = await my.explain(app.db, app.catalog, sql, params, analyze=analyze)
    mode = "bound" if params else "none"
    return _explain_result(digest_plan(plan, analyzed=analyze), dd.ExplainRun(plan, mode), _ms(started))


async def _mysql_slow(app: App, sort_by: str, limit: int) -> CallToolResult:
    from vf_mcp.db.mysql import dba as my

    found = await my.slow_queries(app.db, sort_by, limit)
    if not found.available:
        steps = [
            "Start the server with performance_schema=ON (my.cnf [mysqld]; a restart)",
            "Let this user read it: GRANT SELECT ON performance_schema.* (vf-mcp setup-role --monitoring)",
        ]
        msg = f"No statement statistics: {found.why}. To enable them: " + " ".join(
            f"{i}. {s}" for i, s in enumerate(steps, start=1)
        )
        return respond(SlowQueries(available=False, sort_by=sort_by, queries=[], enable_steps=steps, message=msg))
    queries = [
        SlowQuery(
            queryid=str(r["queryid"]),
            query=str(r["query"]),
            calls=as_int(r["calls"]),
            total_time_ms=round(as_float(r["total_ms"]) or 0.0, 3),
            mean_time_ms=round(as_float(r["mean_ms"]) or 0.0, 3),
            max_time_ms=round(as_float(r["max_ms"]) or 0.0, 3),
            rows=as_int(r["rows_sent"]),
            shared_blks_hit=0,
            shared_blks_read=0,
            temp_blks_written=as_int(r["tmp_disk"]),
            share_of_total_time_pct=round(as_float(r["share_pct"]) or 0.0, 2),
            notes=[f"{r['no_index']} run(s) without an index; {r['examined']} rows examined"]
            if as_int(r["no_index"])
            else [],
        )
        for r in found.rows
    ]
    msg = f"{len(queries)} statement digest(s) by {sort_by} from performance_schema" + (
        f" (since {found.since})" if found.since else ""
    )
    result = SlowQueries(available=True, sort_by=sort_by, queries=queries, stats_since=found.since, message=msg)
    return respond(result)


async def _mysql_health(app: App) -> CallToolResult:
    from vf_mcp.compute.dba.mysql import health_findings
    from vf_mcp.compute.dba.mysql_replication import replication_findings
    from vf_mcp.db.mysql import dba as my

    started = time.perf_counter()
    data = await my.health_data(app.db)
    findings, checks = health_findings(data.status, data.variables, data.long_running, data.without_pk)
    replication = await my.replication_data(app.db)  # each server's own SHOW REPLICA STATUS: lag per replica
    repl_issues, checks["replication"] = replication_findings([(r.server, r.rows, r.error) for r in replication])
    findings += repl_issues
    status = cd.worst(findings)
    counts = {s: sum(1 for i in findings if i.severity == s) for s in ("critical", "warning", "info")}
    msg = (
        f"{status.upper()}: {counts['critical']} critical, {counts['warning']} warning, {counts['info']} info "
        f"finding(s) over {len(checks)} checks of {data.database} in {_ms(started):,.0f} ms"
    )
    result = HealthReport(status=status, findings=[_finding(i) for i in findings], checks=checks, message=msg)
    return respond(result)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


async def _mysql_recommend(app: App, queries: list[str] | None) -> CallToolResult:
    from vf_mcp.compute.dba.mysql import index_candidates
    from vf_mcp.db.mysql import indexes as mi

    work, skipped = await mi.workload(app.db, app.catalog, queries)
    facts = await mi.index_facts(app.db)
    found = index_candidates([mi.predicates(q) for q in work], facts.existing)
    gains = await mi.estimate_gains(app.db, app.catalog, work, found)
    create = [
        IndexCandidate(
            table=t,
            columns=list(cols),
            statement=f"ALTER TABLE `{t}` ADD INDEX `{('ix_' + t + '_' + '_'.join(cols))[:64]}` "
            f"({', '.join(f'`{c}`' for c in cols)})",
            reason=f"filtered or joined on {', '.join(cols)}: no index leads with them",
            source="workload",
            severity="warning" if facts.rows.get(t, 0) >= 10_000 else "info",
            helps=[_short(work[i]) for i in helps],
            gain=IndexGain(method="statistics", rows_read_before=g.rows_before, rows_read_after=g.rows_after,
                           improvement_pct=g.improvement_pct, note=g.note),
        )
        for (t, cols, helps), g in zip(found, gains, strict=True)
    ]  # fmt: skip
    drop = [
        DropCandidate(index=i, table=t, kind="unused", severity="info", size_bytes=0, evidence={},
                      statement=f"ALTER TABLE `{t}` DROP INDEX `{i}`", reason="no reads since the server started (sys)")
        for t, i in facts.unused
    ] + [
        DropCandidate(index=i, table=t, kind="duplicate", severity="warning", size_bytes=0, evidence={"dominant": d},
                      statement=f"ALTER TABLE `{t}` DROP INDEX `{i}`", reason=f"{d} covers it (sys)")
        for t, i, d in facts.redundant
    ]  # fmt: skip
    msg = (
        f"{len(create)} index(es) to create, {len(drop)} to drop (nothing was executed; gains are estimates: "
        "EXPLAIN's rows today versus rows per value of the indexed columns); "
        f"{len(work)} queries analysed"
    )
    result = IndexAdvice(
        method="statistics",
        queries_analyzed=len(work),
        create=create[:MAX_LISTED],
        drop=drop[:MAX_LISTED],
        skipped=skipped + facts.skipped,
        message=msg,
    )
    return respond(result)
