"""Pure functions on calendar periods: period-to-date windows and period-over-period changes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal

CalendarUnit = Literal["day", "week", "month", "quarter", "year"]
"""A date_trunc unit: the periods of compare_data, time buckets and KPI windows."""
TrendPeriod = Literal["daily", "weekly", "monthly"]
"""The periods of analyze_trends."""
Timeframe = Literal["today", "week", "month", "quarter"]
"""The timeframes of get_kpi_dashboard."""

PERIOD_UNITS: dict[str, CalendarUnit] = {
    "today": "day",
    "day": "day",
    "daily": "day",
    "week": "week",
    "weekly": "week",
    "month": "month",
    "monthly": "month",
    "quarter": "quarter",
    "year": "year",
}
"""The one map from every period word (unit, trend period, KPI timeframe) to its date_trunc unit."""

TREND_BUCKET_DAYS: dict[TrendPeriod, int] = {"daily": 1, "weekly": 7, "monthly": 28}


def approx_buckets(period: TrendPeriod, days: int) -> int:
    """About how many `period` buckets `days` days span (an upper estimate, for the size limit)."""
    width = TREND_BUCKET_DAYS[period]
    return days if width == 1 else days // width + 1


def comparison_windows(
    period: CalendarUnit, against: str, as_of: date
) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """Period-to-date [start, as_of + 1 day) and the same span in the previous period (or a year earlier)."""
    start = period_start(as_of, period)
    end = as_of + timedelta(days=1)
    if against == "last_year":
        p_start, p_end = _shift_years(start, -1), _shift_years(end, -1)
    else:
        p_start = previous_period_start(start, period)
        p_end = p_start + (end - start)
        p_end = min(p_end, start)
    as_dt = [datetime.combine(d, datetime.min.time()) for d in (start, end, p_start, p_end)]
    return (as_dt[0], as_dt[1]), (as_dt[2], as_dt[3])


def period_start(d: date, period: CalendarUnit) -> date:
    if period == "day":
        return d
    if period == "week":
        return d - timedelta(days=d.weekday())
    if period == "month":
        return d.replace(day=1)
    if period == "quarter":
        return d.replace(month=3 * ((d.month - 1) // 3) + 1, day=1)
    return d.replace(month=1, day=1)


def previous_period_start(start: date, period: CalendarUnit) -> date:
    if period == "day":
        return start - timedelta(days=1)
    if period == "week":
        return start - timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    total = start.year * 12 + start.month - 1 - months
    return date(total // 12, total % 12 + 1, 1)


def _shift_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def compare_values(
    v1: float | None, v2: float | None, stable_pct: float
) -> tuple[float | None, float | None, str | None, Literal["up", "down", "stable"] | None]:
    """difference = v1 - v2; percent_change relative to v2 (None with a note when v2 is 0 or missing)."""
    if v1 is None or v2 is None:
        return None, None, "one of the groups has no value (no matching rows)", None
    diff = v1 - v2
    if v2 == 0:
        trend: Literal["up", "down", "stable"] = "stable" if v1 == 0 else ("up" if v1 > 0 else "down")
        return diff, None, "the base value is 0, so a percent change is undefined", trend
    pct = 100.0 * diff / abs(v2)
    trend = "stable" if abs(pct) < stable_pct else ("up" if pct > 0 else "down")
    return diff, round(pct, 4), None, trend


Window = tuple[datetime, datetime]
"""[start, end) of a period."""


def zoned_windows(current: Window, previous: Window, *, tz: str) -> tuple[Window, Window]:
    """Attach the time zone `tz` to local window bounds (so SQL parameters are unambiguous)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)

    def fix(w: Window) -> Window:
        return w[0].replace(tzinfo=zone), w[1].replace(tzinfo=zone)

    return fix(current), fix(previous)


def span_label(w: Window) -> str:
    return f"{w[0]:%Y-%m-%d}..{w[1]:%Y-%m-%d} (end exclusive)"
