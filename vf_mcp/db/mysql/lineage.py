"""Query lineage on MySQL/MariaDB: the source columns each output column of a SELECT is computed from. Pure.

The MySQL counterpart of vf_mcp/db/lineage.py, with the same result types (`QueryLineage`, `OutputLineage`,
`Lin`), so `PiiPolicy.lineage_masks` reads both alike. The statement is parsed with sqlglot's MySQL dialect
(the guard's parser) and each output column is followed through aliases, expressions, function arguments
(CONCAT, GROUP_CONCAT, JSON_OBJECT, TO_BASE64, HEX, ...), CAST/CONVERT, IF/CASE/COALESCE, scalar sub-queries,
derived tables (LATERAL too), CTEs (recursive ones to a fixed point), set operations (the union of the
branches), VALUES, joins with USING / NATURAL, `*` and `t.*` expansion and views (by their definition).
References inside COUNT() are recorded apart (a count is not personal data); WHERE, GROUP BY, window
specifications and `x IS NULL` tests are not lineage.

Column names resolve without case, as the server resolves them; table names exactly first, then without case.
Anything that cannot be laid out column by column is conservative: a bare name that matches no known column
is kept as a name (judged by name), a relation the catalog does not know turns `rel.col` into (db, rel, col),
a view whose definition cannot be read makes its columns `opaque`, and a statement the parser cannot follow
(or whose predicted column names do not match the server's) gives every output column the union of every
reference in the statement (`QueryLineage.fallback`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import sqlglot
from sqlglot import exp

from vf_mcp.db.lineage import _EMPTY, Col, Lin, OutputLineage, QueryLineage, _output, _union

__all__ = ["MyTables", "aligned", "analyze_mysql"]

_MAX_VIEW_DEPTH = 8
_PICKS = (exp.Min, exp.Max, exp.AnyValue)  # one of the argument's values, untransformed
_NO_LINEAGE = (exp.Literal, exp.Null, exp.Boolean, exp.Placeholder, exp.Parameter, exp.DataType, exp.Var,
               exp.Exists, exp.Is, exp.Star, exp.CurrentDate, exp.CurrentTimestamp)  # fmt: skip
_SKIP_ARGS = frozenset({"alias", "partition_by", "order", "spec", "over"})
"""Arguments that never carry a value of the output (types, window specifications, aliases, separators)."""
_OPAQUE: Mapping[tuple[str, str], frozenset[str]] = {
    ("information_schema", "column_statistics"): frozenset({"histogram"}),
    ("mysql", "column_stats"): frozenset({"min_value", "max_value", "histogram"}),
}
"""System tables whose value columns copy values out of every analysed column (histograms, min/max)."""
UNNAMED = "?"
"""The predicted name of an output column whose server-side name is the expression's text."""


@dataclass(frozen=True)
class MyTables:
    """The catalog facts lineage needs: columns per (database, table), view definitions, the current database."""

    columns: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    views: Mapping[tuple[str, str], str | None] = field(default_factory=dict)
    """A view's definition; None when the user cannot read it (no SHOW VIEW): its columns are opaque."""
    database: str = ""
    folded: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        columns: Mapping[tuple[str, str], Sequence[str]],
        views: Mapping[tuple[str, str], str | None] | None = None,
        database: str = "",
    ) -> MyTables:
        folded: dict[tuple[str, str], tuple[str, str]] = {}
        for key in columns:
            folded.setdefault((key[0].lower(), key[1].lower()), key)
        return cls({k: tuple(v) for k, v in columns.items()}, dict(views or {}), database, folded)

    def locate(self, db: str | None, name: str) -> tuple[str, str] | None:
        """(database, table) of a table reference: exactly, then without case (lower_case_table_names)."""
        key = (db or self.database, name)
        if key in self.columns:
            return key
        return self.folded.get((key[0].lower(), key[1].lower()))


# ---------- the scope model ----------


def _eq(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


@dataclass(frozen=True)
class _Range:
    alias: str | None
    cols: tuple[tuple[str, Lin], ...] | None  # None: columns unknown
    whole: Lin = _EMPTY
    table: tuple[str, str] | None = None  # a relation with unknown columns: rel.col -> (db, rel, col)
    db: str | None = None
    children: tuple[_Range, ...] = ()  # join members, visible by their own aliases
    merged: frozenset[str] = frozenset()  # USING / NATURAL columns (lower case): resolved on the join itself
    opaque_cols: frozenset[str] = frozenset()

    def column(self, name: str) -> Lin | None:
        if self.cols is None:
            return None
        for n, lin in self.cols:
            if _eq(n, name):
                return lin
        return None

    def unknown(self, name: str) -> Lin:
        """A reference to `name` in a range whose columns are unknown."""
        if self.opaque_cols:
            return Lin(opaque=True) if name.lower() in self.opaque_cols else Lin(names=frozenset({name}))
        if self.table is not None:
            return Lin(sources=frozenset({(*self.table, name)}), direct=True)
        return replace(self.whole.derived(), names=self.whole.names | {name})


@dataclass(frozen=True)
class _Scope:
    ranges: tuple[_Range, ...] = ()
    ctes: Mapping[str, tuple[tuple[str, Lin], ...]] = field(default_factory=dict)  # lower-case names
    parent: _Scope | None = None

    def cte(self, name: str) -> tuple[tuple[str, Lin], ...] | None:
        s: _Scope | None = self
        while s is not None:
            if name.lower() in s.ctes:
                return s.ctes[name.lower()]
            s = s.parent
        return None


class _Inexact(Exception):
    """The output could not be laid out column by column (`tables`: relations of unknown columns under `*`)."""

    def __init__(self, tables: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__("inexact")
        self.tables = tuple(tables)


def _visible(r: _Range) -> Iterator[_Range]:
    if r.alias is not None or not r.children:
        yield r
    for c in r.children:
        yield from _visible(c)


def _find_bare(r: _Range, name: str) -> tuple[Lin | None, list[_Range]]:
    """(the column `name` in range r, ranges with unknown columns that might hold it)."""
    if r.children:
        if name.lower() in r.merged:
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


def _renamed(cols: tuple[tuple[str, Lin], ...], names: Sequence[str]) -> tuple[tuple[str, Lin], ...]:
    return tuple((names[i] if i < len(names) else n, lin) for i, (n, lin) in enumerate(cols))


def _alias_columns(node: exp.Expr) -> list[str]:
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias):
        return [c.name for c in alias.columns]
    return []


def _alias_name(node: exp.Expr) -> str | None:
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.this is not None:
        return str(alias.name) or None
    return None


def _output_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Alias):
        return str(node.alias)
    if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
        return str(node.name)
    return UNNAMED


def _is_comma(join: exp.Join) -> bool:
    return not any(join.args.get(k) for k in ("kind", "side", "on", "using", "method"))


class _Analyzer:
    def __init__(self, tables: MyTables, depth: int = 0) -> None:
        self.tables = tables
        self.depth = depth
        self.everything: list[Lin] = []  # every resolved reference, for the fallback

    # ----- queries -----

    def query(self, node: exp.Expr, outer: _Scope | None) -> tuple[tuple[str, Lin], ...]:
        """The output columns (name, lineage) of a SELECT, a set operation, VALUES or a parenthesized query."""
        scope = _Scope(parent=outer, ctes=outer.ctes if outer is not None else {})
        with_ = node.args.get("with_") or node.args.get("with")
        if isinstance(with_, exp.With):
            scope = self._with(with_, scope)
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Query):
            return self.query(node.this, scope)
        if isinstance(node, exp.SetOperation):
            left = self.query(node.this, scope)
            right = self.query(node.expression, scope)
            if len(left) != len(right):
                raise _Inexact
            return tuple((n, a if a == b else _union([a, b])) for (n, a), (_, b) in zip(left, right, strict=True))
        if isinstance(node, exp.Values):
            return self._values(node, scope)
        if not isinstance(node, exp.Select):
            raise _Inexact
        ranges = self._from(node, scope)
        scope = _Scope(ranges, scope.ctes, scope.parent)
        out: list[tuple[str, Lin]] = []
        for item in node.expressions:
            if isinstance(item, exp.Star):
                out += self._star(None, scope)
            elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                out += self._star(item, scope)
            else:
                out.append((_output_name(item), self.expr(item, scope)))
        return tuple(out)

    def _values(self, node: exp.Values, scope: _Scope) -> tuple[tuple[str, Lin], ...]:
        rows: list[list[exp.Expr]] = []
        for row in node.expressions:
            items = list(row.expressions) if isinstance(row, exp.Tuple) else [row]
            if len(items) == 1 and isinstance(items[0], exp.Anonymous) and str(items[0].name).lower() == "row":
                items = list(items[0].expressions)
            rows.append(items)
        width = max((len(r) for r in rows), default=0)
        return tuple((UNNAMED, _union(self.expr(r[i], scope) for r in rows if i < len(r))) for i in range(width))

    def _with(self, with_: exp.With, scope: _Scope) -> _Scope:
        ctes = dict(scope.ctes)
        recursive = bool(with_.args.get("recursive"))
        for cte in with_.expressions:
            name = str(cte.alias).lower()
            body = cte.this
            renames = _alias_columns(cte)
            inner = _Scope(ctes=ctes, parent=scope)
            if recursive and isinstance(body, exp.SetOperation):
                cols = _renamed(self.query(body.this, inner), renames)
                for _ in range(3):  # to a fixed point: each round adds what the recursive term derives
                    ctes[name] = cols
                    again = _renamed(self.query(body, _Scope(ctes=ctes, parent=scope)), renames)
                    if again == cols:
                        break
                    cols = tuple((n, _union([a, b])) for (n, a), (_, b) in zip(cols, again, strict=False))
            else:
                cols = _renamed(self.query(body, inner), renames)
            ctes[name] = cols
        return _Scope(scope.ranges, ctes, scope.parent)

    # ----- FROM -----

    def _from(self, node: exp.Select, scope: _Scope) -> tuple[_Range, ...]:
        """The FROM list: comma-separated groups, each a chain of joins (JOIN binds tighter than a comma)."""
        from_ = node.args.get("from_") or node.args.get("from")
        groups: list[_Range] = []
        if isinstance(from_, exp.From):
            groups.append(self.item(from_.this, _Scope((), scope.ctes, scope)))
        for join in node.args.get("joins") or ():
            visible = _Scope(tuple(groups), scope.ctes, scope)
            right = self.item(join.this, visible)
            if _is_comma(join) or not groups:
                groups.append(right)
            else:
                groups[-1] = self._join(groups[-1], right, join)
        return tuple(groups)

    def item(self, node: exp.Expr, scope: _Scope) -> _Range:
        """One FROM item; `scope` holds the items before it (seen by LATERAL only)."""
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Table):  # a parenthesized join
            return self.item(node.this, scope)
        alias, renames = _alias_name(node), _alias_columns(node)
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            r = self._relation(node, scope)
        elif isinstance(node, (exp.Subquery, exp.Values)):
            body = node.this if isinstance(node, exp.Subquery) else node
            cols = self.query(body, _Scope(ctes=scope.ctes, parent=scope.parent))
            r = _Range(None, cols, whole=_union(lin for _, lin in cols))
        elif isinstance(node, exp.Lateral) and isinstance(node.this, exp.Subquery):
            alias = alias or _alias_name(node.this)
            renames = renames or _alias_columns(node.this)
            cols = self.query(node.this.this, scope)
            r = _Range(None, cols, whole=_union(lin for _, lin in cols))
        else:  # JSON_TABLE, table functions, anything new: unknown columns computed from every reference inside
            r = _Range(None, None, whole=self._children(node, scope).derived())
        named = _renamed(r.cols, renames) if r.cols is not None else None
        r = replace(r, alias=alias or r.alias, cols=named)
        for join in node.args.get("joins") or () if isinstance(node, exp.Table) else ():  # (a JOIN b ...)
            r = self._join(r, self.item(join.this, scope), join)
        return r

    def _relation(self, node: exp.Table, scope: _Scope) -> _Range:
        db, name = (str(node.db) or None), str(node.name)
        if db is None:
            cte = scope.cte(name)
            if cte is not None:
                return _Range(name, cte, whole=_union(lin for _, lin in cte))
        opaque = _OPAQUE.get(((db or "").lower(), name.lower()))
        if opaque is not None:
            return _Range(name, None, whole=Lin(opaque=True), opaque_cols=opaque, db=db)
        where = self.tables.locate(db, name)
        if where is None:
            return _Range(name, None, table=(db or self.tables.database, name), db=db)
        if where in self.tables.views:
            cols = self._view(where, self.tables.views[where])
            return _Range(name, cols, whole=_union(lin for _, lin in cols), db=where[0])
        cols = tuple(
            (c, Lin(sources=frozenset({(*where, c)}), direct=True)) for c in self.tables.columns.get(where, ())
        )
        return _Range(name, cols, whole=_union(lin for _, lin in cols), db=where[0])

    def _view(self, where: tuple[str, str], definition: str | None) -> tuple[tuple[str, Lin], ...]:
        """A view's columns by the lineage of its definition (named as the catalog names them); opaque when the
        definition cannot be read or followed."""
        names = self.tables.columns.get(where, ())
        cols: tuple[tuple[str, Lin], ...] | None = None
        if definition and self.depth < _MAX_VIEW_DEPTH:
            try:
                tree = sqlglot.parse_one(definition, read="mysql")
                cols = _Analyzer(self.tables, self.depth + 1).query(tree, None)
            except Exception:  # unparsable or not followed: the view's columns are opaque
                cols = None
        if cols is None or len(cols) != len(names):
            own = Lin(opaque=True)
            return tuple((n, replace(own, sources=frozenset({(*where, n)}))) for n in names)
        # a computed view column is also judged by its own name (a direct one by its source column)
        own_cols = _renamed(cols, names)
        return tuple(
            (n, lin if lin.direct else replace(lin, sources=lin.sources | {(*where, n)})) for n, lin in own_cols
        )

    def _join(self, left: _Range, right: _Range, join: exp.Join) -> _Range:
        using = [str(u.name) for u in join.args.get("using") or ()]
        if str(join.args.get("method") or "").upper() == "NATURAL" and left.cols is not None and right.cols is not None:
            rnames = {n.lower() for n, _ in right.cols}
            using = [n for n, _ in left.cols if n.lower() in rnames]
        folded = {u.lower() for u in using}
        right_wins = str(join.args.get("side") or "").upper() == "RIGHT"
        cols: tuple[tuple[str, Lin], ...] | None = None
        if left.cols is not None and right.cols is not None:
            merged = []
            for u in using:
                a = next((lin for n, lin in left.cols if _eq(n, u)), _EMPTY)
                b = next((lin for n, lin in right.cols if _eq(n, u)), _EMPTY)
                name = next((n for n, _ in (right.cols if right_wins else left.cols) if _eq(n, u)), u)
                merged.append((name, b if right_wins else a))
            cols = (
                *merged,
                *((n, lin) for n, lin in left.cols if n.lower() not in folded),
                *((n, lin) for n, lin in right.cols if n.lower() not in folded),
            )
        elif using:
            raise _Inexact  # USING over a relation of unknown columns: the layout of `*` is unknown
        return _Range(None, cols, whole=_union([left.whole, right.whole]), children=(left, right),
                      merged=frozenset(folded))  # fmt: skip

    def _star(self, col: exp.Column | None, scope: _Scope) -> list[tuple[str, Lin]]:
        ranges = list(scope.ranges)
        if col is not None:
            found = self._range(str(col.table), str(col.db) or None, scope)
            ranges = [found] if found is not None else []
            if found is None:
                raise _Inexact
        out: list[tuple[str, Lin]] = []
        unknown: list[tuple[str, str]] = []
        for r in ranges:
            if r.cols is None:
                self.everything.append(r.whole)
                unknown += [r.table] if r.table is not None else []
                continue
            out += r.cols
        if len(unknown) or any(r.cols is None for r in ranges):
            raise _Inexact(unknown)
        return out

    # ----- expressions -----

    def _range(self, alias: str, db: str | None, scope: _Scope | None) -> _Range | None:
        while scope is not None:
            for top in scope.ranges:
                for r in _visible(top):
                    if _eq(r.alias, alias) and (db is None or r.db is None or _eq(r.db, db)):
                        return r
            scope = scope.parent
        return None

    def column(self, node: exp.Column, scope: _Scope) -> Lin:
        name = str(node.name)
        if not node.table:
            return self._bare(name, scope)
        r = self._range(str(node.table), str(node.db) or None, scope)
        if r is None:
            return Lin(names=frozenset({name}))
        if r.cols is None:
            return r.unknown(name)
        hit = r.column(name)
        return hit if hit is not None else Lin(names=frozenset({name}))

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
                return _union(r.unknown(name) for r in unknown) if len(unknown) > 1 else unknown[0].unknown(name)
            s = s.parent
        return Lin(names=frozenset({name}))

    def expr(self, node: object, scope: _Scope) -> Lin:
        if isinstance(node, list):
            return _union(self.expr(x, scope) for x in node)
        if not isinstance(node, exp.Expr) or isinstance(node, _NO_LINEAGE):
            return _EMPTY
        if isinstance(node, exp.Identifier):  # a name the parser did not make a column (VALUES(x)...): as one
            lin = self._bare(str(node.name), scope)
            self.everything.append(lin)
            return lin
        if isinstance(node, exp.Column):
            if isinstance(node.this, exp.Star):
                r = self._range(str(node.table), None, scope)
                return r.whole.derived() if r is not None else _EMPTY
            lin = self.column(node, scope)
            self.everything.append(lin)
            return lin
        if isinstance(node, (exp.Alias, exp.Paren, exp.Collate, exp.Ordered)):
            return self.expr(node.this, scope)
        if isinstance(node, exp.Count):
            return self._children(node, scope).as_counted()
        if isinstance(node, _PICKS) and not node.expressions:
            return self.expr(node.this, scope)
        if isinstance(node, exp.Window):
            return self.expr(node.this, scope).derived()
        if isinstance(node, (exp.Subquery, exp.Query)):
            body = node.this if isinstance(node, exp.Subquery) else node
            try:
                cols = self.query(body, scope)
            except _Inexact:
                return _union(self.everything).derived()
            return cols[0][1] if len(cols) == 1 else _union(lin for _, lin in cols).derived()
        return self._children(node, scope).derived()

    def _children(self, node: exp.Expr, scope: _Scope) -> Lin:
        lins: list[Lin] = []
        for key, value in node.args.items():
            if key in _SKIP_ARGS:
                continue
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, exp.Expr):
                    lins.append(self.expr(v, scope))
        return _union(lins)


def _fallback(a: _Analyzer, *, opaque: bool = False, tables: Sequence[tuple[str, str]] = ()) -> QueryLineage:
    everything = _union(a.everything)
    if opaque:
        everything = replace(everything, opaque=True)
    return QueryLineage(columns=(), exact=False, fallback=_output(UNNAMED, everything), star_tables=tuple(tables))


def analyze_mysql(sql: str, tables: MyTables) -> QueryLineage | None:
    """The lineage of each output column of `sql`; None when it returns no table data (SHOW, DESCRIBE, EXPLAIN).

    A query the parser cannot read or follow gives an inexact lineage: every output column gets the union of
    every reference seen (opaque, i.e. masked whatever its sources, when nothing could be read at all).
    """
    head = sql.lstrip().lstrip("(").split(None, 1)[0].lower() if sql.strip() else ""
    if head in ("show", "describe", "desc", "explain"):
        return None
    a = _Analyzer(tables)
    try:
        tree = sqlglot.parse_one(sql, read="mysql")
    except Exception:  # the server may still run what the parser cannot read: every column masked
        return _fallback(a, opaque=True)
    if not isinstance(tree, exp.Query):
        return _fallback(a, opaque=True)
    try:
        cols = a.query(tree, None)
    except _Inexact as exc:
        try:
            a.everything += [a.expr(c, _Scope()) for c in tree.find_all(exp.Column)]  # judged by name at least
        except Exception:
            return _fallback(a, opaque=True)
        return _fallback(a, tables=exc.tables)
    except Exception:  # a tree the walker cannot follow (too deep, a shape it does not know): conservative
        return _fallback(a, opaque=True)
    whole = _union(lin for _, lin in cols)
    return QueryLineage(
        columns=tuple(_output(n, lin) for n, lin in cols), fallback=_output(UNNAMED, _union([whole, *a.everything]))
    )


def aligned(lineage: QueryLineage, names: Sequence[str]) -> tuple[OutputLineage, ...]:
    """The lineage of each actual output column (`names`, as the server named them, in order).

    Exact only when the analysis has as many columns as the result and every name it could predict (plain
    columns, aliases, `*` expansion) matches the server's without case; otherwise every column gets the
    statement's whole lineage (conservative: a misaligned mask would uncover another column).
    """
    cols = lineage.columns
    if (
        lineage.exact
        and len(cols) == len(names)
        and all(c.name == UNNAMED or c.name.lower() == n.lower() for c, n in zip(cols, names, strict=True))
    ):
        return cols
    base = lineage.fallback or _output(UNNAMED, Lin(opaque=True))
    out = []
    for n in names:
        extra = frozenset((s, t, n) for s, t in lineage.star_tables)  # `*` over a relation of unknown columns
        out.append(replace(base, name=n, sources=base.sources | extra, direct=False, count_only=False))
    return tuple(out)


def with_origin(out: OutputLineage, origin: Col | None) -> OutputLineage:
    """`out` with the source the server named for the column (its org_table / org_name) added."""
    if origin is None or origin in out.sources:
        return out
    if any(_eq(s[1], origin[1]) and _eq(s[2], origin[2]) for s in out.sources):
        return out
    # still `direct` when it was: the server names a plain column (a view's own column, for one); a second PII
    # source makes the mask whole anyway
    return replace(out, sources=out.sources | {origin}, count_only=False)
