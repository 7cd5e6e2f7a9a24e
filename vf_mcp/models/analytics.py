"""Inputs and outputs of the analytics tools."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vf_mcp.models.base import In, Out
from vf_mcp.models.lenient import names_a_field

Metric = Literal["count", "sum", "avg", "min", "max", "distinct", "median", "p90", "p95", "stddev"]
"""The one definition of the metrics calculate_metrics, compare_data, analyze_trends and KPIs accept."""
RankAggregation = Literal["count", "sum", "avg", "min", "max"]
"""The metrics rank_entities accepts (a subset of Metric)."""


class Filter(In):
    """value: a list for IN, NOT IN, BETWEEN (inclusive); a date on a timestamp column is that whole day."""

    column: str
    operator: Literal[
        "=", "!=", "<>", ">", "<", ">=", "<=", "LIKE", "ILIKE", "IN", "NOT IN", "BETWEEN", "IS NULL", "IS NOT NULL"
    ] = "="
    value: object = None

    @classmethod
    def from_mapping(cls, data: dict[str, object]) -> list[dict[str, object]] | None:
        """{"status": "done", "region": ["N", "S"]}: one filter per column (= ; IN for a list; IS NULL for null)."""
        if names_a_field(cls, data):
            return None
        ops = {k: "IS NULL" if v is None else "IN" if isinstance(v, list) else "=" for k, v in data.items()}
        return [{"column": k, "operator": ops[k], "value": v} for k, v in data.items()]


class TimeBucket(In):
    column: str
    period: Literal["day", "week", "month", "quarter", "year"]


class Group(In):
    label: str
    filters: list[Filter] = Field(default_factory=list)


class MetricsSummary(Out):
    total_records: int = Field(description="Rows matched by the filters")
    total_groups: int | None = None
    calculation_time_ms: float
    metric_applied: str


class MetricsResult(Out):
    columns: list[str]
    results: list[list[object]]
    summary: MetricsSummary
    time_column: str | None = None
    time_zone: str | None = Field(None, description="Zone of time buckets, date filters and timestamps")
    conventions: list[str] = Field(default_factory=list, description="How this answer's numbers were computed")
    tied_at_cutoff: int | None = Field(
        None, description="With order_by: groups sharing the value of the last row shown (1: no tie)"
    )
    tied_not_shown: int = Field(0, description="Of those, groups the limit left out (> 0: the cut-off splits a tie)")
    sql: str
    params: list[object]
    from_cache: bool = False
    message: str


class RankedEntity(Out):
    rank: int
    entity: object
    label: object | None = None
    value: object
    percent_of_total: float | None = None
    records: int | None = Field(None, description="Rows of this entity")


class NullEntity(Out):
    """The rows whose entity column is NULL: never ranked, reported apart."""

    records: int = Field(description="Rows whose entity is NULL")
    value: object = Field(description="The aggregate over those rows")
    percent_of_total: float | None = None


class RankResult(Out):
    ranking: list[RankedEntity]
    total_entities: int
    ranking_method: str
    label_column: str | None = None
    label_key: str | None = Field(None, description="The key the label follows: declared, or inferred (confidence)")
    tied_at_cutoff: int | None = Field(None, description="Entities sharing the last rank shown (1: no tie)")
    tied_not_shown: int = Field(0, description="Of those, entities the limit left out (> 0: the cut-off splits a tie)")
    null_entity: NullEntity | None = Field(
        None, description="Rows whose entity is NULL (not ranked, not in total_entities; in percent_of_total's total)"
    )
    time_zone: str | None = Field(None, description="Zone of date filters")
    conventions: list[str] = Field(default_factory=list, description="How this answer's numbers were computed")
    calculation_time_ms: float
    sql: str
    params: list[object]
    from_cache: bool = False
    message: str


class GroupValue(Out):
    label: str
    value: object
    records: int
    period: str | None = Field(
        None, description="compare_by=time: the exact window, start inclusive, end exclusive, in time_zone"
    )
    start: str | None = Field(None, description="compare_by=time: window start (inclusive), ISO 8601 with offset")
    end: str | None = Field(None, description="compare_by=time: window end (exclusive), ISO 8601 with offset")


class CompareResult(Out):
    group1: GroupValue
    group2: GroupValue = Field(description="The baseline: percent_change is relative to group2")
    difference: float | None = Field(description="group1 - group2")
    percent_change: float | None = Field(
        description="(group1 - group2) / |group2| x 100: group2 (the previous period with compare_by=time) is the "
        "baseline; null when group2 is 0 or missing"
    )
    percent_change_note: str | None = None
    trend: Literal["up", "down", "stable"] | None
    insight: str
    baseline: str | None = Field(None, description="Label of the baseline group (group2)")
    time_column: str | None = None
    time_zone: str | None = Field(None, description="Zone of the windows, date filters and timestamps")
    conventions: list[str] = Field(default_factory=list, description="How this answer's numbers were computed")
    calculation_time_ms: float
    sql: list[str]
    from_cache: bool = False
    message: str


class ForecastPoint(Out):
    period_start: str
    value: float
    lower: float
    upper: float


class AnomalyPoint(Out):
    period_start: str
    value: float
    expected: float
    lower: float
    upper: float
    severity: str


class Series(Out):
    group: object | None = None
    periods: list[str]
    values: list[float | None]
    partial: list[bool] = Field(
        default_factory=list, description="Per period: true when the span or today cuts it (see partial_periods)"
    )
    moving_averages: dict[str, list[float | None]]
    direction: str
    growth_rate_pct: float | None
    total_change_pct: float | None
    trend_significant: bool
    slope_per_period: float
    r_squared: float
    volatility: float
    forecast: list[ForecastPoint]
    anomalies: list[AnomalyPoint]
    insights: list[str]


class PartialPeriod(Out):
    period_start: str
    partial: bool = True
    days_covered: int = Field(description="Days of the period inside the span (today counts as covered)")
    days_in_period: int
    covered_from: str = Field(description="First day covered (inclusive)")
    covered_to: str = Field(description="Day after the last covered day (exclusive)")
    reason: str
    excluded: bool = Field(description="Left out of trend, growth, moving averages, anomalies and forecast")


class TrendResult(Out):
    period: str
    time_column: str
    metric_applied: str
    start_date: str
    end_date: str
    time_zone: str | None = Field(None, description="Zone of the buckets, span and date filters")
    partial_periods: list[PartialPeriod] = Field(
        default_factory=list, description="Buckets cut by start_date, end_date or today (partial: true)"
    )
    conventions: list[str] = Field(default_factory=list, description="How this answer's numbers were computed")
    confidence_level: float
    series: list[Series]
    calculation_time_ms: float
    sql: str
    params: list[object]
    from_cache: bool = False
    message: str
