"""PII masking for exports: NOT BUILT YET (a later issue). `mask_pii` is the one hook every chunk passes through."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vf_mcp.export.columns import ExportColumn


def mask_pii(columns: Sequence[ExportColumn], rows: Sequence[Any], *, csv_lines: bool) -> Sequence[Any]:
    """Mask personal data in one chunk of an export before it is written. Today: returns `rows` unchanged.

    Every chunk of every format passes through here, in order, once. `rows` are asyncpg records (one decoded
    value per column, as vf_mcp.db.convert receives them), except when `csv_lines` is true: then PostgreSQL
    has already built each CSV line (one string per row, see vf_mcp.export.csvout.csv_line_sql), and masking a
    column means masking its expression in that SQL instead (or building CSV from values for masked columns).
    """
    return rows
