"""Outputs of the DBA tools: explain_query, get_slow_queries, recommend_indexes, check_database_health.

Nested objects are published as plain objects (shallow output schema); their fields are documented here.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from vf_mcp.models.base import Out


class PlanNode(Out):
    """One of the most expensive plan nodes (exclusive of its children)."""

    node: str = Field(description="Node type and relation, e.g. 'Seq Scan on public.orders'")
    self_cost: float
    self_time_ms: float | None = None
    share_pct: float = Field(description="Share of the plan's total time (analyze) or cost")
    rows_estimated: float
    rows_actual: float | None = None
    loops: int | None = None


class Finding(Out):
    """A plan issue or a health finding: what, how bad, the numbers, and what to do."""

    check: str
    severity: str = Field(description="critical | warning | info")
    object: str
    evidence: dict[str, Any]
    recommendation: str


class ExplainResult(Out):
    analyzed: bool
    params_mode: str
    total_cost: float
    planning_time_ms: float | None = None
    execution_time_ms: float | None = None
    top_nodes: list[PlanNode]
    issues: list[Finding]
    suggestions: list[str]
    plan: Any
    message: str


class SlowQuery(Out):
    queryid: str | None = None
    query: str
    calls: int
    total_time_ms: float
    mean_time_ms: float
    max_time_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int
    cache_hit_ratio: float | None = None
    temp_blks_written: int
    share_of_total_time_pct: float
    notes: list[str] = Field(default_factory=list)


class SlowQueries(Out):
    available: bool
    sort_by: str
    queries: list[SlowQuery]
    stats_since: str | None = None
    enable_steps: list[str] | None = None
    message: str


class IndexGain(Out):
    method: str = Field(description="hypopg (hypothetical index, planner cost) or statistics (estimate)")
    cost_before: float | None = None
    cost_after: float | None = None
    improvement_pct: float | None = None
    rows_read_before: float | None = None
    rows_read_after: float | None = None
    note: str | None = None


class IndexCandidate(Out):
    table: str
    columns: list[str]
    statement: str = Field(description="CREATE INDEX CONCURRENTLY ... (never run by the server)")
    reason: str
    source: str = Field(description="workload | foreign_key")
    severity: str
    estimated_size_bytes: int | None = None
    estimated_size: str | None = None
    gain: IndexGain | None = None
    helps: list[str] = Field(default_factory=list, description="Queries it helps")


class DropCandidate(Out):
    index: str
    table: str
    kind: str = Field(description="unused | duplicate | invalid")
    severity: str
    size_bytes: int
    size: str | None = None
    evidence: dict[str, Any]
    statement: str = Field(description="DROP INDEX CONCURRENTLY ... (never run by the server)")
    reason: str


class IndexAdvice(Out):
    method: str
    queries_analyzed: int
    create: list[IndexCandidate]
    drop: list[DropCandidate]
    skipped: list[str]
    message: str


class HealthReport(Out):
    status: str = Field(description="critical | warning | ok: the worst finding")
    findings: list[Finding]
    checks: dict[str, str] = Field(description="Each check: ok, a count of findings, or why it was skipped")
    message: str
