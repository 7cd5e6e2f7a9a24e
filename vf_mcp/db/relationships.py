"""Catalog SQL for get_table_relationships: two queries for the whole database, one for inferred coverage.

Partitions are left out everywhere (their keys are the parent's), and so is anything the role may not
SELECT from. The coverage statement checks every inferred candidate in one UNION ALL, inside PostgreSQL,
reading at most `exact_rows` rows of a table exactly and a TABLESAMPLE of `sample_rows` rows beyond that.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from vf_mcp.compute.graph import Link, Table, infer, verified
from vf_mcp.db.catalog import Catalog, Relation
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.pool import Database
from vf_mcp.errors import QueryTimeoutError
from vf_mcp.identifiers import quote_ident

_USER_SCHEMA = r"""{n}.nspname NOT IN ('pg_catalog', 'information_schema')
  AND {n}.nspname NOT LIKE 'pg\_toast%' AND {n}.nspname NOT LIKE 'pg\_temp%'"""

FOREIGN_KEYS_SQL = f"""
SELECT k.conname AS name, k.convalidated AS validated,
       sn.nspname AS schema, sc.relname AS table_name,
       tn.nspname AS ref_schema, tc.relname AS ref_table,
       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY x(num, ord)
               JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.num ORDER BY x.ord) AS columns,
       ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY x(num, ord)
               JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = x.num ORDER BY x.ord) AS ref_columns
FROM pg_constraint k
JOIN pg_class sc ON sc.oid = k.conrelid JOIN pg_namespace sn ON sn.oid = sc.relnamespace
JOIN pg_class tc ON tc.oid = k.confrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
WHERE k.contype = 'f' AND k.conparentid = 0 AND NOT sc.relispartition AND NOT tc.relispartition
  AND {_USER_SCHEMA.format(n="sn")}
  AND has_table_privilege(sc.oid, 'SELECT') AND has_table_privilege(tc.oid, 'SELECT')
ORDER BY sn.nspname, sc.relname, k.conname
"""

TABLES_SQL = f"""
SELECT n.nspname AS schema, c.relname AS name,
       CASE WHEN c.relkind = 'p' THEN
              (SELECT sum(greatest(pc.reltuples, 0))::bigint FROM pg_partition_tree(c.oid) pt
                 JOIN pg_class pc ON pc.oid = pt.relid WHERE pt.isleaf)
            WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS row_estimate,
       (SELECT json_agg(json_build_array(a.attname, bt.typname, a.attnotnull) ORDER BY a.attnum)
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
          JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       (SELECT json_agg(json_build_array(i.indisprimary,
                 ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY x(num, ord)
                         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.num
                        WHERE x.ord <= i.indnkeyatts ORDER BY x.ord))
               ORDER BY NOT i.indisprimary, i.indexrelid)
          FROM pg_index i
         WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
           AND i.indpred IS NULL AND i.indexprs IS NULL) AS keys
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND {_USER_SCHEMA.format(n="n")}
  AND has_table_privilege(c.oid, 'SELECT')
ORDER BY n.nspname, c.relname
"""


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


async def load_tables(db: Database) -> dict[str, Table]:
    """Every table and partitioned parent with columns, base types and unique keys (one query)."""
    out: dict[str, Table] = {}
    for r in await db.fetch(TABLES_SQL):
        cols = _json(r["columns"]) or []
        keys = _json(r["keys"]) or []
        assert isinstance(cols, list) and isinstance(keys, list)
        pk = next((tuple(k[1]) for k in keys if k[0]), ())
        t = Table(
            schema=r["schema"],
            name=r["name"],
            rows=r["row_estimate"],
            columns=tuple(c[0] for c in cols),
            types=tuple(c[1] for c in cols),
            notnull=tuple(bool(c[2]) for c in cols),
            pk=pk,
            uniques=tuple(dict.fromkeys(tuple(k[1]) for k in keys if k[1])),
        )
        out[t.key] = t
    return out


async def load_foreign_keys(db: Database, tables: dict[str, Table]) -> list[Link]:
    """Every declared foreign key at parent level, composite keys in column order (one query)."""
    out: list[Link] = []
    for r in await db.fetch(FOREIGN_KEYS_SQL):
        src, ref = f"{r['schema']}.{r['table_name']}", f"{r['ref_schema']}.{r['ref_table']}"
        if src not in tables or ref not in tables:
            continue
        cols = tuple(r["columns"])
        out.append(
            Link(
                table=src,
                columns=cols,
                ref_table=ref,
                ref_columns=tuple(r["ref_columns"]),
                declared=True,
                one_to_one=tables[src].is_unique(cols),
                nullable=tables[src].nullable(cols),
                name=r["name"],
                validated=bool(r["validated"]),
            )
        )
    return out


@dataclass(frozen=True)
class Coverage:
    checked: int
    matched: int
    exact: bool


def coverage_sql(
    cands: Sequence[Link], tables: dict[str, Table], *, exact_rows: int, sample_rows: int
) -> tuple[str, list[bool]]:
    """One statement measuring, for each candidate, non-null values examined and values found in the target.

    Tables estimated above `exact_rows` are read through TABLESAMPLE SYSTEM and capped at `sample_rows`;
    the others are read whole, up to exact_rows + 1 rows (hitting that cap also makes the figure inexact).
    Returns (sql, sampled flags).
    """
    parts: list[str] = []
    sampled: list[bool] = []
    for i, c in enumerate(cands):
        src, tgt = tables[c.table], tables[c.ref_table]
        col, pk = quote_ident(c.columns[0]), quote_ident(c.ref_columns[0])
        big = (src.rows or 0) > exact_rows
        if big:
            pct = min(100.0, 100.0 * 1.5 * sample_rows / max(src.rows or 1, 1))
            scan = f"{quote_ident(src.schema)}.{quote_ident(src.name)} x TABLESAMPLE SYSTEM ({pct:.6f})"
            cap = sample_rows
        else:
            scan = f"{quote_ident(src.schema)}.{quote_ident(src.name)} x"
            cap = exact_rows + 1
        sampled.append(big)
        parts.append(
            f"SELECT {i} AS i, count(*) AS checked, count(y.{pk}) AS matched "
            f"FROM (SELECT x.{col} AS v FROM {scan} WHERE x.{col} IS NOT NULL LIMIT {int(cap)}) s "
            f"LEFT JOIN {quote_ident(tgt.schema)}.{quote_ident(tgt.name)} y ON y.{pk} = s.v"
        )
    return "\nUNION ALL\n".join(parts), sampled


async def measure_coverage(
    db: Database, cands: Sequence[Link], tables: dict[str, Table], *, exact_rows: int, sample_rows: int
) -> list[Coverage]:
    """Coverage of every candidate, in one statement."""
    if not cands:
        return []
    sql, sampled = coverage_sql(cands, tables, exact_rows=exact_rows, sample_rows=sample_rows)
    rows = {int(r["i"]): r for r in await db.fetch(sql)}
    out: list[Coverage] = []
    for i in range(len(cands)):
        r = rows[i]
        checked = int(r["checked"])
        out.append(Coverage(checked=checked, matched=int(r["matched"]), exact=not sampled[i] and checked <= exact_rows))
    return out


# ---------- the graph shared by get_table_relationships, check_data_quality and rank_entities' labels ----------

MAX_VERIFIED = 100
"""Most inferred candidates whose coverage one call measures (all in one statement); the rest stay unverified."""

CoverageKey = tuple[str, tuple[str, ...], str]


@dataclass(frozen=True)
class Graph:
    tables: dict[str, Table]
    declared: list[Link]
    candidates: list[Link]


@dataclass
class Links:
    links: list[Link]
    rejected: int
    note: str


async def load_graph(catalog: Catalog) -> Graph:
    """Tables, declared keys and inference candidates: two catalog queries, cached with the catalog."""

    async def load() -> Graph:
        if isinstance(catalog.db, MySqlDatabase):  # MySQL/MariaDB: information_schema
            from vf_mcp.db.mysql import relationships as my

            tables = await my.load_tables(catalog.db)
            declared = await my.load_foreign_keys(catalog.db, tables)
            return Graph(tables=tables, declared=declared, candidates=infer(tables, declared))
        tables = await load_tables(catalog.db)
        declared = await load_foreign_keys(catalog.db, tables)
        return Graph(tables=tables, declared=declared, candidates=infer(tables, declared))

    return await catalog.cached(("relationships", "graph"), load)


async def graph_links(catalog: Catalog, graph: Graph, focus: set[str] | None) -> Links:
    """Declared edges plus inferred candidates with measured coverage (one statement for those not yet measured;
    the measurements are cached with the catalog), without the candidates rejected on coverage.

    `focus`: measure only candidates from or to these tables (None: all, at most MAX_VERIFIED per call).
    """

    async def new_store() -> dict[CoverageKey, Coverage | None]:  # None: timed out, not retried until the TTL
        return {}

    store = await catalog.cached(("relationships", "coverage"), new_store)
    cands = graph.candidates
    if focus is not None:
        cands = [c for c in cands if c.table in focus or c.ref_table in focus]
    todo = [c for c in sorted(cands, key=lambda c: -c.score) if c.key not in store][:MAX_VERIFIED]
    note = ""
    if todo:
        settings = catalog.db.settings
        try:
            found = await _measure(
                catalog.db,
                todo,
                graph.tables,
                exact_rows=settings.large_table_rows,
                sample_rows=settings.stats_sample_rows,
            )
        except QueryTimeoutError:
            note = "; the coverage check of inferred edges timed out (they are unverified)"
            store.update(dict.fromkeys((c.key for c in todo), None))
        else:
            store.update({c.key: f for c, f in zip(todo, found, strict=True)})
    links = list(graph.declared)
    rejected = 0
    for c in graph.candidates:
        f = store.get(c.key)
        if f is None:
            links.append(c)
            continue
        v = verified(c, f.checked, f.matched, exact=f.exact)
        if v is None:
            rejected += 1
            continue
        links.append(v)
    links.sort(key=lambda lk: (lk.table, lk.columns, lk.ref_table))
    return Links(links=links, rejected=rejected, note=note)


async def _measure(
    db: Database, cands: Sequence[Link], tables: dict[str, Table], *, exact_rows: int, sample_rows: int
) -> list[Coverage]:
    if isinstance(db, MySqlDatabase):
        from vf_mcp.db.mysql.relationships import measure_coverage as on_mysql

        return await on_mysql(db, cands, tables, exact_rows=exact_rows, sample_rows=sample_rows)
    return await measure_coverage(db, cands, tables, exact_rows=exact_rows, sample_rows=sample_rows)


def root_table(rel: Relation, rels: Sequence[Relation]) -> Relation:
    """The top partitioned table of a partition (keys belong to it), else `rel` itself."""
    by_name = {r.qualified: r for r in rels}
    seen = 0
    while rel.parent and rel.parent in by_name and seen < 64:
        rel, seen = by_name[rel.parent], seen + 1
    return rel
