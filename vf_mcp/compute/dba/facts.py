"""Thresholds, SQL identifiers and the catalog/statistics facts the DBA analysis works on (filled by vf_mcp.db.dba)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from vf_mcp.identifiers import ident as ident

# --------------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------------

LARGE_TABLE_ROWS = 10_000
"""Tables below this estimate are read faster by a sequential scan: no index advice for them."""
SELECTIVE_FRACTION = 0.10
"""A filter keeping at most this share of the rows it reads is selective: an index pays."""
ESTIMATE_ERROR_RATIO = 10.0
"""Estimated vs actual rows off by more than this factor is reported."""
ESTIMATE_MIN_ROWS = 100
"""...when the larger of the two (times loops) reaches this many rows (tiny errors do not matter)."""
NESTED_LOOP_OUTER_ROWS = 10_000
"""A nested loop driven by this many outer rows is a 'large input'."""
NESTED_LOOP_SEQ_OUTER_ROWS = 100
"""A nested loop whose inner side is a sequential scan is reported from this many outer rows."""
MIN_GAIN_PCT = 10.0
"""Index candidates whose estimated improvement is below this are dropped."""
MAX_INDEX_COLUMNS = 3
UNUSED_INDEX_WARN_BYTES = 10 * 1024 * 1024
DEFAULT_EQ_SEL = 0.005  # PostgreSQL's DEFAULT_EQ_SEL, used when a column has no statistics
DEFAULT_RANGE_SEL = 1.0 / 3.0  # PostgreSQL's DEFAULT_INEQ_SEL, for a range against an unknown value


# --------------------------------------------------------------------------------------------------
# Identifiers
# --------------------------------------------------------------------------------------------------


def qualified(schema: str, name: str) -> str:
    return f"{ident(schema)}.{ident(name)}"


def index_name(table: str, columns: Sequence[str], suffix: str = "idx") -> str:
    """table_col1_col2_idx, cut to PostgreSQL's 63-byte identifier limit."""
    base = "_".join([table, *columns])
    base = re.sub(r"[^A-Za-z0-9_]+", "_", base).strip("_").lower() or "vf"
    return f"{base[: 62 - len(suffix)]}_{suffix}"


# --------------------------------------------------------------------------------------------------
# Catalog and statistics facts (filled by vf_mcp.db.dba)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnFacts:
    name: str
    type: str
    n_distinct: float | None = None  # pg_stats.n_distinct as stored (negative: fraction of rows)
    null_frac: float | None = None
    avg_width: int | None = None
    correlation: float | None = None


@dataclass(frozen=True)
class IndexFacts:
    oid: int
    name: str
    columns: tuple[str | None, ...]  # key columns in order; None for an expression
    unique: bool = False
    primary: bool = False
    partial: bool = False
    valid: bool = True
    am: str = "btree"
    size_bytes: int = 0
    scans: int | None = None
    constraint: str | None = None  # contype of the constraint the index backs (p, u, x)
    definition: str = ""
    child: bool = False  # a partition of a partitioned index (cannot be dropped alone)
    predicate: str | None = None
    opclasses: tuple[int, ...] = ()


@dataclass(frozen=True)
class ForeignKeyFacts:
    name: str
    columns: tuple[str, ...]
    ref_table: str
    validated: bool = True


@dataclass(frozen=True)
class TableFacts:
    oid: int
    schema: str
    name: str
    kind: str = "r"
    reltuples: float = 0.0
    relpages: int = 0
    n_live: int | None = None
    n_dead: int | None = None
    mod_since_analyze: int | None = None
    last_analyzed: datetime | None = None
    seq_scan: int | None = None
    idx_scan: int | None = None
    columns: Mapping[str, ColumnFacts] = field(default_factory=dict)
    indexes: tuple[IndexFacts, ...] = ()
    foreign_keys: tuple[ForeignKeyFacts, ...] = ()
    n_tup_upd_del: int | None = None

    @property
    def display(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def sql_name(self) -> str:
        return qualified(self.schema, self.name)

    @property
    def rows(self) -> float:
        return max(self.reltuples, float(self.n_live or 0), 0.0)

    def distinct(self, column: str) -> float | None:
        c = self.columns.get(column)
        if c is None or c.n_distinct is None or c.n_distinct == 0:
            return None
        return c.n_distinct if c.n_distinct > 0 else max(1.0, -c.n_distinct * self.rows)

    def stats_stale(self) -> bool:
        if self.last_analyzed is None:
            return True
        return (self.mod_since_analyze or 0) > max(1000.0, 0.1 * self.rows)


@dataclass(frozen=True)
class CostSettings:
    """Planner cost constants (pg_settings), for the statistics-based estimate."""

    seq_page_cost: float = 1.0
    random_page_cost: float = 4.0
    cpu_tuple_cost: float = 0.01
    cpu_index_tuple_cost: float = 0.005
    cpu_operator_cost: float = 0.0025
    block_size: int = 8192
