"""Analytics tools: calculate_metrics, compare_data, rank_entities, analyze_trends.

Each builds ONE aggregate statement (compare_data: two, run concurrently) from catalog-resolved identifiers
and bound values; Python only sees the aggregated rows.
"""

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from vf_mcp.app import App
from vf_mcp.compute.periods import compare_values, comparison_windows
from vf_mcp.concurrency import gather_all
from vf_mcp.db.builder import (
    Params,
    Table,
    bucket_sql,
    filter_sql,
    metric_sql,
    range_sql,
    where,
)
from vf_mcp.db.catalog import quote_ident
from vf_mcp.db.runner import fetch_converted
from vf_mcp.errors import InvalidArgumentError
from vf_mcp.models.analytics import (
    AnomalyPoint,
    CompareResult,
    Filter,
    ForecastPoint,
    Group,
    GroupValue,
    MetricsResult,
    MetricsSummary,
    RankedEntity,
    RankResult,
    Series,
    TimeBucket,
    TrendResult,
)
from vf_mcp.tools.common import DateArg, SourceArg, app_of, as_float, as_int, compact_json, respond, tool_errors
from vf_mcp.tools.core import READ_ONLY, TableName

MetricName = Literal["count", "sum", "avg", "min", "max", "distinct", "median", "p90", "p95", "stddev"]
Filters = Annotated[list[Filter], Field(description="AND-ed conditions {column, operator, value}")]
Refresh = Annotated[bool, Field(description="Bypass the 5-minute result cache")]
LABEL_NAMES = ("name", "full_name", "display_name", "title", "label", "company_name", "company", "description")
UNITS = {"daily": "day", "weekly": "week", "monthly": "month"}


async def load_table(app: App, table_name: str) -> Table:
    rel = await app.catalog.resolve(table_name)
    return Table.from_detail(rel, await app.catalog.table_detail(rel))


MAX_TREND_POINTS = 10_000  # points per answer (periods x groups): the same cap as calculate_metrics


def cache_key(tool: str, **args: Any) -> tuple[str, str]:
    return tool, compact_json({k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in args.items()})


async def cached(app: App, key: Any, model: type[BaseModel], refresh: bool) -> Any | None:
    hit = None if refresh else await app.query_cache.get(key, family="aggregation")
    return None if hit is None else model.model_validate({**hit, "from_cache": True})


def register(server: MCPServer[App]) -> None:
    """Register the analytics tools on `server`."""

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def calculate_metrics(
        table_name: TableName,
        metric: MetricName,
        ctx: Context[App],
        column: Annotated[str | None, Field(description="Column to aggregate (count: optional)")] = None,
        group_by: Annotated[
            list[str | TimeBucket] | None, Field(description="Columns and/or {column, period} time buckets")
        ] = None,
        filters: Filters | None = None,
        order_by: Annotated[Literal["asc", "desc"] | None, Field(description="Order groups by value")] = None,
        limit: Annotated[int, Field(ge=1, le=10_000)] = 100,
        refresh: Refresh = False,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, MetricsResult]:
        """Compute count/sum/avg/min/max/distinct/median/p90/p95/stddev, optionally grouped, inside PostgreSQL."""
        app = app_of(ctx, source)
        key = cache_key(
            "calculate_metrics", t=table_name, m=metric, c=column, g=group_by, f=filters, o=order_by, n=limit
        )
        if (hit := await cached(app, key, MetricsResult, refresh)) is not None:
            return respond(hit, _table_body(hit.columns, hit.results))
        table = await load_table(app, table_name)
        col = table.col(column) if column else None
        params = Params()
        agg = metric_sql(metric, col, table)
        groups: list[tuple[str, str]] = []  # (expression, output name)
        time_col = None
        for g in group_by or []:
            if isinstance(g, TimeBucket):
                tcol = table.col(g.column)
                if not tcol.is_time:
                    raise InvalidArgumentError(f"Column {tcol.name!r} is {tcol.type}: it cannot be bucketed by time.")
                time_col = tcol.name
                groups.append((bucket_sql(tcol, g.period, params, app.settings.time_zone), f"{tcol.name}_{g.period}"))
            else:
                gcol = table.col(g)
                groups.append((gcol.q, gcol.name))
        conds = filter_sql(table, filters or [], params)
        if groups:
            select = ", ".join(f"{expr} AS {quote_ident(name)}" for expr, name in groups)
            direction = "ASC" if order_by == "asc" else "DESC"
            order = (
                f"value {direction} NULLS LAST, {', '.join(str(i + 1) for i in range(len(groups)))}"
                if order_by
                else ", ".join(str(i + 1) for i in range(len(groups)))
            )
            sql = (
                f"SELECT {select}, {agg} AS value, count(*) AS records, sum(count(*)) OVER () AS total_records, "
                f"count(*) OVER () AS total_groups FROM {table.rel.sql_name}{where(conds)} "
                f"GROUP BY {', '.join(str(i + 1) for i in range(len(groups)))} ORDER BY {order} LIMIT {int(limit)}"
            )
        else:
            sql = f"SELECT {agg} AS value, count(*) AS records FROM {table.rel.sql_name}{where(conds)}"
        cols, rows, ms = await fetch_converted(app.db, sql, params.values)
        names = [c.name for c in cols]
        if groups:
            total = as_int(rows[0][names.index("total_records")]) if rows else 0
            total_groups = as_int(rows[0][names.index("total_groups")]) if rows else 0
            keep = len(names) - 2
            results = [r[:keep] for r in rows]
            out_cols = names[:keep]
        else:
            total = as_int(rows[0][1]) if rows else 0
            total_groups = None
            results = [[rows[0][0]]] if rows else []
            out_cols = ["value"]
        applied = f"{metric}({col.name if col else '*'})"
        if not total:
            msg = f"No rows match the filters in {table.rel.qualified}."
        elif groups:
            shown = len(results)
            msg = f"{applied} over {total:,} rows in {total_groups} group(s)" + (
                f", showing {shown} (limit {limit})" if shown < (total_groups or 0) else ""
            )
        else:
            msg = f"{applied} = {results[0][0]} over {total:,} rows"
        result = MetricsResult(
            columns=out_cols,
            results=results,
            summary=MetricsSummary(
                total_records=total, total_groups=total_groups, calculation_time_ms=ms, metric_applied=applied
            ),
            time_column=time_col,
            sql=sql,
            params=params.values,
            message=msg + f" ({ms:.1f} ms)",
        )
        await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
        return respond(result, _table_body(result.columns, result.results))

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def rank_entities(
        table_name: TableName,
        entity_column: Annotated[str, Field(description="Column identifying the entity, e.g. contractor_id")],
        rank_by: Annotated[str, Field(description="Column the aggregation applies to (count: any column)")],
        ctx: Context[App],
        aggregation: Literal["count", "sum", "avg", "min", "max"] = "count",
        direction: Literal["top", "bottom"] = "top",
        limit: Annotated[int, Field(ge=1, le=1000)] = 10,
        filters: Filters | None = None,
        refresh: Refresh = False,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, RankResult]:
        """Rank entities by an aggregate (top or bottom N, ties share a rank) with share of total and labels."""
        app = app_of(ctx, source)
        key = cache_key(
            "rank_entities", t=table_name, e=entity_column, r=rank_by, a=aggregation, d=direction, n=limit, f=filters
        )
        if (hit := await cached(app, key, RankResult, refresh)) is not None:
            return respond(hit, _rank_body(hit))
        table = await load_table(app, table_name)
        ent = table.col(entity_column)
        measure = table.col(rank_by)
        params = Params()
        agg = metric_sql(aggregation, measure, table, alias="t")
        conds = filter_sql(table, filters or [], params, alias="t")
        label_join, label_col, label_expr = await _label_for(app, table, ent.name)
        order = "DESC" if direction == "top" else "ASC"
        share = "100.0 * a.value / NULLIF(sum(a.value) OVER (), 0)" if aggregation in ("count", "sum") else "NULL"
        sql = (
            f"WITH a AS (SELECT t.{ent.q} AS entity, {agg} AS value FROM {table.rel.sql_name} t"
            f"{where(conds)} GROUP BY 1), r AS (SELECT a.entity, a.value, "
            f"RANK() OVER (ORDER BY a.value {order} NULLS LAST) AS rank, {share} AS percent_of_total, "
            f"count(*) OVER () AS total_entities FROM a) "
            f"SELECT r.rank, r.entity, {label_expr} AS label, r.value, r.percent_of_total, r.total_entities "
            f"FROM r{label_join} ORDER BY r.rank, r.entity LIMIT {int(limit)}"
        )
        _, rows, ms = await fetch_converted(app.db, sql, params.values)
        total = as_int(rows[0][5]) if rows else 0
        ranking = [
            RankedEntity(
                rank=as_int(r[0]),
                entity=r[1],
                label=r[2],
                value=r[3],
                percent_of_total=None if r[4] is None else round(as_float(r[4]) or 0.0, 2),
            )
            for r in rows
        ]
        applied = f"{aggregation}({measure.name})"
        lead = ranking[0] if ranking else None
        msg = (
            f"{direction} {len(ranking)} of {total} {ent.name} values by {applied}"
            + (f"; #1 {lead.label or lead.entity} with {lead.value}" if lead else "")
            + f" ({ms:.1f} ms)"
        )
        result = RankResult(
            ranking=ranking,
            total_entities=total,
            ranking_method="RANK(): ties share a rank and the next rank is skipped (1, 1, 3)",
            label_column=label_col,
            calculation_time_ms=ms,
            sql=sql,
            params=params.values,
            message=msg if ranking else f"No rows match the filters in {table.rel.qualified}.",
        )
        await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
        return respond(result, _rank_body(result))

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def compare_data(
        table_name: TableName,
        metric: MetricName,
        ctx: Context[App],
        column: str | None = None,
        group1: Annotated[Group | None, Field(description="{label, filters}; with compare_by=time: omit")] = None,
        group2: Group | None = None,
        compare_by: Annotated[
            Literal["time", "entity", "status"] | None, Field(description="time: this period vs the previous")
        ] = None,
        period: Literal["day", "week", "month", "quarter", "year"] | None = None,
        against: Annotated[
            Literal["previous_period", "last_year"], Field(description="For compare_by=time")
        ] = "previous_period",
        time_column: str | None = None,
        filters: Annotated[list[Filter] | None, Field(description="Applied to both groups")] = None,
        as_of: Annotated[DateArg | None, Field(description="Reference date for compare_by=time; default today")] = None,
        refresh: Refresh = False,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, CompareResult]:
        """Compare a metric between two groups, or this period-to-date vs the previous period or last year."""
        app = app_of(ctx, source)
        key = cache_key(
            "compare_data",
            t=table_name,
            m=metric,
            c=column,
            g1=group1,
            g2=group2,
            cb=compare_by,
            p=period,
            a=against,
            tc=time_column,
            f=filters,
            d=str(as_of),
        )
        if (hit := await cached(app, key, CompareResult, refresh)) is not None:
            return respond(hit)
        table = await load_table(app, table_name)
        col = table.col(column) if column else None
        time_col_name = None
        specs: list[tuple[str, str, Params]] = []  # (label, sql, params)
        if compare_by == "time" or (group1 is None and group2 is None and period):
            tcol = table.time_column(time_column)
            time_col_name = tcol.name
            (c_start, c_end), (p_start, p_end) = comparison_windows(
                period or "month", against, as_of or datetime.now(UTC).date()
            )
            for label, start, end in (
                (f"{period or 'month'} to {c_end - timedelta(days=1):%Y-%m-%d}", c_start, c_end),
                (
                    f"{'previous ' + (period or 'month') if against == 'previous_period' else 'last year'} "
                    f"to {p_end - timedelta(days=1):%Y-%m-%d}",
                    p_start,
                    p_end,
                ),
            ):
                params = Params()
                conds = range_sql(tcol, start, end, params, app.settings.time_zone)
                conds += filter_sql(table, filters or [], params)
                sql = (
                    f"SELECT {metric_sql(metric, col, table)} AS value, count(*) AS records "
                    f"FROM {table.rel.sql_name}{where(conds)}"
                )
                specs.append((f"{label} ({start:%Y-%m-%d}..{end - timedelta(days=1):%Y-%m-%d})", sql, params))
        else:
            if group1 is None or group2 is None:
                raise InvalidArgumentError(
                    "Pass group1 and group2 ({label, filters}), or compare_by='time' with period."
                )
            for g in (group1, group2):
                params = Params()
                conds = filter_sql(table, (filters or []) + g.filters, params)
                sql = (
                    f"SELECT {metric_sql(metric, col, table)} AS value, count(*) AS records "
                    f"FROM {table.rel.sql_name}{where(conds)}"
                )
                specs.append((g.label, sql, params))
        started = asyncio.get_running_loop().time()
        answers = await gather_all(*(fetch_converted(app.db, s, p.values) for _, s, p in specs))
        ms = round((asyncio.get_running_loop().time() - started) * 1000.0, 3)
        values = [(a[1][0][0], as_int(a[1][0][1])) for a in answers]
        g1 = GroupValue(label=specs[0][0], value=values[0][0], records=values[0][1])
        g2 = GroupValue(label=specs[1][0], value=values[1][0], records=values[1][1])
        v1, v2 = as_float(g1.value), as_float(g2.value)
        diff, pct, note, trend = compare_values(v1, v2, app.settings.compare_stable_threshold_pct)
        applied = f"{metric}({col.name if col else '*'})"
        insight = insight_sentence(applied, g1, g2, pct, note, trend)
        result = CompareResult(
            group1=g1,
            group2=g2,
            difference=diff,
            percent_change=pct,
            percent_change_note=note,
            trend=trend,
            insight=insight,
            time_column=time_col_name,
            calculation_time_ms=ms,
            sql=[s for _, s, _ in specs],
            message=insight + f" ({ms:.1f} ms, both queries concurrently)",
        )
        await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
        return respond(result)

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def analyze_trends(
        table_name: TableName,
        metric: MetricName,
        period: Literal["daily", "weekly", "monthly"],
        start_date: DateArg,
        ctx: Context[App],
        column: str | None = None,
        time_column: Annotated[str | None, Field(description="Default: a created_at-like column")] = None,
        end_date: Annotated[DateArg | None, Field(description="Inclusive; default today")] = None,
        group_by: Annotated[str | None, Field(description="One series per value (top groups)")] = None,
        top_groups: Annotated[int, Field(ge=1, le=20)] = 5,
        forecast_periods: Annotated[int, Field(ge=0, le=60)] = 3,
        filters: Filters | None = None,
        refresh: Refresh = False,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, TrendResult]:
        """Trend of a metric per day/week/month: moving averages, direction, growth, forecast, anomalies."""
        app = app_of(ctx, source)
        end = end_date or datetime.now(UTC).date()
        if end < start_date:
            raise InvalidArgumentError(f"end_date {end} is before start_date {start_date}.")
        days = (end - start_date).days + 1
        points = {"daily": days, "weekly": days // 7 + 1, "monthly": days // 28 + 1}[period]
        points *= top_groups if group_by else 1
        if points > MAX_TREND_POINTS:
            raise InvalidArgumentError(
                f"That is about {points:,} points ({period} from {start_date} to {end}"
                f"{f', {top_groups} groups' if group_by else ''}); the limit is {MAX_TREND_POINTS:,}. "
                "Use a coarser period (weekly, monthly), a later start_date, or fewer top_groups."
            )
        key = cache_key(
            "analyze_trends",
            t=table_name,
            m=metric,
            p=period,
            s=str(start_date),
            e=str(end),
            c=column,
            tc=time_column,
            g=group_by,
            n=top_groups,
            fp=forecast_periods,
            f=filters,
        )
        if (hit := await cached(app, key, TrendResult, refresh)) is not None:
            return respond(hit, _trend_body(hit))
        table = await load_table(app, table_name)
        col = table.col(column) if column else None
        tcol = table.time_column(time_column)
        tz = app.settings.time_zone
        unit = UNITS[period]
        params = Params()
        bucket = bucket_sql(tcol, unit, params, tz, alias="t")
        start_ts = datetime.combine(start_date, datetime.min.time())
        end_ts = datetime.combine(end + timedelta(days=1), datetime.min.time())
        conds = range_sql(tcol, start_ts, end_ts, params, tz, alias="t")
        conds += filter_sql(table, filters or [], params, alias="t")
        agg = metric_sql(metric, col, table, alias="t")
        empty = "0" if metric in ("count", "sum", "distinct") else "NULL"
        first = params.add(start_ts, "timestamp")
        last = params.add(end_ts - timedelta(microseconds=1), "timestamp")
        buckets = f"SELECT generate_series(date_trunc('{unit}', {first}), {last}, interval '1 {unit}') AS b"
        if group_by:
            gcol = table.col(group_by)
            sql = (
                f"WITH agg AS (SELECT {bucket} AS b, t.{gcol.q} AS g, {agg} AS v FROM {table.rel.sql_name} t"
                f"{where(conds)} GROUP BY 1, 2), top AS (SELECT g FROM agg GROUP BY g "
                f"ORDER BY sum(v) DESC NULLS LAST, g LIMIT {int(top_groups)}), buckets AS ({buckets}) "
                f"SELECT top.g, buckets.b, coalesce(agg.v, {empty}) AS v FROM top CROSS JOIN buckets "
                f"LEFT JOIN agg ON agg.b = buckets.b AND agg.g IS NOT DISTINCT FROM top.g ORDER BY 1, 2"
            )
        else:
            sql = (
                f"WITH agg AS (SELECT {bucket} AS b, {agg} AS v FROM {table.rel.sql_name} t{where(conds)} "
                f"GROUP BY 1), buckets AS ({buckets}) SELECT NULL AS g, buckets.b, coalesce(agg.v, {empty}) AS v "
                f"FROM buckets LEFT JOIN agg ON agg.b = buckets.b ORDER BY 2"
            )
        _, rows, ms = await fetch_converted(app.db, sql, params.values)
        from vf_mcp.compute.trends import analyze_series

        grouped: dict[str, tuple[Any, list[str], list[float | None]]] = {}
        for g, b, v in rows:
            entry = grouped.setdefault(compact_json(g), (g, [], []))
            entry[1].append(str(b)[:10])
            entry[2].append(as_float(v))
        applied = f"{metric}({col.name if col else '*'})"
        series: list[Series] = []
        confidence = 0.95
        for g, periods, values in grouped.values():
            analysis = analyze_series(
                [date.fromisoformat(p) for p in periods],
                values,
                period=period,
                forecast_periods=forecast_periods,
                stable_threshold_pct=app.settings.compare_stable_threshold_pct,
                label=applied,
            )
            confidence = analysis.confidence_level
            series.append(_series_model(g, periods, values, analysis))
        head = series[0] if series else None
        msg = (
            f"{applied} per {unit} from {start_date} to {end} on {tcol.name}: "
            + (
                f"{head.direction}"
                + (f", {head.total_change_pct:+.1f}% over the range" if head.total_change_pct is not None else "")
                if head
                else "no data"
            )
            + (f" ({len(series)} series)" if group_by else "")
            + f" ({ms:.1f} ms)"
        )
        result = TrendResult(
            period=period,
            time_column=tcol.name,
            metric_applied=applied,
            start_date=str(start_date),
            end_date=str(end),
            confidence_level=confidence,
            series=series,
            calculation_time_ms=ms,
            sql=sql,
            params=[str(p) for p in params.values],
            message=msg,
        )
        await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
        return respond(result, _trend_body(result))


def _series_model(group: Any, periods: list[str], values: list[float | None], a: Any) -> Series:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    return Series(
        group=group,
        periods=periods,
        values=values,
        moving_averages={k: [r(x) for x in v] for k, v in a.moving_averages.items()},
        direction=a.direction,
        growth_rate_pct=r(a.growth_rate_pct),
        total_change_pct=r(a.total_change_pct),
        trend_significant=a.trend_significant,
        slope_per_period=round(a.slope_per_period, 6),
        r_squared=round(a.r_squared, 6),
        volatility=round(a.volatility, 6),
        forecast=[
            ForecastPoint(
                period_start=str(f.period_start)[:10],
                value=round(f.value, 4),
                lower=round(f.lower, 4),
                upper=round(f.upper, 4),
            )
            for f in a.forecast
        ],
        anomalies=[
            AnomalyPoint(
                period_start=str(x.period_start)[:10],
                value=x.value,
                expected=round(x.expected, 4),
                lower=round(x.lower, 4),
                upper=round(x.upper, 4),
                severity=x.severity,
            )
            for x in a.anomalies
        ],
        insights=list(a.insights),
    )


def insight_sentence(
    applied: str, g1: GroupValue, g2: GroupValue, pct: float | None, note: str | None, trend: str | None
) -> str:
    if trend is None:
        return f"Cannot compare {applied}: {note}."
    if pct is None:
        return f"{applied} is {g1.value} for {g1.label} and {g2.value} for {g2.label}; {note}."
    if trend == "stable":
        return f"{applied} is stable: {g1.value} for {g1.label} vs {g2.value} for {g2.label} ({pct:+.1f}%)."
    word = "higher" if trend == "up" else "lower"
    return f"{applied} is {abs(pct):.1f}% {word} for {g1.label} ({g1.value}) than for {g2.label} ({g2.value})."


async def _label_for(app: App, table: Table, column: str) -> tuple[str, str | None, str]:
    """When `column` is a single-column foreign key, join the referenced table's name-like column as a label."""
    detail = await app.catalog.table_detail(table.rel)
    for c in detail.get("constraints") or []:
        if c["type"] != "f" or c["table"] != table.rel.qualified or c["columns"] != [column]:
            continue
        ref = await app.catalog.resolve(_qualified_ref(c["ref_table"]))
        ref_detail = await app.catalog.table_detail(ref)
        texts = [x["name"] for x in ref_detail.get("columns") or [] if x.get("category") == "S"]
        label = next((n for want in LABEL_NAMES for n in texts if n.lower() == want), None)
        label = label or next((n for n in texts if "name" in n.lower()), None) or (texts[0] if texts else None)
        if label is None:
            return "", None, "NULL"
        key = quote_ident(c["ref_columns"][0])
        join = f" LEFT JOIN {ref.sql_name} lbl ON lbl.{key} = r.entity"
        return join, f"{ref.qualified}.{label}", f"lbl.{quote_ident(label)}"
    return "", None, "NULL"


def _qualified_ref(name: str) -> str:
    schema, _, table = name.partition(".")
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def _table_body(columns: list[str], rows: list[list[Any]]) -> str:
    return compact_json(columns) + "\n" + "\n".join(compact_json(r) for r in rows)


def _rank_body(result: RankResult) -> str:
    head = compact_json(["rank", "entity", "label", "value", "percent_of_total"])
    return (
        head
        + "\n"
        + "\n".join(compact_json([e.rank, e.entity, e.label, e.value, e.percent_of_total]) for e in result.ranking)
    )


def _trend_body(result: TrendResult) -> str:
    lines = []
    for s in result.series:
        prefix = f"[{s.group}] " if s.group is not None else ""
        lines.append(prefix + "; ".join(s.insights))
        lines.append(compact_json(list(zip(s.periods, s.values, strict=True))))
        if s.forecast:
            lines.append("forecast " + compact_json([[f.period_start, f.value, f.lower, f.upper] for f in s.forecast]))
        if s.anomalies:
            lines.append("anomalies " + compact_json([[a.period_start, a.value, a.expected] for a in s.anomalies]))
    return "\n".join(lines)
