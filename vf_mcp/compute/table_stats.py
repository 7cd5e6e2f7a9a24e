"""Pure functions: turn the aggregate row of db.stats into per-column statistics and quality scores."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from vf_mcp.compute.quality import freshness_columns

COMPLETENESS_DEF = "share of non-NULL cells over all columns: 100 x non_null_cells / (rows x columns)"
CONSISTENCY_DEF = (
    "share of text values that follow their apparent format: no leading/trailing spaces, emails that parse "
    "(columns named like email), phone numbers with 7-15 digits (columns named like phone/mobile)"
)
ACCURACY_DEF = (
    "share of values inside a plausible domain: no negative quantities/durations/amounts (by column name), "
    "no dates in the future (beyond 1 day) or before 1900"
)

_CREATED = re.compile(r"^(created|inserted|creation|date_created|created_on|created_at|createdat|registered)", re.I)


@dataclass(frozen=True)
class ColumnFacts:
    """Per-column values read off the aggregate row (already scaled when sampled)."""

    name: str
    type: str
    null_count: int | None
    null_fraction: float | None
    distinct_count: int | None
    min: Any
    max: Any
    avg: float | None
    median: float | None
    stddev: float | None
    most_common: tuple[tuple[Any, int, float], ...]


@dataclass(frozen=True)
class QualityScores:
    completeness: float
    consistency: float
    accuracy: float
    consistency_issues: int
    accuracy_issues: int

    @property
    def overall(self) -> float:
        return round((self.completeness + self.consistency + self.accuracy) / 3, 1)


def typed_text(value: str | None, numeric: bool) -> Any:
    """min/max arrive as PostgreSQL text; numbers become JSON numbers when exact."""
    if value is None or not numeric:
        return value
    try:
        d = Decimal(value)
    except InvalidOperation:
        return value
    if not d.is_finite():
        return value
    if d == d.to_integral_value() and "." not in value and "e" not in value.lower():
        return int(d)
    f = float(d)
    return f if Decimal(repr(f)) == d else value


def column_facts(
    columns: Sequence[tuple[str, str, bool]],
    agg: Mapping[str, Any],
    mcv: Mapping[int, Sequence[tuple[str, int]]],
    *,
    scale: float,
    row_count: int,
    planner: Mapping[str, tuple[float, float]],
) -> list[ColumnFacts]:
    """`columns`: (name, type, numeric). `scale` multiplies sample counts up to the table (1.0 when exact)."""
    sample_n = int(agg.get("n") or 0)
    out: list[ColumnFacts] = []
    for i, (name, type_, numeric) in enumerate(columns):
        nn = agg.get(f"nn_{i}")
        nulls = None if nn is None else sample_n - int(nn)
        null_frac = (nulls / sample_n) if (nulls is not None and sample_n) else (0.0 if sample_n == 0 else None)
        nd = agg.get(f"nd_{i}")
        distinct = None if nd is None else int(nd)
        if name in planner:
            pnull, pdist = planner[name]
            null_frac = pnull
            if pdist is not None and pdist != 0:
                distinct = round(-pdist * row_count) if pdist < 0 else int(pdist)
        null_count = None if null_frac is None else round(null_frac * row_count) if scale != 1.0 else nulls
        total = int(nn or 0)
        commons = tuple(
            (typed_text(v, numeric), round(n * scale), round(n / total, 4) if total else 0.0) for v, n in mcv.get(i, ())
        )
        out.append(
            ColumnFacts(
                name=name,
                type=type_,
                null_count=null_count,
                null_fraction=None if null_frac is None else round(null_frac, 4),
                distinct_count=distinct,
                min=typed_text(agg.get(f"mn_{i}"), numeric),
                max=typed_text(agg.get(f"mx_{i}"), numeric),
                avg=agg.get(f"av_{i}"),
                median=agg.get(f"md_{i}"),
                stddev=agg.get(f"sd_{i}"),
                most_common=commons,
            )
        )
    return out


def quality_scores(agg: Mapping[str, Any], column_count: int) -> QualityScores:
    """Completeness, consistency and accuracy (0-100) from the aggregate row (see the *_DEF texts)."""
    n = int(agg.get("n") or 0)
    cells = n * column_count
    non_null = sum(int(agg.get(f"nn_{i}") or 0) for i in range(column_count))
    completeness = 100.0 * non_null / cells if cells else 100.0

    def share(prefix: str) -> tuple[float, int]:
        checked = [i for i in range(column_count) if f"{prefix}_{i}" in agg]
        bad = sum(int(agg[f"{prefix}_{i}"] or 0) for i in checked)
        values = sum(int(agg.get(f"nn_{i}") or 0) for i in checked)
        return (100.0 * (values - bad) / values if values else 100.0), bad

    consistency, c_bad = share("cv")
    accuracy, a_bad = share("ac")
    return QualityScores(
        completeness=round(completeness, 1),
        consistency=round(consistency, 1),
        accuracy=round(accuracy, 1),
        consistency_issues=c_bad,
        accuracy_issues=a_bad,
    )


def sampling(
    kind: str, estimate: int | None, *, exact: bool, want: int, large_rows: int
) -> tuple[float | None, int | None]:
    """(TABLESAMPLE percent, row limit) for get_table_stats; (None, None) scans the whole relation."""
    large = (estimate is None and kind in ("v", "f")) or (estimate or 0) > large_rows
    if not large or exact:
        return None, None
    if kind in ("r", "p", "m") and estimate:
        return min(100.0, max(0.0001, 100.0 * want / estimate)), None
    return None, want


def stats_method(*, sample_percent: float | None, is_exact: bool, examined: int, row_count: int) -> str:
    """How get_table_stats computed its figures, in words."""
    if is_exact:
        return "exact: one aggregate pass over the whole table"
    if sample_percent is not None:
        return (
            f"sampled: TABLESAMPLE SYSTEM ({sample_percent:.4f}%) examined {examined:,} of ~{row_count:,} rows; "
            "row_count is the planner estimate, null/distinct counts from planner statistics where analysed"
        )
    return f"sampled: first {examined:,} rows of the view"


@dataclass(frozen=True)
class Freshness:
    """get_database_overview's per-table figures read off planner statistics."""

    last_updated: str | None = None
    last_updated_column: str | None = None
    last_updated_basis: str | None = None
    growth_rate_per_day: float | None = None
    quality_score: float | None = None


def freshness(
    avg_null_frac: float | None,
    timestamps: Sequence[tuple[str, datetime | None, float]],
    rows: int | None,
    now: datetime,
    *,
    future: Mapping[str, float] | None = None,
) -> Freshness:
    """Newest write, growth per day and completeness from (column, newest, share in last 30 days) stamps.

    The freshness column is chosen by meaning (vf_mcp.compute.quality.freshness_columns: created/updated/
    inserted-like event times first, never due/expiry/planned/scheduled dates or birth dates); `newest` is
    already the newest value at most a day ahead of now. `future`: column -> share of rows further ahead.
    """
    quality = None if avg_null_frac is None else round(100.0 * (1.0 - avg_null_frac), 1)
    stamps = {s[0]: s for s in timestamps}
    wanted = freshness_columns(list(stamps))
    got = [stamps[c] for c in wanted if stamps[c][1] is not None]
    last, last_col, basis, growth = None, None, None, None
    if got:
        col, newest, _ = max(got, key=lambda s: s[1] or now)
        last, last_col = (newest.isoformat() if newest else None), col
        basis = f"newest {col} in the planner statistics (histogram bounds)"
        ahead = (future or {}).get(col, 0.0)
        if ahead > 0:
            basis += f"; {ahead:.1%} of rows dated more than 1 day ahead ignored"
        skipped = sorted(set(stamps) - set(wanted))
        if skipped:
            basis += f"; not used: {', '.join(skipped)} (planned/due/birth dates or not an event time)"
    created = [s for s in stamps.values() if _CREATED.search(s[0])]
    if created and rows:
        growth = round(rows * created[0][2] / 30.0, 2)
    return Freshness(
        last_updated=last,
        last_updated_column=last_col,
        last_updated_basis=basis,
        growth_rate_per_day=growth,
        quality_score=quality,
    )
