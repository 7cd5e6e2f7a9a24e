"""Column statistics computed inside PostgreSQL: one aggregate pass, one most-common-values pass.

Identifiers come from the catalog and are always quoted; no user text reaches the SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from vf_mcp.compute.quality import EMAIL_RE, PHONE_RE
from vf_mcp.db.catalog import Relation, TableDetail, quote_ident
from vf_mcp.db.convert import convert_row, converters_for, numeric_columns, uniform_numerics
from vf_mcp.db.pool import Database, note_sql
from vf_mcp.jsontypes import JSONValue

ORDERABLE = set("NSDTEIV")  # numeric, string, datetime, timespan, enum, network, bit
NO_DISTINCT_TYPES = {"json", "xml", "point", "polygon", "path", "line", "lseg", "box", "circle"}
NON_NUMERIC_N = {"money", "oid", "regclass", "regtype", "regproc", "regprocedure", "regoper", "regnamespace"}
EMAIL_NAME = re.compile(r"e_?mail", re.I)
PHONE_NAME = re.compile(r"phone|mobile|cell|tel(ephone)?$|fax", re.I)
NON_NEGATIVE_NAME = re.compile(
    r"(hours|_qty|quantity|amount|price|cost|count|duration|length|distance|age|total|weight|minutes|seconds|"
    r"_km|_m$|meters|metres)",
    re.I,
)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    base_type: str
    category: str

    @property
    def q(self) -> str:
        return quote_ident(self.name)

    @property
    def numeric(self) -> bool:
        return self.category == "N" and self.base_type not in NON_NUMERIC_N

    @property
    def orderable(self) -> bool:
        return self.category in ORDERABLE or self.base_type == "money"

    @property
    def distinctable(self) -> bool:
        return self.base_type not in NO_DISTINCT_TYPES and self.category not in ("G", "X")

    @property
    def is_timestamp(self) -> bool:
        return self.base_type in ("date", "timestamp", "timestamptz")

    @property
    def text_like(self) -> bool:
        return self.category == "S"


def column_specs(detail: TableDetail) -> list[ColumnSpec]:
    return [ColumnSpec(c.name, c.type, c.base_type, c.category) for c in detail.columns]


def source_sql(rel: Relation, *, sample_percent: float | None, sample_rows: int | None) -> str:
    """FROM-clause source: the table, a TABLESAMPLE of it, or (views) its first rows."""
    if sample_percent is not None and rel.kind in ("r", "p", "m"):
        return f"(SELECT * FROM {rel.sql_name} TABLESAMPLE SYSTEM ({sample_percent:.6f}) REPEATABLE (42)) s"
    if sample_rows is not None:
        return f"(SELECT * FROM {rel.sql_name} LIMIT {int(sample_rows)}) s"
    return f"{rel.sql_name} s"


def aggregate_sql(cols: list[ColumnSpec], source: str) -> str:
    """One pass: count, non-null, distinct, min/max, avg/median/stddev and rule violations per column."""
    parts = ["count(*) AS n"]
    for i, c in enumerate(cols):
        q = f"s.{c.q}"
        parts.append(f"count({q}) AS nn_{i}")
        if c.distinctable:
            parts.append(f"count(DISTINCT {q}) AS nd_{i}")
        if c.base_type == "bool":
            parts.append(f"bool_and({q})::text AS mn_{i}, bool_or({q})::text AS mx_{i}")
        elif c.is_timestamp:  # ISO 8601 like every other tool (to_json: 'T', offset in the session zone)
            parts.append(f"to_json(min({q})) #>> '{{}}' AS mn_{i}, to_json(max({q})) #>> '{{}}' AS mx_{i}")
        elif c.orderable:
            parts.append(f"min({q})::text AS mn_{i}, max({q})::text AS mx_{i}")
        if c.numeric:
            parts.append(
                f"avg({q})::float8 AS av_{i}, "
                f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {q}::float8) AS md_{i}, "
                f"stddev_samp({q})::float8 AS sd_{i}"
            )
        bad = _consistency_rule(c, q)
        if bad:
            parts.append(f"count(*) FILTER (WHERE {bad}) AS cv_{i}")
        acc = _accuracy_rule(c, q)
        if acc:
            parts.append(f"count(*) FILTER (WHERE {acc}) AS ac_{i}")
    return f"SELECT {', '.join(parts)} FROM {source}"


def _consistency_rule(c: ColumnSpec, q: str) -> str | None:
    if not c.text_like:
        return None
    rules = [f"{q} <> btrim({q})"]
    if EMAIL_NAME.search(c.name):
        rules.append(f"{q} !~ '{EMAIL_RE}'")
    elif PHONE_NAME.search(c.name):
        rules.append(f"regexp_replace({q}, '[[:space:]().-]', '', 'g') !~ '{PHONE_RE}'")
    return " OR ".join(rules)


def _accuracy_rule(c: ColumnSpec, q: str) -> str | None:
    if c.numeric and NON_NEGATIVE_NAME.search(c.name):
        return f"{q} < 0"
    if c.is_timestamp:
        return f"({q} > now() + interval '1 day' OR {q} < '1900-01-01')"
    return None


def _as_text(c: ColumnSpec, q: str) -> str:
    """A value as text; dates and times in ISO 8601 (as run_query shows them)."""
    return f"(to_json({q}) #>> '{{}}')" if c.is_timestamp else f"{q}::text"


def mcv_sql(cols: list[tuple[int, ColumnSpec]], source: str, top: int) -> str:
    """One pass: the `top` most common values of each listed column (as text)."""
    values = ", ".join(f"({i}, {_as_text(c, f's.{c.q}')})" for i, c in cols)
    return (
        "SELECT k, v, n FROM ("
        " SELECT k, v, n, row_number() OVER (PARTITION BY k ORDER BY n DESC, v) AS rk FROM ("
        f"  SELECT x.k, x.v, count(*) AS n FROM {source}, LATERAL (VALUES {values}) AS x(k, v)"
        "   WHERE x.v IS NOT NULL GROUP BY x.k, x.v) g"
        f") r WHERE rk <= {int(top)} ORDER BY k, n DESC, v"
    )


PG_STATS_SQL = """
SELECT attname, null_frac::float8 AS null_frac, n_distinct::float8 AS n_distinct
FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND inherited = $3
"""


@dataclass(frozen=True)
class RawStats:
    """What PostgreSQL returned: the aggregate row, MCVs per column index, and planner stats."""

    agg: dict[str, Any]
    mcv: dict[int, list[tuple[str, int]]]
    planner: dict[str, tuple[float, float]]  # column -> (null_frac, n_distinct)


async def collect(
    conn: asyncpg.Connection,
    rel: Relation,
    cols: list[ColumnSpec],
    *,
    sample_percent: float | None,
    sample_rows: int | None,
    top: int,
    timeout_s: float,
) -> RawStats:
    """Run the aggregate pass and the MCV pass (only for columns that are not unique)."""
    source = source_sql(rel, sample_percent=sample_percent, sample_rows=sample_rows)
    note_sql(aggregate_sql(cols, source))
    agg_row = await conn.fetchrow(aggregate_sql(cols, source), timeout=timeout_s)
    agg = dict(agg_row.items()) if agg_row is not None else {}
    repeated = [
        (i, c)
        for i, c in enumerate(cols)
        if c.distinctable and agg.get(f"nd_{i}") is not None and 0 < agg[f"nd_{i}"] < agg[f"nn_{i}"]
    ]
    mcv: dict[int, list[tuple[str, int]]] = {}
    if repeated and top > 0:
        for r in await conn.fetch(mcv_sql(repeated, source, top), timeout=timeout_s):
            mcv.setdefault(r["k"], []).append((r["v"], int(r["n"])))
    planner: dict[str, tuple[float, float]] = {}
    if sample_percent is not None or sample_rows is not None:
        # a partitioned table has statistics only over all its partitions (inherited), after a manual ANALYZE
        for r in await conn.fetch(PG_STATS_SQL, rel.schema, rel.name, rel.kind == "p", timeout=timeout_s):
            planner[r["attname"]] = (r["null_frac"], r["n_distinct"])
    return RawStats(agg=agg, mcv=mcv, planner=planner)


@dataclass(frozen=True)
class Profile:
    """get_table_stats' database answers: the aggregate passes and the first rows of the table."""

    raw: RawStats
    sample_columns: list[str]
    sample_rows: list[list[JSONValue]]


async def profile(
    db: Database,
    rel: Relation,
    cols: list[ColumnSpec],
    *,
    sample_percent: float | None,
    sample_rows: int | None,
    top: int,
    preview_rows: int,
) -> Profile:
    """Aggregates (see `collect`) and the first `preview_rows` rows, in one READ ONLY transaction."""
    async with db.read_only() as conn:
        raw = await collect(
            conn,
            rel,
            cols,
            sample_percent=sample_percent,
            sample_rows=sample_rows,
            top=top,
            timeout_s=db.client_timeout_s(None),
        )
        stmt = await conn.prepare(f"SELECT * FROM {rel.sql_name} LIMIT {int(preview_rows)}")
        records = await stmt.fetch()
        attributes = stmt.get_attributes()
        convs = converters_for(attributes)
        rows = [convert_row(rec, convs) for rec in records]
        uniform_numerics(rows, numeric_columns(attributes))  # one JSON type per numeric column
        return Profile(raw=raw, sample_columns=[a.name for a in attributes], sample_rows=rows)


DATABASE_INFO_SQL = (
    "SELECT current_database() AS db, pg_database_size(current_database()) AS size, "
    "current_setting('server_version') AS version"
)


@dataclass(frozen=True)
class DatabaseInfo:
    name: str
    size_bytes: int
    version: str


async def database_info(db: Database) -> DatabaseInfo:
    """The current database's name, size on disk and server version (one query)."""
    row = (await db.fetch(DATABASE_INFO_SQL))[0]
    return DatabaseInfo(name=row["db"], size_bytes=int(row["size"]), version=row["version"])
