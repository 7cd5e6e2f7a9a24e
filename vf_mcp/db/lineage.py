"""Query lineage: the source columns each output column of a SELECT is computed from. Pure (no I/O).

The statement is parsed with PostgreSQL's own parser (pglast) and each output column is followed through
aliases, expressions, function arguments, casts, CASE, sub-queries, CTEs (recursive ones to a fixed point),
sub-selects and functions in FROM, set operations (the union of the branches), VALUES, LATERAL, joins with
USING / NATURAL, `*` and `t.*` expansion, views (by their definition) and whole-row references
(`row_to_json(t)`, `t::text`). References inside count() are recorded apart: a count is not personal data.
Window specifications, FILTER / ORDER BY of aggregates, WHERE, GROUP BY and `x IS NULL` tests are not
lineage (they decide which rows or how many, which is inference masking cannot stop).

Unresolvable references stay conservative: a bare name that matches no known column is kept as a name
(`OutputLineage.names`), to be judged by name alone; a relation the catalog does not know turns `rel.col`
into (schema, rel, col); values copied out of pg_stats-like views are `opaque` (PII of any column).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["Col", "LineageCache", "OutputLineage", "QueryLineage", "Tables", "analyze"]

Col = tuple[str, str, str]
"""(schema, table, column) of a source column."""

_MAX_VIEW_DEPTH = 8
_COUNTS = frozenset({"count"})
_PICKS = frozenset({"min", "max", "any_value"})  # one of the argument's values, untransformed
_NOT_LINEAGE = frozenset({"over", "agg_filter", "agg_order", "location", "funcname", "funcformat", "typeName"})
_OPAQUE_STATS = {
    "pg_stats": frozenset({"most_common_vals", "histogram_bounds", "most_common_elems", "range_bounds_histogram"}),
    "pg_stats_ext": frozenset({"most_common_vals", "most_common_base_freqs", "most_common_freqs"}),
    "pg_stats_ext_exprs": frozenset({"most_common_vals", "histogram_bounds", "most_common_elems", "expr"}),
    "pg_statistic": frozenset({f"stavalues{i}" for i in range(1, 6)}),
}
"""System views whose value columns copy values out of every analysed column."""


@dataclass(frozen=True)
class Lin:
    """The lineage of one value: its source columns, unresolved names, and how it was computed."""

    sources: frozenset[Col] = frozenset()
    names: frozenset[str] = frozenset()
    direct: bool = False
    counted: frozenset[Col] = frozenset()
    counted_names: frozenset[str] = frozenset()
    opaque: bool = False

    def derived(self) -> Lin:
        return replace(self, direct=False) if self.direct else self

    def as_counted(self) -> Lin:
        return Lin(counted=self.sources | self.counted, counted_names=self.names | self.counted_names)


_EMPTY = Lin()


def _union(lins: Iterable[Lin]) -> Lin:
    items = [x for x in lins if x != _EMPTY]
    if not items:
        return _EMPTY
    if len(items) == 1:
        return items[0].derived()
    return Lin(
        sources=frozenset().union(*(x.sources for x in items)),
        names=frozenset().union(*(x.names for x in items)),
        counted=frozenset().union(*(x.counted for x in items)),
        counted_names=frozenset().union(*(x.counted_names for x in items)),
        opaque=any(x.opaque for x in items),
    )


@dataclass(frozen=True)
class OutputLineage:
    """One output column: its source columns, and whether it is one of them passed through unchanged."""

    name: str
    sources: frozenset[Col]
    names: frozenset[str]
    """Referenced names that could not be resolved to a table (judge them by name)."""
    direct: bool
    """Exactly one source column, passed through without any transformation (aliases allowed)."""
    count_only: bool
    """Every reference sits inside count() / count(DISTINCT ...): not personal data."""
    opaque: bool = False
    """Values copied from arbitrary columns (pg_stats value lists): personal data whatever the source."""


@dataclass(frozen=True)
class QueryLineage:
    """Per output column lineage; `exact` False when the output could not be laid out column by column."""

    columns: tuple[OutputLineage, ...]
    exact: bool = True
    fallback: OutputLineage | None = None
    """When not exact: the union of every reference in the statement, for every output column."""
    star_tables: tuple[tuple[str, str], ...] = ()
    """When not exact: relations expanded by `*` whose columns are unknown (match outputs by name)."""

    def for_columns(self, names: Sequence[str]) -> tuple[OutputLineage, ...]:
        """The lineage of each of the statement's actual output columns (`names`, in order)."""
        if self.exact and len(self.columns) == len(names):
            return self.columns
        base = self.fallback or _output("?", _union(_EMPTY for _ in ()))
        out = []
        for name in names:
            extra = frozenset((s, t, name) for s, t in self.star_tables)
            out.append(replace(base, name=name, sources=base.sources | extra, direct=False, count_only=False))
        return tuple(out)


@dataclass(frozen=True)
class Tables:
    """The catalog facts lineage needs: columns per (schema, table), view definitions, the search path."""

    columns: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    views: Mapping[tuple[str, str], str] = field(default_factory=dict)
    search_path: tuple[str, ...] = ("public",)
    schemas_of: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        columns: Mapping[tuple[str, str], Sequence[str]],
        views: Mapping[tuple[str, str], str] | None = None,
        search_path: Sequence[str] = ("public",),
    ) -> Tables:
        schemas: dict[str, list[str]] = {}
        for s, t in columns:
            schemas.setdefault(t, []).append(s)
        return cls(
            columns={k: tuple(v) for k, v in columns.items()},
            views=dict(views or {}),
            search_path=tuple(search_path),
            schemas_of={k: tuple(v) for k, v in schemas.items()},
        )

    def locate(self, schema: str | None, name: str) -> tuple[str, str] | None:
        if schema is not None:
            return (schema, name) if (schema, name) in self.columns else None
        found = self.schemas_of.get(name, ())
        for s in self.search_path:
            if s in found:
                return s, name
        return None


# ---------- internal scope model ----------


@dataclass(frozen=True)
class _Range:
    alias: str | None
    cols: tuple[tuple[str, Lin], ...] | None  # None: columns unknown
    whole: Lin = _EMPTY  # every column (whole-row references), or an unknown range's own lineage
    table: tuple[str, str] | None = None  # a relation with unknown columns: rel.col -> (schema, rel, col)
    children: tuple[_Range, ...] = ()  # join members, visible by their own aliases when this join has none
    merged: frozenset[str] = frozenset()  # USING / NATURAL columns: resolved on the join itself
    opaque_cols: frozenset[str] = frozenset()  # pg_stats-like: these columns hold values of any column

    def column(self, name: str) -> Lin | None:
        if self.cols is None:
            return None
        for n, lin in self.cols:
            if n == name:
                return lin
        return None

    def unknown(self, name: str) -> Lin:
        """A reference to `name` in a range whose columns are unknown."""
        if self.table is not None:
            return Lin(sources=frozenset({(*self.table, name)}), direct=True)
        if self.opaque_cols:
            return Lin(opaque=True) if name in self.opaque_cols else Lin(names=frozenset({name}))
        return replace(self.whole.derived(), names=self.whole.names | {name})


@dataclass(frozen=True)
class _Scope:
    ranges: tuple[_Range, ...] = ()
    ctes: Mapping[str, tuple[tuple[str, Lin], ...]] = field(default_factory=dict)
    parent: _Scope | None = None

    def cte(self, name: str) -> tuple[tuple[str, Lin], ...] | None:
        s: _Scope | None = self
        while s is not None:
            if name in s.ctes:
                return s.ctes[name]
            s = s.parent
        return None


class _Inexact(Exception):
    """The output could not be laid out column by column (a `*` over a relation with unknown columns)."""

    def __init__(self, tables: list[tuple[str, str]]) -> None:
        super().__init__("inexact")
        self.tables = tables


def _visible(r: _Range) -> Iterator[_Range]:
    if r.alias is not None or not r.children:
        yield r
    else:
        for c in r.children:
            yield from _visible(c)


def _find_bare(r: _Range, name: str) -> tuple[Lin | None, list[_Range]]:
    """(the column `name` in range r, ranges with unknown columns that might hold it)."""
    if r.children and r.alias is None:
        if name in r.merged:
            return r.column(name), []
        unknown: list[_Range] = []
        for c in r.children:
            hit, unk = _find_bare(c, name)
            if hit is not None:
                return hit, []
            unknown += unk
        return None, unknown
    if r.cols is None:
        return None, [r]
    return r.column(name), []


def _s(node: dict[str, Any]) -> str | None:
    string = node.get("String")
    return str(string.get("sval", "")) if isinstance(string, dict) else None


def _names(items: Iterable[dict[str, Any]] | None) -> list[str]:
    return [n for n in (_s(x) for x in items or ()) if n is not None]


def _output(name: str, lin: Lin) -> OutputLineage:
    direct = lin.direct and len(lin.sources) == 1 and not lin.names and not lin.opaque
    count_only = not lin.sources and not lin.names and not lin.opaque and bool(lin.counted or lin.counted_names)
    return OutputLineage(
        name=name, sources=lin.sources, names=lin.names, direct=direct, count_only=count_only, opaque=lin.opaque
    )


class _Analyzer:
    def __init__(self, tables: Tables, depth: int = 0) -> None:
        self.tables = tables
        self.depth = depth
        self.everything: list[Lin] = []  # every resolved reference, for the inexact fallback

    # ----- statements -----

    def select(self, stmt: dict[str, Any], outer: _Scope | None) -> tuple[tuple[str, Lin], ...]:
        """The output columns (name, lineage) of a SelectStmt body."""
        scope = _Scope(parent=outer)
        with_clause = stmt.get("withClause")
        if with_clause:
            scope = self._with(with_clause, scope)
        op = stmt.get("op", "SETOP_NONE")
        if op != "SETOP_NONE":
            left = self.select(stmt.get("larg") or {}, scope)
            right = self.select(stmt.get("rarg") or {}, scope)
            if len(left) != len(right):
                raise _Inexact([])
            return tuple((n, _union([a, b]) if a != b else a) for (n, a), (_, b) in zip(left, right, strict=True))
        if "valuesLists" in stmt:
            rows = [self._list(v) for v in stmt["valuesLists"]]
            width = max((len(r) for r in rows), default=0)
            return tuple(
                (f"column{i + 1}", _union(self.expr(r[i], scope) for r in rows if i < len(r))) for i in range(width)
            )
        ranges: list[_Range] = []
        for item in stmt.get("fromClause") or ():
            ranges.append(self.from_item(item, _Scope(tuple(ranges), parent=scope)))
        scope = _Scope(tuple(ranges), parent=scope)
        out: list[tuple[str, Lin]] = []
        for target in stmt.get("targetList") or ():
            res = target.get("ResTarget", {})
            val = res.get("val") or {}
            ref = val.get("ColumnRef")
            if ref is not None and ref.get("fields") and "A_Star" in ref["fields"][-1]:
                out += self._star(_names(ref["fields"][:-1]), scope)
                continue
            name = res.get("name") or self._default_name(val)
            out.append((name, self.expr(val, scope)))
        return tuple(out)

    @staticmethod
    def _list(node: dict[str, Any]) -> list[dict[str, Any]]:
        items = node.get("List", {}).get("items") if "List" in node else None
        return list(items or ())

    @staticmethod
    def _default_name(val: dict[str, Any]) -> str:
        ref = val.get("ColumnRef")
        if ref is not None:
            names = _names(ref.get("fields"))
            return names[-1] if names else "?column?"
        func = val.get("FuncCall")
        if func is not None:
            names = _names(func.get("funcname"))
            return names[-1] if names else "?column?"
        return "?column?"

    def _with(self, clause: dict[str, Any], scope: _Scope) -> _Scope:
        ctes: dict[str, tuple[tuple[str, Lin], ...]] = dict(scope.ctes)
        recursive = bool(clause.get("recursive"))
        for node in clause.get("ctes") or ():
            cte = node.get("CommonTableExpr", {})
            name = str(cte.get("ctename", ""))
            query = (cte.get("ctequery") or {}).get("SelectStmt")
            if query is None:
                ctes[name] = ()
                continue
            renames = _names(cte.get("aliascolnames"))
            cols: tuple[tuple[str, Lin], ...] = ()
            if recursive and query.get("op", "SETOP_NONE") != "SETOP_NONE":
                cols = self._renamed(self.select(query.get("larg") or {}, _Scope(ctes=ctes, parent=scope)), renames)
                for _ in range(3):  # to a fixed point: each round adds what the recursive term derives
                    ctes[name] = cols
                    again = self._renamed(self.select(query, _Scope(ctes=ctes, parent=scope)), renames)
                    if again == cols:
                        break
                    cols = tuple((n, _union([a, b])) for (n, a), (_, b) in zip(cols, again, strict=False))
            else:
                cols = self._renamed(self.select(query, _Scope(ctes=ctes, parent=scope)), renames)
            ctes[name] = cols
        return _Scope(scope.ranges, ctes, scope.parent)

    @staticmethod
    def _renamed(cols: tuple[tuple[str, Lin], ...], names: list[str]) -> tuple[tuple[str, Lin], ...]:
        return tuple((names[i] if i < len(names) else n, lin) for i, (n, lin) in enumerate(cols))

    # ----- FROM -----

    def from_item(self, node: dict[str, Any], scope: _Scope) -> _Range:
        ((kind, f),) = node.items() if len(node) == 1 else (("?", node),)
        alias = f.get("alias") or {} if isinstance(f, dict) else {}
        alias_name = alias.get("aliasname")
        renames = _names(alias.get("colnames"))
        if kind == "RangeVar":
            return self._relation(f, alias_name, renames, scope)
        if kind == "RangeSubselect":
            sub = (f.get("subquery") or {}).get("SelectStmt") or {}
            inner = scope if f.get("lateral") else _Scope(ctes=scope.ctes, parent=scope.parent)
            cols = self._renamed(self.select(sub, inner), renames)
            return _Range(alias_name, cols, whole=_union(lin for _, lin in cols))
        if kind == "JoinExpr":
            return self._join(f, alias_name, renames, scope)
        if kind == "RangeTableSample":
            return self.from_item(f.get("relation") or {}, scope)
        if kind == "RangeFunction":
            lins = [self.expr(x, scope) for x in self._walk_nodes(f.get("functions"))]
            whole = _union(lins).derived()
            name = alias_name
            if name is None:
                first = next(iter(self._walk_nodes(f.get("functions"))), {})
                names = _names((first.get("FuncCall") or {}).get("funcname"))
                name = names[-1] if names else None
            known = tuple((n, whole) for n in renames) if renames else None
            return _Range(name, known, whole=whole)
        # XMLTABLE, JSON_TABLE, anything new: unknown columns computed from every reference inside
        whole = _union(self.expr(x, scope) for x in self._walk_nodes(f)).derived()
        return _Range(alias_name, None, whole=whole)

    def _relation(self, f: dict[str, Any], alias: str | None, renames: list[str], scope: _Scope) -> _Range:
        schema, rel = f.get("schemaname"), str(f.get("relname", ""))
        name = alias or rel
        if schema is None:
            cte = scope.cte(rel)
            if cte is not None:
                cols = self._renamed(cte, renames)
                return _Range(name, cols, whole=_union(lin for _, lin in cols))
        if rel in _OPAQUE_STATS and schema in (None, "pg_catalog"):
            return _Range(name, None, whole=Lin(opaque=True), opaque_cols=_OPAQUE_STATS[rel])
        where = self.tables.locate(schema, rel)
        if where is None:
            return _Range(name, None, table=(schema or self.tables.search_path[0], rel))
        view = self.tables.views.get(where)
        if view is not None and self.depth < _MAX_VIEW_DEPTH:
            defined = self._view(where, view)
            if defined is not None:
                cols = self._renamed(defined, renames)
                return _Range(name, cols, whole=_union(lin for _, lin in cols))
        cols = tuple(
            (c, Lin(sources=frozenset({(*where, c)}), direct=True)) for c in self.tables.columns.get(where, ())
        )
        cols = self._renamed(cols, renames)
        return _Range(name, cols, whole=_union(lin for _, lin in cols))

    def _view(self, where: tuple[str, str], definition: str) -> tuple[tuple[str, Lin], ...] | None:
        """A view's columns by the lineage of its definition (named as the catalog names them)."""
        try:
            sub = _Analyzer(self.tables, self.depth + 1)
            cols = sub.statement(definition)
        except Exception:  # an unparsable definition: the view's own columns are the sources
            return None
        if cols is None:
            return None
        names = self.tables.columns.get(where, ())
        own = self._renamed(cols, list(names))
        # a computed view column is also judged by its own name (a direct one by its source column)
        return tuple((n, lin if lin.direct else replace(lin, sources=lin.sources | {(*where, n)})) for n, lin in own)

    def _join(self, f: dict[str, Any], alias: str | None, renames: list[str], scope: _Scope) -> _Range:
        left = self.from_item(f.get("larg") or {}, scope)
        right = self.from_item(f.get("rarg") or {}, _Scope((*scope.ranges, left), parent=scope.parent))
        using = _names(f.get("usingClause"))
        lcols, rcols = self._star_of(left), self._star_of(right)
        if f.get("isNatural") and lcols is not None and rcols is not None:
            rnames = {n for n, _ in rcols}
            using = [n for n, _ in lcols if n in rnames]
        full = f.get("jointype") in ("JOIN_FULL", "JOIN_RIGHT")
        cols: tuple[tuple[str, Lin], ...] | None = None
        if lcols is not None and rcols is not None:
            merged = []
            for n in using:
                a = next((lin for m, lin in lcols if m == n), _EMPTY)
                b = next((lin for m, lin in rcols if m == n), _EMPTY)
                merged.append((n, _union([a, b]) if full or a == _EMPTY else a))  # inner/left: equal to the left
            cols = (
                *merged,
                *((n, lin) for n, lin in lcols if n not in using),
                *((n, lin) for n, lin in rcols if n not in using),
            )
            cols = self._renamed(cols, renames)
        whole = _union([left.whole, right.whole])
        if alias is not None:
            return _Range(alias, cols, whole=whole)
        return _Range(None, cols, whole=whole, children=(left, right), merged=frozenset(using))

    def _star_of(self, r: _Range) -> tuple[tuple[str, Lin], ...] | None:
        return r.cols

    def _star(self, qualifier: list[str], scope: _Scope) -> list[tuple[str, Lin]]:
        if not qualifier:
            out: list[tuple[str, Lin]] = []
            unknown: list[tuple[str, str]] = []
            for r in scope.ranges:
                if r.cols is None:
                    unknown += [r.table] if r.table else []
                    if r.table is None:
                        self.everything.append(r.whole)
                    continue
                out += r.cols
            if unknown or any(r.cols is None for r in scope.ranges):
                raise _Inexact(unknown)
            return out
        found = self._range(qualifier[-1], scope)
        if found is None or found.cols is None:
            if found is not None:
                self.everything.append(found.whole)
            raise _Inexact([found.table] if found is not None and found.table else [])
        return list(found.cols)

    # ----- expressions -----

    def _range(self, alias: str, scope: _Scope | None) -> _Range | None:
        while scope is not None:
            for top in scope.ranges:
                for r in _visible(top):
                    if r.alias == alias:
                        return r
            scope = scope.parent
        return None

    def column(self, fields: list[dict[str, Any]], scope: _Scope) -> Lin:
        names = _names(fields)
        star = bool(fields) and "A_Star" in fields[-1]
        if star:  # t.* inside an expression: the whole row
            r = self._range(names[-1], scope) if names else None
            return r.whole.derived() if r is not None else Lin(names=frozenset(names))
        if len(names) == 1:
            return self._bare(names[0], scope)
        if not names:
            return _EMPTY
        col, qualifier = names[-1], names[-2]
        r = self._range(qualifier, scope)
        if r is None:  # (composite).field written without parentheses, or unknown: judge by names
            inner = self._bare(qualifier, scope) if len(names) == 2 else _EMPTY
            return Lin(sources=inner.sources, names=inner.names | {col}, opaque=inner.opaque)
        if r.cols is None:
            return r.unknown(col)
        hit = r.column(col)
        return hit if hit is not None else r.whole.derived()  # t.f is f(t): the whole row

    def _bare(self, name: str, scope: _Scope) -> Lin:
        s: _Scope | None = scope
        while s is not None:
            unknown: list[_Range] = []
            for r in s.ranges:
                hit, unk = _find_bare(r, name)
                if hit is not None:
                    return hit
                unknown += unk
            if unknown:
                lins = [r.unknown(name) for r in unknown]
                return lins[0] if len(lins) == 1 else _union(lins)
            s = s.parent
        whole = self._range(name, scope)  # a whole-row reference: row_to_json(t), t::text
        if whole is not None:
            return whole.whole.derived() if whole.whole != _EMPTY else Lin(names=frozenset({name}))
        return Lin(names=frozenset({name}))

    def expr(self, node: Any, scope: _Scope) -> Lin:
        if not isinstance(node, dict) or not node:
            return _EMPTY if not isinstance(node, list) else _union(self.expr(x, scope) for x in node)
        if len(node) != 1:
            return _union(self.expr(v, scope) for k, v in node.items() if k not in _NOT_LINEAGE)
        ((kind, f),) = node.items()
        if not isinstance(f, dict):
            return self.expr(f, scope) if isinstance(f, list) else _EMPTY
        if kind == "ColumnRef":
            lin = self.column(list(f.get("fields") or ()), scope)
            self.everything.append(lin)
            return lin
        if kind in ("A_Const", "ParamRef", "SQLValueFunction", "A_Star", "String", "Integer", "Float"):
            return _EMPTY
        if kind in ("NullTest", "SetToDefault"):
            return _EMPTY
        if kind == "FuncCall":
            names = _names(f.get("funcname"))
            bare = names[-1].lower() if names else ""
            args = [self.expr(a, scope) for a in f.get("args") or ()]
            if bare in _COUNTS and len(names) <= 2:
                return _union([*args, self.expr(f.get("agg_filter"), scope)]).as_counted()
            if bare in _PICKS and len(args) == 1 and not f.get("over"):
                return args[0]
            return _union(args).derived()
        if kind == "SubLink":
            sub = (f.get("subselect") or {}).get("SelectStmt") or {}
            link = f.get("subLinkType")
            try:
                cols = self.select(sub, scope)
            except _Inexact:
                cols = (("?", _union(self.everything)),)
            first = cols[0][1] if cols else _EMPTY
            if link == "EXISTS_SUBLINK":
                return _EMPTY
            if link == "EXPR_SUBLINK":
                return first
            if link == "ARRAY_SUBLINK":
                return first.derived()
            return _union([self.expr(f.get("testexpr"), scope), first]).derived()
        if kind == "SelectStmt":
            try:
                cols = self.select(f, scope)
            except _Inexact:
                return _union(self.everything).derived()
            return _union(lin for _, lin in cols).derived()
        if kind in ("TypeCast", "CollateClause") and isinstance(f.get("arg"), dict):
            lin = self.expr(f.get("arg"), scope)
            return lin if kind == "CollateClause" else lin.derived()
        return _union(self.expr(v, scope) for k, v in f.items() if k not in _NOT_LINEAGE).derived()

    def _walk_nodes(self, obj: Any) -> Iterator[dict[str, Any]]:
        """The expression nodes directly inside `obj` (lists and List wrappers unwrapped)."""
        if isinstance(obj, list):
            for x in obj:
                yield from self._walk_nodes(x)
        elif isinstance(obj, dict):
            if "List" in obj and len(obj) == 1:
                yield from self._walk_nodes(obj["List"].get("items"))
            elif len(obj) == 1 and next(iter(obj))[:1].isupper():
                yield obj
            else:
                for k, v in obj.items():
                    if k not in ("alias", "location"):
                        yield from self._walk_nodes(v)

    # ----- entry -----

    def statement(self, sql: str) -> tuple[tuple[str, Lin], ...] | None:
        """Output columns of one SELECT / VALUES / TABLE statement; None for anything else (EXPLAIN, SHOW)."""
        from pglast import parser  # loaded on first use, not at start-up

        tree = json.loads(parser.parse_sql_json(sql))
        stmts = tree.get("stmts") or []
        if len(stmts) != 1:
            return None
        select = (stmts[0].get("stmt") or {}).get("SelectStmt")
        if select is None:
            return None
        return self.select(select, None)


def analyze(sql: str, tables: Tables) -> QueryLineage | None:
    """The lineage of each output column of `sql`; None when it returns no table data (EXPLAIN, SHOW).

    Raises pglast's ParseError for text PostgreSQL would not parse.
    """
    a = _Analyzer(tables)
    try:
        cols = a.statement(sql)
    except _Inexact as exc:
        fallback = _output("?", _union(a.everything))
        return QueryLineage(columns=(), exact=False, fallback=fallback, star_tables=tuple(exc.tables))
    if cols is None:
        return None
    return QueryLineage(columns=tuple(_output(n, lin) for n, lin in cols))


class LineageCache:
    """A bounded LRU of analyses per SQL text, for one `Tables` (build a new cache when the catalog changes)."""

    def __init__(self, tables: Tables, max_entries: int = 1024) -> None:
        self.tables = tables
        self._max = max(1, max_entries)
        self._entries: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, key: Hashable) -> object:
        """A cached value (moved to the front), or None."""
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
        return hit

    def put(self, key: Hashable, value: object) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def lineage(self, sql: str) -> QueryLineage | None:
        """`analyze(sql)`, cached; a statement that does not parse has no lineage (PostgreSQL rejects it)."""
        key = ("lineage", sql)
        hit = self.get(key)
        if hit is not None:
            return hit if isinstance(hit, QueryLineage) else None
        found = analyze_or_none(sql, self.tables)
        self.remember(sql, found)
        return found

    def remember(self, sql: str, found: QueryLineage | None) -> None:
        """Cache an analysis made elsewhere (a worker process, for long statements)."""
        self.put(("lineage", sql), found if found is not None else False)

    def knows(self, sql: str) -> bool:
        """True when the analysis of `sql` is cached."""
        return ("lineage", sql) in self._entries


def analyze_or_none(sql: str, tables: Tables) -> QueryLineage | None:
    """`analyze`, with text PostgreSQL would not parse giving None and over-deep trees an opaque lineage."""
    from pglast import parser

    try:
        return analyze(sql, tables)
    except RecursionError:
        return QueryLineage(columns=(), exact=False, fallback=_output("?", Lin(opaque=True)))
    except parser.ParseError:
        return None
