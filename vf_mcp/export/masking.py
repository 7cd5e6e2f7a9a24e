"""PII masking for exports: every chunk of every format passes through `mask_pii`, in order, once.

Columns are masked by lineage (`with_lineage`: what each output column is computed from, as for run_query)
and, as a second net, by name and by value pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from vf_mcp.db.lineage import QueryLineage
from vf_mcp.export.columns import ExportColumn
from vf_mcp.identifiers import quote_ident
from vf_mcp.pii import ColumnMask, PiiPolicy

if TYPE_CHECKING:
    from vf_mcp.db.catalog import Catalog
    from vf_mcp.settings import PiiMode


@dataclass(frozen=True)
class LineagePolicy:
    """A PII policy with the lineage of the statement being exported (None: not analysable, names only)."""

    policy: PiiPolicy
    lineage: QueryLineage | None

    @property
    def enabled(self) -> bool:
        return self.policy.enabled

    @property
    def mode(self) -> PiiMode:
        return self.policy.mode

    def masks(self, columns: Sequence[ExportColumn]) -> tuple[ColumnMask, ...]:
        if self.lineage is None:
            return ()
        return self.policy.lineage_masks(self.lineage.for_columns([c.name for c in columns]))


ExportPolicy: TypeAlias = "PiiPolicy | LineagePolicy | None"
"""What the export writers mask with (None: an admin allowed to see PII unmasked)."""


async def with_lineage(catalog: Catalog, sql: str, policy: PiiPolicy | None) -> ExportPolicy:
    """`policy` with the lineage of `sql` attached (unchanged when nothing is masked)."""
    if not isinstance(policy, PiiPolicy) or not policy.enabled:
        return policy
    from vf_mcp.db.masking import lineage_cache

    return LineagePolicy(policy, (await lineage_cache(catalog)).lineage(sql))


def _split(
    policy: PiiPolicy | LineagePolicy, columns: Sequence[ExportColumn]
) -> tuple[PiiPolicy, tuple[ColumnMask, ...]]:
    if isinstance(policy, LineagePolicy):
        return policy.policy, policy.masks(columns)
    return policy, ()


def masked_columns(columns: Sequence[ExportColumn], policy: ExportPolicy) -> list[int]:
    """Positions of the columns the policy masks or hashes by lineage, name or configuration."""
    if policy is None or not policy.enabled:
        return []
    base, masks = _split(policy, columns)
    by_lineage = {m.index for m in masks}
    return [i for i, c in enumerate(columns) if i in by_lineage or base.column_mode(c.name) in ("mask", "hash")]


def scans_values(policy: ExportPolicy) -> bool:
    """Whether `mask_pii` may change CSV lines PostgreSQL built (the value-pattern net of the policy's mode)."""
    if policy is None or not policy.enabled:
        return False
    base = policy.policy if isinstance(policy, LineagePolicy) else policy
    return base.mode != "allow"


def text_cast_sql(statement: str, columns: Sequence[ExportColumn], positions: Sequence[int]) -> str:
    """`statement` with the columns at `positions` cast to text (masked values are text), names kept."""
    aliases = ", ".join(f'"{i}"' for i in range(1, len(columns) + 1))
    cells = []
    for i, col in enumerate(columns):
        value = f'q."{i + 1}"'
        name = quote_ident(col.name)
        cells.append(f"{value}::text AS {name}" if i in positions else f"{value} AS {name}")
    return f"SELECT {', '.join(cells)} FROM (\n{statement}\n) AS q({aliases})"


def mask_pii(
    columns: Sequence[ExportColumn],
    rows: Sequence[Sequence[object]],
    *,
    csv_lines: bool,
    policy: ExportPolicy = None,
) -> Sequence[Sequence[object]]:
    """Mask personal data in one chunk before it is written.

    `rows` are asyncpg records, or CSV lines PostgreSQL built (`csv_lines`: then only value patterns apply;
    the runner does not use CSV lines when a column is masked). Masked columns arrive cast to text.
    """
    if policy is None or not policy.enabled:
        return rows
    base, masks = _split(policy, columns)
    if csv_lines:
        if base.mode == "allow":
            return rows
        # (line, scan): only lines PostgreSQL flagged may hold a value pattern (csvout.csv_line_sql)
        return [
            (base.mask_text(row[0]) if isinstance(row[0], str) and (len(row) < 2 or row[1]) else row[0],)
            for row in rows
        ]
    lists = base.apply_masks([list(r) for r in rows], masks)
    masked: list[list[object]] = base.mask_rows([c.name for c in columns], lists)
    return masked
