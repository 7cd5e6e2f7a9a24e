"""Catalog queries: one query per question, whatever the number of tables, cached per Catalog instance."""

from __future__ import annotations

import difflib
import json
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from vf_mcp.db.cache import ResultCache
from vf_mcp.db.pool import Database
from vf_mcp.errors import InvalidArgumentError, NotFoundError
from vf_mcp.identifiers import quote_ident as quote_ident

T = TypeVar("T")

KIND_NAMES = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}


@dataclass(frozen=True)
class Relation:
    """A table-like relation found in the catalog."""

    oid: int
    schema: str
    name: str
    kind: str  # r, p, v, m, f
    parent: str | None  # "schema.name" of the partitioned parent, for partitions
    row_estimate: int | None  # None: never analysed and no statistics
    total_bytes: int | None
    comment: str | None
    last_analyzed: datetime | None
    dead_rows: int | None

    @property
    def qualified(self) -> str:
        """schema.name as shown to users (unquoted)."""
        return f"{self.schema}.{self.name}"

    @property
    def sql_name(self) -> str:
        """The quoted, schema-qualified name to paste into SQL (never user text)."""
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, self.kind)


def rows_with_partitions(rel: Relation, rels: Sequence[Relation]) -> int | None:
    """The planner's row estimate of `rel` (a partitioned table's is already the sum over its leaf partitions)."""
    return rel.row_estimate


def bytes_with_partitions(rel: Relation, rels: Sequence[Relation]) -> int | None:
    """The total size of `rel` on disk (a partitioned table's is already the sum over its leaf partitions)."""
    return rel.total_bytes


def leaf_partitions(rel: Relation, rels: Sequence[Relation]) -> list[Relation]:
    """The partitions of a partitioned table that hold rows, at every level of sub-partitioning."""
    children: dict[str, list[Relation]] = {}
    for r in rels:
        if r.parent:
            children.setdefault(r.parent, []).append(r)
    out: list[Relation] = []
    todo = list(children.get(rel.qualified, ()))
    while todo:
        r = todo.pop(0)
        if r.kind == "p":
            todo += children.get(r.qualified, ())
        else:
            out.append(r)
    return out


RELATIONS_SQL = r"""
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
       CASE WHEN c.relispartition THEN
         (SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i
            JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
           WHERE i.inhrelid = c.oid LIMIT 1) END AS parent,
       CASE WHEN c.relkind IN ('v', 'f') THEN NULL
            WHEN c.relkind = 'p' THEN tree.rows
            WHEN c.reltuples >= 0 THEN c.reltuples::bigint
            ELSE s.n_live_tup END AS row_estimate,
       CASE WHEN c.relkind = 'p' THEN tree.bytes
            WHEN c.relkind IN ('r', 'm') THEN pg_total_relation_size(c.oid) END AS total_bytes,
       obj_description(c.oid, 'pg_class') AS comment,
       CASE WHEN c.relkind = 'p' THEN tree.analyzed
            ELSE greatest(s.last_analyze, s.last_autoanalyze) END AS last_analyzed,
       CASE WHEN c.relkind = 'p' THEN tree.dead ELSE s.n_dead_tup END AS dead_rows
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
LEFT JOIN LATERAL (  -- a partitioned table: the sums over its leaf partitions, at every level
  SELECT coalesce(sum(CASE WHEN lc.reltuples >= 0 THEN lc.reltuples::bigint ELSE ls.n_live_tup END), 0)::bigint
           AS rows,
         coalesce(sum(pg_total_relation_size(pt.relid)), 0)::bigint AS bytes,
         min(greatest(ls.last_analyze, ls.last_autoanalyze)) AS analyzed,
         sum(ls.n_dead_tup)::bigint AS dead
  FROM pg_partition_tree(c.oid) pt JOIN pg_class lc ON lc.oid = pt.relid
  LEFT JOIN pg_stat_all_tables ls ON ls.relid = pt.relid
  WHERE c.relkind = 'p' AND pt.isleaf
) tree ON true
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname
"""

VOLATILE_FUNCTIONS_SQL = """
SELECT DISTINCT lower(p.proname) AS name, lower(n.nspname || '.' || p.proname) AS qualified
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.provolatile = 'v'
"""

TABLE_DETAIL_SQL = r"""
SELECT
 (SELECT json_agg(json_build_object(
     'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'nullable', NOT a.attnotnull,
     'default', pg_get_expr(d.adbin, d.adrelid),
     'identity', CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END,
     'generated', CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END,
     'comment', col_description(a.attrelid, a.attnum),
     'base_type', bt.typname, 'category', bt.typcategory,
     'enum_labels', (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e
                      WHERE e.enumtypid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END))
   ORDER BY a.attnum)
  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
 (SELECT json_agg(json_build_object(
     'name', k.conname, 'type', k.contype, 'definition', pg_get_constraintdef(k.oid),
     'validated', k.convalidated,
     'table', kn.nspname || '.' || kc.relname,
     'columns', (SELECT json_agg(a.attname ORDER BY x.ord) FROM unnest(k.conkey) WITH ORDINALITY x(n, ord)
                 JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.n),
     'ref_table', CASE WHEN k.contype = 'f' THEN fn.nspname || '.' || fc.relname END,
     'ref_columns', (SELECT json_agg(a.attname ORDER BY x.ord) FROM unnest(k.confkey) WITH ORDINALITY x(n, ord)
                     JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.n))
   ORDER BY k.contype, k.conname)
  FROM pg_constraint k
  JOIN pg_class kc ON kc.oid = k.conrelid JOIN pg_namespace kn ON kn.oid = kc.relnamespace
  LEFT JOIN pg_class fc ON fc.oid = k.confrelid LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
  WHERE k.conrelid = $1::oid OR (k.contype = 'f' AND k.confrelid = $1::oid)) AS constraints,
 (SELECT json_agg(json_build_object(
     'name', ic.relname, 'definition', pg_get_indexdef(i.indexrelid), 'unique', i.indisunique,
     'primary', i.indisprimary, 'partial', i.indpred IS NOT NULL, 'valid', i.indisvalid,
     'size_bytes', pg_relation_size(i.indexrelid)) ORDER BY ic.relname)
  FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::oid) AS indexes,
 (SELECT pg_get_partkeydef($1::oid)) AS partition_key,
 (SELECT json_agg(json_build_object('name', pn.nspname || '.' || pc.relname,
                                    'bound', pg_get_expr(pc.relpartbound, pc.oid)) ORDER BY pc.relname)
  FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
  WHERE i.inhparent = $1::oid) AS partitions,
 (SELECT pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.oid = $1::oid) AS partition_bound,
 (SELECT CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END
  FROM pg_class c WHERE c.oid = $1::oid) AS view_definition
"""

# Planner statistics for every table at once: completeness (null_frac) and, for timestamp-like columns,
# the newest value and the share of rows in the last 30 days, read from the histogram bounds.
TABLE_STATS_SQL = r"""
WITH cols AS (
  SELECT c.oid, a.attname, t.typname, s.null_frac, s.histogram_bounds::text AS bounds_text
  FROM pg_stats s
  JOIN pg_namespace n ON n.nspname = s.schemaname
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = s.attname AND a.attnum > 0 AND NOT a.attisdropped
  JOIN pg_type bt ON bt.oid = a.atttypid
  JOIN pg_type t ON t.oid = CASE WHEN bt.typtype = 'd' THEN bt.typbasetype ELSE bt.oid END
  WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema')
    AND s.inherited = (c.relkind = 'p')  -- a partitioned table has only statistics over its partitions
), ts AS (
  SELECT oid, attname, null_frac, bounds_text::timestamptz[] AS b
  FROM cols WHERE typname IN ('timestamptz', 'timestamp', 'date') AND bounds_text IS NOT NULL
), stamps AS (
  SELECT ts.oid, json_agg(json_build_object(
           'column', ts.attname,
           'newest', (SELECT max(v) FROM unnest(ts.b) v
                       WHERE isfinite(v) AND v >= '0001-01-01' AND v <= now() + interval '1 day'),
           'future_share', (1 - ts.null_frac) *
               (SELECT count(*) FROM unnest(ts.b) v WHERE v > now() + interval '1 day')::float8
               / greatest(array_length(ts.b, 1), 1),
           'recent_share', (1 - ts.null_frac) *
               (SELECT count(*) FROM unnest(ts.b) v WHERE v >= now() - interval '30 days'
                  AND v <= now() + interval '1 day')::float8
               / greatest(array_length(ts.b, 1) - 1, 1))) AS timestamps
  FROM ts GROUP BY ts.oid
), agg AS (
  SELECT oid, avg(null_frac)::float8 AS avg_null_frac, count(*) AS analysed_columns FROM cols GROUP BY oid
)
SELECT agg.oid::bigint AS oid, agg.avg_null_frac, agg.analysed_columns, stamps.timestamps
FROM agg LEFT JOIN stamps ON stamps.oid = agg.oid
"""


def _finite_stamp(text: str | None) -> datetime | None:
    """A histogram bound as a datetime; None for NULL and for what Python cannot hold (infinity, BC)."""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class StampEstimate:
    """A date/time column read off its histogram: the newest value not in the future, shares of rows."""

    column: str
    newest: datetime | None  # newest histogram bound at most 1 day ahead of now (future values ignored)
    recent_share: float  # share of rows in the last 30 days
    future_share: float = 0.0  # share of rows more than 1 day in the future


@dataclass(frozen=True)
class TableStatsEstimate:
    """Planner-statistics facts about one table (no table scan)."""

    avg_null_frac: float | None
    stamps: tuple[StampEstimate, ...] = ()
    partitions: int = 0  # > 0: merged from this many leaf partitions

    @property
    def timestamps(self) -> tuple[tuple[str, datetime | None, float], ...]:
        """(column, newest, share of rows in the last 30 days) per date/time column."""
        return tuple((s.column, s.newest, s.recent_share) for s in self.stamps)


def merged_estimate(
    rel: Relation, rels: Sequence[Relation], estimates: dict[int, TableStatsEstimate]
) -> TableStatsEstimate | None:
    """`rel`'s estimate; a partitioned table's merges every leaf partition's, weighted by their rows (its own
    statistics over the partitions, from a manual ANALYZE, only when no partition has been analysed)."""
    if rel.kind != "p":
        return estimates.get(rel.oid)
    parts = [(p, estimates[p.oid]) for p in leaf_partitions(rel, rels) if p.oid in estimates]
    if not parts:
        return estimates.get(rel.oid)

    def weight(p: Relation) -> float:
        return float(max(p.row_estimate or 0, 1))

    total = sum(weight(p) for p, _ in parts)
    nulls = [(weight(p), e.avg_null_frac) for p, e in parts if e.avg_null_frac is not None]
    null_w = sum(w for w, _ in nulls)
    avg_null = sum(w * f for w, f in nulls) / null_w if null_w else None
    columns: dict[str, list[tuple[float, StampEstimate]]] = {}
    for p, e in parts:
        for s in e.stamps:
            columns.setdefault(s.column, []).append((weight(p), s))
    stamps = tuple(
        StampEstimate(
            column=col,
            newest=max((s.newest for _, s in got if s.newest is not None), default=None),
            recent_share=sum(w * s.recent_share for w, s in got) / total,
            future_share=sum(w * s.future_share for w, s in got) / total,
        )
        for col, got in columns.items()
    )
    return TableStatsEstimate(avg_null_frac=avg_null, stamps=stamps, partitions=len(parts))


@dataclass(frozen=True)
class ColumnDetail:
    """One column of a relation (from TABLE_DETAIL_SQL)."""

    name: str
    type: str
    nullable: bool
    default: str | None
    identity: str | None  # 'always', 'by default' or None
    generated: str | None
    comment: str | None
    base_type: str  # the type under a domain
    category: str  # pg_type.typcategory of base_type
    enum_labels: tuple[str, ...] | None


@dataclass(frozen=True)
class ConstraintDetail:
    """A constraint of the relation, or a foreign key of another table pointing at it."""

    name: str
    type: str  # p, f, u, c, x, ...
    definition: str
    validated: bool
    table: str  # schema.name holding the constraint
    columns: tuple[str, ...] | None
    ref_table: str | None
    ref_columns: tuple[str, ...] | None


@dataclass(frozen=True)
class IndexDetail:
    name: str
    definition: str
    unique: bool
    primary: bool
    partial: bool
    valid: bool
    size_bytes: int | None


@dataclass(frozen=True)
class TableDetail:
    """Columns, constraints, indexes and partitioning of one relation."""

    columns: tuple[ColumnDetail, ...]
    constraints: tuple[ConstraintDetail, ...]
    indexes: tuple[IndexDetail, ...]
    partition_key: str | None
    partitions: tuple[dict[str, str], ...]
    partition_bound: str | None
    view_definition: str | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> TableDetail:
        """From TABLE_DETAIL_SQL's decoded row."""

        def names(v: list[str] | None) -> tuple[str, ...] | None:
            return None if v is None else tuple(v)

        return cls(
            columns=tuple(
                ColumnDetail(
                    name=c["name"],
                    type=c["type"],
                    nullable=bool(c["nullable"]),
                    default=c.get("default"),
                    identity=c.get("identity"),
                    generated=c.get("generated"),
                    comment=c.get("comment"),
                    base_type=c.get("base_type") or "",
                    category=c.get("category") or "",
                    enum_labels=names(c.get("enum_labels")),
                )
                for c in d.get("columns") or []
            ),
            constraints=tuple(
                ConstraintDetail(
                    name=k["name"],
                    type=k["type"],
                    definition=k["definition"],
                    validated=bool(k["validated"]),
                    table=k["table"],
                    columns=names(k["columns"]),
                    ref_table=k["ref_table"],
                    ref_columns=names(k["ref_columns"]),
                )
                for k in d.get("constraints") or []
            ),
            indexes=tuple(IndexDetail(**i) for i in d.get("indexes") or []),
            partition_key=d.get("partition_key"),
            partitions=tuple(d.get("partitions") or ()),
            partition_bound=d.get("partition_bound"),
            view_definition=d.get("view_definition"),
        )


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


ANSWERS_KEPT = 256
"""Catalog-derived answers kept per database (list_tables, get_table_schema)."""


@dataclass
class Catalog:
    """Cached catalog answers for one database (rebuilt with the server, never module-level)."""

    db: Database
    cache: ResultCache

    async def cached(self, key: Any, compute: Callable[[], Awaitable[T]], *, refresh: bool = False) -> T:
        """`compute()`'s result, cached in the schema family (results, never coroutines; single flight)."""
        return await self.cache.get_or_compute(("catalog", key), compute, family="schema", refresh=refresh)

    answers: dict[Hashable, tuple[object, object]] = field(default_factory=dict, repr=False)
    """Answers derived from a cached catalog object, by key: (the object they came from, the answer)."""

    def invalidate(self) -> None:
        self.cache.invalidate()
        self.answers.clear()
        self.db.shapes.clear()

    def derived(self, key: Hashable, basis: object) -> object | None:
        """The answer kept for `key` if it was derived from this very `basis` (a catalog snapshot)."""
        kept = self.answers.get(key)
        return kept[1] if kept is not None and kept[0] is basis else None

    def keep(self, key: Hashable, basis: object, answer: object) -> None:
        """Keep `answer`, derived from `basis`, until the catalog snapshot changes (bounded)."""
        if len(self.answers) >= ANSWERS_KEPT:
            self.answers.pop(next(iter(self.answers)))
        self.answers[key] = (basis, answer)

    async def relations(self, *, refresh: bool = False) -> tuple[Relation, ...]:
        """Every relation the role may SELECT from, in one catalog query."""

        async def load() -> tuple[Relation, ...]:
            rows = await self.db.fetch(RELATIONS_SQL)
            return tuple(
                Relation(
                    oid=int(r["oid"]),
                    schema=r["schema"],
                    name=r["name"],
                    kind=r["kind"],
                    parent=r["parent"],
                    row_estimate=None if r["row_estimate"] is None else int(r["row_estimate"]),
                    total_bytes=r["total_bytes"],
                    comment=r["comment"],
                    last_analyzed=r["last_analyzed"],
                    dead_rows=r["dead_rows"],
                )
                for r in rows
            )

        return await self.cached("relations", load, refresh=refresh)

    async def volatile_functions(self) -> frozenset[str]:
        """Names (bare and schema-qualified, lower case) of every VOLATILE function in the database."""

        async def load() -> frozenset[str]:
            rows = await self.db.fetch(VOLATILE_FUNCTIONS_SQL)
            return frozenset(n for r in rows for n in (r["name"], r["qualified"]))

        return await self.cached("volatile", load)

    async def table_info(self, rel: Relation, *, refresh: bool = False) -> TableDetail:
        """Columns, constraints, indexes and partitioning of one relation, in one query (typed, cached)."""

        async def load() -> TableDetail:
            row = (await self.db.fetch(TABLE_DETAIL_SQL, rel.oid))[0]
            out = dict(row.items())
            for key in ("columns", "constraints", "indexes", "partitions"):
                out[key] = _json(out[key])
            return TableDetail.of(out)

        return await self.cached(("detail", rel.oid), load, refresh=refresh)

    async def stats_estimates(self, *, refresh: bool = False) -> dict[int, TableStatsEstimate]:
        """Planner-statistics estimates for every analysed table, in one query."""

        async def load() -> dict[int, TableStatsEstimate]:
            rows = await self.db.fetch(TABLE_STATS_SQL)
            out: dict[int, TableStatsEstimate] = {}
            for r in rows:
                stamps = _json(r["timestamps"]) or []
                out[int(r["oid"])] = TableStatsEstimate(
                    avg_null_frac=r["avg_null_frac"],
                    stamps=tuple(
                        StampEstimate(
                            column=s["column"],
                            newest=_finite_stamp(s["newest"]),
                            recent_share=float(s["recent_share"] or 0.0),
                            future_share=float(s.get("future_share") or 0.0),
                        )
                        for s in stamps
                    ),
                )
            return out

        return await self.cached("stats", load, refresh=refresh)

    async def resolve(self, table_name: str) -> Relation:
        """Find a relation by user-supplied name: `t`, `schema.t`, `"Odd Name"`, `"s"."T"`."""
        parts = split_identifier(table_name)
        rels = await self.relations()
        if len(parts) == 2:
            schema, name = parts
            cands = [r for r in rels if r.schema == schema[0] and r.name == name[0]]
            if not cands:
                cands = [r for r in rels if _fold(r.schema, schema) and _fold(r.name, name)]
        else:
            (name,) = parts
            cands = [r for r in rels if r.name == name[0]]
            if not cands:
                cands = [r for r in rels if _fold(r.name, name)]
            if len(cands) > 1:
                public = [r for r in cands if r.schema == "public"]
                if len(public) == 1:
                    cands = public
        if len(cands) == 1:
            from vf_mcp.db.gate import check_relation_access  # gate imports this module

            await check_relation_access(self, cands[0])  # views over pg_authid & co. (vf_mcp/db/secrets.py)
            return cands[0]
        if len(cands) > 1:
            names = ", ".join(sorted(r.qualified for r in cands))
            raise InvalidArgumentError(f"Table name {table_name!r} is ambiguous: {names}. Qualify it with its schema.")
        raise NotFoundError(f"Table {table_name!r} not found{suggest(table_name, rels)}")


def _fold(actual: str, part: tuple[str, bool]) -> bool:
    """Does a catalog name match a user-supplied part? Quoted parts are exact, bare parts case-insensitive."""
    text, quoted = part
    return actual == text if quoted else actual.lower() == text.lower()


def split_identifier(text: str) -> list[tuple[str, bool]]:
    """Split `a.b`, `"a.b"`, `"a"."b"` into (name, was_quoted) parts (at most two)."""
    text = text.strip()
    parts: list[tuple[str, bool]] = []
    i = 0
    while i <= len(text):
        if i < len(text) and text[i] == '"':
            j = i + 1
            buf = []
            while j < len(text):
                if text[j] == '"':
                    if j + 1 < len(text) and text[j + 1] == '"':
                        buf.append('"')
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            else:
                raise InvalidArgumentError(f"Unterminated quote in table name {text!r}.")
            parts.append(("".join(buf), True))
            i = j + 1
        else:
            j = text.find(".", i)
            if j == -1:
                j = len(text)
            chunk = text[i:j].strip()
            parts.append((chunk, False))
            i = j
        if i < len(text):
            if text[i] != ".":
                raise InvalidArgumentError(f"Unexpected character {text[i]!r} in table name {text!r}.")
            i += 1
        else:
            break
    if not parts or any(not p[0] for p in parts) or len(parts) > 2:
        raise InvalidArgumentError(
            f'Bad table name {text!r}: use table, schema.table, or quoted names like "My Table".'
        )
    return parts


def suggest(name: str, rels: Sequence[Relation], n: int = 3) -> str:
    """'; did you mean X, Y?' with the nearest relation names, or a pointer to list_tables."""
    pool: dict[str, str] = {}
    for r in rels:
        shown = r.qualified if r.schema != "public" else r.name  # one name per table
        pool.setdefault(r.name.lower(), shown)
        pool.setdefault(r.qualified.lower(), shown)
    close = difflib.get_close_matches(name.lower().replace('"', ""), list(pool), n=n, cutoff=0.5)
    seen: list[str] = []
    for c in close:
        if pool[c] not in seen:
            seen.append(pool[c])
    if seen:
        return f"; did you mean {', '.join(seen)}? (list_tables shows every table)"
    return "; call list_tables to see the tables you can query"


def suggest_column(name: str, columns: Sequence[str], n: int = 5) -> str:
    """Columns ordered by closeness to `name`, for 'unknown column' messages."""
    close = difflib.get_close_matches(name, list(columns), n=n, cutoff=0.0)
    return ", ".join(close)
