"""A database's schema as a Snapshot: one catalog query per object kind, whatever the number of tables.

All queries run in one READ ONLY transaction with ``search_path = ''``, so format_type(), pg_get_expr(),
pg_get_constraintdef(), pg_get_indexdef() and pg_get_viewdef() schema-qualify every user object they
name: the definitions compare equal across databases and paste into DDL whatever the session's path.
Objects that belong to extensions and the system schemas are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from vf_mcp.compute.snapshot import Column, Constraint, Domain, Enum, Index, Snapshot, Table, View
from vf_mcp.compute.snapshot import Sequence as SequenceDef
from vf_mcp.db.pool import Database, note_sql

# $1: the schemas to look at (NULL: every user schema)
_IN_SCHEMAS = r"""n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
  AND ($1::text[] IS NULL OR n.nspname = ANY($1::text[]))"""


def _not_extension(catalog: str, oid: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '{catalog}'::regclass "
        f"AND e.objid = {oid} AND e.deptype = 'e')"
    )


SCHEMAS_SQL = f"""
SELECT n.nspname::text AS name FROM pg_namespace n
WHERE {_IN_SCHEMAS} AND {_not_extension("pg_namespace", "n.oid")}
ORDER BY 1
"""

TABLES_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind,
       c.relpersistence = 'u' AS unlogged,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       pn.nspname::text AS parent_schema, pc.relname::text AS parent_name,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON c.relispartition AND i.inhrelid = c.oid
LEFT JOIN pg_class pc ON pc.oid = i.inhparent
LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
WHERE c.relkind IN ('r', 'p') AND {_IN_SCHEMAS} AND {_not_extension("pg_class", "c.oid")}
ORDER BY 1, 2
"""

COLUMNS_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS table, a.attname::text AS name, a.attnum AS position,
       format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS "default",
       CASE a.attidentity WHEN 'a' THEN 'always' WHEN 'd' THEN 'by default' END AS identity,
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated,
       CASE a.attgenerated WHEN 's' THEN 'stored' WHEN 'v' THEN 'virtual' END AS generated_kind,
       CASE WHEN a.attcollation <> t.typcollation
            THEN quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END AS collation,
       NOT a.attislocal AS inherited,
       co.collname::text AS collation_name
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND {_IN_SCHEMAS} AND {_not_extension("pg_class", "c.oid")}
ORDER BY 1, 2, 4
"""

# Table constraints declared on the table itself (not NOT NULL, not those inherited by partitions).
CONSTRAINTS_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS table, k.conname::text AS name, k.contype::text AS type,
       pg_get_constraintdef(k.oid) AS definition,
       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY x(num, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = x.num ORDER BY x.ord) AS columns,
       fn.nspname::text AS ref_schema, fc.relname::text AS ref_table
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = k.confrelid LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE k.contype IN ('p', 'u', 'f', 'c', 'x') AND k.conparentid = 0 AND k.conislocal
  AND c.relkind IN ('r', 'p') AND {_IN_SCHEMAS} AND {_not_extension("pg_class", "c.oid")}
ORDER BY 1, 2, 3
"""

# Indexes that no PRIMARY KEY / UNIQUE / EXCLUDE constraint owns, and that are not partitions of an index.
INDEXES_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS table, ic.relname::text AS name,
       pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND NOT ic.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                  WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
  AND {_IN_SCHEMAS} AND {_not_extension("pg_class", "c.oid")}
ORDER BY 1, 3
"""

VIEWS_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind = 'm' AS materialized,
       pg_get_viewdef(c.oid, true) AS definition,
       ARRAY(SELECT DISTINCT ARRAY[rn.nspname::text, rc.relname::text]
             FROM pg_rewrite r
             JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                             AND d.refclassid = 'pg_class'::regclass
             JOIN pg_class rc ON rc.oid = d.refobjid AND rc.oid <> c.oid
             JOIN pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE r.ev_class = c.oid ORDER BY 1) AS depends_on
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND {_IN_SCHEMAS} AND {_not_extension("pg_class", "c.oid")}
ORDER BY 1, 2
"""

ENUMS_SQL = f"""
SELECT n.nspname::text AS schema, t.typname::text AS name,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e' AND {_IN_SCHEMAS} AND {_not_extension("pg_type", "t.oid")}
ORDER BY 1, 2
"""

# Identity sequences (deptype 'i') belong to their column and are left out; serial ones say who owns them.
SEQUENCES_SQL = f"""
SELECT n.nspname::text AS schema, c.relname::text AS name, format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart AS start, s.seqincrement AS increment, s.seqmin AS min_value, s.seqmax AS max_value,
       s.seqcache AS cache, s.seqcycle AS cycle,
       own.schema AS owner_schema, own.table AS owner_table, own.column AS owner_column
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
  SELECT tn.nspname::text AS schema, tc.relname::text AS table, a.attname::text AS column
  FROM pg_depend d
  JOIN pg_class tc ON tc.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
    AND d.deptype = 'a'
  LIMIT 1) own ON true
WHERE {_IN_SCHEMAS} AND {_not_extension("pg_class", "c.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                  AND d.deptype = 'i')
ORDER BY 1, 2
"""

DOMAINS_SQL = f"""
SELECT n.nspname::text AS schema, t.typname::text AS name, format_type(t.typbasetype, t.typtypmod) AS base_type,
       t.typnotnull AS not_null, pg_get_expr(t.typdefaultbin, 0) AS "default",
       ARRAY(SELECT ARRAY[k.conname::text, pg_get_constraintdef(k.oid)] FROM pg_constraint k
             WHERE k.contypid = t.oid AND k.contype = 'c' ORDER BY k.conname) AS constraints
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'd' AND {_IN_SCHEMAS} AND {_not_extension("pg_type", "t.oid")}
ORDER BY 1, 2
"""

# The database's default collation, to know whether text keys sort the same way on two servers.
DATABASE_SQL = """
SELECT current_setting('server_version') AS server_version, d.datcollate::text AS collate,
       d.datlocprovider::text AS provider,
       coalesce(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale', '') AS locale
FROM pg_database d WHERE d.datname = current_database()
"""


@dataclass(frozen=True)
class DatabaseInfo:
    server_version: str
    default_collation: str  # provider:collate:locale, equal when text sorts the same way

    def collation_of(self, column: Column) -> str | None:
        """The effective collation of a column as comparable text (None: not collatable)."""
        if column.collation_name is None:
            return None
        if column.collation_name == "default":
            return self.default_collation
        return column.collation_name


@dataclass(frozen=True)
class LoadedSchema:
    snapshot: Snapshot
    database: DatabaseInfo
    statements: int


async def run_statement(db: Database, conn: asyncpg.Connection, sql: str, *args: object) -> list[asyncpg.Record]:
    """One of vf-mcp's own statements on a session already open: counted and recorded like Database.fetch."""
    db.counter.statements += 1
    note_sql(sql)
    rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
    return rows


async def load_snapshot(db: Database, schemas: Sequence[str] | None = None) -> LoadedSchema:
    """The schema of `db` (only `schemas` when given): ten catalog statements in one read-only transaction."""
    wanted = list(schemas) if schemas else None
    async with db.read_only() as conn:
        await run_statement(db, conn, "SELECT set_config('search_path', '', true)")
        info = (await run_statement(db, conn, DATABASE_SQL))[0]
        rows = {}
        for kind, sql in (
            ("schemas", SCHEMAS_SQL),
            ("tables", TABLES_SQL),
            ("columns", COLUMNS_SQL),
            ("constraints", CONSTRAINTS_SQL),
            ("indexes", INDEXES_SQL),
            ("views", VIEWS_SQL),
            ("enums", ENUMS_SQL),
            ("sequences", SEQUENCES_SQL),
            ("domains", DOMAINS_SQL),
        ):
            rows[kind] = await run_statement(db, conn, sql, wanted)
    snapshot = Snapshot(
        schemas=tuple(r["name"] for r in rows["schemas"]),
        tables=tuple(
            Table(
                schema=r["schema"],
                name=r["name"],
                kind=r["kind"],
                unlogged=bool(r["unlogged"]),
                partition_key=r["partition_key"],
                parent=(r["parent_schema"], r["parent_name"]) if r["parent_name"] is not None else None,
                partition_bound=r["partition_bound"],
            )
            for r in rows["tables"]
        ),
        columns=tuple(
            Column(
                schema=r["schema"],
                table=r["table"],
                name=r["name"],
                position=int(r["position"]),
                type=r["type"],
                not_null=bool(r["not_null"]),
                default=r["default"],
                identity=r["identity"],
                generated=r["generated"],
                generated_kind=r["generated_kind"],
                collation=r["collation"],
                inherited=bool(r["inherited"]),
                collation_name=r["collation_name"],
            )
            for r in rows["columns"]
        ),
        constraints=tuple(
            Constraint(
                schema=r["schema"],
                table=r["table"],
                name=r["name"],
                type=r["type"],
                definition=r["definition"],
                columns=tuple(r["columns"] or ()),
                ref_table=(r["ref_schema"], r["ref_table"]) if r["ref_table"] is not None else None,
            )
            for r in rows["constraints"]
        ),
        indexes=tuple(
            Index(schema=r["schema"], table=r["table"], name=r["name"], definition=r["definition"])
            for r in rows["indexes"]
        ),
        views=tuple(
            View(
                schema=r["schema"],
                name=r["name"],
                materialized=bool(r["materialized"]),
                definition=r["definition"] or "",
                depends_on=tuple((d[0], d[1]) for d in (r["depends_on"] or ())),
            )
            for r in rows["views"]
        ),
        enums=tuple(Enum(schema=r["schema"], name=r["name"], labels=tuple(r["labels"] or ())) for r in rows["enums"]),
        sequences=tuple(
            SequenceDef(
                schema=r["schema"],
                name=r["name"],
                data_type=r["data_type"],
                start=int(r["start"]),
                increment=int(r["increment"]),
                min_value=int(r["min_value"]),
                max_value=int(r["max_value"]),
                cache=int(r["cache"]),
                cycle=bool(r["cycle"]),
                owned_by=(r["owner_schema"], r["owner_table"], r["owner_column"])
                if r["owner_column"] is not None
                else None,
            )
            for r in rows["sequences"]
        ),
        domains=tuple(
            Domain(
                schema=r["schema"],
                name=r["name"],
                base_type=r["base_type"],
                not_null=bool(r["not_null"]),
                default=r["default"],
                constraints=tuple((c[0], c[1]) for c in (r["constraints"] or ())),
            )
            for r in rows["domains"]
        ),
    )
    database = DatabaseInfo(
        server_version=info["server_version"],
        default_collation=f"{info['provider']}:{info['collate']}:{info['locale']}",
    )
    return LoadedSchema(snapshot=snapshot, database=database, statements=11)
