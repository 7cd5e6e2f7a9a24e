"""Inputs and outputs of the analytics tools."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from vf_mcp.models.base import Out

Metric = Literal["count", "sum", "avg", "min", "max", "distinct", "median", "p90", "p95", "stddev"]
"""The one definition of the metrics calculate_metrics, compare_data, analyze_trends and KPIs accept."""
RankAggregation = Literal["count", "sum", "avg", "min", "max"]
"""The metrics rank_entities accepts (a subset of Metric)."""


class Filter(BaseModel):
    """{column, operator, value}; value is a list for IN, NOT IN and BETWEEN."""

    column: str
    operator: Literal[
        "=", "!=", "<>", ">", "<", ">=", "<=", "LIKE", "ILIKE", "IN", "NOT IN", "BETWEEN", "IS NULL", "IS NOT NULL"
    ] = "="
    value: object = None


class TimeBucket(BaseModel):
    column: str
    period: Literal["day", "week", "month", "quarter", "year"]


class Group(BaseModel):
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


class RankResult(Out):
    ranking: list[RankedEntity]
    total_entities: int
    ranking_method: str
    label_column: str | None = None
    calculation_time_ms: float
    sql: str
    params: list[object]
    from_cache: bool = False
    message: str


class GroupValue(Out):
    label: str
    value: object
    records: int
    period: str | None = None


class CompareResult(Out):
    group1: GroupValue
    group2: GroupValue
    difference: float | None
    percent_change: float | None
    percent_change_note: str | None = None
    trend: Literal["up", "down", "stable"] | None
    insight: str
    time_column: str | None = None
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


class TrendResult(Out):
    period: str
    time_column: str
    metric_applied: str
    start_date: str
    end_date: str
    confidence_level: float
    series: list[Series]
    calculation_time_ms: float
    sql: str
    params: list[object]
    from_cache: bool = False
    message: str
