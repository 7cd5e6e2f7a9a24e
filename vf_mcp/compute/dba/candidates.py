"""Index candidates from query shapes, their estimated gain from planner statistics,
foreign keys without an index, and indexes to drop."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vf_mcp.compute.dba.aliases import EvidenceView
from vf_mcp.compute.dba.facts import (
    DEFAULT_EQ_SEL,
    DEFAULT_RANGE_SEL,
    LARGE_TABLE_ROWS,
    MAX_INDEX_COLUMNS,
    UNUSED_INDEX_WARN_BYTES,
    CostSettings,
    IndexFacts,
    TableFacts,
    ident,
    index_name,
    qualified,
)
from vf_mcp.compute.dba.shape import Predicate, QueryShape, owner

# --------------------------------------------------------------------------------------------------
# Index candidates
# --------------------------------------------------------------------------------------------------


@dataclass
class Candidate:
    table: TableFacts
    columns: tuple[str, ...]
    eq_count: int  # leading columns compared with equality (their order does not matter)
    kind: str  # filter | join | sort | group | foreign_key
    reason: str
    selectivity: float | None = None
    queries: set[int] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, tuple[str, ...]]:
        return (self.table.oid, self.columns)

    def statement(self) -> str:
        name = index_name(self.table.name, self.columns)
        cols = ", ".join(ident(c) for c in self.columns)
        return f"CREATE INDEX CONCURRENTLY {ident(name)} ON {self.table.sql_name} ({cols});"


def eq_selectivity(table: TableFacts, pred: Predicate) -> float:
    col = table.columns.get(pred.ref.column)
    if pred.kind == "null":
        return max(col.null_frac or 0.0, 1.0 / max(table.rows, 1.0)) if col else DEFAULT_EQ_SEL
    nd = table.distinct(pred.ref.column)
    base = 1.0 / nd if nd else DEFAULT_EQ_SEL
    return min(1.0, base * (pred.count if pred.kind == "in" else 1))


def shape_candidates(
    shape: QueryShape, bound: Mapping[str, TableFacts], *, min_rows: float = LARGE_TABLE_ROWS
) -> list[Candidate]:
    """Candidate indexes for one statement: filter (equality columns, most selective first, then one
    range column), ORDER BY ... LIMIT, GROUP BY, and join columns, on tables of at least `min_rows`."""
    per_table: dict[int, dict[str, Any]] = {}

    def slot(t: TableFacts) -> dict[str, Any]:
        return per_table.setdefault(t.oid, {"table": t, "eq": {}, "range": [], "join": [], "order": [], "group": []})

    for p in shape.predicates:
        pt = owner(p.ref, bound)
        if pt is None:
            continue
        s = slot(pt)
        if p.kind in ("eq", "in", "null"):
            sel = eq_selectivity(pt, p)
            s["eq"][p.ref.column] = min(sel, s["eq"].get(p.ref.column, 1.0))
        elif p.ref.column not in s["range"]:
            s["range"].append(p.ref.column)
    for a, b in shape.joins:
        for ref in (a, b):
            jt = owner(ref, bound)
            if jt is not None and ref.column not in slot(jt)["join"]:
                slot(jt)["join"].append(ref.column)
    for key, refs in (("order", shape.order_by), ("group", shape.group_by)):
        owners = [(owner(r, bound), r.column) for r in refs]
        tables = {t.oid for t, _ in owners if t is not None}
        first = owners[0][0] if owners else None
        if first is not None and len(tables) == 1 and all(o is not None for o, _ in owners):
            slot(first)[key] = list(dict.fromkeys(c for _, c in owners))

    out: list[Candidate] = []
    for s in per_table.values():
        t: TableFacts = s["table"]
        if t.rows < min_rows or t.kind not in ("r", "m", "p"):
            continue
        eq = sorted(s["eq"].items(), key=lambda kv: kv[1])
        eq_cols = [c for c, _ in eq][:MAX_INDEX_COLUMNS]
        sel = math.prod(v for _, v in eq[: len(eq_cols)]) if eq_cols else 1.0
        rng = [c for c in s["range"] if c not in eq_cols]
        if eq_cols or rng:
            cols = eq_cols + rng[: 1 if len(eq_cols) < MAX_INDEX_COLUMNS else 0]
            fsel = sel * (DEFAULT_RANGE_SEL if len(cols) > len(eq_cols) else 1.0)
            what = ", ".join([f"{c} = …" for c in eq_cols] + [f"{c} range" for c in cols[len(eq_cols) :]])
            out.append(Candidate(t, tuple(cols), len(eq_cols), "filter", f"WHERE {what}", fsel))
        if shape.has_limit and s["order"]:
            cols = list(dict.fromkeys(eq_cols + s["order"]))[: MAX_INDEX_COLUMNS + 1]
            out.append(
                Candidate(
                    t,
                    tuple(cols),
                    len(eq_cols),
                    "sort",
                    f"ORDER BY {', '.join(s['order'])} LIMIT: read rows in index order and stop early",
                    sel,
                )
            )
        if s["group"] and not (eq_cols or rng):
            cols = s["group"][:MAX_INDEX_COLUMNS]
            out.append(
                Candidate(t, tuple(cols), 0, "group", f"GROUP BY {', '.join(cols)}: aggregate in index order", None)
            )
        for col in s["join"]:
            if col in eq_cols[:1] or (col in rng[:1] and not eq_cols):
                continue
            nd = t.distinct(col)
            out.append(
                Candidate(
                    t,
                    (col,),
                    1,
                    "join",
                    f"join on {col}: index lookups from the other table",
                    1.0 / nd if nd else DEFAULT_EQ_SEL,
                )
            )
    for c in out:
        c.reasons.append(c.reason)
    return out


def covering_index(
    table: TableFacts, columns: Sequence[str], eq_count: int, *, include_invalid: bool = False
) -> IndexFacts | None:
    """An existing btree index that serves the same lookups: the equality columns first (any order),
    then the remaining columns in order. Partial, expression and invalid indexes do not count."""
    n = len(columns)
    for idx in table.indexes:
        if idx.am != "btree" or idx.partial or (not idx.valid and not include_invalid):
            continue
        if len(idx.columns) < n or any(c is None for c in idx.columns[:n]):
            continue
        lead = idx.columns[:eq_count]
        if set(lead) == set(columns[:eq_count]) and tuple(idx.columns[eq_count:n]) == tuple(columns[eq_count:n]):
            return idx
    return None


def merge_candidates(cands: Sequence[Candidate]) -> list[Candidate]:
    """Drop exact repeats and candidates a wider candidate on the same table already serves."""
    kept: list[Candidate] = []
    for c in sorted(cands, key=lambda c: (-len(c.columns), c.kind != "filter")):
        target = next(
            (
                k
                for k in kept
                if k.table.oid == c.table.oid and covering_index(as_index_table(k), c.columns, c.eq_count) is not None
            ),
            None,
        )
        if target is None:
            kept.append(c)
            continue
        target.queries |= c.queries
        for r in c.reasons:
            if r not in target.reasons:
                target.reasons.append(r)
    return kept


def as_index_table(c: Candidate) -> TableFacts:
    """A table whose only index is candidate `c` (to reuse covering_index for merging)."""
    return TableFacts(
        oid=c.table.oid,
        schema=c.table.schema,
        name=c.table.name,
        indexes=(IndexFacts(oid=0, name="candidate", columns=c.columns),),
    )


# --------------------------------------------------------------------------------------------------
# Estimates from planner statistics
# --------------------------------------------------------------------------------------------------


def maxalign(n: float) -> float:
    return math.ceil(n / 8.0) * 8.0


def estimate_index_bytes(table: TableFacts, columns: Sequence[str], block_size: int = 8192) -> int:
    """B-tree size from row count and column widths: (8-byte tuple header + aligned key + 4-byte line
    pointer) per row, pages 90% full (the default fillfactor), plus ~1% inner pages and the metapage."""
    width = sum((table.columns[c].avg_width or 8) if c in table.columns else 8 for c in columns)
    per_tuple = 8 + maxalign(width) + 4
    usable = (block_size - 24 - 16) * 0.9
    leaf = math.ceil(max(table.rows, 1.0) * per_tuple / usable)
    return int((math.ceil(leaf * 1.01) + 1) * block_size)


@dataclass(frozen=True)
class Estimate:
    cost_before: float | None
    cost_after: float | None
    rows_before: float | None
    rows_after: float | None
    improvement_pct: float | None
    note: str


def seq_scan_cost(table: TableFacts, costs: CostSettings, quals: int = 1) -> float:
    n = table.rows
    return table.relpages * costs.seq_page_cost + n * (costs.cpu_tuple_cost + quals * costs.cpu_operator_cost)


def index_scan_cost(table: TableFacts, columns: Sequence[str], sel: float, costs: CostSettings) -> float:
    """PostgreSQL's cost_index in miniature: index pages + Mackert-Lohman heap pages, interpolated between
    random and sequential heap access by the square of the leading column's correlation."""
    n, pages = table.rows, float(max(table.relpages, 1))
    rows = max(1.0, sel * n)
    index_pages = max(1.0, estimate_index_bytes(table, columns, costs.block_size) / costs.block_size)
    descent = math.ceil(math.log2(n + 1)) * costs.cpu_operator_cost + 50 * costs.cpu_operator_cost
    index_part = math.ceil(sel * index_pages) * costs.random_page_cost + rows * (
        costs.cpu_index_tuple_cost + costs.cpu_operator_cost
    )
    fetched = min(pages, 2.0 * pages * rows / (2.0 * pages + rows))
    max_io = fetched * costs.random_page_cost
    min_io = costs.random_page_cost + max(0.0, math.ceil(sel * pages) - 1) * costs.seq_page_cost
    col = table.columns.get(columns[0]) if columns else None
    corr2 = (col.correlation or 0.0) ** 2 if col else 0.0
    heap = max_io + corr2 * (min_io - max_io)
    return descent + index_part + heap + rows * costs.cpu_tuple_cost


def estimate_gain(c: Candidate, costs: CostSettings) -> Estimate:
    """Statistics-based estimate of what the candidate saves for one execution of the query."""
    t = c.table
    before = seq_scan_cost(t, costs, quals=max(1, len(c.columns)))
    n = t.rows
    if c.kind == "foreign_key" and c.selectivity is not None:
        after = index_scan_cost(t, c.columns, c.selectivity, costs)
        note = (
            "estimate per DELETE or key UPDATE of one parent row (and per join lookup from the parent): a scan "
            "of the table versus an index lookup, from planner statistics"
        )
        return _estimate(before, after, n, c.selectivity * n, note)
    if c.kind == "filter" and c.selectivity is not None:
        after = index_scan_cost(t, c.columns, c.selectivity, costs)
        note = "estimate from planner statistics (selectivity x table size), not a measured plan"
        return _estimate(before, after, n, c.selectivity * n, note)
    if c.kind == "join" and c.selectivity is not None:
        after = index_scan_cost(t, c.columns, c.selectivity, costs)
        note = (
            "estimate per lookup from planner statistics: a sequential scan of the table versus one index "
            "lookup; the gain grows with the number of outer rows the join probes"
        )
        return _estimate(before, after, n, c.selectivity * n, note)
    if c.kind == "sort":
        sel = c.selectivity if c.selectivity is not None else 1.0
        matched = max(1.0, sel * n)
        sort = 2.0 * costs.cpu_operator_cost * matched * math.log2(matched + 1)
        limit_rows = min(matched, 100.0)
        after = index_scan_cost(t, c.columns, limit_rows / max(n, 1.0), costs)
        note = "estimate from planner statistics, assuming LIMIT 100: scan + sort versus reading the index in order"
        return _estimate(before + sort, after, n, limit_rows, note)
    return Estimate(None, None, None, None, None, "not estimated without hypopg (GROUP BY ordering)")


def _estimate(before: float, after: float, rows_before: float, rows_after: float, note: str) -> Estimate:
    pct = 100.0 * (before - after) / before if before > 0 else None
    return Estimate(round(before, 2), round(after, 2), round(rows_before), round(rows_after), round1(pct), note)


def round1(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


# --------------------------------------------------------------------------------------------------
# Foreign keys without an index, and indexes to drop
# --------------------------------------------------------------------------------------------------


FK_MIN_ROWS = 1_000
"""Foreign keys on smaller tables need no index: scanning them is as cheap as an index lookup."""


def unindexed_foreign_keys(tables: Sequence[TableFacts], *, min_rows: float = FK_MIN_ROWS) -> list[Candidate]:
    """Foreign keys whose columns are not the leading columns (any order) of a valid btree index, on
    tables of at least `min_rows` rows."""
    out: list[Candidate] = []
    for t in tables:
        if t.rows < min_rows:
            continue
        for fk in t.foreign_keys:
            if covering_index(t, fk.columns, len(fk.columns)) is not None:
                continue
            sel = 1.0 / (t.distinct(fk.columns[0]) or max(t.rows, 1.0))
            c = Candidate(
                t,
                fk.columns,
                len(fk.columns),
                "foreign_key",
                f"foreign key {fk.name} ({', '.join(fk.columns)}) -> {fk.ref_table} has no index: every "
                f"DELETE or key UPDATE on {fk.ref_table} scans {t.display} (~{t.rows:,.0f} rows), and joins "
                "from the parent cannot use an index",
                sel,
            )
            c.reasons.append(c.reason)
            out.append(c)
    return out


@dataclass(frozen=True)
class DropAdvice:
    index: IndexFacts
    table: TableFacts
    kind: str  # unused | duplicate | invalid
    severity: str
    evidence: EvidenceView
    reason: str

    def statement(self) -> str:
        return f"DROP INDEX CONCURRENTLY {qualified(self.table.schema, self.index.name)};"


def _supports_fk(t: TableFacts, idx: IndexFacts) -> str | None:
    for fk in t.foreign_keys:
        n = len(fk.columns)
        if len(idx.columns) >= n and set(idx.columns[:n]) == set(fk.columns):
            others = [
                i
                for i in t.indexes
                if i.oid != idx.oid
                and i.valid
                and not i.partial
                and i.am == "btree"
                and len(i.columns) >= n
                and set(i.columns[:n]) == set(fk.columns)
            ]
            if not others:
                return fk.name
    return None


def drop_candidates(tables: Sequence[TableFacts], *, stats_since: str) -> list[DropAdvice]:
    """Invalid indexes, duplicates (same leading columns as another index) and never-scanned indexes."""
    out: list[DropAdvice] = []
    for t in tables:
        flagged: set[int] = set()
        for idx in t.indexes:
            if not idx.valid and not idx.child:
                out.append(
                    DropAdvice(
                        idx,
                        t,
                        "invalid",
                        "warning",
                        {"size_bytes": idx.size_bytes, "definition": idx.definition},
                        "invalid index (a failed CREATE INDEX CONCURRENTLY or REINDEX): it is maintained on "
                        "every write but never used. Drop it, then re-create it, or run "
                        f"REINDEX INDEX CONCURRENTLY {qualified(t.schema, idx.name)};",
                    )
                )
                flagged.add(idx.oid)
        plain = [
            i
            for i in t.indexes
            if i.valid and not i.child and i.am == "btree" and all(c is not None for c in i.columns)
        ]
        for a in plain:
            if a.oid in flagged or a.unique or a.primary or a.constraint:
                continue
            for b in plain:
                if b.oid == a.oid or b.oid in flagged or a.predicate != b.predicate:
                    continue
                if len(b.columns) < len(a.columns) or b.columns[: len(a.columns)] != a.columns:
                    continue
                same = b.columns == a.columns
                if (
                    same
                    and not (b.unique or b.primary or b.constraint)
                    and ((b.scans or 0, b.name) < (a.scans or 0, a.name))
                ):
                    continue  # exact twins: keep the more used one (ties: the first name)
                if same and a.opclasses and b.opclasses and a.opclasses != b.opclasses:
                    continue
                what = "the same columns as" if same else "a leading-column prefix of"
                out.append(
                    DropAdvice(
                        a,
                        t,
                        "duplicate",
                        "warning",
                        {
                            "size_bytes": a.size_bytes,
                            "scans": a.scans,
                            "covered_by": b.name,
                            "columns": list(a.columns),
                            "covered_by_columns": list(b.columns),
                        },
                        f"{a.name} ({', '.join(str(c) for c in a.columns)}) has {what} {b.name} "
                        f"({', '.join(str(c) for c in b.columns)}), which serves the same lookups; dropping it "
                        "saves space and write work",
                    )
                )
                flagged.add(a.oid)
                break
        for idx in t.indexes:
            if idx.oid in flagged or not idx.valid or idx.child or idx.unique or idx.primary or idx.constraint:
                continue
            if idx.scans is None or idx.scans > 0:
                continue
            fk = _supports_fk(t, idx)
            if fk is not None:
                continue  # the only index behind a foreign key: keep it even if never scanned
            sev = "warning" if idx.size_bytes >= UNUSED_INDEX_WARN_BYTES else "info"
            out.append(
                DropAdvice(
                    idx,
                    t,
                    "unused",
                    sev,
                    {
                        "size_bytes": idx.size_bytes,
                        "scans": 0,
                        "stats_since": stats_since,
                        "table_writes": t.n_tup_upd_del,
                    },
                    f"never scanned since {stats_since}; it still costs space and work on every write. Check "
                    "replicas (usage is counted per server) and a full business cycle before dropping",
                )
            )
    return out
