"""The five core tools: get_database_overview, list_tables, get_table_schema, get_table_stats, run_query."""

import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from vf_mcp.app import App
from vf_mcp.compute.plan_hints import plan_hints
from vf_mcp.compute.table_stats import (
    ACCURACY_DEF,
    COMPLETENESS_DEF,
    CONSISTENCY_DEF,
    column_facts,
    quality_scores,
)
from vf_mcp.db import stats as dbstats
from vf_mcp.db.catalog import Relation
from vf_mcp.db.convert import convert_row, converters_for
from vf_mcp.db.runner import run_guarded
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
from vf_mcp.tools.common import SourceArg, app_of, compact_json, respond, tool_errors
from vf_mcp.units import human_bytes

MAX_OFFSET = 2**31 - 1  # MOVE FORWARD takes a bigint; a sane bound keeps errors about the argument
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
TableName = Annotated[
    str, Field(description='Table or view: name, schema.name, or quoted ("Odd Name"); see list_tables')
]
_LIMIT_RE = re.compile(r"\blimit\b|\bfetch\s+first\b", re.I)
_CREATED = re.compile(r"^(created|inserted|creation|date_created|created_on|created_at|createdat|registered)", re.I)
_UPDATED = re.compile(r"(updated|modified|changed|completed|created|inserted|_at$|_on$|date|time)", re.I)


def register(server: MCPServer[App]) -> None:
    """Register the core tools on `server`."""

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def run_query(
        sql: Annotated[
            str,
            Field(
                description="One read-only statement: SELECT, WITH ... SELECT, VALUES, TABLE, "
                "EXPLAIN or SHOW. Use $1, $2 ... for values."
            ),
        ],
        ctx: Context[App],
        params: Annotated[list[Any], Field(description="Values for $1, $2 ...")] = [],  # noqa: B006
        limit: Annotated[int | None, Field(ge=1, description="Rows to return (default and maximum: max_rows)")] = None,
        offset: Annotated[int, Field(ge=0, le=MAX_OFFSET, description="Rows to skip (pagination)")] = 0,
        explain: Annotated[bool, Field(description="Also return the EXPLAIN (FORMAT JSON) plan and hints")] = False,
        timeout_ms: Annotated[int | None, Field(ge=1, description="Lower statement timeout for this call")] = None,
        refresh: Annotated[bool, Field(description="Bypass the result cache")] = False,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, QueryResult]:
        """Run one read-only SQL query and return capped rows (arrays under one column list) with types.

        Runs in a READ ONLY transaction under a statement timeout. Results over max_rows or max_result_bytes
        are truncated (truncated=true, next_offset to page on; export_results gives full results).
        """
        app = app_of(ctx, source)
        cap = app.settings.max_rows
        eff_limit = min(limit or cap, cap)
        key = ("run_query", sql, compact_json(params), eff_limit, offset, explain)
        cached = None if refresh else await app.query_cache.get(key, family="query")
        if cached is not None:
            result = QueryResult.model_validate({**cached, "from_cache": True})
            return respond(result, _rows_body(result))
        out = await run_guarded(
            app.db,
            app.catalog,
            sql,
            params,
            limit=eff_limit,
            offset=offset,
            timeout_ms=timeout_ms,
            explain=explain,
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
        result = QueryResult(
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
        if app.query_cache.enabled:
            await app.query_cache.put(
                key, result.model_dump(mode="json"), family="query", size_bytes=out.result_bytes + 512
            )
        return respond(result, _rows_body(result, out.row_json))

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def list_tables(
        ctx: Context[App],
        schema_name: Annotated[str | None, Field(description="Only this schema")] = None,
        name_pattern: Annotated[
            str | None, Field(description="Case-insensitive name filter; % and * match any text, _ one char")
        ] = None,
        include_views: Annotated[bool, Field(description="Include views and materialized views")] = True,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, TableList]:
        """List tables, views, materialized views, partitioned and foreign tables in every user schema.

        Partitions are grouped under their parent. Row counts are planner estimates.
        """
        app = app_of(ctx, source)
        rels = await app.catalog.relations()
        regex = _pattern(name_pattern) if name_pattern else None
        parts: dict[str, list[str]] = {}
        for r in rels:
            if r.parent:
                parts.setdefault(r.parent, []).append(r.qualified)
        entries: list[TableEntry] = []
        for r in rels:
            if r.parent:
                continue
            if schema_name and r.schema != schema_name and r.schema.lower() != schema_name.lower():
                continue
            if regex and not (regex.search(r.name) or regex.search(r.qualified)):
                continue
            if not include_views and r.kind in ("v", "m"):
                continue
            entries.append(
                TableEntry(
                    name=r.name,
                    schema_name=r.schema,
                    kind=r.kind_name,
                    row_estimate=_rows_with_partitions(r, rels),
                    size_bytes=_bytes_with_partitions(r, rels),
                    size=human_bytes(_bytes_with_partitions(r, rels)),
                    comment=r.comment,
                    partitions=parts.get(r.qualified),
                )
            )
        schemas = sorted({e.schema_name for e in entries})
        msg = f"{len(entries)} relations in {len(schemas)} schema(s): {', '.join(schemas)}"
        if not entries:
            msg = "No tables matched; call list_tables without filters to see everything."
        result = TableList(tables=entries, total=len(entries), message=msg)
        body = "\n".join(
            compact_json([e.schema_name, e.name, e.kind, e.row_estimate, e.size, e.comment, e.partitions])
            for e in entries
        )
        return respond(result, "[schema,name,kind,row_estimate,size,comment,partitions]\n" + body)

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def get_table_schema(
        table_name: TableName, ctx: Context[App], source: SourceArg = None
    ) -> Annotated[CallToolResult, TableSchema]:
        """Describe a table or view: columns, keys (both directions), constraints, indexes, partitioning."""
        app = app_of(ctx, source)
        schema = await describe_table(app, table_name)
        return respond(schema)

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def get_database_overview(
        ctx: Context[App], source: SourceArg = None
    ) -> Annotated[CallToolResult, DatabaseOverview]:
        """Summarise the database: tables, row and size estimates, freshness, growth and quality per table.

        Uses catalog and planner statistics only (a constant number of queries; exact=false).
        """
        app = app_of(ctx, source)
        return respond(await database_overview(app))

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def get_table_stats(
        table_name: TableName,
        ctx: Context[App],
        exact: Annotated[bool, Field(description="Scan the whole table even when it is large")] = False,
        sample_size: Annotated[
            int | None,
            Field(ge=100, description="Rows to sample on large tables (default: stats_sample_rows)"),
        ] = None,
        refresh: Annotated[bool, Field(description="Bypass the cache (statistics are cached 10 minutes)")] = False,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, TableStats]:
        """Profile a table: row count, per-column nulls, distinct, min/max/avg/median/stddev, common values.

        Small tables are scanned exactly in one pass; large ones are sampled (exact=false, sample_size given).
        Also scores data quality (completeness, consistency, accuracy; definitions included).
        """
        app = app_of(ctx, source)
        key = ("table_stats", table_name, exact, sample_size)
        hit = None if refresh else await app.query_cache.get(key, family="table_stats")
        if hit is not None:
            return respond(TableStats.model_validate({**hit, "from_cache": True}))
        stats = await table_stats(app, table_name, exact=exact, sample_size=sample_size)
        await app.query_cache.put(key, stats.model_dump(mode="json"), family="table_stats")
        return respond(stats)


def _rows_body(result: QueryResult, encoded: tuple[str, ...] = ()) -> str:
    head = compact_json([f"{c.name}:{c.type}" for c in result.columns])
    return head + "\n" + "\n".join(encoded or (compact_json(r) for r in result.rows))


def _pattern(text: str) -> re.Pattern[str]:
    if "%" not in text and "*" not in text:
        return re.compile(re.escape(text), re.I)  # plain text: substring match
    out = [".*" if ch in "%*" else "." if ch == "_" else re.escape(ch) for ch in text]
    return re.compile(f"^{''.join(out)}$", re.I)


def _rows_with_partitions(r: Relation, rels: tuple[Relation, ...]) -> int | None:
    if r.kind != "p":
        return r.row_estimate
    return sum(c.row_estimate or 0 for c in rels if c.parent == r.qualified)


def _bytes_with_partitions(r: Relation, rels: tuple[Relation, ...]) -> int | None:
    if r.kind != "p":
        return r.total_bytes
    return sum(c.total_bytes or 0 for c in rels if c.parent == r.qualified)


async def describe_table(app: App, table_name: str) -> TableSchema:
    """get_table_schema's answer (also served as the schema://{schema}/{table} resource)."""
    rel = await app.catalog.resolve(table_name)
    d = await app.catalog.table_detail(rel)
    cons = d.get("constraints") or []
    pk = next((c["columns"] for c in cons if c["type"] == "p" and c["table"] == rel.qualified), None)

    def fk(c: dict[str, Any]) -> ForeignKey:
        return ForeignKey(
            name=c["name"],
            columns=c["columns"] or [],
            ref_table=c["ref_table"],
            ref_columns=c["ref_columns"] or [],
            table=c["table"],
            validated=c["validated"],
        )

    own = [c for c in cons if c["table"] == rel.qualified]
    partitioning = None
    if d.get("partition_key") or d.get("partitions") or d.get("partition_bound"):
        partitioning = Partitioning(
            key=d.get("partition_key"), partitions=d.get("partitions") or [], bound=d.get("partition_bound")
        )
    return TableSchema(
        name=rel.name,
        schema_name=rel.schema,
        kind=rel.kind_name,
        comment=rel.comment,
        row_estimate=rel.row_estimate,
        columns=[
            ColumnSchema(**{k: v for k, v in c.items() if k in ColumnSchema.model_fields})
            for c in d.get("columns") or []
        ],
        primary_key=pk,
        foreign_keys=[fk(c) for c in own if c["type"] == "f"],
        referenced_by=[
            fk(c) for c in cons if c["type"] == "f" and c["ref_table"] == rel.qualified and c["table"] != rel.qualified
        ],
        unique_constraints=[
            Constraint(name=c["name"], columns=c["columns"], definition=c["definition"])
            for c in own
            if c["type"] == "u"
        ],
        check_constraints=[
            Constraint(name=c["name"], columns=c["columns"], definition=c["definition"])
            for c in own
            if c["type"] in ("c", "x")
        ],
        indexes=[IndexInfo(**i) for i in d.get("indexes") or []],
        partitioning=partitioning,
        view_definition=d.get("view_definition"),
    )


async def database_overview(app: App) -> DatabaseOverview:
    rels = await app.catalog.relations()
    estimates = await app.catalog.stats_estimates()
    info = (
        await app.db.fetch(
            "SELECT current_database() AS db, pg_database_size(current_database()) AS size, "
            "current_setting('server_version') AS version"
        )
    )[0]
    safety = await app.catalog.cached("role_safety", app.db.role_safety)
    now = datetime.now(UTC)
    tables: list[OverviewTable] = []
    for r in rels:
        if r.parent or r.kind in ("v", "f"):
            continue
        rows = _rows_with_partitions(r, rels)
        size = _bytes_with_partitions(r, rels)
        est = estimates.get(r.oid)
        if r.kind == "p":  # partitions carry the statistics
            kids = [estimates[c.oid] for c in rels if c.parent == r.qualified and c.oid in estimates]
            est = kids[0] if kids else est
        last, last_col, growth, quality = None, None, None, None
        if est is not None:
            if est.avg_null_frac is not None:
                quality = round(100.0 * (1.0 - est.avg_null_frac), 1)
            stamps = [s for s in est.timestamps if s[1] is not None and s[1] <= now.replace(year=now.year + 1)]
            fresh = [s for s in stamps if _UPDATED.search(s[0])]
            if fresh:
                col, newest, _ = max(fresh, key=lambda s: s[1] or now)
                last, last_col = (newest.isoformat() if newest else None), col
            created = [s for s in stamps if _CREATED.search(s[0])]
            if created and rows:
                growth = round(rows * created[0][2] / 30.0, 2)
        tables.append(
            OverviewTable(
                name=r.name,
                schema_name=r.schema,
                kind=r.kind_name,
                row_count=rows,
                size=human_bytes(size),
                size_bytes=size,
                last_updated=last,
                last_updated_column=last_col,
                growth_rate_per_day=growth,
                quality_score=quality,
            )
        )
    total_rows = sum(t.row_count or 0 for t in tables)
    warning = safety.warning()
    msg = (
        f"{info['db']}: {len(tables)} tables, ~{total_rows:,} rows, {human_bytes(info['size'])} "
        f"(PostgreSQL {info['version']}; estimates from planner statistics)"
    )
    if warning:
        msg += f". WARNING: {warning}"
    return DatabaseOverview(
        database=info["db"],
        server_version=info["version"],
        total_tables=len(tables),
        total_rows=total_rows,
        exact=False,
        total_size=human_bytes(info["size"]) or "0 bytes",
        total_size_bytes=int(info["size"]),
        last_scanned=now.isoformat(),
        role_safety=RoleSafetyInfo(role=safety.role, read_only=safety.is_read_only, warning=warning),
        tables=tables,
        message=msg,
    )


async def table_stats(app: App, table_name: str, *, exact: bool, sample_size: int | None) -> TableStats:
    """get_table_stats: exact one-pass aggregates on small tables, TABLESAMPLE on large ones."""
    started = time.perf_counter()
    settings = app.settings
    rel = await app.catalog.resolve(table_name)
    detail = await app.catalog.table_detail(rel)
    cols = dbstats.column_specs(detail)
    rels = await app.catalog.relations()
    estimate = _rows_with_partitions(rel, rels)
    want = sample_size or settings.stats_sample_rows
    large = (estimate is None and rel.kind in ("v", "f")) or (estimate or 0) > settings.large_table_rows
    sample_percent: float | None = None
    sample_rows: int | None = None
    if large and not exact:
        if rel.kind in ("r", "p", "m") and estimate:
            sample_percent = min(100.0, max(0.0001, 100.0 * want / estimate))
        else:
            sample_rows = want
    async with app.db.read_only() as conn:
        raw = await dbstats.collect(
            conn,
            rel,
            cols,
            sample_percent=sample_percent,
            sample_rows=sample_rows,
            top=5,
            timeout_s=app.db.client_timeout_s(None),
        )
        stmt = await conn.prepare(f"SELECT * FROM {rel.sql_name} LIMIT {int(settings.sample_rows)}")
        sample_recs = await stmt.fetch()
        convs = converters_for(stmt.get_attributes())
        sample = SampleRows(
            columns=[a.name for a in stmt.get_attributes()],
            rows=[convert_row(rec, convs) for rec in sample_recs],
        )
    examined = int(raw.agg.get("n") or 0)
    is_exact = sample_percent is None and sample_rows is None
    row_count = examined if is_exact else int(estimate or examined)
    scale = 1.0 if is_exact or not examined else row_count / examined
    facts = column_facts(
        [(c.name, c.type, c.numeric) for c in cols],
        raw.agg,
        raw.mcv,
        scale=scale,
        row_count=row_count,
        planner=raw.planner,
    )
    q = quality_scores(raw.agg, len(cols))
    if is_exact:
        method = "exact: one aggregate pass over the whole table"
    elif sample_percent is not None:
        method = (
            f"sampled: TABLESAMPLE SYSTEM ({sample_percent:.4f}%) examined {examined:,} of ~{row_count:,} rows; "
            "row_count is the planner estimate, null/distinct counts from planner statistics where analysed"
        )
    else:
        method = f"sampled: first {examined:,} rows of the view"
    elapsed = round((time.perf_counter() - started) * 1000.0, 1)
    return TableStats(
        table=rel.qualified,
        row_count=row_count,
        exact=is_exact,
        method=method,
        sample_size=None if is_exact else examined,
        columns=[
            ColumnStats(
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
            for f in facts
        ],
        sample_rows=sample,
        data_quality=DataQuality(
            completeness=QualityMeasure(score=q.completeness, definition=COMPLETENESS_DEF, issues=0),
            consistency=QualityMeasure(score=q.consistency, definition=CONSISTENCY_DEF, issues=q.consistency_issues),
            accuracy=QualityMeasure(score=q.accuracy, definition=ACCURACY_DEF, issues=q.accuracy_issues),
            overall=q.overall,
        ),
        calculation_time_ms=elapsed,
        message=(
            f"{rel.qualified}: {row_count:,} rows ({'exact' if is_exact else 'estimate'}), {len(cols)} columns, "
            f"quality {q.overall}/100, in {elapsed} ms"
        ),
    )
