"""KPI configuration (TOML) and the get_kpi_dashboard output."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vf_mcp.models.analytics import Filter, Metric
from vf_mcp.models.base import Out


class MetricSpec(BaseModel):
    """A KPI computed like calculate_metrics: metric of column over table, filtered, per time window."""

    model_config = ConfigDict(extra="forbid")

    table: str
    metric: Metric = "count"
    column: str | None = None
    filters: list[Filter] = Field(default_factory=list)
    time_column: str | None = Field(default=None, description="Without it the KPI is a snapshot (no previous value)")


class KpiSpec(BaseModel):
    """One KPI: exactly one of sql, metric or builtin."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str | None = None
    description: str = ""
    unit: str = ""
    higher_is_better: bool | None = True
    sql: str | None = Field(
        default=None, description="One read-only statement; $1/$2 = period start/end (timestamptz) when used"
    )
    metric: MetricSpec | None = None
    builtin: Literal["data_health"] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> KpiSpec:
        if sum(x is not None for x in (self.sql, self.metric, self.builtin)) != 1:
            raise ValueError(f"KPI {self.name!r}: give exactly one of sql, metric or builtin")
        return self


class DashboardFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database: str = Field("*", description="Glob matched against current_database()")
    title: str = "KPI dashboard"
    kpi: list[KpiSpec]


class KpiValue(Out):
    name: str
    title: str
    value: object | None
    previous_value: object | None = None
    change: float | None = None
    percent_change: float | None = None
    trend: Literal["up", "down", "stable"] | None = None
    good: bool | None = Field(default=None, description="Whether the trend is good for this KPI")
    unit: str = ""
    detail: object | None = None
    description: str = ""
    error: str | None = None


class Dashboard(Out):
    title: str
    source: str = Field(description="KPI file used, or 'default'")
    timeframe: str
    compare_with: str
    current_period: str
    previous_period: str | None
    kpis: list[KpiValue]
    generated_at: str
    calculation_time_ms: float
    from_cache: bool = False
    message: str


class KpiPoint(Out):
    start: str = Field(description="Window start (inclusive), ISO 8601 with offset")
    end: str = Field(description="Window end (exclusive); the last window ends after as_of (period to date)")
    value: object | None
    partial: bool = Field(False, description="The period to date (not a whole period)")


class KpiHistory(Out):
    name: str
    title: str
    unit: str = ""
    timeframe: str
    time_zone: str
    higher_is_better: bool | None = None
    points: list[KpiPoint]
    calculation_time_ms: float
    message: str
