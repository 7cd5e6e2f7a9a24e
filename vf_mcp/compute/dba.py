"""Pure DBA analysis: query shapes (pglast), plan digests, index candidates and their estimated gain,
indexes to drop, slow-query notes and database health rules.

Nothing here touches the database: the tools fetch catalog/statistics facts (vf_mcp.db.dba) and pass them in.
Thresholds are module constants so the rules can be read (and tested) in one place.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pglast import keywords as _kw
from pglast import parser as _pg_parser

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
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}

# --------------------------------------------------------------------------------------------------
# Identifiers
# --------------------------------------------------------------------------------------------------

_SIMPLE_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*$")
_RESERVED = frozenset(_kw.RESERVED_KEYWORDS) | frozenset(_kw.TYPE_FUNC_NAME_KEYWORDS)


def ident(name: str) -> str:
    """An identifier as SQL: bare when PostgreSQL would read it back unchanged, else double-quoted."""
    if _SIMPLE_IDENT.match(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


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


# --------------------------------------------------------------------------------------------------
# Query shape (pglast)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColRef:
    qualifier: str | None
    column: str


@dataclass(frozen=True)
class Predicate:
    ref: ColRef
    kind: str  # eq | in | null | range
    param: int | None = None  # $n compared with the column
    count: int = 1  # IN-list length


@dataclass(frozen=True)
class TableRef:
    schema: str | None
    name: str
    alias: str


@dataclass
class QueryShape:
    kind: str  # select | update | delete
    tables: list[TableRef] = field(default_factory=list)
    predicates: list[Predicate] = field(default_factory=list)
    joins: list[tuple[ColRef, ColRef]] = field(default_factory=list)
    order_by: list[ColRef] = field(default_factory=list)
    group_by: list[ColRef] = field(default_factory=list)
    has_limit: bool = False


_EQ_OPS = frozenset({"="})
_RANGE_OPS = frozenset({"<", ">", "<=", ">="})


def query_shape(sql: str) -> QueryShape | None:
    """Tables, filter predicates, join pairs, ORDER BY and GROUP BY columns of one statement.

    None when the text does not parse or is not one SELECT / UPDATE / DELETE.
    """
    try:
        tree = json.loads(_pg_parser.parse_sql_json(sql))
    except (_pg_parser.ParseError, ValueError, RecursionError):
        return None
    stmts = [s.get("stmt", {}) for s in tree.get("stmts", ())]
    if len(stmts) != 1:
        return None
    ((stype, body),) = stmts[0].items() if stmts[0] else (("", {}),)
    walker = _ShapeWalker()
    if stype == "SelectStmt":
        walker.shape.kind = "select"
        walker.select(body, top=True)
    elif stype == "UpdateStmt":
        walker.shape.kind = "update"
        walker.range_item({"RangeVar": body.get("relation", {})})
        for item in body.get("fromClause", ()) or ():
            walker.range_item(item)
        walker.where(body.get("whereClause"))
    elif stype == "DeleteStmt":
        walker.shape.kind = "delete"
        walker.range_item({"RangeVar": body.get("relation", {})})
        for item in body.get("usingClause", ()) or ():
            walker.range_item(item)
        walker.where(body.get("whereClause"))
    else:
        return None
    walker.shape.tables = [t for t in walker.shape.tables if t.name not in walker.ctes or t.schema]
    return walker.shape


def expression_predicates(expr: str) -> tuple[list[Predicate], list[tuple[ColRef, ColRef]]]:
    """Predicates and join pairs of a plan's Filter / Index Cond / Join Filter text (parsed, not matched)."""
    shape = query_shape(f"SELECT 1 WHERE {expr}")
    if shape is None:
        return [], []
    return shape.predicates, shape.joins


def _name_of(node: Any) -> str | None:
    if isinstance(node, dict) and "String" in node:
        value = node["String"].get("sval")
        return str(value) if value is not None else None
    return None


def _strip_casts(node: Any) -> Any:
    while isinstance(node, dict) and "TypeCast" in node:
        node = node["TypeCast"].get("arg")
    return node


def _column(node: Any) -> ColRef | None:
    node = _strip_casts(node)
    if not isinstance(node, dict) or "ColumnRef" not in node:
        return None
    names = [_name_of(f) for f in node["ColumnRef"].get("fields", ())]
    if not names or any(n is None for n in names):
        return None  # t.* or similar
    parts = [n for n in names if n is not None]
    return ColRef(parts[-2] if len(parts) >= 2 else None, parts[-1])


def _param(node: Any) -> int | None:
    node = _strip_casts(node)
    if isinstance(node, dict) and "ParamRef" in node:
        number = node["ParamRef"].get("number")
        return int(number) if number is not None else None
    return None


def _has_column(node: Any) -> bool:
    if isinstance(node, dict):
        if "ColumnRef" in node or "SubLink" in node:
            return True
        return any(_has_column(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_column(v) for v in node)
    return False


class _ShapeWalker:
    def __init__(self) -> None:
        self.shape = QueryShape(kind="select")
        self.ctes: set[str] = set()

    def select(self, body: dict[str, Any], *, top: bool = False) -> None:
        with_clause = body.get("withClause") or {}
        for cte in with_clause.get("ctes", ()) or ():
            c = cte.get("CommonTableExpr", {})
            self.ctes.add(str(c.get("ctename", "")))
            query = c.get("ctequery") or {}
            if "SelectStmt" in query:
                self.select(query["SelectStmt"])
        if body.get("op", "SETOP_NONE") != "SETOP_NONE":
            for side in ("larg", "rarg"):
                if body.get(side):
                    self.select(body[side])
            return
        for item in body.get("fromClause", ()) or ():
            self.range_item(item)
        self.where(body.get("whereClause"))
        for sort in body.get("sortClause", ()) or ():
            ref = _column(sort.get("SortBy", {}).get("node"))
            if ref is not None:
                self.shape.order_by.append(ref)
        for group in body.get("groupClause", ()) or ():
            ref = _column(group)
            if ref is not None:
                self.shape.group_by.append(ref)
        if top and body.get("limitCount") is not None:
            self.shape.has_limit = True
        for target in body.get("targetList", ()) or ():
            self._sublinks(target)

    def range_item(self, item: Any) -> None:
        if not isinstance(item, dict):
            return
        if "RangeVar" in item:
            rv = item["RangeVar"]
            name = rv.get("relname")
            if name:
                alias = (rv.get("alias") or {}).get("aliasname") or name
                self.shape.tables.append(TableRef(rv.get("schemaname"), str(name), str(alias)))
        elif "JoinExpr" in item:
            j = item["JoinExpr"]
            self.range_item(j.get("larg"))
            self.range_item(j.get("rarg"))
            self.where(j.get("quals"))
        elif "RangeSubselect" in item:
            sub = item["RangeSubselect"].get("subquery") or {}
            if "SelectStmt" in sub:
                self.select(sub["SelectStmt"])

    def _sublinks(self, node: Any) -> None:
        if isinstance(node, dict):
            if "SubLink" in node:
                sub = node["SubLink"].get("subselect") or {}
                if "SelectStmt" in sub:
                    self.select(sub["SelectStmt"])
                return
            for v in node.values():
                self._sublinks(v)
        elif isinstance(node, list):
            for v in node:
                self._sublinks(v)

    def where(self, node: Any) -> None:
        if not isinstance(node, dict):
            return
        if "BoolExpr" in node:
            b = node["BoolExpr"]
            if b.get("boolop") in ("AND_EXPR", "OR_EXPR"):
                for arg in b.get("args", ()) or ():
                    self.where(arg)
            return
        if "NullTest" in node:
            n = node["NullTest"]
            ref = _column(n.get("arg"))
            if ref is not None and n.get("nulltesttype") == "IS_NULL":
                self.shape.predicates.append(Predicate(ref, "null"))
            return
        if "A_Expr" in node:
            self._a_expr(node["A_Expr"])
            return
        self._sublinks(node)

    def _a_expr(self, e: dict[str, Any]) -> None:
        kind = e.get("kind")
        op = next((n for n in (_name_of(x) for x in e.get("name", ()) or ()) if n), "")
        left, right = e.get("lexpr"), e.get("rexpr")
        lcol, rcol = _column(left), _column(right)
        if kind == "AEXPR_OP" and op in _EQ_OPS | _RANGE_OPS:
            if lcol is not None and rcol is not None:
                if op in _EQ_OPS and lcol.qualifier != rcol.qualifier:
                    self.shape.joins.append((lcol, rcol))
                return
            ref, other = (lcol, right) if lcol is not None else (rcol, left)
            if ref is None or _has_column(other):
                self._sublinks(other)
                return
            kind_name = "eq" if op in _EQ_OPS else "range"
            self.shape.predicates.append(Predicate(ref, kind_name, _param(other)))
        elif kind == "AEXPR_IN" and op == "=" and lcol is not None:
            items = (right or {}).get("List", {}).get("items", ()) if isinstance(right, dict) else ()
            if not _has_column(right):
                param = next((p for p in (_param(i) for i in items) if p is not None), None)
                self.shape.predicates.append(Predicate(lcol, "in", param, max(1, len(items))))
        elif kind == "AEXPR_OP_ANY" and op == "=" and lcol is not None and not _has_column(right):
            self.shape.predicates.append(Predicate(lcol, "in", _param(right), 3))
        elif kind in ("AEXPR_BETWEEN", "AEXPR_BETWEEN_SYM") and lcol is not None:
            if not _has_column(right):
                items = (right or {}).get("List", {}).get("items", ()) if isinstance(right, dict) else ()
                param = next((p for p in (_param(i) for i in items) if p is not None), None)
                self.shape.predicates.append(Predicate(lcol, "range", param))
        else:
            self._sublinks(left)
            self._sublinks(right)


def bind_tables(shape: QueryShape, lookup: Callable[[str | None, str], TableFacts | None]) -> dict[str, TableFacts]:
    """alias (and bare table name) -> facts for the shape's tables that `lookup` knows."""
    bound: dict[str, TableFacts] = {}
    for t in shape.tables:
        facts = lookup(t.schema, t.name)
        if facts is not None:
            bound.setdefault(t.alias, facts)
            bound.setdefault(t.name, facts)
    return bound


def owner(ref: ColRef, bound: Mapping[str, TableFacts]) -> TableFacts | None:
    """The table a column reference belongs to (unqualified: the only bound table with that column)."""
    if ref.qualifier is not None:
        t = bound.get(ref.qualifier)
        return t if t is not None and ref.column in t.columns else None
    found = {t.oid: t for t in bound.values() if ref.column in t.columns}
    return next(iter(found.values())) if len(found) == 1 else None


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
                if k.table.oid == c.table.oid and covering_index(_as_index_table(k), c.columns, c.eq_count) is not None
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


def _as_index_table(c: Candidate) -> TableFacts:
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


def _maxalign(n: float) -> float:
    return math.ceil(n / 8.0) * 8.0


def estimate_index_bytes(table: TableFacts, columns: Sequence[str], block_size: int = 8192) -> int:
    """B-tree size from row count and column widths: (8-byte tuple header + aligned key + 4-byte line
    pointer) per row, pages 90% full (the default fillfactor), plus ~1% inner pages and the metapage."""
    width = sum((table.columns[c].avg_width or 8) if c in table.columns else 8 for c in columns)
    per_tuple = 8 + _maxalign(width) + 4
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
    return Estimate(round(before, 2), round(after, 2), round(rows_before), round(rows_after), _r1(pct), note)


def _r1(v: float | None) -> float | None:
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
    evidence: dict[str, Any]
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


# --------------------------------------------------------------------------------------------------
# Plan digest
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    check: str
    severity: str
    object: str
    evidence: dict[str, Any]
    recommendation: str


@dataclass
class NodeCost:
    label: str
    self_cost: float
    self_time_ms: float | None
    share_pct: float
    rows_estimated: float
    rows_actual: float | None
    loops: int | None


@dataclass
class PlanDigest:
    analyzed: bool
    total_cost: float
    planning_ms: float | None
    execution_ms: float | None
    top_nodes: list[NodeCost]
    issues: list[Issue]
    suggestions: list[str]
    lines: list[str]


def plan_root(plan: Any) -> dict[str, Any] | None:
    if isinstance(plan, list) and plan and isinstance(plan[0], dict) and "Plan" in plan[0]:
        root: dict[str, Any] = plan[0]["Plan"]
        return root
    return None


def walk_plan(node: dict[str, Any], depth: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    yield node, depth
    for child in node.get("Plans", ()) or ():
        yield from walk_plan(child, depth + 1)


def node_label(n: dict[str, Any]) -> str:
    label = str(n.get("Node Type", "?"))
    if n.get("Strategy") in ("Hashed", "Sorted", "Mixed") and label == "Aggregate":
        label = f"{'Hash' if n['Strategy'] == 'Hashed' else 'Group'}Aggregate"
    if n.get("Parallel Aware"):
        label = "Parallel " + label
    if n.get("Index Name"):
        label += f" using {n['Index Name']}"
    rel = n.get("Relation Name")
    if rel:
        schema = n.get("Schema")
        label += f" on {schema + '.' if schema else ''}{rel}"
        alias = n.get("Alias")
        if alias and alias != rel:
            label += f" {alias}"
    elif n.get("CTE Name"):
        label += f" on {n['CTE Name']}"
    return label


def _inclusive_time(n: dict[str, Any]) -> float | None:
    t = n.get("Actual Total Time")
    if t is None:
        return None
    return float(t) * max(1, int(n.get("Actual Loops") or 0))


def _fmt(n: float) -> str:
    return f"{n:,.0f}"


def _mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB" if kb >= 1024 else f"{kb:.0f} kB"


def digest_plan(
    plan: Any,
    *,
    tables: Mapping[str, TableFacts],
    shape: QueryShape | None = None,
    bound: Mapping[str, TableFacts] | None = None,
    work_mem_kb: int = 4096,
    max_lines: int = 60,
) -> PlanDigest:
    """Digest of an EXPLAIN (FORMAT JSON) plan: costliest nodes, issues with evidence, concrete suggestions.

    `tables` maps plan relation names (and aliases) to catalog facts; `shape`/`bound` come from the query
    text and give the index columns for a scan (equality columns first, then a range column).
    """
    root = plan_root(plan)
    if root is None:
        return PlanDigest(False, 0.0, None, None, [], [], [], [])
    top = plan[0]
    analyzed = "Actual Total Time" in root
    total_cost = float(root.get("Total Cost") or 0.0)
    total_time = _inclusive_time(root) if analyzed else None
    nodes = list(walk_plan(root))
    costs: list[NodeCost] = []
    lines: list[str] = []
    for n, depth in nodes:
        kids = n.get("Plans", ()) or ()
        self_cost = max(0.0, float(n.get("Total Cost") or 0.0) - sum(float(k.get("Total Cost") or 0) for k in kids))
        self_time = None
        if analyzed and n.get("Actual Loops"):
            incl = _inclusive_time(n) or 0.0
            self_time = max(0.0, incl - sum(_inclusive_time(k) or 0.0 for k in kids if k.get("Actual Loops")))
        if total_time:
            share = 100.0 * (self_time or 0.0) / total_time
        else:
            share = 100.0 * self_cost / total_cost if total_cost else 0.0
        actual = n.get("Actual Rows")
        loops = n.get("Actual Loops")
        costs.append(
            NodeCost(
                node_label(n),
                round(self_cost, 2),
                None if self_time is None else round(self_time, 3),
                round(share, 1),
                float(n.get("Plan Rows") or 0),
                None if actual is None else float(actual),
                None if loops is None else int(loops),
            )
        )
        if len(lines) < max_lines:
            extra = (
                f" actual={float(actual or 0):,.0f}x{loops} time={_inclusive_time(n) or 0:.1f}ms"
                if analyzed and loops
                else ""
            )
            if analyzed and loops == 0:
                extra = " never executed"
            lines.append(
                f"{'  ' * depth}{node_label(n)} cost={float(n.get('Total Cost') or 0):,.0f} "
                f"rows={float(n.get('Plan Rows') or 0):,.0f}{extra}"
            )
    if len(nodes) > max_lines:
        lines.append(f"... {len(nodes) - max_lines} more nodes in the plan")
    top_nodes = sorted(costs, key=lambda c: (c.self_time_ms if analyzed else c.self_cost) or 0.0, reverse=True)[:5]

    ctx = _DigestContext(tables, shape, bound or {}, work_mem_kb, analyzed)
    for n, _ in nodes:
        ctx.check_node(n)
    ctx.check_estimates(root)
    issues = sorted(ctx.issues, key=lambda i: SEVERITY_ORDER.get(i.severity, 9))
    return PlanDigest(
        analyzed=analyzed,
        total_cost=total_cost,
        planning_ms=_opt_float(top.get("Planning Time")),
        execution_ms=_opt_float(top.get("Execution Time")),
        top_nodes=top_nodes,
        issues=issues,
        suggestions=list(dict.fromkeys(ctx.suggestions)),
        lines=lines,
    )


def _opt_float(v: Any) -> float | None:
    return None if v is None else round(float(v), 3)


def _rows_out(n: dict[str, Any], analyzed: bool) -> float:
    """Rows a node produced in total (all loops) when analyzed, else its estimate."""
    if analyzed and n.get("Actual Loops") is not None:
        return float(n.get("Actual Rows") or 0) * int(n.get("Actual Loops") or 0)
    return float(n.get("Plan Rows") or 0)


class _DigestContext:
    def __init__(
        self,
        tables: Mapping[str, TableFacts],
        shape: QueryShape | None,
        bound: Mapping[str, TableFacts],
        work_mem_kb: int,
        analyzed: bool,
    ) -> None:
        self.tables = tables
        self.shape = shape
        self.bound = bound
        self.work_mem_kb = work_mem_kb
        self.analyzed = analyzed
        self.issues: list[Issue] = []
        self.suggestions: list[str] = []

    def table_of(self, n: dict[str, Any]) -> TableFacts | None:
        alias, rel = n.get("Alias"), n.get("Relation Name")
        for key in (alias, rel):
            if key and key in self.bound:
                return self.bound[key]
        return self.tables.get(str(rel)) if rel else None

    # -- index columns for a scan -----------------------------------------------------------------

    def index_columns(self, t: TableFacts, exprs: Sequence[str]) -> tuple[tuple[str, ...], int]:
        if self.shape is not None:
            mine = [c for c in shape_candidates(self.shape, self.bound, min_rows=0) if c.table.oid == t.oid]
            for kind in ("sort", "filter"):  # ORDER BY ... LIMIT after the equality columns serves both
                for c in mine:
                    if c.kind == kind:
                        return c.columns, c.eq_count
        eq: list[str] = []
        rng: list[str] = []
        for text in exprs:
            preds, _ = expression_predicates(text)
            for p in preds:
                if p.ref.column not in t.columns:
                    continue
                target = eq if p.kind in ("eq", "in", "null") else rng
                if p.ref.column not in eq + rng:
                    target.append(p.ref.column)
        eq.sort(key=lambda c: -(t.distinct(c) or 0.0))
        cols = (eq + rng[:1])[:MAX_INDEX_COLUMNS]
        return tuple(cols), min(len(eq), len(cols))

    def suggest_index(self, t: TableFacts, cols: Sequence[str], eq_count: int, why: str) -> str:
        existing = covering_index(t, cols, eq_count)
        if existing is not None:
            return (
                f"index {existing.name} already covers ({', '.join(cols)}) but was not used: the filter is not "
                f"selective enough for the planner, the column types differ from the compared values, or "
                f"statistics are stale (ANALYZE {t.sql_name})"
            )
        cand = Candidate(t, tuple(cols), eq_count, "filter", why)
        stmt = cand.statement()
        self.suggestions.append(f"{stmt} -- {why}")
        return stmt.rstrip(";")

    # -- per-node rules ---------------------------------------------------------------------------

    def check_node(self, n: dict[str, Any]) -> None:
        ntype = n.get("Node Type")
        if ntype == "Seq Scan":
            self.seq_scan(n)
        elif ntype in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"):
            self.index_filter(n)
        elif ntype == "Nested Loop":
            self.nested_loop(n)
        self.spills(n)

    def seq_scan(self, n: dict[str, Any]) -> None:
        t = self.table_of(n)
        if t is None or t.rows < LARGE_TABLE_ROWS:
            return
        flt = n.get("Filter")
        # parallel workers each count as a loop; only a scan repeated by a nested loop is "looped"
        loops = int(n.get("Actual Loops") or 1) if self.analyzed and not n.get("Parallel Aware") else 1
        if self.analyzed:
            kept = float(n.get("Actual Rows") or 0)
            scanned = kept + float(n.get("Rows Removed by Filter") or 0)
        else:
            kept = float(n.get("Plan Rows") or 0)
            scanned = t.rows
        label = node_label(n)
        if flt and scanned > 0 and kept <= SELECTIVE_FRACTION * scanned:
            cols, eq_count = self.index_columns(t, [flt])
            evidence: dict[str, Any] = {
                "table_rows": round(t.rows),
                "rows_scanned": round(scanned),
                "rows_kept": round(kept),
                "filter": flt,
                "loops": loops,
            }
            if cols:
                why = f"Seq Scan reads ~{_fmt(scanned)} rows of {t.display} to keep ~{_fmt(kept)}"
                advice = self.suggest_index(t, cols, eq_count, why)
                advice = f"{advice}: lets PostgreSQL read only the matching rows"
            else:
                advice = (
                    f"the filter {flt} keeps {100 * kept / scanned:.2g}% of the rows but is not on plain columns: "
                    "an expression index on the filtered expression would let PostgreSQL skip the scan"
                )
            sev = "critical" if t.rows >= 1_000_000 or loops > 1 else "warning"
            self.issues.append(Issue("seq_scan", sev, label, evidence, advice))
        elif not flt and t.rows >= 100_000 and loops == 1:
            self.issues.append(
                Issue(
                    "seq_scan",
                    "info",
                    label,
                    {"table_rows": round(t.rows)},
                    f"reads all ~{_fmt(t.rows)} rows of {t.display}: expected for a full aggregate or export; if "
                    "it runs often, filter it, or pre-aggregate into a materialized view",
                )
            )

    def index_filter(self, n: dict[str, Any]) -> None:
        if not self.analyzed or not n.get("Filter"):
            return
        t = self.table_of(n)
        kept = float(n.get("Actual Rows") or 0) * int(n.get("Actual Loops") or 1)
        removed = float(n.get("Rows Removed by Filter") or 0) * int(n.get("Actual Loops") or 1)
        if t is None or removed < LARGE_TABLE_ROWS or removed < 10 * max(kept, 1):
            return
        cols, eq_count = self.index_columns(
            t, [str(n.get(k)) for k in ("Index Cond", "Recheck Cond", "Filter") if n.get(k)]
        )
        advice = (
            f"the index finds ~{_fmt(kept + removed)} rows and the filter {n['Filter']} then discards ~{_fmt(removed)}"
        )
        if cols:
            advice += "; " + self.suggest_index(
                t, cols, eq_count, f"{node_label(n)} discards ~{_fmt(removed)} rows after the index lookup"
            )
        self.issues.append(
            Issue(
                "index_filter",
                "warning",
                node_label(n),
                {"rows_kept": round(kept), "rows_removed": round(removed), "filter": n["Filter"]},
                advice,
            )
        )

    def nested_loop(self, n: dict[str, Any]) -> None:
        kids: list[dict[str, Any]] = list(n.get("Plans", ()) or ())
        if len(kids) < 2:
            return
        outer, inner = kids[0], kids[1]
        outer_rows = _rows_out(outer, self.analyzed)
        scan = inner
        while scan.get("Node Type") in ("Materialize", "Memoize") and scan.get("Plans"):
            scan = scan["Plans"][0]
        label = node_label(n)
        evidence: dict[str, Any] = {"outer_rows": round(outer_rows), "outer_rows_estimated": outer.get("Plan Rows")}
        if scan.get("Node Type") == "Seq Scan" and outer_rows >= NESTED_LOOP_SEQ_OUTER_ROWS:
            t = self.table_of(scan)
            inner_rows = t.rows if t is not None else float(scan.get("Plan Rows") or 0)
            if inner_rows < 1_000:
                return
            total = outer_rows * inner_rows
            evidence.update(
                {"inner": node_label(scan), "inner_table_rows": round(inner_rows), "rows_compared": round(total)}
            )
            advice = f"the inner {node_label(scan)} runs once per outer row (~{_fmt(outer_rows)} times)"
            if t is not None:
                cols = self.join_columns(n, scan, t)
                if cols:
                    advice += "; " + self.suggest_index(
                        t, cols, len(cols), f"nested loop scans {t.display} once per outer row"
                    )
                else:
                    advice += "; an index on its join columns would turn each scan into a lookup"
            if inner.get("Node Type") == "Materialize":
                advice += " (it is materialized, but every row is still compared)"
            sev = "critical" if total >= 10_000_000 else "warning"
            self.issues.append(Issue("nested_loop", sev, label, evidence, advice))
        elif outer_rows >= NESTED_LOOP_OUTER_ROWS:
            sev = "warning" if outer_rows >= 10 * NESTED_LOOP_OUTER_ROWS else "info"
            est = float(outer.get("Plan Rows") or 0)
            hint = ""
            if self.analyzed and outer_rows > ESTIMATE_ERROR_RATIO * max(est, 1):
                hint = f" The planner expected only ~{_fmt(est)} outer rows: fix that estimate first (ANALYZE)."
            self.issues.append(
                Issue(
                    "nested_loop",
                    sev,
                    label,
                    evidence,
                    f"nested loop over ~{_fmt(outer_rows)} outer rows runs {node_label(inner)} that many times; "
                    f"a hash or merge join reads each side once.{hint}",
                )
            )

    def join_columns(self, nl: dict[str, Any], scan: dict[str, Any], t: TableFacts) -> tuple[str, ...]:
        alias = scan.get("Alias") or scan.get("Relation Name")
        cols: list[str] = []
        for text in (nl.get("Join Filter"), scan.get("Filter")):
            if not text:
                continue
            preds, joins = expression_predicates(str(text))
            for a, b in joins:
                for ref in (a, b):
                    if ref.qualifier == alias and ref.column in t.columns and ref.column not in cols:
                        cols.append(ref.column)
            for p in preds:
                if p.param is not None and p.ref.column in t.columns and p.ref.column not in cols:
                    cols.append(p.ref.column)
        return tuple(cols[:MAX_INDEX_COLUMNS])

    def spills(self, n: dict[str, Any]) -> None:
        label = node_label(n)
        wm = _mb(self.work_mem_kb)
        if not self.analyzed:
            if n.get("Node Type") == "Sort":
                need_kb = float(n.get("Plan Rows") or 0) * float(n.get("Plan Width") or 0) * 1.5 / 1024
                if need_kb > self.work_mem_kb * 2:
                    self.issues.append(
                        Issue(
                            "disk_spill",
                            "info",
                            label,
                            {"estimated_sort_kb": round(need_kb), "work_mem_kb": self.work_mem_kb},
                            f"sorting ~{_fmt(float(n.get('Plan Rows') or 0))} rows (~{_mb(need_kb)}) is likely to "
                            f"spill to disk with work_mem {wm}; run with analyze=true to confirm",
                        )
                    )
            return
        if n.get("Sort Space Type") == "Disk":
            used = float(n.get("Sort Space Used") or 0)
            need = _work_mem_for(used * 2)
            keys = ", ".join(str(k) for k in n.get("Sort Key", ()) or ())
            self.issues.append(
                Issue(
                    "disk_spill",
                    "warning",
                    label,
                    {
                        "sort_method": n.get("Sort Method"),
                        "disk_kb": used,
                        "work_mem_kb": self.work_mem_kb,
                        "rows": n.get("Actual Rows"),
                    },
                    f"the sort wrote {_mb(used)} to disk (work_mem {wm}): SET work_mem = '{need}' for this "
                    f"query or role, or avoid the sort with an index matching ORDER BY ({keys})",
                )
            )
            self.suggestions.append(
                f"SET work_mem = '{need}';  -- session or ALTER ROLE ... SET: {label} spilled {_mb(used)} to disk"
            )
            return
        batches = int(n.get("Hash Batches") or n.get("HashAgg Batches") or 0)
        disk = float(n.get("Disk Usage") or 0)
        if batches > 1 or disk > 0:
            peak = float(n.get("Peak Memory Usage") or 0)
            need = _work_mem_for(max(peak * max(batches, 1), disk) * 1.2)
            self.issues.append(
                Issue(
                    "disk_spill",
                    "warning",
                    label,
                    {
                        "batches": batches,
                        "original_batches": n.get("Original Hash Batches"),
                        "peak_memory_kb": peak,
                        "disk_kb": disk or None,
                        "work_mem_kb": self.work_mem_kb,
                    },
                    f"the hash table did not fit in work_mem ({wm}) and was split into {batches} batches on "
                    f"disk: SET work_mem = '{need}' (hash_mem_multiplier applies on top) for this query or role",
                )
            )
            self.suggestions.append(f"SET work_mem = '{need}';  -- {label} used {batches} batches on disk")
            return
        written = int(n.get("Temp Written Blocks") or 0)
        kids_written = sum(int(k.get("Temp Written Blocks") or 0) for k in n.get("Plans", ()) or ())
        if written - kids_written > 0 and n.get("Node Type") not in ("Sort", "Hash", "Aggregate"):
            kb = (written - kids_written) * 8.0
            self.issues.append(
                Issue(
                    "disk_spill",
                    "info",
                    label,
                    {"temp_written_kb": kb, "work_mem_kb": self.work_mem_kb},
                    f"wrote {_mb(kb)} of temporary files (work_mem {wm})",
                )
            )

    # -- estimate errors ----------------------------------------------------------------------------

    def check_estimates(self, root: dict[str, Any]) -> None:
        if not self.analyzed:
            return
        found: list[Issue] = []

        def off(n: dict[str, Any]) -> tuple[float, float, float] | None:
            loops = int(n.get("Actual Loops") or 0)
            if loops == 0 or n.get("Actual Rows") is None:
                return None
            est, act = float(n.get("Plan Rows") or 0), float(n.get("Actual Rows") or 0)
            ratio = max(est, act) / max(min(est, act), 1.0)
            if ratio > ESTIMATE_ERROR_RATIO and max(est, act) * loops >= ESTIMATE_MIN_ROWS:
                return est, act, ratio
            return None

        bitmap_inner = ("Bitmap Index Scan", "BitmapAnd", "BitmapOr")

        def visit(n: dict[str, Any], stopped_early: bool = False) -> bool:
            # under a Limit (or the inner side of a semi/anti join) a node stops early: fewer rows than
            # estimated is expected there, not an estimate error
            below = stopped_early or n.get("Node Type") == "Limit"
            kids: list[tuple[dict[str, Any], bool]] = []
            for pos, k in enumerate(n.get("Plans", ()) or ()):
                inner_of_semi = pos == 1 and n.get("Join Type") in ("Semi", "Anti")
                kids.append((k, visit(k, below or inner_of_semi)))
            # a bitmap index scan's error is reported on its heap scan (which names the table)
            inherited = any(b for k, b in kids if k.get("Node Type") not in bitmap_inner)
            bad = off(n)
            if bad is not None and stopped_early and bad[1] < bad[0]:
                bad = None
            if bad is None:
                return any(b for _, b in kids)
            if n.get("Node Type") not in bitmap_inner and not inherited:  # the origin of the error
                found.append(self.estimate_issue(n, *bad))
            return True

        visit(root)
        self.issues.extend(found[:5])

    def estimate_issue(self, n: dict[str, Any], est: float, act: float, ratio: float) -> Issue:
        label = node_label(n)
        evidence: dict[str, Any] = {
            "rows_estimated": est,
            "rows_actual": act,
            "ratio": round(ratio, 1),
            "loops": n.get("Actual Loops"),
        }
        t = self.table_of(n) if n.get("Relation Name") else None
        direction = "under" if act > est else "over"
        if t is not None:
            texts = [str(n.get(k)) for k in ("Filter", "Index Cond", "Recheck Cond") if n.get(k)]
            cols: list[str] = []
            for text in texts:
                for p in expression_predicates(text)[0]:
                    if p.ref.column in t.columns and p.ref.column not in cols:
                        cols.append(p.ref.column)
            evidence["last_analyzed"] = t.last_analyzed.isoformat() if t.last_analyzed else None
            evidence["rows_modified_since_analyze"] = t.mod_since_analyze
            if t.stats_stale():
                advice = f"statistics of {t.display} are stale: ANALYZE {t.sql_name};"
                self.suggestions.append(
                    f"ANALYZE {t.sql_name};  -- {label}: estimated {_fmt(est)} rows, got {_fmt(act)}"
                )
            elif len(cols) >= 2:
                name = index_name(t.name, cols, "stats")
                stmt = (
                    f"CREATE STATISTICS {ident(name)} (dependencies, ndistinct, mcv) ON "
                    f"{', '.join(ident(c) for c in cols)} FROM {t.sql_name}; ANALYZE {t.sql_name};"
                )
                advice = (
                    f"the planner multiplies the selectivities of {', '.join(cols)} as if independent; they are "
                    f"correlated: {stmt}"
                )
                self.suggestions.append(f"{stmt}  -- {label}: {direction}estimated {ratio:,.0f}x")
            elif cols:
                stmt = (
                    f"ALTER TABLE {t.sql_name} ALTER COLUMN {ident(cols[0])} SET STATISTICS 1000; ANALYZE {t.sql_name};"
                )
                advice = f"the value distribution of {cols[0]} is skewed beyond the sampled statistics: {stmt}"
                self.suggestions.append(f"{stmt}  -- {label}: {direction}estimated {ratio:,.0f}x")
            else:
                advice = f"ANALYZE {t.sql_name}; if it persists, the condition is not estimable (functions, casts)"
        elif n.get("Node Type") in ("Hash Join", "Merge Join", "Nested Loop"):
            advice = (
                "join size misestimated: ANALYZE the joined tables; if the join columns are correlated with the "
                "filters, CREATE STATISTICS on them"
            )
        elif n.get("Node Type") == "Aggregate":
            advice = "number of groups misestimated: CREATE STATISTICS (ndistinct) on the GROUP BY columns"
        else:
            advice = "estimate off: ANALYZE the tables involved"
        sev = "warning"
        return Issue("row_estimate", sev, label, evidence, f"{direction}estimated {ratio:,.0f}x: {advice}")


def _work_mem_for(kb: float) -> str:
    mb = max(8, 2 ** math.ceil(math.log2(max(kb, 1.0) / 1024.0)))
    return f"{mb}MB" if mb < 1024 else f"{mb // 1024}GB"


# --------------------------------------------------------------------------------------------------
# Slow-query notes
# --------------------------------------------------------------------------------------------------


def slow_query_notes(q: Mapping[str, Any], share_pct: float) -> list[str]:
    """What stands out in one pg_stat_statements entry, with the numbers."""
    notes: list[str] = []
    calls = int(q.get("calls") or 0)
    mean = float(q.get("mean_ms") or 0.0)
    mx = float(q.get("max_ms") or 0.0)
    hit, read = int(q.get("shared_blks_hit") or 0), int(q.get("shared_blks_read") or 0)
    temp = int(q.get("temp_blks_written") or 0)
    rows = int(q.get("rows") or 0)
    if mean >= 1000:
        notes.append(f"slow on average ({mean:,.0f} ms): explain_query with analyze=true shows where the time goes")
    if read >= 1000 and hit / max(hit + read, 1) < 0.9:
        notes.append(
            f"reads {read * 8 / 1024:,.1f} MB from outside shared buffers (hit ratio {hit / (hit + read):.0%}): "
            "it probably scans a large table; check its plan for sequential scans"
        )
    if temp > 0:
        notes.append(f"wrote {temp * 8 / 1024:,.1f} MB of temporary files: sorts/hashes exceed work_mem")
    if calls >= 1000 and mean < 5 and share_pct >= 10:
        notes.append(
            f"{calls:,} calls of {mean:.2f} ms make {share_pct:.0f}% of all time: batch them or cache the result "
            "(an N+1 pattern?)"
        )
    if calls and rows / calls >= 10_000:
        notes.append(f"returns ~{rows / calls:,.0f} rows per call: aggregate or paginate in SQL")
    if mx >= 1000 and mx >= 10 * max(mean, 0.001):
        notes.append(f"spiky: max {mx:,.0f} ms vs mean {mean:,.1f} ms (lock waits, cold cache or plan changes)")
    return notes


# --------------------------------------------------------------------------------------------------
# Health rules
# --------------------------------------------------------------------------------------------------

XID_LIMIT = 2**31
BLOAT_MIN_BYTES = 10 * 1024 * 1024


def _size(n: float) -> str:
    size = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def rule_cache(row: Mapping[str, Any]) -> list[Issue]:
    out: list[Issue] = []
    for what, hit_key, read_key in (("table", "heap_hit", "heap_read"), ("index", "idx_hit", "idx_read")):
        hit, read = int(row.get(hit_key) or 0), int(row.get(read_key) or 0)
        if hit + read < 10_000:
            continue
        ratio = hit / (hit + read)
        if ratio >= 0.99:
            continue
        sev = "warning" if ratio < 0.90 else "info"
        out.append(
            Issue(
                "cache_hit_ratio",
                sev,
                f"{what} blocks",
                {
                    "hit_ratio": round(ratio, 4),
                    "blocks_hit": hit,
                    "blocks_read": read,
                    "shared_buffers": row.get("shared_buffers"),
                },
                f"{ratio:.1%} of {what} block reads come from shared buffers (target >= 99% for OLTP): find the "
                "queries reading the most (get_slow_queries sort_by=io) and index them, or give PostgreSQL more "
                "memory (shared_buffers ~25% of RAM)",
            )
        )
    return out


def rule_bloat(rows: Sequence[Mapping[str, Any]], block_size: int = 8192) -> list[Issue]:
    """Table and b-tree bloat from planner statistics: expected pages from row count and average widths."""
    out: list[Issue] = []
    for r in rows:
        pages = int(r.get("relpages") or 0)
        tuples = float(r.get("reltuples") or 0)
        width = r.get("width")
        if pages == 0 or width is None or tuples <= 0:
            continue
        if r.get("kind") == "index":
            per = 8 + _maxalign(float(width)) + 4
            usable = (block_size - 24 - 16) * (float(r.get("fillfactor") or 90) / 100.0)
            expected = math.ceil(tuples * per / usable) + 1
        else:
            header = 23 + math.ceil(int(r.get("ncols") or 1) / 8.0)
            per = _maxalign(_maxalign(header) + float(width)) + 4
            usable = (block_size - 24) * (float(r.get("fillfactor") or 100) / 100.0)
            expected = math.ceil(tuples / max(1.0, math.floor(usable / per)))
        wasted = (pages - expected) * block_size
        pct = 100.0 * (pages - expected) / pages
        if wasted < BLOAT_MIN_BYTES or pct < 30:
            continue
        sev = "warning" if pct >= 50 else "info"
        name = str(r.get("name"))
        if r.get("kind") == "index":
            advice = f"REINDEX INDEX CONCURRENTLY {name}; rebuilds it compactly without blocking writes"
        else:
            advice = (
                f"VACUUM does not return this space; rebuild {r.get('table')} with pg_repack (online) or VACUUM FULL "
                "(exclusive lock) in a maintenance window, then keep autovacuum ahead of the dead rows"
            )
        out.append(
            Issue(
                "bloat",
                sev,
                f"{r.get('kind')} {name}",
                {
                    "size_bytes": pages * block_size,
                    "expected_bytes": expected * block_size,
                    "wasted_bytes": wasted,
                    "bloat_pct": round(pct, 1),
                    "method": "estimate from pg_stats widths",
                },
                f"~{pct:.0f}% ({_size(wasted)}) of {name} is free space: {advice}",
            )
        )
    return out


def rule_vacuum(rows: Sequence[Mapping[str, Any]], settings: Mapping[str, str]) -> list[Issue]:
    out: list[Issue] = []
    if settings.get("autovacuum", "on") == "off":
        out.append(
            Issue(
                "vacuum",
                "critical",
                "autovacuum",
                {"autovacuum": "off"},
                "autovacuum is off: dead rows accumulate and transaction IDs are not frozen (wraparound risk): "
                "ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();",
            )
        )
    if settings.get("track_counts", "on") == "off":
        out.append(
            Issue(
                "vacuum",
                "critical",
                "track_counts",
                {"track_counts": "off"},
                "track_counts is off: autovacuum cannot see which tables need work; turn it on",
            )
        )
    vac_th = float(settings.get("autovacuum_vacuum_threshold") or 50)
    vac_sf = float(settings.get("autovacuum_vacuum_scale_factor") or 0.2)
    for r in rows:
        name = str(r.get("table"))
        live, dead = int(r.get("n_live_tup") or 0), int(r.get("n_dead_tup") or 0)
        opts = [str(o) for o in (r.get("reloptions") or [])]
        disabled = "autovacuum_enabled=false" in opts or "autovacuum_enabled=off" in opts
        ratio = dead / max(live + dead, 1)
        trigger = vac_th + vac_sf * float(r.get("reltuples") or 0)
        last_vac = r.get("last_vacuum_any")
        evidence = {
            "dead_rows": dead,
            "live_rows": live,
            "dead_pct": round(100 * ratio, 1),
            "autovacuum_trigger_rows": round(trigger),
            "last_vacuum": _iso(last_vac),
            "last_analyze": _iso(r.get("last_analyze_any")),
            "autovacuum_enabled": not disabled,
        }
        if dead >= 1000 and ratio >= 0.2:
            sev = "critical" if ratio >= 0.5 and dead >= 100_000 else "warning"
            why = (
                "autovacuum is disabled for this table"
                if disabled
                else "autovacuum has not caught up (long transactions holding back cleanup, or cost limits too low)"
                if dead > trigger
                else "below the autovacuum trigger for a table this size"
            )
            fix = f"VACUUM (ANALYZE) {name};"
            if disabled:
                fix += f" ALTER TABLE {name} RESET (autovacuum_enabled);"
            elif dead <= trigger:
                fix += f" ALTER TABLE {name} SET (autovacuum_vacuum_scale_factor = 0.05);"
            out.append(
                Issue(
                    "dead_tuples",
                    sev,
                    name,
                    evidence,
                    f"{100 * ratio:.0f}% of rows are dead ({dead:,}): {why}. Run {fix}",
                )
            )
        elif disabled and live >= 1000:
            out.append(
                Issue(
                    "vacuum",
                    "warning",
                    name,
                    evidence,
                    f"autovacuum is disabled for {name}: ALTER TABLE {name} RESET (autovacuum_enabled);",
                )
            )
        never = r.get("last_analyze_any") is None
        mod = int(r.get("n_mod_since_analyze") or 0)
        if never and live >= 1000:
            out.append(
                Issue(
                    "analyze",
                    "warning",
                    name,
                    evidence | {"rows_modified_since_analyze": mod},
                    f"never analyzed: the planner guesses its row counts and value distributions. ANALYZE {name};",
                )
            )
        elif live >= 1000 and mod > max(10_000, 0.5 * live):
            out.append(
                Issue(
                    "analyze",
                    "info",
                    name,
                    evidence | {"rows_modified_since_analyze": mod},
                    f"{mod:,} rows changed since the last analyze ({100 * mod / max(live, 1):.0f}% of the table): "
                    f"ANALYZE {name};",
                )
            )
    return out


def _iso(v: Any) -> str | None:
    return v.isoformat() if isinstance(v, datetime) else None if v is None else str(v)


def rule_wraparound(
    dbs: Sequence[Mapping[str, Any]], tables: Sequence[Mapping[str, Any]], freeze_max_age: int
) -> list[Issue]:
    out: list[Issue] = []
    for d in dbs:
        for what, key in (("transaction ID", "xid_age"), ("multixact ID", "mxid_age")):
            age = int(d.get(key) or 0)
            pct = 100.0 * age / XID_LIMIT
            if pct < 40:
                continue
            sev = "critical" if pct >= 70 else "warning"
            oldest = [t for t in tables if d.get("current")][:3]
            out.append(
                Issue(
                    "wraparound",
                    sev,
                    f"database {d.get('datname')}",
                    {
                        f"{key}": age,
                        "pct_of_limit": round(pct, 1),
                        "autovacuum_freeze_max_age": freeze_max_age,
                        "oldest_tables": [{"table": t.get("table"), "xid_age": t.get("xid_age")} for t in oldest],
                    },
                    f"{what} age {age:,} is {pct:.0f}% of the 2^31 limit (PostgreSQL stops accepting writes "
                    "near it): find what blocks freezing (long transactions, abandoned replication slots or "
                    "prepared transactions) and run VACUUM (FREEZE) on the oldest tables",
                )
            )
    return out


def rule_connections(states: Mapping[str, int], max_conn: int, reserved: int, hidden: int) -> list[Issue]:
    out: list[Issue] = []
    total = sum(states.values())
    usable = max(1, max_conn - reserved)
    pct = 100.0 * total / usable
    evidence: dict[str, Any] = {
        "by_state": dict(states),
        "total": total,
        "max_connections": max_conn,
        "reserved": reserved,
        "used_pct": round(pct, 1),
    }
    if pct >= 80:
        sev = "critical" if pct >= 95 else "warning"
        out.append(
            Issue(
                "connections",
                sev,
                "connections",
                evidence,
                f"{total} of {usable} usable connections in use ({pct:.0f}%): new clients will be refused; "
                "put a pooler (PgBouncer) in front, or close idle connections in the applications",
            )
        )
    idle = states.get("idle", 0)
    if idle >= 50 and idle >= 0.5 * total:
        out.append(
            Issue(
                "connections",
                "info",
                "idle connections",
                evidence,
                f"{idle} idle connections hold memory and slots: use a pooler (PgBouncer, transaction mode) or "
                "smaller application pools",
            )
        )
    if hidden:
        out.append(
            Issue(
                "connections",
                "info",
                "pg_stat_activity",
                {"sessions_without_details": hidden},
                f"{hidden} sessions of other roles show no state: GRANT pg_monitor (or pg_read_all_stats) to "
                "this role to see them",
            )
        )
    return out


def rule_sessions(rows: Sequence[Mapping[str, Any]]) -> list[Issue]:
    """Long-running statements, long idle-in-transaction sessions and old prepared transactions."""
    out: list[Issue] = []
    for r in rows:
        state = str(r.get("state") or "")
        pid = r.get("pid")
        evidence = {
            "pid": pid,
            "user": r.get("usename"),
            "application": r.get("application_name"),
            "state": state,
            "state_seconds": _r1(r.get("state_s")),
            "xact_seconds": _r1(r.get("xact_s")),
            "wait_event": r.get("wait_event"),
            "query": r.get("query"),
        }
        if r.get("kind") == "prepared":
            out.append(
                Issue(
                    "prepared_xact",
                    "warning",
                    f"prepared transaction {r.get('gid')}",
                    evidence,
                    "a prepared (two-phase) transaction holds its locks and blocks vacuum until resolved: "
                    f"COMMIT PREPARED '{r.get('gid')}' or ROLLBACK PREPARED '{r.get('gid')}'",
                )
            )
            continue
        secs = float(r.get("state_s") or 0)
        if state == "active":
            if secs < 300:
                continue
            sev = "critical" if secs >= 3600 else "warning"
            out.append(
                Issue(
                    "long_query",
                    sev,
                    f"pid {pid}",
                    evidence,
                    f"running for {secs / 60:,.0f} min: explain_query it; if it is runaway, "
                    f"SELECT pg_cancel_backend({pid}); and set a statement_timeout for its role",
                )
            )
        elif state.startswith("idle in transaction"):
            if secs < 60:
                continue
            sev = "critical" if secs >= 900 else "warning"
            out.append(
                Issue(
                    "idle_in_transaction",
                    sev,
                    f"pid {pid}",
                    evidence,
                    f"idle inside an open transaction for {secs / 60:,.1f} min: it holds locks and stops vacuum "
                    f"from cleaning rows. End it (SELECT pg_terminate_backend({pid});), fix the application's "
                    "commit handling, and set idle_in_transaction_session_timeout (e.g. '5min')",
                )
            )
    return out


def rule_blocking(waiting: Sequence[Mapping[str, Any]], sessions: Mapping[int, Mapping[str, Any]]) -> list[Issue]:
    """Blocking chains: the root sessions (blocking others, not blocked themselves) and whom they block."""
    blocked_by: dict[int, list[int]] = {int(w["pid"]): [int(p) for p in w.get("blocked_by") or []] for w in waiting}
    roots: dict[int, set[int]] = {}

    def root_of(pid: int, seen: set[int]) -> list[int]:
        parents = blocked_by.get(pid, [])
        if not parents:
            return [pid]
        out: list[int] = []
        for p in parents:
            if p in seen:
                continue
            out.extend(root_of(p, seen | {p}))
        return out or [pid]

    for pid in blocked_by:
        for r in root_of(pid, {pid}):
            if r != pid:
                roots.setdefault(r, set()).add(pid)
    out: list[Issue] = []
    waits = {int(w["pid"]): w for w in waiting}
    for root, victims in sorted(roots.items(), key=lambda kv: -len(kv[1])):
        s = sessions.get(root, {})
        longest = max((float(waits[v].get("wait_s") or 0) for v in victims if v in waits), default=0.0)
        lock = next((waits[v] for v in victims if v in waits), {})
        sev = "critical" if longest >= 300 or len(victims) >= 5 else "warning"
        state = str(s.get("state") or "unknown")
        on = lock.get("relation") or lock.get("locktype") or "?"
        fix = (
            f"SELECT pg_terminate_backend({root}); ends it (its transaction rolls back)"
            if state.startswith("idle in transaction")
            else f"SELECT pg_cancel_backend({root}); cancels its statement, "
            f"pg_terminate_backend({root}) ends the session"
        )
        out.append(
            Issue(
                "blocking",
                sev,
                f"pid {root}",
                {
                    "blocker_pid": root,
                    "blocker_state": state,
                    "blocker_user": s.get("usename"),
                    "blocker_xact_seconds": _r1(s.get("xact_s")),
                    "blocker_query": s.get("query"),
                    "blocked_pids": sorted(victims),
                    "longest_wait_seconds": round(longest, 1),
                    "lock": {k: lock.get(k) for k in ("locktype", "mode", "relation")},
                },
                f"session {root} ({state}) blocks {len(victims)} session(s), the longest waiting "
                f"{longest:,.0f} s for {lock.get('mode') or 'a lock'} on {on}: "
                f"{fix}. Keep transactions short; lock_timeout protects the waiters",
            )
        )
    return out


def rule_replication(
    info: Mapping[str, Any], standbys: Sequence[Mapping[str, Any]], slots: Sequence[Mapping[str, Any]]
) -> list[Issue]:
    out: list[Issue] = []
    if info.get("in_recovery"):
        delay = info.get("replay_delay_s")
        if delay is not None and float(delay) >= 300:
            sev = "critical" if float(delay) >= 1800 else "warning"
            out.append(
                Issue(
                    "replication",
                    sev,
                    "this standby",
                    {
                        "replay_delay_seconds": round(float(delay)),
                        "replay_backlog_bytes": info.get("replay_backlog_bytes"),
                    },
                    f"last replayed transaction is {float(delay) / 60:,.0f} min old: the standby lags (or the "
                    "primary is idle); check the network, the standby's I/O and hot_standby_feedback conflicts",
                )
            )
    for s in standbys:
        lag_b = int(s.get("replay_lag_bytes") or 0)
        lag_s = float(s.get("replay_lag_s") or 0)
        name = f"standby {s.get('application_name') or s.get('client_addr')}"
        evidence = {k: s.get(k) for k in ("state", "sync_state", "client_addr")} | {
            "replay_lag_bytes": lag_b,
            "replay_lag_seconds": round(lag_s, 1),
        }
        if s.get("state") != "streaming":
            out.append(
                Issue("replication", "warning", name, evidence, f"replication state is {s.get('state')}, not streaming")
            )
        if lag_b >= 1024**3 or lag_s >= 300:
            sev = "critical" if lag_b >= 10 * 1024**3 or lag_s >= 1800 else "warning"
            out.append(
                Issue(
                    "replication",
                    sev,
                    name,
                    evidence,
                    f"{name} is {_size(lag_b)} / {lag_s:,.0f} s behind: check its I/O, network and "
                    "long queries on it (max_standby_streaming_delay)",
                )
            )
    for s in slots:
        retained = int(s.get("retained_bytes") or 0)
        name = f"slot {s.get('slot_name')}"
        evidence = {k: s.get(k) for k in ("slot_type", "active", "wal_status", "xmin_age")} | {
            "retained_wal_bytes": retained
        }
        if s.get("wal_status") in ("lost", "unreserved"):
            out.append(
                Issue(
                    "replication_slot",
                    "critical",
                    name,
                    evidence,
                    f"{name} has wal_status={s.get('wal_status')}: its consumer can no longer catch up; "
                    f"re-create the consumer, then SELECT pg_drop_replication_slot('{s.get('slot_name')}');",
                )
            )
        elif not s.get("active") and retained >= 1024**3:
            sev = "critical" if retained >= 10 * 1024**3 else "warning"
            out.append(
                Issue(
                    "replication_slot",
                    sev,
                    name,
                    evidence,
                    f"inactive {name} retains {_size(retained)} of WAL (the disk can fill up): reconnect "
                    f"its consumer or SELECT pg_drop_replication_slot('{s.get('slot_name')}'); set "
                    "max_slot_wal_keep_size as a safety net",
                )
            )
        elif not s.get("active"):
            out.append(
                Issue(
                    "replication_slot",
                    "info",
                    name,
                    evidence,
                    f"{name} is inactive and retains {_size(retained)} of WAL; drop it if unused",
                )
            )
    return out


def rule_sequences(rows: Sequence[Mapping[str, Any]]) -> list[Issue]:
    out: list[Issue] = []
    for r in rows:
        last = r.get("last_value")
        if last is None:
            continue
        inc = int(r.get("increment_by") or 1)
        limit = int((r.get("max_value") if inc > 0 else r.get("min_value")) or 0)
        col_limit = r.get("column_limit")
        if col_limit is not None and inc > 0:
            limit = min(limit, int(col_limit))
        start = int((r.get("min_value") if inc > 0 else r.get("max_value")) or 0)
        span = abs(limit - start) or 1
        used = abs(int(last) - start) / span
        if used < 0.75 or r.get("cycle"):
            continue
        sev = "critical" if used >= 0.9 else "warning"
        name = str(r.get("sequence"))
        col = r.get("column")
        fix = (
            f"ALTER TABLE {r.get('table')} ALTER COLUMN {col} TYPE bigint; ALTER SEQUENCE {name} AS bigint; "
            "(rewrites the table: plan a window)"
            if col and str(r.get("column_type")) in ("smallint", "integer")
            else f"ALTER SEQUENCE {name} AS bigint MAXVALUE 9223372036854775807;"
        )
        out.append(
            Issue(
                "sequence",
                sev,
                name,
                {
                    "last_value": int(last),
                    "limit": limit,
                    "used_pct": round(100 * used, 1),
                    "data_type": r.get("data_type"),
                    "column": f"{r.get('table')}.{col}" if col else None,
                    "column_type": r.get("column_type"),
                },
                f"{100 * used:.1f}% of its range is used ({int(last):,} of {limit:,}); inserts fail when it runs "
                f"out: {fix}",
            )
        )
    return out


def rule_invalid(constraints: Sequence[Mapping[str, Any]], indexes: Sequence[Mapping[str, Any]]) -> list[Issue]:
    out: list[Issue] = []
    for c in constraints:
        out.append(
            Issue(
                "invalid_constraint",
                "warning",
                f"{c.get('table')}.{c.get('name')}",
                {"type": c.get("type"), "definition": c.get("definition")},
                f"constraint is NOT VALID: existing rows were never checked. ALTER TABLE {c.get('table')} "
                f"VALIDATE CONSTRAINT {ident(str(c.get('name')))}; (takes only a SHARE UPDATE EXCLUSIVE lock)",
            )
        )
    for i in indexes:
        out.append(
            Issue(
                "invalid_index",
                "warning",
                str(i.get("index")),
                {"table": i.get("table"), "size_bytes": i.get("size_bytes"), "definition": i.get("definition")},
                f"invalid index (failed CREATE INDEX CONCURRENTLY): maintained on writes, never used. "
                f"REINDEX INDEX CONCURRENTLY {i.get('index')}; or DROP INDEX CONCURRENTLY {i.get('index')};",
            )
        )
    return out


def _bytes_setting(settings: Mapping[str, str], name: str) -> int | None:
    """A memory setting in bytes from pg_settings setting + unit (e.g. '16384' + '8kB')."""
    raw, unit = settings.get(name), settings.get(f"{name}__unit") or ""
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    m = re.match(r"^(\d*)\s*(B|kB|MB|GB|TB)?$", unit.strip())
    mult = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
    if not m:
        return int(value)
    factor = int(m.group(1) or 1) * mult.get(m.group(2) or "B", 1)
    return int(value * factor)


def rule_settings(
    settings: Mapping[str, str],
    *,
    db_bytes: int,
    temp_bytes: int,
    temp_files: int,
    ram_bytes: int | None,
    rotational: bool | None,
) -> list[Issue]:
    """Settings that look wrong for the machine (when visible) and the workload."""
    out: list[Issue] = []
    sb = _bytes_setting(settings, "shared_buffers")
    wm = _bytes_setting(settings, "work_mem")
    ecs = _bytes_setting(settings, "effective_cache_size")
    max_conn = int(settings.get("max_connections") or 100)
    machine = f"{_size(ram_bytes)} RAM" if ram_bytes else "RAM not visible from here"
    if sb is not None:
        ev: dict[str, Any] = {"shared_buffers_bytes": sb, "ram_bytes": ram_bytes, "database_bytes": db_bytes}
        if ram_bytes and sb < 0.1 * ram_bytes and db_bytes > sb:
            out.append(
                Issue(
                    "settings",
                    "warning",
                    "shared_buffers",
                    ev,
                    f"shared_buffers is {_size(sb)} on a machine with {_size(ram_bytes)} and a "
                    f"{_size(db_bytes)} database: set ~25% of RAM "
                    f"(ALTER SYSTEM SET shared_buffers = '{_size_setting(ram_bytes // 4)}'; restart)",
                )
            )
        elif ram_bytes and sb > 0.5 * ram_bytes:
            out.append(
                Issue(
                    "settings",
                    "warning",
                    "shared_buffers",
                    ev,
                    f"shared_buffers is {_size(sb)}, over half of {_size(ram_bytes)} RAM: leaves too little "
                    "for the OS cache and work_mem; ~25% is the usual choice",
                )
            )
        elif not ram_bytes and sb <= 128 * 1024**2 and db_bytes > sb:
            out.append(
                Issue(
                    "settings",
                    "info",
                    "shared_buffers",
                    ev,
                    f"shared_buffers is the {_size(sb)} default while the database is {_size(db_bytes)} "
                    f"({machine}): on a dedicated server use ~25% of RAM",
                )
            )
    if wm is not None:
        ev = {"work_mem_bytes": wm, "max_connections": max_conn, "temp_files": temp_files, "temp_bytes": temp_bytes}
        if ram_bytes and wm * max_conn > 2 * ram_bytes:
            out.append(
                Issue(
                    "settings",
                    "warning",
                    "work_mem",
                    ev,
                    f"work_mem {_size(wm)} x max_connections {max_conn} = {_size(wm * max_conn)}, more than "
                    f"twice the {_size(ram_bytes)} RAM (each sort/hash may use it): risk of running out of "
                    "memory; lower it and raise it per role or query instead",
                )
            )
        elif temp_files > 0 and temp_bytes >= 1024**3:
            out.append(
                Issue(
                    "settings",
                    "warning" if temp_bytes >= 10 * 1024**3 else "info",
                    "work_mem",
                    ev,
                    f"{temp_files:,} temporary files ({_size(temp_bytes)}) since statistics reset: sorts and "
                    f"hashes spill with work_mem {_size(wm)}; raise it for the queries that spill "
                    "(get_slow_queries shows temp blocks) or globally if memory allows",
                )
            )
    rpc = settings.get("random_page_cost")
    if rpc is not None and float(rpc) >= 2.0 and rotational is not True:
        disk = "on a non-rotational disk (SSD)" if rotational is False else "(disk type not visible from here)"
        sev = "warning" if rotational is False else "info"
        out.append(
            Issue(
                "settings",
                sev,
                "random_page_cost",
                {"random_page_cost": float(rpc), "rotational": rotational},
                f"random_page_cost = {rpc} models spinning disks; data {disk}: on SSD/NVMe or cloud volumes "
                "set 1.1 so index scans are costed correctly (ALTER SYSTEM SET random_page_cost = 1.1; "
                "SELECT pg_reload_conf();)",
            )
        )
    if ecs is not None and ram_bytes and ecs < 0.3 * ram_bytes:
        out.append(
            Issue(
                "settings",
                "info",
                "effective_cache_size",
                {"effective_cache_size_bytes": ecs, "ram_bytes": ram_bytes},
                f"effective_cache_size {_size(ecs)} is low for {_size(ram_bytes)} RAM: set ~50-75% of RAM "
                f"('{_size_setting(int(ram_bytes * 0.6))}') so the planner favours index scans correctly",
            )
        )
    if settings.get("track_io_timing") == "off":
        out.append(
            Issue(
                "settings",
                "info",
                "track_io_timing",
                {"track_io_timing": "off"},
                "track_io_timing is off: slow-query statistics cannot separate I/O time from CPU time "
                "(ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();)",
            )
        )
    return out


def _size_setting(n: int) -> str:
    gb = n / 1024**3
    return f"{max(1, round(gb))}GB" if gb >= 1 else f"{max(1, n // 1024**2)}MB"


def worst(issues: Sequence[Issue]) -> str:
    if any(i.severity == "critical" for i in issues):
        return "critical"
    if any(i.severity == "warning" for i in issues):
        return "warning"
    return "ok"
