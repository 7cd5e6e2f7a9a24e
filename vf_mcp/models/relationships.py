"""Output of get_table_relationships (kept small: its JSON schema goes into every client's context)."""

from __future__ import annotations

from pydantic import Field

from vf_mcp.models.base import Out


class Edge(Out):
    """table(columns) references ref_table(ref_columns)."""

    table: str
    columns: list[str]
    ref_table: str
    ref_columns: list[str]
    kind: str = Field(description="declared or inferred")
    cardinality: str = Field(description="one-to-many (one ref_table row, many table rows) or one-to-one")
    name: str | None = Field(None, description="Constraint name")
    confidence: float | None = Field(None, description="0-1, inferred only")
    coverage: float | None = Field(None, description="Share of values found in ref_table")
    orphans: int | None = Field(None, description="Values not found in ref_table")
    evidence: str | None = None


class JoinPath(Out):
    tables: list[str]
    join_sql: str = Field(description="FROM ... JOIN ... ON ... clause")
    inferred: int = Field(description="Inferred edges used")


class Relationships(Out):
    tables: int = Field(description="Tables in the graph")
    edges: list[Edge]
    many_to_many: list[list[str]] = Field(description="[table, table, junction table]")
    isolated: list[str] | None = None
    paths: list[JoinPath] | None = None
    mermaid: str | None = Field(None, description="Mermaid erDiagram")
    exact: bool = Field(description="False: some coverage measured on a sample")
    unverified: int = Field(description="Inferred edges not checked against the data")
    message: str
