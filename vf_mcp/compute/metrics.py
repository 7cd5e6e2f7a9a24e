"""Pure helpers of the analytics tools: labels, the one-line summaries, and series grouping (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

from vf_mcp.compute.periods import CalendarUnit


class Point(Protocol):
    """One bucket of one series, as the trend statement returns it."""

    @property
    def group(self) -> object: ...
    @property
    def period_start(self) -> str: ...
    @property
    def value(self) -> float | None: ...


def applied(metric: str, column: str | None) -> str:
    """How a metric reads in messages: `sum(amount)`, `count(*)`."""
    return f"{metric}({column or '*'})"


def metrics_message(
    applied_metric: str, qualified: str, total: int, total_groups: int | None, first: object, shown: int, limit: int
) -> str:
    """calculate_metrics' summary (`total_groups` None: ungrouped, `first` is the value)."""
    if not total:
        return f"No rows match the filters in {qualified}."
    if total_groups is None:
        return f"{applied_metric} = {first} over {total:,} rows"
    return f"{applied_metric} over {total:,} rows in {total_groups} group(s)" + (
        f", showing {shown} (limit {limit})" if shown < total_groups else ""
    )


def rank_message(
    direction: str, shown: int, total: int, entity: str, applied_metric: str, lead: tuple[object, object] | None
) -> str:
    """rank_entities' summary; `lead` = (label or entity, value) of #1."""
    return f"{direction} {shown} of {total} {entity} values by {applied_metric}" + (
        f"; #1 {lead[0]} with {lead[1]}" if lead else ""
    )


def insight_sentence(
    applied_metric: str,
    groups: tuple[tuple[str, object], tuple[str, object]],
    pct: float | None,
    note: str | None,
    trend: str | None,
) -> str:
    """compare_data's insight; `groups` = ((label, value), (label, value))."""
    (l1, v1), (l2, v2) = groups
    if trend is None:
        return f"Cannot compare {applied_metric}: {note}."
    if pct is None:
        return f"{applied_metric} is {v1} for {l1} and {v2} for {l2}; {note}."
    if trend == "stable":
        return f"{applied_metric} is stable: {v1} for {l1} vs {v2} for {l2} ({pct:+.1f}%)."
    word = "higher" if trend == "up" else "lower"
    return f"{applied_metric} is {abs(pct):.1f}% {word} for {l1} ({v1}) than for {l2} ({v2})."


def window_labels(
    period: CalendarUnit,
    against: Literal["previous_period", "last_year"],
    windows: tuple[tuple[datetime, datetime], tuple[datetime, datetime]],
) -> tuple[str, str]:
    """The labels of a period-to-date window and the one it is compared against."""
    (c_start, c_end), (p_start, p_end) = windows
    before = f"previous {period}" if against == "previous_period" else "last year"
    return (
        f"{period} to {c_end - timedelta(days=1):%Y-%m-%d} ({c_start:%Y-%m-%d}..{c_end - timedelta(days=1):%Y-%m-%d})",
        f"{before} to {p_end - timedelta(days=1):%Y-%m-%d} ({p_start:%Y-%m-%d}..{p_end - timedelta(days=1):%Y-%m-%d})",
    )


def group_series(points: Sequence[Point]) -> list[tuple[object, list[str], list[float | None]]]:
    """(group, period starts, values) per group, in the order the groups first appear.

    Points come ordered by group, then period: a label seen again with a period that does not advance is
    another group shown alike (personal data masked to the same "***"), so it starts a series of its own.
    """
    out: list[tuple[object, list[str], list[float | None]]] = []
    latest: dict[str, tuple[object, list[str], list[float | None]]] = {}
    for p in points:
        key = json.dumps(p.group, default=str)
        entry = latest.get(key)
        if entry is None or (entry[1] and p.period_start <= entry[1][-1]):
            entry = (p.group, [], [])
            latest[key] = entry
            out.append(entry)
        entry[1].append(p.period_start)
        entry[2].append(p.value)
    return out


def as_dates(periods: Sequence[str]) -> list[date]:
    return [date.fromisoformat(p) for p in periods]


def trend_message(
    applied_metric: str,
    unit: str,
    span: tuple[date, date],
    time_column: str,
    head: tuple[str, float | None] | None,
    series: int | None,
) -> str:
    """analyze_trends' summary; `head` = (direction, total change %) of the first series, `series` = their count
    when grouped."""
    if head is None:
        described = "no data"
    else:
        described = head[0] + (f", {head[1]:+.1f}% over the range" if head[1] is not None else "")
    return f"{applied_metric} per {unit} from {span[0]} to {span[1]} on {time_column}: {described}" + (
        f" ({series} series)" if series is not None else ""
    )


@dataclass(frozen=True)
class Cutoff:
    """The tie at the last row shown of a ranking or an ordered, limited list of groups."""

    tied: int  # entities (groups) sharing the last shown rank (value)
    shown: int  # ... of them shown
    value: object  # the value they share
    rank: int | None = None

    @property
    def not_shown(self) -> int:
        return max(self.tied - self.shown, 0)


def cutoff(keys: Sequence[object], last_tied: int, value: object, *, rank: bool = False) -> Cutoff | None:
    """The tie at the cut-off: `keys` are the ranks (or values) shown in order, `last_tied` how many share the
    last one, `value` the last value (None: nothing shown)."""
    if not keys:
        return None
    last = keys[-1]
    shown = sum(1 for k in keys if k == last)
    return Cutoff(
        tied=max(last_tied, 1), shown=shown, value=value, rank=last if rank and isinstance(last, int) else None
    )


def cutoff_note(c: Cutoff | None, what: str, limit: int) -> str | None:
    """A sentence when the limit cuts through a tie (else None)."""
    if c is None or not c.not_shown:
        return None
    at = f"rank {c.rank} (value {short(c.value)})" if c.rank is not None else f"the last value shown ({short(c.value)})"
    return (
        f"the limit cuts through a tie: {c.tied} {what} share {at}, {c.shown} shown and {c.not_shown} not; "
        f"pass limit={limit + c.not_shown} to see them all"
    )


def short(value: object) -> str:
    """A number rounded for prose: 4 decimals (4 significant digits below 1); exact values stay in the
    structured output. Anything else as str()."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        number = float(value)
    except ValueError:
        return str(value)
    if number != number or number in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return value  # an exact integer, however long
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    text = f"{number:.4f}" if abs(number) >= 1 else f"{number:.4g}"
    return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text
