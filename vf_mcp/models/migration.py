"""Inputs and outputs of compare_schemas and validate_migration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from vf_mcp.models.base import Out


class Difference(Out):
    kind: str = Field(description="schema, enum, domain, sequence, table, column, constraint, index, view, ...")
    name: str = Field(description="schema.object; columns and constraints: schema.table.name")
    change: str = Field(description="added: only in source; removed: only in target; changed")
    description: str
    destructive: bool = Field(description="The migration step loses data or may fail on existing data")


class SchemaComparison(Out):
    source: str
    target: str
    schemas: list[str] | None = None
    identical: bool
    summary: dict[str, dict[str, int]] = Field(description="{kind: {added, removed, changed}}")
    differences: list[Difference]
    truncated: bool = Field(description="differences capped at max_rows (scripts complete)")
    migration_sql: str
    rollback_sql: str = Field(description="undoes migration_sql (schema only, not dropped data)")
    warnings: list[str]
    rollback_warnings: list[str]
    not_compared: str
    statements: int
    message: str


class TableMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tables: dict[str, str] = Field(default_factory=dict, description='{"schema.old": "schema.new"}')
    columns: dict[str, dict[str, str]] = Field(default_factory=dict, description='{"schema.old": {"old": "new"}}')


class KeyRange(Out):
    after: dict[str, str] | None = Field(default=None, description="Exclusive lower key (None: from the start)")
    upto: dict[str, str] | None = Field(default=None, description="Inclusive upper key (None: to the end)")
    source_rows: int
    target_rows: int
    missing_in_target: int | None = Field(default=None, description="None: the range was not narrowed to rows")
    extra_in_target: int | None = None
    changed: int | None = None
    first_differing_key: dict[str, str] | None = None
    last_differing_key: dict[str, str] | None = None
    bucket: str | None = Field(
        default=None, description="hashed method: the bucket of the key text's md5 ('7 of 64'), not a key range"
    )


class RowSample(Out):
    key: dict[str, str]
    source: dict[str, str | None] | None = Field(default=None, description="Row in the source (missing rows)")
    target: dict[str, str | None] | None = Field(default=None, description="Row in the target (extra rows)")
    changes: dict[str, list[str | None]] | None = Field(
        default=None, description="Changed rows: {column: [source value, target value]} for the columns that differ"
    )


class Samples(Out):
    missing_in_target: list[RowSample]
    extra_in_target: list[RowSample]
    changed: list[RowSample]


class TableValidation(Out):
    table: str = Field(description="schema.table in the source (in the target when only there)")
    target_table: str | None = Field(default=None, description="schema.table in the target, when renamed")
    status: str = Field(description="ok, differs, missing_in_target, missing_in_source or error")
    method: str = Field(
        description="keyed (chunked by primary key range), hashed (any other key: bucketed by the md5 of the key "
        "text), unkeyed (whole-table checksum) or none"
    )
    key: list[str] = Field(default_factory=list, description="Primary key columns (source names)")
    source_rows: int | None = None
    target_rows: int | None = None
    missing_in_target: int | None = None
    extra_in_target: int | None = None
    changed: int | None = Field(default=None, description="Rows with the same key and different values")
    counts_exact: bool = Field(description="False: missing/extra are lower bounds and changed is incomplete")
    columns_compared: int = 0
    columns_missing_in_target: list[str] = Field(default_factory=list)
    columns_missing_in_source: list[str] = Field(default_factory=list)
    retyped_columns: list[str] = Field(default_factory=list, description="Columns whose type differs")
    differing_ranges: list[KeyRange] = Field(default_factory=list, description="First key ranges that differ")
    samples: Samples | None = None
    chunks: int = 0
    statements: int = 0
    elapsed_ms: float = 0.0
    note: str | None = None


class MigrationValidation(Out):
    source: str
    target: str
    tables: list[TableValidation]
    summary: dict[str, int] = Field(description="tables per status")
    chunk_rows: int
    statements: int
    elapsed_ms: float
    message: str
