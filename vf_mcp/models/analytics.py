"""Inputs and outputs of the analytics tools."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from vf_mcp.models.base import Out


class Filter(BaseModel):
    """{column, operator, value}; value is a list for IN, NOT IN and BETWEEN."""

    column: str
    operator: Literal[
        "=", "!=", "<>", ">", "<", ">=", "<=", "LIKE", "ILIKE", "IN", "NOT IN", "BETWEEN", "IS NULL", "IS NOT NULL"
    ] = "="
    value: Any = None


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
    results: list[list[Any]]
    summary: MetricsSummary
    time_column: str | None = None
    sql: str
    params: list[Any]
    from_cache: bool = False
    message: str


class RankedEntity(Out):
    rank: int
    entity: Any
    label: Any | None = None
    value: Any
    percent_of_total: float | None = None


class RankResult(Out):
    ranking: list[RankedEntity]
    total_entities: int
    ranking_method: str
    label_column: str | None = None
    calculation_time_ms: float
    sql: str
    params: list[Any]
    from_cache: bool = False
    message: str


class GroupValue(Out):
    label: str
    value: Any
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
    group: Any | None = None
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
    params: list[Any]
    from_cache: bool = False
    message: str
