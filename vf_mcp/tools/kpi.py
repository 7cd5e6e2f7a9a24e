"""get_kpi_dashboard: KPIs declared in TOML (kpi_dir, default vf_mcp/kpis/*.toml), computed concurrently per period."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from vf_mcp.app import App
from vf_mcp.compute.periods import (
    PERIOD_UNITS,
    Timeframe,
    Window,
    compare_values,
    comparison_windows,
    period_start,
    previous_period_start,
    span_label,
    zone_info,
    zoned_windows,
)
from vf_mcp.concurrency import gather_all
from vf_mcp.db.kpi import current_database, default_dashboard, default_kpi_dir, load_dashboard, measure
from vf_mcp.errors import ConfigError, InvalidArgumentError, NotFoundError, VfError
from vf_mcp.jsontypes import as_float
from vf_mcp.models.kpi import Dashboard, KpiHistory, KpiPoint, KpiSpec, KpiValue
from vf_mcp.tools.common import DateArg, SourceArg, ToolDef, app_of, compact_json, respond, tool_errors

HealthScore = Callable[[App], Awaitable[float]]


async def data_health_score(app: App) -> float:
    """The overall check_data_quality score of the whole database (0-100)."""
    from vf_mcp.quality import CHECKS, check_quality

    report = await check_quality(app, None, None, tuple(CHECKS))
    if report.score is None:
        raise ConfigError("no table could be scored")
    return float(report.score)


@tool_errors
async def get_kpi_dashboard(
    ctx: Context[App],
    timeframe: Timeframe = "week",
    compare_with: Literal["previous_period", "last_year", "none"] = "previous_period",
    as_of: Annotated[DateArg | None, Field(description="Reference date (default today)")] = None,
    refresh: bool = False,
    source: SourceArg = None,
) -> Annotated[CallToolResult, Dashboard]:
    """KPI dashboard for this period-to-date vs the previous period or last year (KPIs declared in TOML)."""
    app = app_of(ctx, source)
    ref = as_of or datetime.now(UTC).date()
    key = ("kpi", timeframe, compare_with, str(ref))
    hit = None if refresh else await app.query_cache.get(key, family="kpi")
    if hit is not None:
        cached = Dashboard.model_validate({**hit, "from_cache": True})
        return respond(cached, _body(cached))
    started = time.perf_counter()
    database = await current_database(app.db)
    kpi_dir = Path(app.settings.kpi_dir) if app.settings.kpi_dir else default_kpi_dir()
    found = load_dashboard(kpi_dir, database)
    spec, title, origin = (found[0], found[0].title, found[1].name) if found else (None, "Default dashboard", "default")
    spec = spec or await default_dashboard(app.catalog)
    against = "last_year" if compare_with == "last_year" else "previous_period"
    windows = comparison_windows(PERIOD_UNITS[timeframe], against, ref)
    current, previous = zoned_windows(*windows, tz=app.settings.time_zone)
    prev = None if compare_with == "none" else previous
    values = await gather_all(*(kpi_value(app, k, current, prev, data_health_score) for k in spec.kpi))
    ms = round((time.perf_counter() - started) * 1000.0, 1)
    failed = sum(1 for v in values if v.error)
    msg = (
        f"{title}: {len(values)} KPIs for {timeframe} to {ref}"
        + (f" vs {compare_with.replace('_', ' ')}" if prev else "")
        + (f"; {failed} failed (see error)" if failed else "")
        + f" ({ms} ms)"
    )
    if not found:
        msg += (
            f". No KPI file in {kpi_dir} matches database {database!r}: to declare real KPIs, write one (like "
            f"{default_kpi_dir() / 'velocityfibre.toml'}) into a directory such as config/kpis and point the "
            "kpi_dir setting (env VF_MCP_KPI_DIR) at it"
        )
    result = Dashboard(
        title=title,
        source=origin,
        timeframe=timeframe,
        compare_with=compare_with,
        current_period=span_label(current),
        previous_period=span_label(prev) if prev else None,
        kpis=list(values),
        generated_at=datetime.now(UTC).isoformat(),
        calculation_time_ms=ms,
        message=msg,
    )
    await app.query_cache.put(key, result.model_dump(mode="json"), family="kpi")
    return respond(result, _body(result))


@tool_errors
async def kpi_history(
    name: Annotated[str, Field(description="The KPI's name, as get_kpi_dashboard lists it")],
    ctx: Context[App],
    timeframe: Timeframe = "week",
    periods: Annotated[int, Field(ge=2, le=52, description="Whole periods before the current one")] = 12,
    as_of: Annotated[DateArg | None, Field(description="Reference date (default today)")] = None,
    source: SourceArg = None,
) -> Annotated[CallToolResult, KpiHistory]:
    """One dashboard KPI per period: the last whole periods and this period to date (a dashboard tile's trend)."""
    app = app_of(ctx, source)
    ref = as_of or datetime.now(UTC).date()
    started = time.perf_counter()
    database = await current_database(app.db)
    kpi_dir = Path(app.settings.kpi_dir) if app.settings.kpi_dir else default_kpi_dir()
    found = load_dashboard(kpi_dir, database)
    spec = found[0] if found else await default_dashboard(app.catalog)
    k = next((k for k in spec.kpi if k.name == name), None)
    if k is None:
        raise NotFoundError(f"No KPI {name!r}. Valid: {', '.join(x.name for x in spec.kpi)}.")
    if k.builtin is not None:
        raise InvalidArgumentError(f"KPI {name!r} is a snapshot ({k.builtin}): it has no history per period.")
    tz = app.settings.time_zone
    zone = zone_info(tz)
    unit = PERIOD_UNITS[timeframe]
    starts = [period_start(ref, unit)]
    for _ in range(periods):
        starts.insert(0, previous_period_start(starts[0], unit))
    ends = [*starts[1:], ref + timedelta(days=1)]
    windows = [
        (datetime.combine(s, datetime.min.time(), zone), datetime.combine(e, datetime.min.time(), zone))
        for s, e in zip(starts, ends, strict=True)
    ]
    answers = await gather_all(*(measure(app.db, app.catalog, k, w, tz) for w in windows))
    if not answers[-1].windowed:
        raise InvalidArgumentError(f"KPI {name!r} is a snapshot (no period in its SQL or metric): no history.")
    points = [
        KpiPoint(start=w[0].isoformat(), end=w[1].isoformat(), value=a.value, partial=i == len(windows) - 1)
        for i, (w, a) in enumerate(zip(windows, answers, strict=True))
    ]
    ms = round((time.perf_counter() - started) * 1000.0, 1)
    title = k.title or k.name.replace("_", " ").capitalize()
    result = KpiHistory(
        name=k.name,
        title=title,
        unit=k.unit,
        timeframe=timeframe,
        time_zone=tz,
        higher_is_better=k.higher_is_better,
        points=points,
        calculation_time_ms=ms,
        message=f"{title} per {unit}: {periods} whole periods and the period to {ref} ({ms} ms)",
    )
    return respond(result)


TOOLS = (ToolDef(get_kpi_dashboard), ToolDef(kpi_history))


async def kpi_value(
    app: App, k: KpiSpec, current: Window, previous: Window | None, health_score: HealthScore | None
) -> KpiValue:
    """One KPI's current and previous values; a failing KPI reports its error instead of failing the dashboard."""
    base = KpiValue(
        name=k.name,
        title=k.title or k.name.replace("_", " ").capitalize(),
        value=None,
        unit=k.unit,
        description=k.description,
    )
    try:
        if k.builtin == "data_health":
            if health_score is None:
                raise ConfigError("data_health needs the check_data_quality tool")
            return base.model_copy(update={"value": round(await health_score(app), 1)})
        windows = [current] + ([previous] if previous else [])
        tz = app.settings.time_zone
        answers = await gather_all(*(measure(app.db, app.catalog, k, w, tz) for w in windows))
    except VfError as exc:
        return base.model_copy(update={"error": exc.message})
    now = answers[0]
    update: dict[str, object] = {"value": now.value, "detail": now.detail}
    if previous and now.windowed:
        before = answers[1].value
        threshold = app.settings.compare_stable_threshold_pct
        diff, pct, _note, trend = compare_values(as_float(now.value), as_float(before), threshold)
        good = (
            None if trend in (None, "stable") or k.higher_is_better is None else (trend == "up") == k.higher_is_better
        )
        update |= {"previous_value": before, "change": diff, "percent_change": pct, "trend": trend, "good": good}
    return base.model_copy(update=update)


def _body(d: Dashboard) -> str:
    head = compact_json(["kpi", "value", "previous", "percent_change", "trend", "good", "unit", "detail"])
    rows = [
        compact_json(
            [
                k.title,
                k.value,
                k.previous_value,
                k.percent_change,
                k.trend,
                k.good,
                k.unit,
                k.detail if k.error is None else f"error: {k.error}",
            ]
        )
        for k in d.kpis
    ]
    return f"{d.current_period} vs {d.previous_period}\n{head}\n" + "\n".join(rows)
