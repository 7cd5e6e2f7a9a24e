"""PII masking for exports: every chunk of every format passes through `mask_pii`, in order, once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vf_mcp.export.columns import ExportColumn


def masked_columns(columns: Sequence[ExportColumn], policy: Any) -> list[int]:
    """Positions of the columns the policy masks or hashes by name or configuration."""
    if policy is None or not policy.enabled:
        return []
    return [i for i, c in enumerate(columns) if policy.column_mode(c.name) in ("mask", "hash")]


def text_cast_sql(statement: str, columns: Sequence[ExportColumn], positions: Sequence[int]) -> str:
    """`statement` with the columns at `positions` cast to text (masked values are text), names kept."""
    aliases = ", ".join(f'"{i}"' for i in range(1, len(columns) + 1))
    cells = []
    for i, col in enumerate(columns):
        value = f'q."{i + 1}"'
        name = col.name.replace('"', '""')
        cells.append(f'{value}::text AS "{name}"' if i in positions else f'{value} AS "{name}"')
    return f"SELECT {', '.join(cells)} FROM (\n{statement}\n) AS q({aliases})"


def mask_pii(
    columns: Sequence[ExportColumn], rows: Sequence[Any], *, csv_lines: bool, policy: Any = None
) -> Sequence[Any]:
    """Mask personal data in one chunk before it is written.

    `rows` are asyncpg records, or CSV lines PostgreSQL built (`csv_lines`: then only value patterns apply;
    the runner does not use CSV lines when a column is PII by name). Masked columns arrive cast to text.
    """
    if policy is None or not policy.enabled:
        return rows
    if csv_lines:
        if policy.mode == "allow":
            return rows
        return [(policy.mask_text(row[0]) if isinstance(row[0], str) else row[0],) for row in rows]
    masked: list[list[Any]] = policy.mask_rows([c.name for c in columns], [list(r) for r in rows])
    return masked
