"""Schema snapshot objects: one database's tables, columns, constraints, indexes, views, enums, sequences
and domains as ``vf_mcp.db.schema_snapshot`` reads them (pure: no I/O), and SQL quoting of their names."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from vf_mcp.identifiers import quote_ident as quote_ident


def qualified_sql(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Named:
    """A schema object named schema.name: its key and qualified name."""

    schema: str
    name: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.schema, self.name)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class Table(_Named):
    schema: str
    name: str
    kind: str  # r: table, p: partitioned table
    unlogged: bool = False
    partition_key: str | None = None  # "RANGE (day)" for partitioned tables
    parent: tuple[str, str] | None = None  # (schema, name) of the partitioned parent, for partitions
    partition_bound: str | None = None  # "FOR VALUES FROM (...) TO (...)" / "DEFAULT", for partitions

    @property
    def sql_name(self) -> str:
        return qualified_sql(self.schema, self.name)


@dataclass(frozen=True)
class Column:
    schema: str
    table: str
    name: str
    position: int
    type: str  # format_type(): "numeric(10,2)", "public.status"
    not_null: bool = False
    default: str | None = None
    identity: str | None = None  # "always" | "by default"
    generated: str | None = None  # generation expression
    generated_kind: str | None = None  # "stored" | "virtual"
    collation: str | None = None  # quoted, qualified collation when it is not the type's default
    inherited: bool = False  # from a partitioned parent: not created or dropped on its own
    collation_name: str | None = None  # the effective collation ("default", "C"...); None: not collatable

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}.{self.name}"

    @property
    def full_type(self) -> str:
        return f"{self.type} COLLATE {self.collation}" if self.collation else self.type


@dataclass(frozen=True)
class Constraint:
    schema: str
    table: str
    name: str
    type: str  # p, u, f, c, x
    definition: str  # pg_get_constraintdef()
    columns: tuple[str, ...] = ()
    ref_table: tuple[str, str] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.schema, self.table, self.name)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}.{self.name}"


@dataclass(frozen=True)
class Index(_Named):
    schema: str
    table: str
    name: str
    definition: str  # pg_get_indexdef(): a complete CREATE INDEX statement


@dataclass(frozen=True)
class View(_Named):
    schema: str
    name: str
    materialized: bool
    definition: str  # pg_get_viewdef(oid, true)
    depends_on: tuple[tuple[str, str], ...] = ()  # relations (tables and views) it reads

    @property
    def kind(self) -> str:
        return "materialized view" if self.materialized else "view"


@dataclass(frozen=True)
class Enum(_Named):
    schema: str
    name: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Sequence(_Named):
    schema: str
    name: str
    data_type: str
    start: int
    increment: int
    min_value: int
    max_value: int
    cache: int
    cycle: bool
    owned_by: tuple[str, str, str] | None = None  # (schema, table, column) for serial columns


@dataclass(frozen=True)
class Domain(_Named):
    schema: str
    name: str
    base_type: str
    not_null: bool = False
    default: str | None = None
    constraints: tuple[tuple[str, str], ...] = ()  # (name, "CHECK (...)")


@dataclass(frozen=True)
class Snapshot:
    """One database's schema, as far as compare_schemas looks (functions, triggers, grants are not compared)."""

    schemas: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    columns: tuple[Column, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    indexes: tuple[Index, ...] = ()
    views: tuple[View, ...] = ()
    enums: tuple[Enum, ...] = ()
    sequences: tuple[Sequence, ...] = ()
    domains: tuple[Domain, ...] = ()

    def columns_of(self, table: tuple[str, str]) -> list[Column]:
        """The columns of `table` in position order."""
        return self._columns_by_table.get(table, [])

    def primary_key(self, table: tuple[str, str]) -> tuple[str, ...]:
        """The primary key columns of `table` (() without one)."""
        return self._primary_keys.get(table, ())

    @cached_property
    def _columns_by_table(self) -> dict[tuple[str, str], list[Column]]:
        out: dict[tuple[str, str], list[Column]] = {}
        for c in sorted(self.columns, key=lambda c: c.position):
            out.setdefault((c.schema, c.table), []).append(c)
        return out

    @cached_property
    def _primary_keys(self) -> dict[tuple[str, str], tuple[str, ...]]:
        return {(c.schema, c.table): c.columns for c in self.constraints if c.type == "p"}
