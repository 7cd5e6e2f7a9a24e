"""The five core tools: get_database_overview, list_tables, get_table_schema, get_table_stats, run_query."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from vf_mcp.app import App
from vf_mcp.compute.plan_hints import plan_hints, plan_outline
from vf_mcp.compute.table_stats import (
    ACCURACY_DEF,
    COMPLETENESS_DEF,
    CONSISTENCY_DEF,
    ColumnFacts,
    QualityScores,
    column_facts,
    freshness,
    quality_scores,
    sampling,
    stats_method,
)
from vf_mcp.db import stats as dbstats
from vf_mcp.db.catalog import (
    ColumnDetail,
    ConstraintDetail,
    Relation,
    TableStatsEstimate,
    bytes_with_partitions,
    leaf_partitions,
    merged_estimate,
    rows_with_partitions,
)
from vf_mcp.db.name_hints import name_hints
from vf_mcp.db.runner import QueryOutcome
from vf_mcp.models.core import (
    ColumnInfo,
    ColumnSchema,
    ColumnStats,
    Constraint,
    DatabaseOverview,
    DataQuality,
    ForeignKey,
    IndexInfo,
    OverviewTable,
    Partitioning,
    QualityMeasure,
    QueryResult,
    RoleSafetyInfo,
    SampleRows,
    TableEntry,
    TableList,
    TableSchema,
    TableStats,
    ValueCount,
)
from vf_mcp.tools.common import (
    SourceArg,
    TableName,
    ToolDef,
    app_of,
    compact_json,
    masking_scope,
    respond,
    tool_errors,
)
from vf_mcp.units import human_bytes

MAX_OFFSET = 2**31 - 1  # MOVE FORWARD takes a bigint; a sane bound keeps errors about the argument
_LIMIT_RE = re.compile(r"\blimit\b|\bfetch\s+first\b", re.I)


@tool_errors
async def run_query(
    sql: Annotated[
        str,
        Field(
            description="One read-only statement (SELECT, WITH, VALUES, TABLE, EXPLAIN, SHOW); $1, $2 ... for values"
        ),
    ],
    ctx: Context[App],
    params: Annotated[list[Any], Field(description="Values for $1, $2 ...")] = [],  # noqa: B006
    limit: Annotated[int | None, Field(ge=1, description="Default and maximum: max_rows")] = None,
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET, description="Rows to skip (pagination)")] = 0,
    explain: Annotated[bool, Field(description="Also return the plan and hints")] = False,
    timeout_ms: Annotated[int | None, Field(ge=1, description="Lower statement timeout for this call")] = None,
    refresh: bool = False,
    source: SourceArg = None,
) -> Annotated[CallToolResult, QueryResult]:
    """Run one read-only SQL query and return capped rows (arrays under one column list) with types.

    Over max_rows or max_result_bytes: truncated=true, next_offset to page on (export_results: everything).
    """
    app = app_of(ctx, source)
    cap = app.settings.max_rows
    eff_limit = min(limit or cap, cap)
    key = ("run_query", sql, compact_json(params), eff_limit, offset, explain)
    cached = None if refresh else await app.query_cache.get(key, family="query")
    if cached is not None:
        result = QueryResult.model_validate({**cached, "from_cache": True})
        return respond(result, _rows_body(result))
    async with name_hints(app.catalog, sql):
        out = await app.engine.run_guarded(
            app.db, app.catalog, sql, params, limit=eff_limit, offset=offset, timeout_ms=timeout_ms, explain=explain
        )
    hints: list[str] = []
    if explain or out.truncated:
        rels = await app.catalog.relations()
        hints = plan_hints(
            out.plan,
            row_estimates={r.name: r.row_estimate or 0 for r in rels},
            returned_rows=len(out.rows),
            truncated=out.truncated,
            has_limit=bool(_LIMIT_RE.search(sql)),
            max_rows=eff_limit,
        )
    result = _query_result(out, offset, hints)
    if app.query_cache.enabled:
        await app.query_cache.put(
            key, result.model_dump(mode="json"), family="query", size_bytes=out.result_bytes + 512
        )
    return respond(result, _rows_body(result, out.row_json))


@tool_errors
async def list_tables(
    ctx: Context[App],
    schema_name: Annotated[str | None, Field(description="Only this schema")] = None,
    name_pattern: Annotated[str | None, Field(description="Case-insensitive; % or * any text, _ one char")] = None,
    include_views: Annotated[bool, Field(description="Include views and materialized views")] = True,
    source: SourceArg = None,
) -> Annotated[CallToolResult, TableList]:
    """List tables, views, partitioned and foreign tables in every user schema (estimated row counts)."""
    app = app_of(ctx, source)
    rels = await app.catalog.relations()
    key = ("list_tables", schema_name, name_pattern, include_views, masking_scope())
    kept = app.catalog.derived(key, rels)
    if isinstance(kept, CallToolResult):
        return kept  # the same catalog snapshot, arguments and masking: the same answer
    regex = _pattern(name_pattern) if name_pattern else None
    parts: dict[str, list[str]] = {}
    for r in rels:
        if r.parent:
            parts.setdefault(r.parent, []).append(r.qualified)
    entries = [
        _table_entry(r, rels, parts.get(r.qualified))
        for r in rels
        if not r.parent
        and not (schema_name and r.schema != schema_name and r.schema.lower() != schema_name.lower())
        and not (regex and not (regex.search(r.name) or regex.search(r.qualified)))
        and (include_views or r.kind not in ("v", "m"))
    ]
    schemas = sorted({e.schema_name for e in entries})
    msg = f"{len(entries)} relations in {len(schemas)} schema(s): {', '.join(schemas)}"
    if not entries:
        msg = "No tables matched; call list_tables without filters to see everything."
    result = TableList(tables=entries, total=len(entries), message=msg)
    body = "\n".join(
        compact_json(
            [e.schema_name, e.name, e.kind, e.row_estimate, human_bytes(e.size_bytes), e.comment, e.partitions]
        )
        for e in entries
    )
    # each entry without its null fields (most tables have no comment and no partitions)
    answer = respond(result, "[schema,name,kind,row_estimate,size,comment,partitions]\n" + body, lean_items="tables")
    app.catalog.keep(key, rels, answer)
    return answer


@tool_errors
async def get_table_schema(
    table_name: TableName, ctx: Context[App], source: SourceArg = None
) -> Annotated[CallToolResult, TableSchema]:
    """Describe a table or view: columns, keys (both directions), constraints, indexes, partitioning."""
    app = app_of(ctx, source)
    rel = await app.catalog.resolve(table_name)
    info = await app.catalog.table_info(rel)
    key = ("get_table_schema", rel.oid, masking_scope())
    kept = app.catalog.derived(key, info)
    if isinstance(kept, CallToolResult) and kept.structured_content and kept.structured_content.get("name") == rel.name:
        return kept  # the same catalog snapshot of this table and masking: the same answer
    answer = respond(await describe_table(app, table_name))
    app.catalog.keep(key, info, answer)
    return answer


@tool_errors
async def get_database_overview(
    ctx: Context[App], source: SourceArg = None
) -> Annotated[CallToolResult, DatabaseOverview]:
    """Summarise the database: per table, estimated rows and size, freshness, growth, quality (exact=false)."""
    app = app_of(ctx, source)
    rels = await app.catalog.relations()
    estimates = await app.catalog.stats_estimates()
    info = await app.engine.database_info(app.db)
    safety = await app.catalog.cached("role_safety", app.db.role_safety)
    now = datetime.now(UTC)
    tables = [_overview_table(r, rels, estimates, now) for r in rels if not r.parent and r.kind not in ("v", "f")]
    total_rows = sum(t.row_count or 0 for t in tables)
    warning = safety.warning()
    msg = (
        f"{info.name}: {len(tables)} tables, ~{total_rows:,} rows, {human_bytes(info.size_bytes)} "
        f"({app.engine.label(app.db)} {info.version}; estimates from planner statistics)"
    )
    if warning:
        msg += f". WARNING: {warning}"
    overview = DatabaseOverview(
        database=info.name,
        server_version=info.version,
        total_tables=len(tables),
        total_rows=total_rows,
        exact=False,
        total_size=human_bytes(info.size_bytes) or "0 bytes",
        total_size_bytes=info.size_bytes,
        last_scanned=now.isoformat(),
        role_safety=RoleSafetyInfo(role=safety.role, read_only=safety.is_read_only, warning=warning),
        tables=tables,
        message=msg,
    )
    return respond(overview)


@tool_errors
async def get_table_stats(
    table_name: TableName,
    ctx: Context[App],
    exact: Annotated[bool, Field(description="Scan even a large table whole")] = False,
    sample_size: Annotated[
        int | None,
        Field(ge=100, description="Rows to sample on large tables"),
    ] = None,
    refresh: bool = False,
    source: SourceArg = None,
) -> Annotated[CallToolResult, TableStats]:
    """Profile a table: row count, per-column nulls, distinct, min/max/avg/median/stddev, common values.

    Large tables are sampled (exact=false); quality scores with their definitions.
    """
    app = app_of(ctx, source)
    key = ("table_stats", table_name, exact, sample_size)
    hit = None if refresh else await app.query_cache.get(key, family="table_stats")
    if hit is not None:
        return respond(TableStats.model_validate({**hit, "from_cache": True}))
    stats = await table_stats(app, table_name, exact=exact, sample_size=sample_size)
    await app.query_cache.put(key, stats.model_dump(mode="json"), family="table_stats")
    return respond(stats)


TOOLS = (
    ToolDef(run_query),
    ToolDef(list_tables),
    ToolDef(get_table_schema),
    ToolDef(get_database_overview),
    ToolDef(get_table_stats),
)


async def table_stats(app: App, table_name: str, *, exact: bool, sample_size: int | None) -> TableStats:
    """get_table_stats: exact one-pass aggregates on small tables, TABLESAMPLE on large ones."""
    started = time.perf_counter()
    settings = app.settings
    rel = await app.catalog.resolve(table_name)
    cols = dbstats.column_specs(await app.catalog.table_info(rel))
    estimate = rows_with_partitions(rel, await app.catalog.relations())
    want = sample_size or settings.stats_sample_rows
    percent, limit = sampling(rel.kind, estimate, exact=exact, want=want, large_rows=settings.large_table_rows)
    prof = await app.engine.profile(
        app.db, rel, cols, sample_percent=percent, sample_rows=limit, top=5, preview_rows=settings.sample_rows
    )
    raw = prof.raw
    examined = int(raw.agg.get("n") or 0)
    is_exact = percent is None and limit is None
    row_count = examined if is_exact else int(estimate or examined)
    scale = 1.0 if is_exact or not examined else row_count / examined
    columns = [(c.name, c.type, c.numeric) for c in cols]
    facts = column_facts(columns, raw.agg, raw.mcv, scale=scale, row_count=row_count, planner=raw.planner)
    q = quality_scores(raw.agg, len(cols))
    elapsed = round((time.perf_counter() - started) * 1000.0, 1)
    return TableStats(
        table=rel.qualified,
        row_count=row_count,
        exact=is_exact,
        method=stats_method(sample_percent=percent, is_exact=is_exact, examined=examined, row_count=row_count),
        sample_size=None if is_exact else examined,
        columns=[_column_stats(f) for f in facts],
        sample_rows=SampleRows(columns=prof.sample_columns, rows=prof.sample_rows),
        data_quality=_data_quality(q),
        calculation_time_ms=elapsed,
        message=(
            f"{rel.qualified}: {row_count:,} rows ({'exact' if is_exact else 'estimate'}), {len(cols)} columns, "
            f"quality {q.overall}/100, in {elapsed} ms"
        ),
    )


def _query_result(out: QueryOutcome, offset: int, hints: list[str]) -> QueryResult:
    """run_query's model: the page of rows, how to get the next one, and what was cut."""
    n = len(out.rows)
    next_offset = offset + n if out.truncated else None
    msg = f"{n} row{'s' if n != 1 else ''} in {out.execution_time_ms:.1f} ms"
    if out.truncated:
        msg += f"; truncated ({out.truncated_reason}): pass offset={next_offset} for more, or use export_results"
    if out.cut_values:
        msg += (
            f"; {len(out.cut_values)} value(s) over max_result_bytes cut to a preview (cut_values): select "
            "part of them (left(col, n), substring, jsonb paths) or use export_results"
        )
    return QueryResult(
        columns=[ColumnInfo(name=c.name, type=c.type) for c in out.columns],
        rows=out.rows,
        row_count=n,
        truncated=out.truncated,
        truncated_reason=out.truncated_reason,
        next_offset=next_offset,
        cut_values=list(out.cut_values),
        execution_time_ms=out.execution_time_ms,
        query_plan=out.plan,
        optimization_hints=hints,
        from_cache=False,
        message=msg,
    )


def _rows_body(result: QueryResult, encoded: tuple[str, ...] = ()) -> str:
    """Column list, one row per line, then (explain=true) the plan outline and hints for text-only clients."""
    head = compact_json([f"{c.name}:{c.type}" for c in result.columns])
    body = head + "\n" + "\n".join(encoded or (compact_json(r) for r in result.rows))
    outline = plan_outline(result.query_plan) if result.query_plan is not None else []
    if outline:
        body += "\nplan (EXPLAIN; full JSON in query_plan):\n" + "\n".join(outline)
    if result.optimization_hints:
        body += "\nhints:\n" + "\n".join(f"- {h}" for h in result.optimization_hints)
    return body


def _pattern(text: str) -> re.Pattern[str]:
    if "%" not in text and "*" not in text:
        return re.compile(re.escape(text), re.I)  # plain text: substring match
    out = [".*" if ch in "%*" else "." if ch == "_" else re.escape(ch) for ch in text]
    return re.compile(f"^{''.join(out)}$", re.I)


def _table_entry(r: Relation, rels: tuple[Relation, ...], partitions: list[str] | None) -> TableEntry:
    size = bytes_with_partitions(r, rels)
    return TableEntry(
        name=r.name,
        schema_name=r.schema,
        kind=r.kind_name,
        row_estimate=rows_with_partitions(r, rels),
        size_bytes=size,
        comment=r.comment,
        partitions=partitions,
    )


def _overview_table(
    r: Relation, rels: tuple[Relation, ...], estimates: dict[int, TableStatsEstimate], now: datetime
) -> OverviewTable:
    """One table of get_database_overview, from the catalog and planner statistics (a partitioned table's
    rows, size, freshness and quality over all its partitions)."""
    rows = rows_with_partitions(r, rels)
    size = bytes_with_partitions(r, rels)
    est = merged_estimate(r, rels, estimates)
    fresh = None
    if est is not None:
        future = {s.column: s.future_share for s in est.stamps}
        fresh = freshness(est.avg_null_frac, est.timestamps, rows, now, future=future)
    parts = len(leaf_partitions(r, rels)) if r.kind == "p" else None
    return OverviewTable(
        name=r.name,
        schema_name=r.schema,
        kind=r.kind_name,
        row_count=rows,
        size=human_bytes(size),
        size_bytes=size,
        partitions=parts,
        last_updated=fresh.last_updated if fresh else None,
        last_updated_column=fresh.last_updated_column if fresh else None,
        last_updated_basis=fresh.last_updated_basis if fresh else None,
        growth_rate_per_day=fresh.growth_rate_per_day if fresh else None,
        quality_score=fresh.quality_score if fresh else None,
    )


def _column_stats(f: ColumnFacts) -> ColumnStats:
    return ColumnStats(
        name=f.name,
        type=f.type,
        null_count=f.null_count,
        null_fraction=f.null_fraction,
        distinct_count=f.distinct_count,
        min=f.min,
        max=f.max,
        avg=f.avg,
        median=f.median,
        stddev=f.stddev,
        most_common=[ValueCount(value=v, count=n, frequency=fr) for v, n, fr in f.most_common],
    )


def _data_quality(q: QualityScores) -> DataQuality:
    return DataQuality(
        completeness=QualityMeasure(score=q.completeness, definition=COMPLETENESS_DEF, issues=0),
        consistency=QualityMeasure(score=q.consistency, definition=CONSISTENCY_DEF, issues=q.consistency_issues),
        accuracy=QualityMeasure(score=q.accuracy, definition=ACCURACY_DEF, issues=q.accuracy_issues),
        overall=q.overall,
    )


async def describe_table(app: App, table_name: str) -> TableSchema:
    """get_table_schema's answer (also served as the schema://{schema}/{table} resource)."""
    rel = await app.catalog.resolve(table_name)
    d = await app.catalog.table_info(rel)
    own = [c for c in d.constraints if c.table == rel.qualified]
    pk = next((c.columns for c in own if c.type == "p"), None)
    partitioning = None
    if d.partition_key or d.partitions or d.partition_bound:
        partitioning = Partitioning(key=d.partition_key, partitions=list(d.partitions), bound=d.partition_bound)
    return TableSchema(
        name=rel.name,
        schema_name=rel.schema,
        kind=rel.kind_name,
        comment=rel.comment,
        row_estimate=rel.row_estimate,
        columns=[_column_schema(c) for c in d.columns],
        primary_key=None if pk is None else list(pk),
        foreign_keys=[_foreign_key(c) for c in own if c.type == "f"],
        referenced_by=[
            _foreign_key(c)
            for c in d.constraints
            if c.type == "f" and c.ref_table == rel.qualified and c.table != rel.qualified
        ],
        unique_constraints=[_constraint(c) for c in own if c.type == "u"],
        check_constraints=[_constraint(c) for c in own if c.type in ("c", "x")],
        indexes=[
            IndexInfo(
                name=i.name,
                definition=i.definition,
                unique=i.unique,
                primary=i.primary,
                partial=i.partial,
                valid=i.valid,
                size_bytes=i.size_bytes,
            )
            for i in d.indexes
        ],
        partitioning=partitioning,
        view_definition=d.view_definition,
    )


def _column_schema(c: ColumnDetail) -> ColumnSchema:
    return ColumnSchema(
        name=c.name,
        type=c.type,
        nullable=c.nullable,
        default=c.default,
        identity=c.identity,
        generated=c.generated,
        comment=c.comment,
        enum_labels=None if c.enum_labels is None else list(c.enum_labels),
    )


def _foreign_key(c: ConstraintDetail) -> ForeignKey:
    return ForeignKey(
        name=c.name,
        columns=list(c.columns or ()),
        ref_table=c.ref_table or "",
        ref_columns=list(c.ref_columns or ()),
        table=c.table,
        validated=c.validated,
    )


def _constraint(c: ConstraintDetail) -> Constraint:
    columns = None if c.columns is None else list(c.columns)
    return Constraint(name=c.name, columns=columns, definition=c.definition)
