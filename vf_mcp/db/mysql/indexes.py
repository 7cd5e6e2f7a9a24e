"""recommend_indexes on MySQL/MariaDB: the workload, the columns its filters and joins use, existing indexes,
and the sys schema's unused and redundant indexes.

The workload is the queries given (each through the MySQL gate) or the top statement digests of this database
that ran without an index (performance_schema). Each query is parsed with sqlglot; the columns compared in
WHERE and JOIN ... ON (=, IN first, then ranges) are attributed to their tables through the FROM aliases.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from vf_mcp.compute.dba.mysql import KeyStats, RowsEstimate, rows_by_table, rows_estimate
from vf_mcp.db.catalog import Catalog
from vf_mcp.db.mysql.catalog import MySqlCatalog, quote_mysql
from vf_mcp.db.mysql.dba import explain
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.mysql.runner import check_mysql_user_sql
from vf_mcp.db.pool import Database
from vf_mcp.errors import VfError
from vf_mcp.jsontypes import as_int

_EQUALITY = (exp.EQ, exp.In, exp.NullSafeEQ)
_RANGE = (exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Between, exp.Like)
WORKLOAD_DIGESTS = 25


@dataclass(frozen=True)
class IndexFacts:
    existing: dict[str, list[tuple[str, ...]]]  # table -> index column lists
    rows: dict[str, int]
    unused: list[tuple[str, str]]  # (table, index)
    redundant: list[tuple[str, str, str]]  # (table, index, dominant index)
    skipped: list[str]


def _s(v: object) -> str:
    return v.decode() if isinstance(v, (bytes, bytearray)) else str(v)


async def workload(db: Database, catalog: Catalog, queries: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """The queries to tune and what was skipped (refused or unreadable), in words."""
    assert isinstance(db, MySqlDatabase) and isinstance(catalog, MySqlCatalog)
    skipped: list[str] = []
    if queries:
        out: list[str] = []
        for q in queries:
            try:
                await check_mysql_user_sql(db, catalog, q)
                out.append(q)
            except VfError as exc:
                skipped.append(f"{q[:80]}: {exc.message}")
        return out, skipped
    try:
        rows = await db.fetch_rows(
            "SELECT DIGEST_TEXT AS q FROM performance_schema.events_statements_summary_by_digest "
            "WHERE SCHEMA_NAME = DATABASE() AND SUM_NO_INDEX_USED > 0 AND DIGEST_TEXT LIKE 'SELECT%' "
            f"ORDER BY SUM_TIMER_WAIT DESC LIMIT {WORKLOAD_DIGESTS}"
        )
    except VfError as exc:
        return [], [f"no workload from performance_schema ({exc.message}); pass queries"]
    return [_s(r["q"]) for r in rows], skipped


def predicate_columns(sql: str, *, joins: bool = True) -> dict[str, tuple[list[str], list[str]]]:
    """Per table of the query: the columns compared by equality (=, IN, <=>) and by range, in WHERE and (joins)
    JOIN ... ON."""
    try:
        tree = sqlglot.parse_one(sql, read="mysql")
    except sqlglot.errors.ParseError:
        return {}
    if tree is None:
        return {}
    aliases = table_aliases(tree)
    only = next(iter(aliases.values())) if len(set(aliases.values())) == 1 else None
    found: dict[str, tuple[list[str], list[str]]] = {}
    ons = [j.args.get("on") for j in tree.find_all(exp.Join)] if joins else []
    for cond in [*tree.find_all(exp.Where), *ons]:
        if cond is None:
            continue
        for node in cond.find_all(*_EQUALITY, *_RANGE):
            col = node.this if isinstance(node.this, exp.Column) else None
            if col is None:
                continue
            table = aliases.get(col.table.lower()) if col.table else only
            if table is None:
                continue
            eq, rng = found.setdefault(table, ([], []))
            target = eq if isinstance(node, _EQUALITY) else rng
            if col.name not in eq and col.name not in rng:
                target.append(col.name)
    return found


def table_aliases(tree: exp.Expr) -> dict[str, str]:
    """Alias (or name), lower-cased -> table name, for every table the query reads."""
    return {t.alias_or_name.lower(): t.name for t in tree.find_all(exp.Table)}


def predicates(sql: str) -> list[tuple[str, list[str]]]:
    """(table, columns) compared in WHERE and JOIN ... ON, equality columns first, per table of the query."""
    return [(t, eq + rng[:1]) for t, (eq, rng) in predicate_columns(sql).items() if eq or rng]


async def index_facts(db: Database) -> IndexFacts:
    assert isinstance(db, MySqlDatabase)
    existing: dict[str, list[tuple[str, ...]]] = {}
    parts: dict[tuple[str, str], list[str]] = {}
    for r in await db.fetch_rows(
        "SELECT TABLE_NAME AS t, INDEX_NAME AS i, COLUMN_NAME AS c FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
    ):
        parts.setdefault((_s(r["t"]), _s(r["i"])), []).append(_s(r["c"]))
    for (table, _), cols in parts.items():
        existing.setdefault(table, []).append(tuple(cols))
    rows = {
        _s(r["t"]): int(r["r"] or 0)
        for r in await db.fetch_rows(
            "SELECT TABLE_NAME AS t, TABLE_ROWS AS r FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
        )
    }
    unused: list[tuple[str, str]] = []
    redundant: list[tuple[str, str, str]] = []
    skipped: list[str] = []
    try:
        unused = [
            (_s(r["t"]), _s(r["i"]))
            for r in await db.fetch_rows(
                "SELECT object_name AS t, index_name AS i FROM sys.schema_unused_indexes "
                "WHERE object_schema = DATABASE()"
            )
        ]
        redundant = [
            (_s(r["t"]), _s(r["i"]), _s(r["d"]))
            for r in await db.fetch_rows(
                "SELECT table_name AS t, redundant_index_name AS i, dominant_index_name AS d "
                "FROM sys.schema_redundant_indexes WHERE table_schema = DATABASE()"
            )
        ]
    except VfError as exc:
        skipped.append(f"unused and redundant indexes: the sys schema is not readable ({exc.message})")
    return IndexFacts(existing, rows, unused, redundant, skipped)


# ---------- the gain estimate: rows read today (EXPLAIN) versus rows per key value (column statistics) ----------


async def key_stats(db: MySqlDatabase, table: str, columns: Sequence[str]) -> KeyStats:
    """COUNT(*), the rows with every column set, and COUNT(DISTINCT columns) over the whole table."""
    cols = [quote_mysql(c) for c in columns]
    keyed = " AND ".join(f"{c} IS NOT NULL" for c in cols)
    (row,) = await db.fetch_rows(
        f"SELECT COUNT(*) AS n, COALESCE(SUM({keyed}), 0) AS k, COUNT(DISTINCT {', '.join(cols)}) AS d "
        f"FROM {quote_mysql(table)}"
    )
    return KeyStats(as_int(row["n"]), as_int(row["k"]), as_int(row["d"]))


async def explain_rows(db: MySqlDatabase, catalog: Catalog, sql: str) -> dict[str, float]:
    """Rows EXPLAIN expects to read per table of one gated query (each access of the table summed)."""
    plan = await explain(db, catalog, sql, (), analyze=False)
    return rows_by_table(plan, table_aliases(sqlglot.parse_one(sql, read="mysql")))


async def estimate_gains(
    db: Database, catalog: Catalog, work: Sequence[str], found: Sequence[tuple[str, tuple[str, ...], list[int]]]
) -> list[RowsEstimate]:
    """For each candidate (table, columns, queries helped), the rows its first helped query reads from the table
    today and the rows an index on the columns would read: no hypothetical indexes on MySQL, so an estimate."""
    assert isinstance(db, MySqlDatabase)
    plans: dict[int, dict[str, float]] = {}
    out: list[RowsEstimate] = []
    for table, cols, helps in found:
        equality = predicate_columns(work[helps[0]], joins=False).get(table, ([], []))[0]  # bound by constants
        prefix = list(itertools.takewhile(equality.__contains__, cols))
        try:
            if helps[0] not in plans:
                plans[helps[0]] = await explain_rows(db, catalog, work[helps[0]])
            stats = await key_stats(db, table, prefix) if prefix else None
        except (VfError, sqlglot.errors.ParseError) as exc:
            out.append(RowsEstimate(None, None, None, f"not estimated: {getattr(exc, 'message', exc)}"))
            continue
        out.append(rows_estimate(plans[helps[0]].get(table), stats, prefix, cols))
    return out
