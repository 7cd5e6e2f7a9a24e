"""Output of check_data_quality (the return model is the MCP outputSchema: keep it small)."""

from __future__ import annotations

from pydantic import Field

from vf_mcp.models.base import Out


class Finding(Out):
    type: str
    severity: str = Field(description="critical, warning or info")
    column: str | None = None
    description: str
    affected_rows: int | None = None
    recommendation: str


class TableQuality(Out):
    table: str
    rows: int
    exact: bool = Field(description="False: counts estimated from sample_size sampled rows")
    sample_size: int | None = None
    newest: str | None = None
    completeness: float | None = None
    freshness: float | None = None
    consistency: float | None = None
    score: float | None = None
    findings: list[Finding]


class QualityReport(Out):
    score: float | None
    completeness: float | None
    freshness: float | None
    consistency: float | None
    scoring: str
    tables: list[TableQuality]
    statements: int
    calculation_time_ms: float
    message: str
