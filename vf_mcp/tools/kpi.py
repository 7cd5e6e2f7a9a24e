"""get_kpi_dashboard: KPIs declared in TOML (config/kpis/*.toml), computed concurrently per period."""

import fnmatch
import time
import tomllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import Field, ValidationError

from vf_mcp.app import App
from vf_mcp.compute.periods import compare_values, comparison_windows
from vf_mcp.concurrency import gather_all
from vf_mcp.db.builder import Params, Table, filter_sql, metric_sql, range_sql, where
from vf_mcp.db.runner import fetch_converted, run_guarded
from vf_mcp.errors import ConfigError, VfError
from vf_mcp.models.kpi import Dashboard, DashboardFile, KpiSpec, KpiValue, MetricSpec
from vf_mcp.tools.analytics import load_table
from vf_mcp.tools.common import DateArg, SourceArg, app_of, as_float, compact_json, respond, tool_errors
from vf_mcp.tools.core import READ_ONLY

TIMEFRAME_PERIOD = {"today": "day", "week": "week", "month": "month", "quarter": "quarter"}
Window = tuple[datetime, datetime]
HealthScore = Callable[[App], Awaitable[float]]


def default_kpi_dir() -> Path:
    """config/kpis beside the package (a source checkout or editable install)."""
    return Path(__file__).resolve().parent.parent.parent / "config" / "kpis"


def load_dashboard(directory: Path, database: str) -> tuple[DashboardFile, Path] | None:
    """The first KPI file (sorted by name) whose `database` glob matches `database`."""
    if not directory.is_dir():
        return None
    for path in sorted(directory.glob("*.toml")):
        try:
            spec = DashboardFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, ValidationError) as exc:
            raise ConfigError(f"KPI file {path} is invalid: {exc}") from exc
        if fnmatch.fnmatchcase(database, spec.database):
            return spec, path
    return None


async def data_health_score(app: App) -> float:
    """The overall check_data_quality score of the whole database (0-100)."""
    from vf_mcp.tools.quality import CHECKS, check_quality

    report = await check_quality(app, None, None, tuple(CHECKS))
    if report.score is None:
        raise ConfigError("no table could be scored")
    return float(report.score)


def register(server: MCPServer[App], health_score: HealthScore | None = data_health_score) -> None:
    """Register get_kpi_dashboard; `health_score` computes the data_health builtin KPI (0-100)."""

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def get_kpi_dashboard(
        ctx: Context[App],
        timeframe: Literal["today", "week", "month", "quarter"] = "week",
        compare_with: Literal["previous_period", "last_year", "none"] = "previous_period",
        as_of: Annotated[DateArg | None, Field(description="Reference date (default today)")] = None,
        refresh: bool = False,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, Dashboard]:
        """KPI dashboard for this period-to-date vs the previous period or last year (KPIs from config/kpis)."""
        app = app_of(ctx, source)
        ref = as_of or datetime.now(UTC).date()
        key = ("kpi", timeframe, compare_with, str(ref))
        hit = None if refresh else await app.query_cache.get(key, family="kpi")
        if hit is not None:
            cached = Dashboard.model_validate({**hit, "from_cache": True})
            return respond(cached, _body(cached))
        started = time.perf_counter()
        database = str((await app.db.fetch("SELECT current_database() AS d"))[0]["d"])
        kpi_dir = Path(app.settings.kpi_dir) if app.settings.kpi_dir else default_kpi_dir()
        found = load_dashboard(kpi_dir, database)
        if found:
            spec, path = found
            title, source = spec.title, str(path.name)
        else:
            spec, title, source = await default_dashboard(app), "Default dashboard", "default"
        period = TIMEFRAME_PERIOD[timeframe]
        against = "last_year" if compare_with == "last_year" else "previous_period"
        current, previous = _aware(*comparison_windows(period, against, ref), tz=app.settings.time_zone)
        prev = None if compare_with == "none" else previous
        values = await gather_all(*(kpi_value(app, k, current, prev, health_score) for k in spec.kpi))
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
                f". No KPI file matches database {database!r}: add one to {kpi_dir} "
                "(see config/kpis/velocityfibre.toml) to declare real KPIs"
            )
        result = Dashboard(
            title=title,
            source=source,
            timeframe=timeframe,
            compare_with=compare_with,
            current_period=_span(current),
            previous_period=_span(prev) if prev else None,
            kpis=list(values),
            generated_at=datetime.now(UTC).isoformat(),
            calculation_time_ms=ms,
            message=msg,
        )
        await app.query_cache.put(key, result.model_dump(mode="json"), family="kpi")
        return respond(result, _body(result))


def _aware(current: Window, previous: Window, *, tz: str) -> tuple[Window, Window]:
    """Attach the configured time zone to the local window bounds (so SQL parameters are unambiguous)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)

    def fix(w: Window) -> Window:
        return w[0].replace(tzinfo=zone), w[1].replace(tzinfo=zone)

    return fix(current), fix(previous)


def _span(w: Window) -> str:
    return f"{w[0]:%Y-%m-%d}..{w[1]:%Y-%m-%d} (end exclusive)"


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
        answers = await gather_all(*(_measure(app, k, w) for w in windows))
    except VfError as exc:
        return base.model_copy(update={"error": exc.message})
    (value, detail, windowed) = answers[0]
    update: dict[str, Any] = {"value": value, "detail": detail}
    if previous and windowed:
        prev_value, _, _ = answers[1]
        diff, pct, _note, trend = compare_values(
            as_float(value), as_float(prev_value), app.settings.compare_stable_threshold_pct
        )
        good = (
            None if trend in (None, "stable") or k.higher_is_better is None else (trend == "up") == k.higher_is_better
        )
        update |= {"previous_value": prev_value, "change": diff, "percent_change": pct, "trend": trend, "good": good}
    return base.model_copy(update=update)


async def _measure(app: App, k: KpiSpec, window: Window) -> tuple[Any, Any, bool]:
    """(value, detail, windowed) for one window."""
    if k.sql is not None:
        outcome = await run_guarded(app.db, app.catalog, k.sql, (), limit=1, params_for_window=window)
        row = outcome.rows[0] if outcome.rows else []
        value = row[-1] if row else None
        detail = row[0] if len(row) > 1 else None
        return value, detail, outcome.used_window
    assert k.metric is not None
    return await _metric_value(app, k.metric, window)


async def _metric_value(app: App, m: MetricSpec, window: Window) -> tuple[Any, Any, bool]:
    table: Table = await load_table(app, m.table)
    col = table.col(m.column) if m.column else None
    params = Params()
    conds = []
    if m.time_column:
        start, end = (w.replace(tzinfo=None) for w in window)  # local wall time, as range_sql expects
        conds += range_sql(table.col(m.time_column), start, end, params, app.settings.time_zone)
    conds += filter_sql(table, m.filters, params)
    sql = f"SELECT {metric_sql(m.metric, col, table)} AS value FROM {table.rel.sql_name}{where(conds)}"
    _, rows, _ = await fetch_converted(app.db, sql, params.values)
    return (rows[0][0] if rows else None), None, m.time_column is not None


async def default_dashboard(app: App) -> DashboardFile:
    """Rows created per period in the largest tables that have a time column, plus data health."""
    rels = [r for r in await app.catalog.relations() if r.kind in ("r", "p") and not r.parent]
    rels.sort(key=lambda r: -(r.row_estimate or 0))
    kpis: list[KpiSpec] = []
    for rel in rels[:12]:
        table = await load_table(app, f'"{rel.schema}"."{rel.name}"')
        try:
            tcol = table.time_column(None)
        except VfError:
            continue
        kpis.append(
            KpiSpec(
                name=f"new_{rel.name}",
                title=f"New rows in {rel.qualified}",
                description=f"Rows whose {tcol.name} falls in the period (~{rel.row_estimate or 0:,} rows in total)",
                unit="rows",
                higher_is_better=None,
                metric=MetricSpec(table=f'"{rel.schema}"."{rel.name}"', metric="count", time_column=tcol.name),
            )
        )
        if len(kpis) == 5:
            break
    kpis.append(
        KpiSpec(
            name="data_health",
            title="Data health score",
            unit="/100",
            builtin="data_health",
            description="Overall check_data_quality score",
        )
    )
    return DashboardFile(database="*", title="Default dashboard", kpi=kpis)


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
