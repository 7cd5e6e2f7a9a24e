"""Catalog and statistics SQL for the DBA tools (all read-only, all vf-mcp's own parameterised SQL).

Sizes come from pg_class.relpages, not pg_relation_size(), which would wait behind a pending ACCESS
EXCLUSIVE lock: a health check must answer while a session is blocking others.

Views used and the privilege each needs beyond SELECT on the user tables: pg_stat_activity details,
pg_stat_statements texts of other roles and pg_stat_replication need pg_read_all_stats; data_directory
(machine facts) needs pg_read_all_settings. `vf-mcp setup-role --monitoring` grants pg_monitor, which
includes both. These are vf-mcp's own statements (Database.fetch): the gate's refusal of those views to
model SQL (vf_mcp/db/secrets.py) does not apply to them.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from vf_mcp.compute.dba import (
    Candidate,
    ColumnFacts,
    CostSettings,
    ForeignKeyFacts,
    IndexFacts,
    QueryShape,
    TableFacts,
    ident,
    owner,
    plan_root,
)
from vf_mcp.db.pool import Database
from vf_mcp.db.runner import _coerce_param
from vf_mcp.errors import InvalidArgumentError, VfError, db_errors
from vf_mcp.identifiers import quote_ident

Row = dict[str, Any]
"""One row of a DBA statement as a dict (column name -> converted value)."""

MARK = "/* vf-mcp:dba */"
"""Prefix of vf-mcp's own DBA statements (EXPLAIN, PREPARE, pg_stat_statements reads), so that
get_slow_queries and the index workload leave them out."""

_USER_SCHEMA = (
    "{n}.nspname NOT IN ('pg_catalog', 'information_schema') AND {n}.nspname NOT LIKE 'pg\\_toast%' "
    "AND {n}.nspname NOT LIKE 'pg\\_temp%'"
)


def user_schema(alias: str = "n") -> str:
    return _USER_SCHEMA.format(n=alias)


SETTING_NAMES = (
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "random_page_cost",
    "seq_page_cost",
    "cpu_tuple_cost",
    "cpu_index_tuple_cost",
    "cpu_operator_cost",
    "block_size",
    "max_connections",
    "superuser_reserved_connections",
    "reserved_connections",
    "autovacuum",
    "track_counts",
    "track_io_timing",
    "autovacuum_vacuum_threshold",
    "autovacuum_vacuum_scale_factor",
    "autovacuum_freeze_max_age",
    "shared_preload_libraries",
    "data_directory",
    "server_version",
)

SERVER_SQL = f"""
{MARK}
SELECT current_setting('server_version_num')::int AS version_num, current_database() AS db,
  pg_database_size(current_database()) AS db_bytes,
  (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
  pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
  pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') AS read_all_settings,
  (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_stat_statements') AS pgss_schema,
  (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'hypopg') AS hypopg_schema,
  (SELECT count(*) > 0 FROM pg_available_extensions WHERE name = 'hypopg') AS hypopg_available,
  (SELECT json_object_agg(name, setting) FROM pg_settings WHERE name = ANY($1::text[])) AS settings,
  (SELECT json_object_agg(name, unit) FROM pg_settings WHERE name = ANY($1::text[]) AND unit IS NOT NULL) AS units,
  (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_reset
"""


@dataclass(frozen=True)
class ServerFacts:
    version_num: int
    database: str
    db_bytes: int
    superuser: bool
    read_all_stats: bool
    read_all_settings: bool
    pgss_schema: str | None
    hypopg_schema: str | None
    hypopg_available: bool
    settings: dict[str, str] = field(default_factory=dict)
    stats_reset: datetime | None = None

    def costs(self) -> CostSettings:
        def f(name: str, default: float) -> float:
            try:
                return float(self.settings.get(name, default))
            except ValueError:
                return default

        return CostSettings(
            seq_page_cost=f("seq_page_cost", 1.0),
            random_page_cost=f("random_page_cost", 4.0),
            cpu_tuple_cost=f("cpu_tuple_cost", 0.01),
            cpu_index_tuple_cost=f("cpu_index_tuple_cost", 0.005),
            cpu_operator_cost=f("cpu_operator_cost", 0.0025),
            block_size=int(f("block_size", 8192)),
        )

    def work_mem_kb(self) -> int:
        try:
            return int(self.settings.get("work_mem", "4096"))  # pg_settings unit: kB
        except ValueError:
            return 4096

    @property
    def monitor(self) -> bool:
        return self.superuser or self.read_all_stats


async def server_facts(db: Database) -> ServerFacts:
    row = (await db.fetch(SERVER_SQL, list(SETTING_NAMES)))[0]
    settings = {k: str(v) for k, v in (_json(row["settings"]) or {}).items()}
    for k, v in (_json(row["units"]) or {}).items():
        settings[f"{k}__unit"] = str(v)
    return ServerFacts(
        version_num=int(row["version_num"]),
        database=row["db"],
        db_bytes=int(row["db_bytes"] or 0),
        superuser=bool(row["superuser"]),
        read_all_stats=bool(row["read_all_stats"]),
        read_all_settings=bool(row["read_all_settings"]),
        pgss_schema=row["pgss_schema"],
        hypopg_schema=row["hypopg_schema"],
        hypopg_available=bool(row["hypopg_available"]),
        settings=settings,
        stats_reset=row["stats_reset"],
    )


def _json(v: object) -> Any:
    return json.loads(v) if isinstance(v, str) else v


# --------------------------------------------------------------------------------------------------
# Tables, columns, statistics, indexes and foreign keys
# --------------------------------------------------------------------------------------------------

TABLE_FACTS_SQL = rf"""
{MARK}
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
  greatest(c.reltuples, 0)::float8 AS reltuples, c.relpages::bigint AS relpages,
  s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze, greatest(s.last_analyze, s.last_autoanalyze) AS last_analyzed,
  s.seq_scan, s.idx_scan, s.n_tup_upd + s.n_tup_del AS upd_del,
  (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
       'n_distinct', st.n_distinct, 'null_frac', st.null_frac, 'avg_width', st.avg_width,
       'correlation', st.correlation) ORDER BY a.attnum)
     FROM pg_attribute a
     LEFT JOIN pg_stats st ON st.schemaname = n.nspname AND st.tablename = c.relname AND st.attname = a.attname
       AND st.inherited = (c.relkind = 'p')
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT json_agg(json_build_object('oid', i.indexrelid::bigint, 'name', ic.relname,
       'columns', (SELECT json_agg(CASE WHEN k.n = 0 THEN NULL ELSE a.attname END ORDER BY k.ord)
                     FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, ord)
                     LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n
                    WHERE k.ord <= i.indnkeyatts),
       'unique', i.indisunique, 'primary', i.indisprimary, 'valid', i.indisvalid AND i.indisready,
       'predicate', pg_get_expr(i.indpred, i.indrelid), 'am', am.amname,
       'size', ic.relpages::bigint * current_setting('block_size')::bigint, 'scans', si.idx_scan,
       'constraint', (SELECT k.contype::text FROM pg_constraint k WHERE k.conindid = i.indexrelid
                        AND k.conrelid = i.indrelid LIMIT 1),
       'definition', pg_get_indexdef(i.indexrelid),
       'child', EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid),
       'opclasses', i.indclass::oid[]::bigint[]) ORDER BY ic.relname)
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
     LEFT JOIN pg_stat_all_indexes si ON si.indexrelid = i.indexrelid
    WHERE i.indrelid = c.oid) AS indexes,
  (SELECT json_agg(json_build_object('name', k.conname, 'validated', k.convalidated,
       'ref_table', fn.nspname || '.' || fc.relname,
       'columns', (SELECT json_agg(a.attname ORDER BY x.ord) FROM unnest(k.conkey) WITH ORDINALITY x(n, ord)
                     JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.n)))
     FROM pg_constraint k JOIN pg_class fc ON fc.oid = k.confrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
    WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.conparentid = 0) AS fks
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'm', 'p') AND {user_schema()}
  AND ($1::bigint[] IS NULL OR c.oid::bigint = ANY($1::bigint[]))
"""


def _table_from_row(r: asyncpg.Record) -> TableFacts:
    cols = {
        c["name"]: ColumnFacts(
            name=c["name"],
            type=c["type"],
            n_distinct=c.get("n_distinct"),
            null_frac=c.get("null_frac"),
            avg_width=c.get("avg_width"),
            correlation=c.get("correlation"),
        )
        for c in _json(r["columns"]) or []
    }
    idxs = tuple(
        IndexFacts(
            oid=int(i["oid"]),
            name=i["name"],
            columns=tuple(i.get("columns") or ()),
            unique=bool(i["unique"]),
            primary=bool(i["primary"]),
            partial=i.get("predicate") is not None,
            valid=bool(i["valid"]),
            am=i["am"],
            size_bytes=int(i.get("size") or 0),
            scans=i.get("scans"),
            constraint=i.get("constraint"),
            definition=i.get("definition") or "",
            child=bool(i.get("child")),
            predicate=i.get("predicate"),
            opclasses=tuple(int(o) for o in i.get("opclasses") or ()),
        )
        for i in _json(r["indexes"]) or []
    )
    fks = tuple(
        ForeignKeyFacts(
            name=f["name"],
            columns=tuple(f.get("columns") or ()),
            ref_table=f["ref_table"],
            validated=bool(f["validated"]),
        )
        for f in _json(r["fks"]) or []
        if f.get("columns")
    )
    return TableFacts(
        oid=int(r["oid"]),
        schema=r["schema"],
        name=r["name"],
        kind=r["kind"],
        reltuples=float(r["reltuples"] or 0.0),
        relpages=int(r["relpages"] or 0),
        n_live=r["n_live_tup"],
        n_dead=r["n_dead_tup"],
        mod_since_analyze=r["n_mod_since_analyze"],
        last_analyzed=r["last_analyzed"],
        seq_scan=r["seq_scan"],
        idx_scan=r["idx_scan"],
        columns=cols,
        indexes=idxs,
        foreign_keys=fks,
        n_tup_upd_del=r["upd_del"],
    )


async def table_facts(db: Database, oids: Sequence[int] | None = None) -> dict[int, TableFacts]:
    """Facts for the given tables (None: every user table), in one query."""
    if oids is not None and not oids:
        return {}
    rows = await db.fetch(TABLE_FACTS_SQL, None if oids is None else [int(o) for o in oids])
    return {int(r["oid"]): _table_from_row(r) for r in rows}


SAMPLE_VALUES_SQL = f"""
{MARK}
SELECT x.oid, x.col,
  coalesce((s.most_common_vals::text::text[])[1],
           (s.histogram_bounds::text::text[])[greatest(1, array_length(s.histogram_bounds::text::text[], 1) / 2)])
    AS value
FROM unnest($1::bigint[], $2::text[]) AS x(oid, col)
JOIN pg_class c ON c.oid = x.oid::oid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = x.col
  AND NOT s.inherited
"""


async def sample_values(db: Database, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """A typical value per (table oid, column): the most common value, else the median histogram bound."""
    if not pairs:
        return {}
    rows = await db.fetch(SAMPLE_VALUES_SQL, [p[0] for p in pairs], [p[1] for p in pairs])
    return {(int(r["oid"]), r["col"]): r["value"] for r in rows if r["value"] is not None}


# --------------------------------------------------------------------------------------------------
# EXPLAIN
# --------------------------------------------------------------------------------------------------


async def explain_json(
    conn: asyncpg.Connection,
    sql: str,
    args: Sequence[object],
    *,
    analyze: bool,
    generic_params: int = 0,
    timeout: float | None = None,
) -> object:
    """EXPLAIN (FORMAT JSON) of a statement the guard accepted, inside the caller's READ ONLY transaction.

    With `generic_params` (the statement has $n and no values were given) the plan is the generic plan:
    PREPARE + plan_cache_mode = force_generic_plan + EXPLAIN EXECUTE with NULLs. (EXPLAIN (GENERIC_PLAN)
    cannot be used here: over the extended protocol the parameters must be bound, and bound values are
    folded into the plan as constants; the prepared statement's generic plan is the same plan.)
    """
    if generic_params:
        name = f"vf_dba_{uuid.uuid4().hex[:16]}"
        await conn.fetchval(f"{MARK} SELECT set_config('plan_cache_mode', 'force_generic_plan', true)", timeout=timeout)
        await conn.fetch(f"{MARK} PREPARE {name} AS\n{sql}", timeout=timeout)
        try:
            async with conn.transaction():  # a savepoint: DEALLOCATE still runs if EXPLAIN fails
                raw = await conn.fetchval(
                    f"{MARK} EXPLAIN (FORMAT JSON) EXECUTE {name}({', '.join(['NULL'] * generic_params)})",
                    timeout=timeout,
                )
        finally:
            await conn.fetch(f"{MARK} DEALLOCATE {name}", timeout=timeout)
        return _json(raw)
    options = "ANALYZE, BUFFERS, TIMING, SETTINGS, FORMAT JSON" if analyze else "SETTINGS, FORMAT JSON"
    raw = await conn.fetchval(f"{MARK} EXPLAIN ({options})\n{sql}", *args, timeout=timeout)
    return _json(raw)


_DEFAULTS: dict[str, Callable[[], object]] = {
    "int2": lambda: 1,
    "int4": lambda: 1,
    "int8": lambda: 1,
    "oid": lambda: 1,
    "float4": lambda: 1.0,
    "float8": lambda: 1.0,
    "numeric": lambda: Decimal(1),
    "bool": lambda: True,
    "text": lambda: "a",
    "varchar": lambda: "a",
    "bpchar": lambda: "a",
    "name": lambda: "a",
    "date": lambda: date.today(),
    "timestamp": lambda: datetime.now(),
    "timestamptz": lambda: datetime.now(UTC),
    "uuid": lambda: uuid.UUID(int=0),
    "json": lambda: "{}",
    "jsonb": lambda: "{}",
    "interval": lambda: timedelta(days=1),
}


def _short(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def sample_args(
    ptypes: Sequence[str],
    shape: QueryShape | None,
    bound: Mapping[str, TableFacts],
    samples: Mapping[tuple[int, str], str],
) -> tuple[list[object], list[str]]:
    """A value per $n: the compared column's most common value (statistics), else a typed default."""
    source: dict[int, tuple[int, str]] = {}
    if shape is not None:
        for p in shape.predicates:
            t = owner(p.ref, bound)
            if p.param is not None and t is not None:
                source.setdefault(p.param, (t.oid, p.ref.column))
    args: list[object] = []
    shown: list[str] = []
    for i, ptype in enumerate(ptypes, start=1):
        value: object = None
        origin = "default"
        key = source.get(i)
        if key is not None and key in samples:
            try:
                value, origin = _coerce_param(samples[key], ptype), f"most common {key[1]}"
            except (VfError, ValueError, TypeError):
                value = None
        if value is None and ptype in _DEFAULTS:
            value = _DEFAULTS[ptype]()
        args.append(value)
        shown.append(f"${i}={_short(str(value), 40)} ({origin})")
    return args, shown


@dataclass(frozen=True)
class ExplainRun:
    """The JSON plan of one explain_query call and how its parameters were bound."""

    plan: object
    mode: str


async def explain_statement(
    db: Database,
    sql: str,
    params: Sequence[object],
    *,
    analyze: bool,
    shape: QueryShape | None = None,
    bound: Mapping[str, TableFacts] | None = None,
    samples: Mapping[tuple[int, str], str] | None = None,
) -> ExplainRun:
    """EXPLAIN a guarded statement in a READ ONLY transaction: with the given values, the generic plan
    ($n without values), or (analyze without values) sample values from the column statistics."""
    timeout = db.client_timeout_s(None)
    async with db.read_only() as conn:
        with db_errors(statement_timeout_ms=db.effective_timeout_ms(None)):
            stmt = await conn.prepare(sql, timeout=timeout)
            ptypes = [p.name for p in stmt.get_parameters()]
            if params:
                if len(params) != len(ptypes):
                    raise InvalidArgumentError(
                        f"The query has {len(ptypes)} parameter(s) but {len(params)} value(s) were given."
                    )
                args = [_coerce_param(v, t) for v, t in zip(params, ptypes, strict=True)]
                plan = await explain_json(conn, sql, args, analyze=analyze, timeout=timeout)
                return ExplainRun(plan, "given values")
            if ptypes and not analyze:
                plan = await explain_json(conn, sql, [], analyze=False, generic_params=len(ptypes), timeout=timeout)
                return ExplainRun(plan, "generic plan (no values given: the plan used for any value)")
            if ptypes:
                args, shown = sample_args(ptypes, shape, bound or {}, samples or {})
                plan = await explain_json(conn, sql, args, analyze=True, timeout=timeout)
                return ExplainRun(plan, "sample values: " + ", ".join(shown))
            plan = await explain_json(conn, sql, [], analyze=analyze, timeout=timeout)
            return ExplainRun(plan, "no parameters")


async def _generic_plan(conn: asyncpg.Connection, sql: str, timeout: float) -> object:
    stmt = await conn.prepare(sql, timeout=timeout)
    n = len(stmt.get_parameters())
    return await explain_json(conn, sql, [], analyze=False, generic_params=n, timeout=timeout)


def _total_cost(plan: object) -> float:
    return float((plan_root(plan) or {}).get("Total Cost") or 0.0)


async def generic_plans(db: Database, sqls: Mapping[int, str]) -> dict[int, object]:
    """The current generic plan of each statement (key -> JSON plan); one that fails to plan is left out."""
    out: dict[int, object] = {}
    timeout = db.client_timeout_s(None)
    async with db.read_only() as conn:
        for i, sql in sorted(sqls.items()):
            try:
                async with conn.transaction():
                    out[i] = await _generic_plan(conn, sql, timeout)
            except (asyncpg.PostgresError, asyncpg.InterfaceError):
                continue
    return out


@dataclass(frozen=True)
class Measure:
    """Planner cost of one query before and with one hypothetical index, whether the plan used it, its size."""

    before: float
    after: float
    used: bool
    size: int | None


MeasureKey = tuple[tuple[int, tuple[str, ...]], int]
"""(candidate key, query index)."""


async def hypopg_measure(
    db: Database, schema: str, per_query: Mapping[int, tuple[str, Sequence[Candidate]]]
) -> dict[MeasureKey, Measure]:
    """Planner cost of each query before and with each of its candidates as a hypothetical index (hypopg).

    Hypothetical indexes live in the backend, not the transaction: they are reset before the connection
    goes back to the pool (and the connection is closed if that fails)."""
    ext = quote_ident(schema)
    out: dict[MeasureKey, Measure] = {}
    if not per_query:
        return out
    timeout = db.client_timeout_s(None)
    async with db.read_only() as conn:
        try:
            for i, (sql, mine) in sorted(per_query.items()):
                try:
                    async with conn.transaction():
                        before = _total_cost(await _generic_plan(conn, sql, timeout))
                        for c in mine:
                            out[(c.key, i)] = await _measure_one(conn, ext, sql, c, before, timeout)
                except (asyncpg.PostgresError, asyncpg.InterfaceError):
                    continue
        finally:
            try:
                await conn.fetchval(f"{MARK} SELECT {ext}.hypopg_reset()", timeout=timeout)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                conn.terminate()
    return out


async def _measure_one(
    conn: asyncpg.Connection, ext: str, sql: str, c: Candidate, before: float, timeout: float
) -> Measure:
    cols = ", ".join(ident(x) for x in c.columns)
    row = await conn.fetchrow(
        f"{MARK} SELECT indexrelid, {ext}.hypopg_relation_size(indexrelid) AS size FROM {ext}.hypopg_create_index($1)",
        f"CREATE INDEX ON {c.table.sql_name} ({cols})",
        timeout=timeout,
    )
    assert row is not None
    plan = await _generic_plan(conn, sql, timeout)
    used = f"<{int(row['indexrelid'])}>" in json.dumps(plan)
    await conn.fetchval(f"{MARK} SELECT {ext}.hypopg_drop_index($1)", row["indexrelid"], timeout=timeout)
    return Measure(before, _total_cost(plan), used, int(row["size"] or 0) or None)


# --------------------------------------------------------------------------------------------------
# pg_stat_statements
# --------------------------------------------------------------------------------------------------

SORT_EXPR = {
    "total_time": "total_ms",
    "mean_time": "mean_ms",
    "calls": "calls",
    "io": "io_blocks",
}


def slow_queries_sql(schema: str, sort_by: str, *, legacy: bool = False) -> str:
    """The statement for get_slow_queries; `legacy`: pg_stat_statements before 1.8 (total_time, max_time)."""
    order = SORT_EXPR[sort_by]  # a fixed whitelist, never user text
    ext = quote_ident(schema)
    total, mx = ("total_time", "max_time") if legacy else ("total_exec_time", "max_exec_time")
    return f"""{MARK}
WITH s AS (
  SELECT queryid, (array_agg(query ORDER BY calls DESC))[1] AS query, sum(calls)::bigint AS calls,
    sum({total}) AS total_ms,
    max({mx}) AS max_ms, sum(rows)::bigint AS rows, sum(shared_blks_hit)::bigint AS shared_blks_hit,
    sum(shared_blks_read)::bigint AS shared_blks_read, sum(temp_blks_written)::bigint AS temp_blks_written,
    sum(shared_blks_read + local_blks_read + temp_blks_read + temp_blks_written)::bigint AS io_blocks
  FROM {ext}.pg_stat_statements
  WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND query NOT LIKE '%vf-mcp:dba%'
  GROUP BY queryid
)
SELECT queryid::text AS queryid, left(query, 2000) AS query, calls, total_ms, total_ms / greatest(calls, 1) AS mean_ms,
  max_ms, rows, shared_blks_hit, shared_blks_read, temp_blks_written, io_blocks,
  100.0 * total_ms / nullif(sum(total_ms) OVER (), 0) AS share_pct
FROM s ORDER BY {order} DESC NULLS LAST LIMIT $1
"""


PGSS_SHAPE_SQL = f"""{MARK}
SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = 'total_exec_time')
         AS current_columns,
       to_regclass($2) IS NOT NULL AS has_info
"""


async def _pgss_shape(db: Database, ext: str) -> tuple[bool, bool]:
    row = (await db.fetch(PGSS_SHAPE_SQL, f"{ext}.pg_stat_statements", f"{ext}.pg_stat_statements_info"))[0]
    return bool(row["current_columns"]), bool(row["has_info"])


async def slow_queries(db: Database, schema: str, sort_by: str, limit: int) -> list[Row]:
    ext = quote_ident(schema)
    current, _ = await _pgss_shape(db, ext)
    rows = await db.fetch(slow_queries_sql(schema, sort_by, legacy=not current), limit)
    return [dict(r.items()) for r in rows]


async def pgss_stats_since(db: Database, schema: str) -> datetime | None:
    """When pg_stat_statements was last reset (pg_stat_statements_info, version 1.9+), else None."""
    ext = quote_ident(schema)
    _, has_info = await _pgss_shape(db, ext)
    if not has_info:
        return None
    rows = await db.fetch(f"{MARK} SELECT stats_reset AS since FROM {ext}.pg_stat_statements_info")
    return rows[0]["since"] if rows else None


# --------------------------------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------------------------------

HEALTH_SQL: dict[str, str] = {
    "database": """
SELECT s.temp_files, s.temp_bytes, s.deadlocks, s.stats_reset, s.blks_hit, s.blks_read
FROM pg_stat_database s WHERE s.datname = current_database()""",
    "cache": """
SELECT coalesce(sum(heap_blks_hit), 0)::bigint AS heap_hit, coalesce(sum(heap_blks_read), 0)::bigint AS heap_read,
  coalesce(sum(idx_blks_hit), 0)::bigint AS idx_hit, coalesce(sum(idx_blks_read), 0)::bigint AS idx_read
FROM pg_statio_user_tables""",
    "bloat": rf"""
WITH t AS (
  SELECT c.oid, n.nspname, c.relname, c.reltuples, c.relpages,
    coalesce((SELECT split_part(o, '=', 2)::int FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS ff,
    (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS ncols,
    (SELECT CASE WHEN count(*) = count(s.avg_width) THEN sum((1 - s.null_frac) * s.avg_width) END
       FROM pg_attribute a
       LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND s.attname = a.attname
         AND NOT s.inherited
      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS width
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'm') AND c.relpages >= $1 AND {user_schema()}
)
SELECT 'table' AS kind, quote_ident(nspname) || '.' || quote_ident(relname) AS name,
  quote_ident(nspname) || '.' || quote_ident(relname) AS "table", relpages, reltuples, ff AS fillfactor, ncols,
  width::float8 AS width
FROM t
UNION ALL
SELECT 'index', quote_ident(n.nspname) || '.' || quote_ident(ic.relname),
  quote_ident(n.nspname) || '.' || quote_ident(tc.relname), ic.relpages, ic.reltuples,
  coalesce((SELECT split_part(o, '=', 2)::int FROM unnest(ic.reloptions) o WHERE o LIKE 'fillfactor=%'), 90),
  NULL,
  (SELECT CASE WHEN count(*) = count(s.avg_width) THEN sum(s.avg_width) END::float8
     FROM unnest(i.indkey::int2[]) k(num)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
     LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = tc.relname AND s.attname = a.attname
       AND NOT s.inherited)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace JOIN pg_am am ON am.oid = ic.relam
WHERE am.amname = 'btree' AND ic.relpages >= $1 AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
  AND {user_schema()}""",
    "vacuum": r"""
SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname) AS "table", s.n_live_tup, s.n_dead_tup,
  s.n_mod_since_analyze, greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum_any,
  greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze_any, c.reloptions, c.reltuples
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.n_dead_tup >= 1000
   OR (s.n_live_tup >= 1000 AND ((s.last_analyze IS NULL AND s.last_autoanalyze IS NULL)
                                 OR s.n_mod_since_analyze > greatest(10000, s.n_live_tup / 2)))
   OR array_to_string(c.reloptions, ',') ~ 'autovacuum_enabled=(false|off)'
ORDER BY s.n_dead_tup DESC LIMIT 200""",
    "wraparound_db": """
SELECT datname, age(datfrozenxid)::bigint AS xid_age, mxid_age(datminmxid)::bigint AS mxid_age,
  datname = current_database() AS current
FROM pg_database WHERE datallowconn ORDER BY 2 DESC""",
    "wraparound_tables": r"""
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS "table", age(c.relfrozenxid)::bigint AS xid_age
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 't') AND c.relfrozenxid <> '0'::xid ORDER BY 2 DESC LIMIT 3""",
    "connections": """
SELECT state, count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY state""",
    "sessions": """
SELECT 'session' AS kind, pid, usename, application_name, state,
  extract(epoch FROM now() - CASE WHEN state = 'active' THEN query_start ELSE state_change END)::float8 AS state_s,
  extract(epoch FROM now() - xact_start)::float8 AS xact_s,
  wait_event_type || ':' || wait_event AS wait_event, left(query, 300) AS query, NULL AS gid
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND ((state = 'active' AND now() - query_start > interval '5 minutes')
       OR (state LIKE 'idle in transaction%' AND now() - state_change > interval '1 minute'))
UNION ALL
SELECT 'prepared', NULL, owner::text, NULL, 'prepared', extract(epoch FROM now() - prepared)::float8, NULL, NULL,
  NULL, gid
FROM pg_prepared_xacts WHERE now() - prepared > interval '5 minutes'""",
    "waiting": """
SELECT a.pid, pg_blocking_pids(a.pid) AS blocked_by,
  extract(epoch FROM now() - coalesce(a.query_start, a.state_change))::float8 AS wait_s,
  l.locktype, l.mode, CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation
FROM pg_stat_activity a
LEFT JOIN LATERAL (SELECT * FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted LIMIT 1) l ON true
WHERE a.wait_event_type = 'Lock' AND cardinality(pg_blocking_pids(a.pid)) > 0""",
    "replication": """
SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
    AS replay_delay_s,
  CASE WHEN pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint END
    AS replay_backlog_bytes""",
    "standbys": """
SELECT application_name, client_addr::text AS client_addr, state, sync_state,
  CASE WHEN NOT pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint END
    AS replay_lag_bytes,
  extract(epoch FROM replay_lag)::float8 AS replay_lag_s
FROM pg_stat_replication""",
    "slots": """
SELECT slot_name, slot_type, active, wal_status,
  CASE WHEN NOT pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint END
    AS retained_bytes,
  greatest(age(xmin), age(catalog_xmin))::bigint AS xmin_age
FROM pg_replication_slots""",
    "sequences": """
SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename) AS sequence, s.data_type::text AS data_type,
  s.last_value, s.min_value, s.max_value, s.increment_by, s.cycle, dep."table", dep."column", dep.column_type,
  CASE dep.column_type WHEN 'smallint' THEN 32767 WHEN 'integer' THEN 2147483647 END AS column_limit
FROM pg_sequences s
LEFT JOIN LATERAL (
  SELECT quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) AS "table", quote_ident(a.attname) AS "column",
    format_type(a.atttypid, NULL) AS column_type
  FROM pg_class sc JOIN pg_namespace sn ON sn.oid = sc.relnamespace
  JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = sc.oid
    AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i')
  JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
  JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = d.refobjsubid
  WHERE sn.nspname = s.schemaname AND sc.relname = s.sequencename LIMIT 1) dep ON true
WHERE s.last_value IS NOT NULL""",
    "invalid_constraints": rf"""
SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS "table", k.conname AS name,
  k.contype::text AS type, pg_get_constraintdef(k.oid) AS definition
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT k.convalidated AND {user_schema()}""",
    "invalid_indexes": rf"""
SELECT quote_ident(n.nspname) || '.' || quote_ident(ic.relname) AS index,
  quote_ident(n.nspname) || '.' || quote_ident(tc.relname) AS "table",
  ic.relpages::bigint * current_setting('block_size')::bigint AS size_bytes,
  pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE NOT (i.indisvalid AND i.indisready) AND {user_schema()}""",
}

BLOCKERS_SQL = f"""
{MARK}
SELECT pid, state, usename, application_name, extract(epoch FROM now() - xact_start)::float8 AS xact_s,
  left(query, 300) AS query
FROM pg_stat_activity WHERE pid = ANY($1::int[])"""

BLOAT_MIN_PAGES = 1280  # 10 MB of 8 kB pages


async def health_data(db: Database) -> tuple[dict[str, list[Row]], dict[str, str]]:
    """Run every health query in one READ ONLY transaction (one consistent statistics snapshot); a query
    that fails (a missing privilege) is rolled back to its savepoint and reported, the others still run."""
    data: dict[str, list[Row]] = {}
    errors: dict[str, str] = {}
    timeout = db.client_timeout_s(None)
    db.counter.statements += 1
    async with db.read_only() as conn:
        for key, sql in HEALTH_SQL.items():
            args: tuple[object, ...] = (BLOAT_MIN_PAGES,) if key == "bloat" else ()
            try:
                async with conn.transaction():
                    rows = await conn.fetch(f"{MARK}\n{sql}", *args, timeout=timeout)
                data[key] = [dict(r.items()) for r in rows]
            except asyncpg.PostgresError as exc:
                errors[key] = f"{getattr(exc, 'sqlstate', '')}: {exc}"
        blockers = sorted({int(p) for w in data.get("waiting", []) for p in w.get("blocked_by") or []})
        if blockers:
            rows = await conn.fetch(BLOCKERS_SQL, blockers, timeout=timeout)
            data["blockers"] = [dict(r.items()) for r in rows]
    return data, errors


def machine_facts(data_directory: str | None) -> tuple[int | None, bool | None]:
    """(RAM bytes, data on a rotational disk) when PostgreSQL runs on this machine, else (None, None).

    Same machine: the data directory's postmaster.pid names a live postgres process here. RAM is the
    smaller of physical memory and the cgroup limit; the disk type comes from /sys/dev/block.
    """
    if not data_directory:
        return None, None
    try:
        pid = int(Path(data_directory, "postmaster.pid").read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None, None
    if b"postgres" not in cmdline:
        return None, None
    ram: int | None = None
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            ram = min(ram, int(limit))
    except (OSError, ValueError):
        pass
    rotational: bool | None = None
    try:
        st = os.stat(data_directory)
        dev = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
        for base in (dev, dev.resolve().parent):
            flag, name = base / "queue" / "rotational", base.resolve().name
            if flag.exists():
                # virtual disks (virtio vd*, Xen xvd*, NVMe-backed cloud volumes behind them) often claim
                # to be rotational: only trust the flag for physical-looking names
                rotational = flag.read_text().strip() == "1"
                if rotational and not name.startswith(("sd", "hd")):
                    rotational = None
                break
    except OSError:
        pass
    return ram, rotational
