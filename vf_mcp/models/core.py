"""Inputs and outputs of the five core tools (the return models are the MCP outputSchemas)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from vf_mcp.models.base import Out


class ColumnInfo(Out):
    name: str
    type: str = Field(description="PostgreSQL type")


class RoleSafetyInfo(Out):
    role: str
    read_only: bool = Field(description="False when the role is superuser or could write")
    warning: str | None = None


# ---------- run_query ----------


class QueryResult(Out):
    """Rows travel as arrays under one column list."""

    columns: list[ColumnInfo]
    rows: list[Any] = Field(description="Each row is an array of values in column order")
    row_count: int = Field(description="Rows returned in this page")
    truncated: bool = Field(description="True when more rows exist than were returned")
    truncated_reason: str | None = None
    next_offset: int | None = Field(None, description="Pass as offset to get the next page")
    cut_values: list[str] = Field(
        default_factory=list,
        description="Values over max_result_bytes, returned as a preview ending '… [value cut: N bytes]'",
    )
    execution_time_ms: float
    query_plan: Any | None = Field(None, description="EXPLAIN (FORMAT JSON) output when explain=true")
    optimization_hints: list[str] = Field(default_factory=list)
    from_cache: bool = False
    message: str


# ---------- list_tables ----------


class TableEntry(Out):
    name: str
    schema_name: str
    kind: str = Field(description="table, view, materialized view, partitioned table, foreign table")
    row_estimate: int | None = Field(None, description="Planner estimate (not exact)")
    size_bytes: int | None = None
    comment: str | None = None
    partitions: list[str] | None = Field(None, description="Partitions of a partitioned table")


class TableList(Out):
    tables: list[TableEntry]
    total: int
    message: str


# ---------- get_database_overview ----------


class OverviewTable(Out):
    name: str
    schema_name: str
    kind: str
    row_count: int | None = Field(None, description="Planner estimate")
    size: str | None = None
    size_bytes: int | None = None
    partitions: int | None = Field(None, description="Partitioned table: leaf partitions its figures sum over")
    last_updated: str | None = Field(
        None, description="Newest value (not in the future) of a created/updated-like column (statistics)"
    )
    last_updated_column: str | None = None
    last_updated_basis: str | None = Field(None, description="How last_updated was chosen")
    growth_rate_per_day: float | None = Field(None, description="Rows/day over the last 30 days (estimate)")
    quality_score: float | None = Field(None, description="0-100, completeness from planner statistics")


class DatabaseOverview(Out):
    database: str
    server_version: str
    total_tables: int
    total_rows: int
    exact: bool = Field(description="False: row counts and scores are planner estimates")
    total_size: str
    total_size_bytes: int
    last_scanned: str = Field(description="When this overview was computed (ISO 8601)")
    role_safety: RoleSafetyInfo
    tables: list[OverviewTable]
    message: str


# ---------- get_table_schema ----------


class ColumnSchema(Out):
    name: str
    type: str
    nullable: bool
    default: str | None = None
    identity: str | None = None
    generated: str | None = None
    comment: str | None = None
    enum_labels: list[str] | None = None


class ForeignKey(Out):
    name: str
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    table: str = Field(description="The table holding the key")
    validated: bool = True


class Constraint(Out):
    name: str
    columns: list[str] | None = None
    definition: str


class IndexInfo(Out):
    name: str
    definition: str
    unique: bool
    primary: bool
    partial: bool
    valid: bool
    size_bytes: int | None = None


class Partitioning(Out):
    key: str | None = Field(None, description="Partition key of a partitioned table")
    partitions: list[dict[str, str]] = Field(default_factory=list)
    bound: str | None = Field(None, description="This partition's bound")


class TableSchema(Out):
    name: str
    schema_name: str
    kind: str
    comment: str | None = None
    row_estimate: int | None = None
    columns: list[ColumnSchema]
    primary_key: list[str] | None = None
    foreign_keys: list[ForeignKey] = Field(default_factory=list, description="Keys in this table")
    referenced_by: list[ForeignKey] = Field(default_factory=list, description="Keys in other tables pointing here")
    unique_constraints: list[Constraint] = Field(default_factory=list)
    check_constraints: list[Constraint] = Field(default_factory=list)
    indexes: list[IndexInfo] = Field(default_factory=list)
    partitioning: Partitioning | None = None
    view_definition: str | None = None


# ---------- get_table_stats ----------


class ValueCount(Out):
    value: Any
    count: int
    frequency: float


class ColumnStats(Out):
    name: str
    type: str
    null_count: int | None = None
    null_fraction: float | None = None
    distinct_count: int | None = None
    min: Any | None = None
    max: Any | None = None
    avg: float | None = None
    median: float | None = None
    stddev: float | None = None
    most_common: list[ValueCount] = Field(default_factory=list)


class QualityMeasure(Out):
    score: float = Field(description="0-100")
    definition: str
    issues: int = Field(0, description="Values counted against this measure")


class DataQuality(Out):
    completeness: QualityMeasure
    consistency: QualityMeasure
    accuracy: QualityMeasure
    overall: float


class SampleRows(Out):
    columns: list[str]
    rows: list[list[Any]]


class TableStats(Out):
    table: str
    row_count: int
    exact: bool = Field(description="False: computed on a sample or from planner statistics")
    method: str
    sample_size: int | None = Field(None, description="Rows examined when exact is false")
    columns: list[ColumnStats]
    sample_rows: SampleRows
    data_quality: DataQuality
    calculation_time_ms: float
    from_cache: bool = False
    message: str
