"""Pure functions on calendar periods: time zones, period-to-date windows, partial periods and changes."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

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


@lru_cache(maxsize=64)
def zone_info(name: str) -> tzinfo:
    """The IANA time zone `name` (the `time_zone` setting; case-insensitive like PostgreSQL), UTC as datetime.UTC.

    Raises ValueError with an actionable message for a name that is not a time zone.
    """
    if name.strip().upper() in ("UTC", "ETC/UTC", "Z", "ZULU", "UCT", "ETC/UCT", "GMT", "ETC/GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    folded = {z.lower(): z for z in available_timezones()}.get(name.strip().lower())
    if folded is None:
        raise ValueError(
            f"time_zone {name!r} is not an IANA time zone name: set it to e.g. 'UTC', 'America/New_York' "
            "or 'Africa/Johannesburg' (VF_MCP_TIME_ZONE)."
        )
    return ZoneInfo(folded)


def today_in(tz: str) -> date:
    """Today's date in the time zone `tz` (the default end of trends and as_of of comparisons)."""
    return datetime.now(zone_info(tz)).date()


def window_bounds(w: Window, tz: str) -> tuple[str, str]:
    """[start, end) local bounds as ISO 8601 instants with the zone's offset on that date (DST-aware)."""
    zone = zone_info(tz)
    return w[0].replace(tzinfo=zone).isoformat(), w[1].replace(tzinfo=zone).isoformat()


def window_text(w: Window, tz: str) -> str:
    """'2013-03-01 00:00 to 2013-03-16 00:00 America/New_York (start inclusive, end exclusive)'."""
    return f"{w[0]:%Y-%m-%d %H:%M} to {w[1]:%Y-%m-%d %H:%M} {tz} (start inclusive, end exclusive)"


def next_period_start(start: date, unit: CalendarUnit) -> date:
    """The start of the period after the one starting at `start` (date.max when past year 9999)."""
    try:
        if unit == "day":
            return start + timedelta(days=1)
        if unit == "week":
            return start + timedelta(days=7)
        months = {"month": 1, "quarter": 3, "year": 12}[unit]
        total = start.year * 12 + start.month - 1 + months
        return date(total // 12, total % 12 + 1, 1)
    except (OverflowError, ValueError):
        return date.max


def days_in_period(start: date, unit: CalendarUnit) -> int:
    """Calendar days of the period starting at `start`."""
    if unit == "day":
        return 1
    if unit == "week":
        return 7
    if unit == "month":
        return calendar.monthrange(start.year, start.month)[1]
    months = 3 if unit == "quarter" else 12
    return sum(calendar.monthrange(start.year, start.month + k)[1] for k in range(months) if start.month + k <= 12)


@dataclass(frozen=True)
class Coverage:
    """A bucket that the requested span (or today) cuts: the days it covers out of the period's days."""

    index: int
    period_start: date
    days_covered: int
    days_in_period: int
    covered_from: date
    covered_to: date  # exclusive
    reason: str


def partial_buckets(starts: Sequence[date], unit: CalendarUnit, first: date, last: date, today: date) -> list[Coverage]:
    """The buckets (starting at `starts`) not fully covered by [first, last] (inclusive dates) or not over yet.

    A bucket is partial when `first` is after its start, `last` before its last day, or its last day is today or
    later (in progress, or not started): its value covers only `days_covered` of its `days_in_period` days.
    """
    out: list[Coverage] = []
    for i, start in enumerate(starts):
        end = next_period_start(start, unit)
        full = days_in_period(start, unit)
        last_day = end - timedelta(days=1) if end != date.max else end
        reasons = []
        if first > start:
            reasons.append(f"the span starts {first.isoformat()}")
        if last < last_day and last < today:
            reasons.append(f"the span ends {last.isoformat()}")
        elif today <= last_day:
            reasons.append(f"in progress (today is {today.isoformat()})" if today >= start else "not started yet")
        if not reasons:
            continue
        lo = max(start, first)
        hi = min(last, last_day, today)
        covered = max(0, (hi - lo).days + 1) if hi >= lo else 0
        to = hi + timedelta(days=1) if covered and hi < date.max else lo
        out.append(Coverage(i, start, covered, full, lo, to, "; ".join(reasons)))
    return out


def zoned_windows(current: Window, previous: Window, *, tz: str) -> tuple[Window, Window]:
    """Attach the time zone `tz` to local window bounds (so SQL parameters are unambiguous)."""
    zone = zone_info(tz)

    def fix(w: Window) -> Window:
        return w[0].replace(tzinfo=zone), w[1].replace(tzinfo=zone)

    return fix(current), fix(previous)


def span_label(w: Window) -> str:
    return f"{w[0]:%Y-%m-%d}..{w[1]:%Y-%m-%d} (end exclusive)"
