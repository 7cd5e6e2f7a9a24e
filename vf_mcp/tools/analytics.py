"""Analytics tools: calculate_metrics, compare_data, rank_entities, analyze_trends.

Each builds ONE aggregate statement (compare_data: two, run concurrently) from catalog-resolved identifiers
and bound values (db/statements/analytics.py); Python only sees the aggregated rows.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal, TypeVar

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from vf_mcp.app import App
from vf_mcp.compute import metrics as text
from vf_mcp.compute.periods import (
    PERIOD_UNITS,
    CalendarUnit,
    Coverage,
    TrendPeriod,
    Window,
    approx_buckets,
    compare_values,
    comparison_windows,
    partial_buckets,
    today_in,
    window_bounds,
    window_text,
)
from vf_mcp.compute.trends import TrendAnalysis, analyze_series
from vf_mcp.concurrency import gather_all
from vf_mcp.db.analytics import (
    Ranking,
    fetch_metrics,
    fetch_ranking,
    fetch_trend,
    fetch_value,
    load_table,
)
from vf_mcp.db.builder import Col, Statement, Table
from vf_mcp.db.statements.analytics import (
    EntityLabel,
    conventions,
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
    NullEntity,
    PartialPeriod,
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
Refresh = bool  # skips the result cache (5 minutes); the name says it
MetricArg = Annotated[Metric, Field(description="median/p90/p95: percentile_cont")]
MAX_TREND_POINTS = 10_000  # points per answer (periods x groups): the same cap as calculate_metrics
M = TypeVar("M", bound=BaseModel)


@tool_errors
async def calculate_metrics(
    table_name: TableName,
    metric: MetricArg,
    ctx: Context[App],
    column: Annotated[str | None, Field(description="count: optional")] = None,
    group_by: Annotated[
        list[str | TimeBucket] | None, Field(description="Columns and/or {column, period} time buckets")
    ] = None,
    filters: Filters | None = None,
    order_by: Annotated[Literal["asc", "desc"] | None, Field(description="Order groups by value")] = None,
    limit: Annotated[int, Field(ge=1, le=10_000)] = 100,
    refresh: Refresh = False,
    source: SourceArg = None,
) -> Annotated[CallToolResult, MetricsResult]:
    """Compute a metric (count, sum, avg, min, max, distinct, percentiles, stddev), optionally grouped by
    columns or time buckets, inside the database."""
    app = app_of(ctx, source)
    key = cache_key("calculate_metrics", t=table_name, m=metric, c=column, g=group_by, f=filters, o=order_by, n=limit)
    if (hit := await cached(app, key, MetricsResult, refresh)) is not None:
        return respond(hit, _table_body(hit.columns, hit.results))
    table = await load_table(app.catalog, table_name)
    col = table.col(column) if column else None
    query = app.engine.metrics_statement(
        table, metric, col, group_by or [], filters or [], order_by, limit, app.settings.time_zone
    )
    found = await fetch_metrics(app.db, query)
    applied = text.applied(metric, col.name if col else None)
    first = found.results[0][0] if found.results else None
    msg = text.metrics_message(
        applied,
        table.rel.qualified,
        found.total_records,
        found.total_groups,
        text.short(first),
        len(found.results),
        limit,
    )
    value_at = found.columns.index("value") if "value" in found.columns else -1
    values = [r[value_at] for r in found.results]
    tie = text.cutoff(values, found.tied[-1], values[-1]) if found.tied and values else None
    if note := text.cutoff_note(tie, "groups", limit):
        msg += f"; {note}"
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
        time_zone=app.settings.time_zone,
        conventions=conventions(
            table, metric, filters or [], app.settings.time_zone, times=query.time_column is not None
        ),
        tied_at_cutoff=tie.tied if tie else None,
        tied_not_shown=tie.not_shown if tie else 0,
        sql=query.statement.sql,
        params=list(query.statement.params),
        message=msg + f" ({found.ms:.1f} ms)",
    )
    await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
    return respond(result, _table_body(result.columns, result.results))


@tool_errors
async def rank_entities(
    table_name: TableName,
    entity_column: Annotated[str, Field(description="e.g. contractor_id")],
    rank_by: Annotated[str, Field(description="Column aggregated (count: any)")],
    ctx: Context[App],
    aggregation: RankAggregation = "count",
    direction: Literal["top", "bottom"] = "top",
    limit: Annotated[int, Field(ge=1, le=1000)] = 10,
    filters: Filters | None = None,
    refresh: Refresh = False,
    source: SourceArg = None,
) -> Annotated[CallToolResult, RankResult]:
    """Rank entities by an aggregate (top or bottom N, ties share a rank) with share of total and labels.

    NULLs are reported apart (null_entity); a tie cut by the limit is counted (tied_not_shown).
    """
    app = app_of(ctx, source)
    key = cache_key(
        "rank_entities", t=table_name, e=entity_column, r=rank_by, a=aggregation, d=direction, n=limit, f=filters
    )
    if (hit := await cached(app, key, RankResult, refresh)) is not None:
        return respond(hit, _rank_body(hit))
    table = await load_table(app.catalog, table_name)
    ent, measure = table.col(entity_column), table.col(rank_by)
    label = await app.engine.entity_label(app.catalog, table, ent.name)
    stmt = app.engine.rank_statement(table, ent, measure, aggregation, direction, limit, filters or [], label)
    found = await fetch_ranking(app.db, stmt)
    result = _rank_result(found, label, (table, ent.name, text.applied(aggregation, measure.name)), direction, limit)
    result.time_zone = app.settings.time_zone
    result.conventions = conventions(table, aggregation, filters or [], app.settings.time_zone, times=False)
    result.sql, result.params = stmt.sql, list(stmt.params)
    await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
    return respond(result, _rank_body(result))


def _rank_result(
    found: Ranking, label: EntityLabel, what: tuple[Table, str, str], direction: str, limit: int
) -> RankResult:
    """rank_entities' answer: the ranking, the tie at the cut-off and the NULL group, said in the message."""
    table, entity, applied = what
    rows, ms = found.rows, found.ms
    ranking = [
        RankedEntity(
            rank=r.rank,
            entity=r.entity,
            label=r.label,
            value=r.value,
            percent_of_total=r.percent_of_total,
            records=r.records,
        )
        for r in rows
    ]
    total = rows[0].total_entities if rows else (found.null_group.total_entities if found.null_group else 0)
    lead = (ranking[0].label or ranking[0].entity, text.short(ranking[0].value)) if ranking else None
    msg = text.rank_message(direction, len(ranking), total, entity, applied, lead)
    tie = text.cutoff([r.rank for r in rows], rows[-1].tied, rows[-1].value, rank=True) if rows else None
    notes = [text.cutoff_note(tie, f"{entity} values", limit)]
    nul = found.null_group
    if nul is not None:
        notes.append(
            f"{nul.records:,} row(s) with {entity} NULL are not ranked (their {applied} = {text.short(nul.value)}"
            + (f", {nul.percent_of_total}% of the total" if nul.percent_of_total is not None else "")
            + "): see null_entity"
        )
    if label.key:
        notes.append(f"labels from {label.column} via {label.key}")
    if not ranking:
        msg = f"No rows with a non-NULL {entity} match the filters in {table.rel.qualified}"
    return RankResult(
        ranking=ranking,
        total_entities=total,
        ranking_method="RANK(): ties share a rank and the next rank is skipped (1, 1, 3); NULL entities not ranked",
        label_column=label.column,
        label_key=label.key,
        tied_at_cutoff=tie.tied if tie else None,
        tied_not_shown=tie.not_shown if tie else 0,
        null_entity=None
        if nul is None
        else NullEntity(records=nul.records, value=nul.value, percent_of_total=nul.percent_of_total),
        time_zone=None,
        calculation_time_ms=ms,
        sql="",
        params=[],
        message="; ".join([msg, *(n for n in notes if n)]) + f" ({ms:.1f} ms)",
    )


@tool_errors
async def compare_data(
    table_name: TableName,
    metric: MetricArg,
    ctx: Context[App],
    column: str | None = None,
    group1: Annotated[Group | None, Field(description="{label, filters}")] = None,
    group2: Annotated[Group | None, Field(description="{label, filters}: the baseline")] = None,
    compare_by: Annotated[
        Literal["time", "entity", "status"] | None, Field(description="time: this period vs the previous")
    ] = None,
    period: CalendarUnit | None = None,
    against: Annotated[Literal["previous_period", "last_year"], Field(description="For compare_by=time")] = (
        "previous_period"
    ),
    time_column: str | None = None,
    filters: Annotated[list[Filter] | None, Field(description="Applied to both groups")] = None,
    as_of: Annotated[DateArg | None, Field(description="Last day of the period-to-date (default today)")] = None,
    refresh: Refresh = False,
    source: SourceArg = None,
) -> Annotated[CallToolResult, CompareResult]:
    """Compare a metric between two groups, or this period-to-date vs the previous period or last year.

    percent_change = (group1 - group2) / |group2| x 100 (group2, or the earlier window, is the baseline).
    """
    app = app_of(ctx, source)
    tz = app.settings.time_zone
    key = cache_key(
        "compare_data", t=table_name, m=metric, c=column, g1=group1, g2=group2, cb=compare_by, p=period,
        a=against, tc=time_column, f=filters, d=str(as_of),
    )  # fmt: skip
    if (hit := await cached(app, key, CompareResult, refresh)) is not None:
        return respond(hit)
    table = await load_table(app.catalog, table_name)
    col = table.col(column) if column else None
    when = (period, against, as_of or today_in(tz), time_column)
    by_time = compare_by == "time" or (group1 is None and group2 is None and period is not None)
    time_col_name, specs = _compare_statements(app, table, metric, col, filters, by_time, when, (group1, group2))
    started = asyncio.get_running_loop().time()
    values = await gather_all(*(fetch_value(app.db, stmt) for _, stmt, _ in specs))
    ms = round((asyncio.get_running_loop().time() - started) * 1000.0, 3)
    g1, g2 = (
        GroupValue(label=label, value=v.value, records=v.records, **_window_fields(w, tz))
        for (label, _, w), v in zip(specs, values, strict=True)
    )
    diff, pct, note, trend = compare_values(
        as_float(g1.value), as_float(g2.value), app.settings.compare_stable_threshold_pct
    )
    applied = text.applied(metric, col.name if col else None)
    insight = text.insight_sentence(applied, ((g1.label, g1.value), (g2.label, g2.value)), pct, note, trend)
    every_filter = (filters or []) + [f for g in (group1, group2) if g is not None and not by_time for f in g.filters]
    notes = conventions(table, metric, every_filter, tz, times=by_time)
    notes.append(f"percent_change = (group1 - group2) / |group2| x 100: the baseline is group2 ({g2.label!r})")
    windows = f" Windows: {g1.period}; against {g2.period}." if by_time else ""
    result = CompareResult(
        group1=g1,
        group2=g2,
        difference=diff,
        percent_change=pct,
        percent_change_note=note,
        trend=trend,
        insight=insight,
        baseline=g2.label,
        time_column=time_col_name,
        time_zone=tz,
        conventions=notes,
        calculation_time_ms=ms,
        sql=[stmt.sql for _, stmt, _ in specs],
        message=f"{insight}{windows} Baseline: {g2.label} (percent_change relative to it). "
        f"({ms:.1f} ms, both queries concurrently)",
    )
    await app.query_cache.put(key, result.model_dump(mode="json"), family="aggregation")
    return respond(result)


@tool_errors
async def analyze_trends(
    table_name: TableName,
    metric: MetricArg,
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
    partial_periods: Annotated[
        Literal["exclude", "include"],
        Field(description="exclude: buckets cut by the dates or today stay out of the statistics"),
    ] = "exclude",
    refresh: Refresh = False,
    source: SourceArg = None,
) -> Annotated[CallToolResult, TrendResult]:
    """Trend of a metric per day/week/month: moving averages, direction, growth, forecast, anomalies.

    Calendar buckets (weeks from Monday) in time_zone; a bucket cut by the dates or today is partial and
    left out of the statistics by default.
    """
    app = app_of(ctx, source)
    tz = app.settings.time_zone
    today = today_in(tz)
    end = end_date or today
    _check_trend_size(period, start_date, end, top_groups if group_by else None)
    key = cache_key(
        "analyze_trends", t=table_name, m=metric, p=period, s=str(start_date), e=str(end), c=column,
        tc=time_column, g=group_by, n=top_groups, fp=forecast_periods, f=filters, pp=partial_periods, d=str(today),
    )  # fmt: skip
    if (hit := await cached(app, key, TrendResult, refresh)) is not None:
        return respond(hit, _trend_body(hit))
    table = await load_table(app.catalog, table_name)
    col = table.col(column) if column else None
    tcol = table.time_column(time_column)
    span = (datetime.combine(start_date, time()), datetime.combine(end + timedelta(days=1), time()))
    group = (group_by, top_groups) if group_by else None
    stmt = app.engine.trend_statement(table, metric, col, period, tcol, span, filters or [], tz, group)
    points, ms = await fetch_trend(app.db, stmt)
    applied = text.applied(metric, col.name if col else None)
    unit = PERIOD_UNITS[period]
    grouped = text.group_series(points)
    cuts = partial_buckets(text.as_dates(grouped[0][1]) if grouped else [], unit, start_date, end, today)
    excluded, partial_note = _partial_handling(cuts, partial_periods)
    stable_pct = app.settings.compare_stable_threshold_pct
    analyses = [
        (g, periods, values, _analyze(periods, values, period, forecast_periods, stable_pct, applied, excluded))
        for g, periods, values in grouped
    ]
    series = [_series_model(g, periods, values, a, cuts) for g, periods, values, a in analyses]
    head = (series[0].direction, series[0].total_change_pct) if series else None
    msg = text.trend_message(applied, unit, (start_date, end), tcol.name, head, len(series) if group_by else None)
    notes = conventions(table, metric, filters or [], tz, times=True) + ([partial_note] if partial_note else [])
    result = TrendResult(
        period=period,
        time_column=tcol.name,
        metric_applied=applied,
        start_date=str(start_date),
        end_date=str(end),
        time_zone=tz,
        partial_periods=[_partial_model(c, bool(excluded)) for c in cuts],
        conventions=notes,
        confidence_level=analyses[-1][3].confidence_level if analyses else 0.95,
        series=series,
        calculation_time_ms=ms,
        sql=stmt.sql,
        params=[str(p) for p in stmt.params],
        message=f"{msg} ({ms:.1f} ms). " + (f"{partial_note}. " if partial_note else "") + f"Buckets in {tz}.",
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
    app: App,
    table: Table,
    metric: Metric,
    col: Col | None,
    filters: list[Filter] | None,
    by_time: bool,
    when: tuple[CalendarUnit | None, Literal["previous_period", "last_year"], date, str | None],
    groups: tuple[Group | None, Group | None],
) -> tuple[str | None, list[tuple[str, Statement, Window | None]]]:
    """compare_data's (time column, [(label, statement, window)] x 2): two period-to-date windows [start, end)
    in local time, or two filter groups (no window)."""
    filters, engine, tz = filters or [], app.engine, app.settings.time_zone
    if by_time:
        period, against, as_of, time_column = when
        tcol = table.time_column(time_column)
        windows = comparison_windows(period or "month", against, as_of)
        labels = text.window_labels(period or "month", against, windows)
        return tcol.name, [
            (label, engine.value_statement(table, metric, col, filters, tz, (tcol, start, end)), (start, end))
            for label, (start, end) in zip(labels, windows, strict=True)
        ]
    group1, group2 = groups
    if group1 is None or group2 is None:
        raise InvalidArgumentError("Pass group1 and group2 ({label, filters}), or compare_by='time' with period.")
    return None, [
        (g.label, engine.value_statement(table, metric, col, filters + g.filters, tz), None) for g in (group1, group2)
    ]


def _window_fields(w: Window | None, tz: str) -> dict[str, str | None]:
    """GroupValue's period/start/end for a compare_by=time window (all None for a filter group)."""
    if w is None:
        return {"period": None, "start": None, "end": None}
    start, end = window_bounds(w, tz)
    return {"period": window_text(w, tz), "start": start, "end": end}


def _analyze(
    periods: list[str],
    values: list[float | None],
    period: TrendPeriod,
    forecast: int,
    stable_pct: float,
    label: str,
    excluded: dict[int, str],
) -> TrendAnalysis:
    return analyze_series(
        text.as_dates(periods),
        values,
        period=period,
        forecast_periods=forecast,
        stable_threshold_pct=stable_pct,
        label=label,
        excluded=excluded,
    )


def _partial_handling(cuts: list[Coverage], mode: Literal["exclude", "include"]) -> tuple[dict[int, str], str | None]:
    """{position: why} of the partial buckets to leave out of the statistics, and the sentence saying what was done."""
    if not cuts:
        return {}, None
    done = "left out of the statistics" if mode == "exclude" else "included as they are (partial_periods='include')"
    listed = ", ".join(f"{c.period_start} ({c.days_covered}/{c.days_in_period} days)" for c in cuts)
    excluded = {c.index: f"{c.days_covered} of {c.days_in_period} days: {c.reason}" for c in cuts}
    return (excluded if mode == "exclude" else {}), f"Partial periods {done}: {listed}"


def _partial_model(c: Coverage, excluded: bool) -> PartialPeriod:
    return PartialPeriod(
        period_start=str(c.period_start),
        days_covered=c.days_covered,
        days_in_period=c.days_in_period,
        covered_from=str(c.covered_from),
        covered_to=str(c.covered_to),
        reason=c.reason,
        excluded=excluded,
    )


def cache_key(tool: str, **args: object) -> tuple[str, str]:
    return tool, compact_json({k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in args.items()})


async def cached(app: App, key: tuple[str, str], model: type[M], refresh: bool) -> M | None:
    hit = None if refresh else await app.query_cache.get(key, family="aggregation")
    return None if hit is None else model.model_validate({**hit, "from_cache": True})


def _series_model(
    group: object, periods: list[str], values: list[float | None], a: TrendAnalysis, cuts: list[Coverage]
) -> Series:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    cut = {c.index for c in cuts}
    return Series(
        group=group,
        periods=periods,
        values=values,
        partial=[i in cut for i in range(len(periods))],
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
        marks = s.partial or [False] * len(s.periods)
        lines.append(
            compact_json(
                [[p, v, "partial"] if cut else [p, v] for p, v, cut in zip(s.periods, s.values, marks, strict=True)]
            )
        )
        if s.forecast:
            lines.append("forecast " + compact_json([[f.period_start, f.value, f.lower, f.upper] for f in s.forecast]))
        if s.anomalies:
            lines.append("anomalies " + compact_json([[a.period_start, a.value, a.expected] for a in s.anomalies]))
    return "\n".join(lines)
