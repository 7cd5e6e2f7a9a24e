"""The result columns of an export, and the writer interface every format implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from vf_mcp.db.convert import PgAttribute, type_label


@dataclass(frozen=True)
class ExportColumn:
    """One result column: PostgreSQL's name, a unique key (JSON keys, Parquet fields), and its type."""

    name: str
    key: str
    type: str
    """As format_type() spells it: 'integer', 'text[]', 'public.drop_status'."""
    type_name: str
    """asyncpg's name: 'int4', 'int4[]', 'drop_status'."""
    type_kind: str
    """asyncpg's kind: 'scalar', 'array', 'composite', 'range', 'multirange', ..."""
    type_schema: str

    @property
    def pg_catalog(self) -> bool:
        return self.type_schema == "pg_catalog"

    @property
    def element(self) -> str | None:
        """The element type name of an array column (None otherwise)."""
        if self.type_kind != "array" and not self.type_name.endswith("[]"):
            return None
        return self.type_name[:-2] if self.type_name.endswith("[]") else self.type_name.lstrip("_")


def export_columns(attributes: Sequence[PgAttribute]) -> list[ExportColumn]:
    """Columns from PreparedStatement.get_attributes(); duplicate names get unique keys (a, a_2, a_3)."""
    seen: set[str] = set()
    out: list[ExportColumn] = []
    for a in attributes:
        key, n = a.name, 1
        while key in seen:
            n += 1
            key = f"{a.name}_{n}"
        seen.add(key)
        out.append(
            ExportColumn(
                name=a.name,
                key=key,
                type=type_label(a),
                type_name=a.type.name,
                type_kind=a.type.kind,
                type_schema=a.type.schema,
            )
        )
    return out


class Writer(Protocol):
    """One export file being written. `write` takes one chunk and returns about how many bytes it encoded."""

    warnings: list[str]

    def write(self, rows: Sequence[Sequence[object]]) -> int: ...

    def close(self, metadata: dict[str, object] | None) -> None: ...

    def abort(self) -> None: ...


class Counter:
    """Counts values a format could not hold as they were (reported as warnings, never silently)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def messages(self) -> list[str]:
        return [f"{n:,} {what}" for what, n in self.counts.items()]
