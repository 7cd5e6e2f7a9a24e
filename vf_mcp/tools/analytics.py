"""Analytics tools: calculate_metrics, compare_data, rank_entities, analyze_trends.

Each builds ONE aggregate statement (compare_data: two, run concurrently) from catalog-resolved identifiers
and bound values (db/statements/analytics.py); Python only sees the aggregated rows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal, TypeVar

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from vf_mcp.app import App
from vf_mcp.compute import metrics as text
from vf_mcp.compute.periods import (
    PERIOD_UNITS,
    CalendarUnit,
    TrendPeriod,
    approx_buckets,
    compare_values,
    comparison_windows,
)
from vf_mcp.compute.trends import TrendAnalysis, analyze_series
from vf_mcp.concurrency import gather_all
from vf_mcp.db.analytics import entity_label, fetch_metrics, fetch_ranking, fetch_trend, fetch_value, load_table
from vf_mcp.db.builder import Col, Statement, Table
from vf_mcp.db.statements.analytics import (
    metrics_statement,
    rank_statement,
    trend_statement,
    value_statement,
)
from vf_mcp.errors import InvalidArgumentError
from vf_mcp.jsontypes import as_float
from vf_mcp.models.analytics import (
    AnomalyPoint,
    CompareResult,
    Filter,
    ForecastPoint,
    Group,
    GroupValue,
    Metric,
    MetricsResult,
    MetricsSummary,
    RankAggregation,
    RankedEntity,
    RankResult,
    Series,
    TimeBucket,
    TrendResult,
)
from vf_mcp.tools.common import (
    DateArg,
    SourceArg,
    TableName,
    ToolDef,
    app_of,
    compact_json,
    respond,
    tool_errors,
)

Filters = Annotated[list[Filter], Field(description="AND-ed conditions {column, operator, value}")]
Refresh = Annotated[bool, Field(description="Bypass the 5-minute result cache")]
MAX_TREND_POINTS = 10_000  # points per answer (periods x groups): the same cap as calculate_metrics
M = TypeVar("M", bound=BaseModel)


@tool_errors
async def calculate_metrics(
    table_name: TableName,
    metric: Metric,
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
    key = cache_key("calculate_metrics", t=table_name, m=metric, c=column, g=group_by, f=filters, o=order_by, n=limit)
    if (hit := await cached(app, key, MetricsResult, refresh)) is not None:
        return respond(hit, _table_body(hit.columns, hit.results))
    table = await load_table(app.catalog, table_name)
    col = table.col(column) if column else None
    query = metrics_statement(
        table, metric, col, group_by or [], filters or [], order_by, limit, app.settings.time_zone
    )
    found = await fetch_metrics(app.db, query)
    applied = text.applied(metric, col.name if col else None)
    first = found.results[0][0] if found.results else None
    msg = text.metrics_message(
        applied, table.rel.qualified, found.total_records, found.total_groups, first, len(found.results), limit
    )
    result = MetricsResult(
        columns=found.columns,
        results=found.results,
        summary=MetricsSummary(
            total_records=found.total_records,
            total_groups=found.total_groups,
            calculation_time_ms=found.ms,
            metric_applied=applied,
        ),
        time_column=query.time_column,
        sql=query.statement.sql,
        params=list(query.statement.params),
        message=msg + f" ({found.ms:.1f} ms)",
    )
    await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
    return respond(result, _table_body(result.columns, result.results))


@tool_errors
async def rank_entities(
    table_name: TableName,
    entity_column: Annotated[str, Field(description="Column identifying the entity, e.g. contractor_id")],
    rank_by: Annotated[str, Field(description="Column the aggregation applies to (count: any column)")],
    ctx: Context[App],
    aggregation: RankAggregation = "count",
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
    table = await load_table(app.catalog, table_name)
    ent, measure = table.col(entity_column), table.col(rank_by)
    label = await entity_label(app.catalog, table, ent.name)
    stmt = rank_statement(table, ent, measure, aggregation, direction, limit, filters or [], label)
    rows, ms = await fetch_ranking(app.db, stmt)
    ranking = [
        RankedEntity(rank=r.rank, entity=r.entity, label=r.label, value=r.value, percent_of_total=r.percent_of_total)
        for r in rows
    ]
    total = rows[0].total_entities if rows else 0
    applied = text.applied(aggregation, measure.name)
    lead = (ranking[0].label or ranking[0].entity, ranking[0].value) if ranking else None
    msg = text.rank_message(direction, len(ranking), total, ent.name, applied, lead) + f" ({ms:.1f} ms)"
    result = RankResult(
        ranking=ranking,
        total_entities=total,
        ranking_method="RANK(): ties share a rank and the next rank is skipped (1, 1, 3)",
        label_column=label.column,
        calculation_time_ms=ms,
        sql=stmt.sql,
        params=list(stmt.params),
        message=msg if ranking else f"No rows match the filters in {table.rel.qualified}.",
    )
    await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
    return respond(result, _rank_body(result))


@tool_errors
async def compare_data(
    table_name: TableName,
    metric: Metric,
    ctx: Context[App],
    column: str | None = None,
    group1: Annotated[Group | None, Field(description="{label, filters}; with compare_by=time: omit")] = None,
    group2: Group | None = None,
    compare_by: Annotated[
        Literal["time", "entity", "status"] | None, Field(description="time: this period vs the previous")
    ] = None,
    period: CalendarUnit | None = None,
    against: Annotated[Literal["previous_period", "last_year"], Field(description="For compare_by=time")] = (
        "previous_period"
    ),
    time_column: str | None = None,
    filters: Annotated[list[Filter] | None, Field(description="Applied to both groups")] = None,
    as_of: Annotated[DateArg | None, Field(description="Reference date for compare_by=time; default today")] = None,
    refresh: Refresh = False,
    source: SourceArg = None,
) -> Annotated[CallToolResult, CompareResult]:
    """Compare a metric between two groups, or this period-to-date vs the previous period or last year."""
    app = app_of(ctx, source)
    key = cache_key(
        "compare_data", t=table_name, m=metric, c=column, g1=group1, g2=group2, cb=compare_by, p=period,
        a=against, tc=time_column, f=filters, d=str(as_of),
    )  # fmt: skip
    if (hit := await cached(app, key, CompareResult, refresh)) is not None:
        return respond(hit)
    table = await load_table(app.catalog, table_name)
    col = table.col(column) if column else None
    when = (period, against, as_of or datetime.now(UTC).date(), time_column)
    by_time = compare_by == "time" or (group1 is None and group2 is None and period is not None)
    time_col_name, specs = _compare_statements(
        table, metric, col, filters or [], app.settings.time_zone, by_time, when, (group1, group2)
    )
    started = asyncio.get_running_loop().time()
    values = await gather_all(*(fetch_value(app.db, stmt) for _, stmt in specs))
    ms = round((asyncio.get_running_loop().time() - started) * 1000.0, 3)
    g1, g2 = (
        GroupValue(label=label, value=v.value, records=v.records) for (label, _), v in zip(specs, values, strict=True)
    )
    diff, pct, note, trend = compare_values(
        as_float(g1.value), as_float(g2.value), app.settings.compare_stable_threshold_pct
    )
    applied = text.applied(metric, col.name if col else None)
    insight = text.insight_sentence(applied, ((g1.label, g1.value), (g2.label, g2.value)), pct, note, trend)
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
        sql=[stmt.sql for _, stmt in specs],
        message=insight + f" ({ms:.1f} ms, both queries concurrently)",
    )
    await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
    return respond(result)


@tool_errors
async def analyze_trends(
    table_name: TableName,
    metric: Metric,
    period: TrendPeriod,
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
    _check_trend_size(period, start_date, end, top_groups if group_by else None)
    key = cache_key(
        "analyze_trends", t=table_name, m=metric, p=period, s=str(start_date), e=str(end), c=column,
        tc=time_column, g=group_by, n=top_groups, fp=forecast_periods, f=filters,
    )  # fmt: skip
    if (hit := await cached(app, key, TrendResult, refresh)) is not None:
        return respond(hit, _trend_body(hit))
    table = await load_table(app.catalog, table_name)
    col = table.col(column) if column else None
    tcol = table.time_column(time_column)
    span = (
        datetime.combine(start_date, datetime.min.time()),
        datetime.combine(end + timedelta(days=1), datetime.min.time()),
    )
    group = (group_by, top_groups) if group_by else None
    stmt = trend_statement(table, metric, col, period, tcol, span, filters or [], app.settings.time_zone, group)
    points, ms = await fetch_trend(app.db, stmt)
    applied = text.applied(metric, col.name if col else None)
    stable_pct = app.settings.compare_stable_threshold_pct
    analyses = [
        (g, periods, values, _analyze(periods, values, period, forecast_periods, stable_pct, applied))
        for g, periods, values in text.group_series(points)
    ]
    series = [_series_model(g, periods, values, a) for g, periods, values, a in analyses]
    head = (series[0].direction, series[0].total_change_pct) if series else None
    unit = PERIOD_UNITS[period]
    msg = text.trend_message(applied, unit, (start_date, end), tcol.name, head, len(series) if group_by else None)
    result = TrendResult(
        period=period,
        time_column=tcol.name,
        metric_applied=applied,
        start_date=str(start_date),
        end_date=str(end),
        confidence_level=analyses[-1][3].confidence_level if analyses else 0.95,
        series=series,
        calculation_time_ms=ms,
        sql=stmt.sql,
        params=[str(p) for p in stmt.params],
        message=msg + f" ({ms:.1f} ms)",
    )
    await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
    return respond(result, _trend_body(result))


TOOLS = (ToolDef(calculate_metrics), ToolDef(compare_data), ToolDef(rank_entities), ToolDef(analyze_trends))


def _check_trend_size(period: TrendPeriod, start: date, end: date, groups: int | None) -> None:
    """Refuse a trend whose answer would exceed MAX_TREND_POINTS (periods x groups), before any query."""
    if end < start:
        raise InvalidArgumentError(f"end_date {end} is before start_date {start}.")
    points = approx_buckets(period, (end - start).days + 1) * (groups or 1)
    if points > MAX_TREND_POINTS:
        raise InvalidArgumentError(
            f"That is about {points:,} points ({period} from {start} to {end}"
            f"{f', {groups} groups' if groups else ''}); the limit is {MAX_TREND_POINTS:,}. "
            "Use a coarser period (weekly, monthly), a later start_date, or fewer top_groups."
        )


def _compare_statements(
    table: Table,
    metric: Metric,
    col: Col | None,
    filters: list[Filter],
    tz: str,
    by_time: bool,
    when: tuple[CalendarUnit | None, Literal["previous_period", "last_year"], date, str | None],
    groups: tuple[Group | None, Group | None],
) -> tuple[str | None, list[tuple[str, Statement]]]:
    """compare_data's (time column, [(label, statement)] x 2): two period-to-date windows, or two filter groups."""
    if by_time:
        period, against, as_of, time_column = when
        tcol = table.time_column(time_column)
        windows = comparison_windows(period or "month", against, as_of)
        labels = text.window_labels(period or "month", against, windows)
        return tcol.name, [
            (label, value_statement(table, metric, col, filters, tz, (tcol, start, end)))
            for label, (start, end) in zip(labels, windows, strict=True)
        ]
    group1, group2 = groups
    if group1 is None or group2 is None:
        raise InvalidArgumentError("Pass group1 and group2 ({label, filters}), or compare_by='time' with period.")
    return None, [(g.label, value_statement(table, metric, col, filters + g.filters, tz)) for g in (group1, group2)]


def _analyze(
    periods: list[str], values: list[float | None], period: TrendPeriod, forecast: int, stable_pct: float, label: str
) -> TrendAnalysis:
    return analyze_series(
        text.as_dates(periods),
        values,
        period=period,
        forecast_periods=forecast,
        stable_threshold_pct=stable_pct,
        label=label,
    )


def cache_key(tool: str, **args: object) -> tuple[str, str]:
    return tool, compact_json({k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in args.items()})


async def cached(app: App, key: tuple[str, str], model: type[M], refresh: bool) -> M | None:
    hit = None if refresh else await app.query_cache.get(key, family="aggregation")
    return None if hit is None else model.model_validate({**hit, "from_cache": True})


def _series_model(group: object, periods: list[str], values: list[float | None], a: TrendAnalysis) -> Series:
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


def _table_body(columns: list[str], rows: list[list[object]]) -> str:
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
