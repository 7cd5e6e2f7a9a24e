"""Query shape: tables, predicates, joins, ORDER BY and GROUP BY columns of a statement (pglast)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from vf_mcp.compute.dba.aliases import PgNode
from vf_mcp.compute.dba.facts import TableFacts

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
    from pglast import parser  # loaded on first use, not at start-up

    try:
        tree = json.loads(parser.parse_sql_json(sql))
    except (parser.ParseError, ValueError, RecursionError):
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


def _name_of(node: PgNode) -> str | None:
    if isinstance(node, dict) and "String" in node:
        value = node["String"].get("sval")
        return str(value) if value is not None else None
    return None


def _strip_casts(node: PgNode) -> PgNode:
    while isinstance(node, dict) and "TypeCast" in node:
        node = node["TypeCast"].get("arg")
    return node


def _column(node: PgNode) -> ColRef | None:
    node = _strip_casts(node)
    if not isinstance(node, dict) or "ColumnRef" not in node:
        return None
    names = [_name_of(f) for f in node["ColumnRef"].get("fields", ())]
    if not names or any(n is None for n in names):
        return None  # t.* or similar
    parts = [n for n in names if n is not None]
    return ColRef(parts[-2] if len(parts) >= 2 else None, parts[-1])


def _param(node: PgNode) -> int | None:
    node = _strip_casts(node)
    if isinstance(node, dict) and "ParamRef" in node:
        number = node["ParamRef"].get("number")
        return int(number) if number is not None else None
    return None


def _has_column(node: PgNode) -> bool:
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

    def select(self, body: dict[str, PgNode], *, top: bool = False) -> None:
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

    def range_item(self, item: PgNode) -> None:
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

    def _sublinks(self, node: PgNode) -> None:
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

    def where(self, node: PgNode) -> None:
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

    def _a_expr(self, e: dict[str, PgNode]) -> None:
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
