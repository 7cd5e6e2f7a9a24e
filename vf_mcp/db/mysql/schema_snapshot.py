"""A MySQL/MariaDB database's schema as the same `Snapshot` PostgreSQL's catalog gives (compare_schemas,
validate_migration): six information_schema statements, whatever the number of tables.

The "schema" of every object is the connected database (MySQL's databases are PostgreSQL's schemas).
Types are COLUMN_TYPE as MySQL spells it ("decimal(10,2)", "int(11) unsigned", "enum('a','b')"); an
AUTO_INCREMENT column has identity "by default". Constraints carry a definition in a neutral spelling
("PRIMARY KEY (a, b)", "UNIQUE (a)", "FOREIGN KEY (a) REFERENCES db.t (b)"), indexes a CREATE INDEX statement
naming their columns. Unique indexes are unique constraints (in MySQL they are the same thing).
"""

from __future__ import annotations

from collections import defaultdict

from vf_mcp.compute.snapshot import Column, Constraint, Index, Snapshot, Table, View
from vf_mcp.db.mysql.catalog import quote_mysql
from vf_mcp.db.mysql.pool import MySqlDatabase, Row
from vf_mcp.db.schema_snapshot import DatabaseInfo, LoadedSchema

INFO_SQL = "SELECT VERSION() AS v, DATABASE() AS db, @@collation_database AS c"

TABLES_SQL = """
SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_NAME
"""

COLUMNS_SQL = """
SELECT c.TABLE_SCHEMA AS s, c.TABLE_NAME AS t, c.COLUMN_NAME AS n, c.ORDINAL_POSITION AS p, c.COLUMN_TYPE AS ty,
       c.IS_NULLABLE AS nl, c.COLUMN_DEFAULT AS df, c.EXTRA AS x, c.GENERATION_EXPRESSION AS g,
       c.COLLATION_NAME AS co
FROM information_schema.COLUMNS c JOIN information_schema.TABLES tb
  ON tb.TABLE_SCHEMA = c.TABLE_SCHEMA AND tb.TABLE_NAME = c.TABLE_NAME AND tb.TABLE_TYPE <> 'VIEW'
WHERE c.TABLE_SCHEMA = DATABASE() ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION
"""

KEYS_SQL = """
SELECT k.TABLE_SCHEMA AS s, k.TABLE_NAME AS t, k.CONSTRAINT_NAME AS n, tc.CONSTRAINT_TYPE AS ty,
       k.COLUMN_NAME AS col, k.REFERENCED_TABLE_SCHEMA AS rs, k.REFERENCED_TABLE_NAME AS rt,
       k.REFERENCED_COLUMN_NAME AS rc
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.TABLE_CONSTRAINTS tc ON tc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA
  AND tc.TABLE_NAME = k.TABLE_NAME AND tc.CONSTRAINT_NAME = k.CONSTRAINT_NAME
WHERE k.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""

INDEXES_SQL = """
SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, INDEX_NAME AS n, COLUMN_NAME AS col, INDEX_TYPE AS ty
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 1 ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
"""

VIEWS_SQL = """
SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, VIEW_DEFINITION AS d FROM information_schema.VIEWS
WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME
"""

_KINDS = {"PRIMARY KEY": "p", "UNIQUE": "u", "FOREIGN KEY": "f"}


def _s(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _opt(v: object) -> str | None:
    return None if v is None else _s(v)


def _default(v: object) -> str | None:
    """MariaDB writes the literal default quoted ('x') and NULL as the word NULL; MySQL writes it bare."""
    text = _opt(v)
    return None if text is None or text.upper() == "NULL" else text


async def load_mysql_snapshot(db: MySqlDatabase) -> LoadedSchema:
    """The connected database's tables, columns, keys, indexes and views (six statements)."""
    (info,) = await db.fetch_rows(INFO_SQL)
    tables = await db.fetch_rows(TABLES_SQL)
    columns = await db.fetch_rows(COLUMNS_SQL)
    keys = await db.fetch_rows(KEYS_SQL)
    indexes = await db.fetch_rows(INDEXES_SQL)
    views = await db.fetch_rows(VIEWS_SQL)
    schema = _s(info["db"])
    snapshot = Snapshot(
        schemas=(schema,),
        tables=tuple(Table(schema=_s(r["s"]), name=_s(r["n"]), kind="r") for r in tables),
        columns=tuple(_column(r) for r in columns),
        constraints=_constraints(keys),
        indexes=_indexes(indexes),
        views=tuple(
            View(schema=_s(r["s"]), name=_s(r["n"]), materialized=False, definition=_s(r["d"] or "")) for r in views
        ),
    )
    database = DatabaseInfo(server_version=_s(info["v"]), default_collation=f"mysql:{_s(info['c'])}")
    return LoadedSchema(snapshot=snapshot, database=database, statements=6)


def _column(r: Row) -> Column:
    extra = _s(r["x"] or "").lower()
    generated = _opt(r["g"]) if "generated" in extra or "virtual" in extra or "stored" in extra else None
    return Column(
        schema=_s(r["s"]),
        table=_s(r["t"]),
        name=_s(r["n"]),
        position=int(r["p"]),
        type=_s(r["ty"]),
        not_null=_s(r["nl"]) == "NO",
        default=None if generated else _default(r["df"]),
        identity="by default" if "auto_increment" in extra else None,
        generated=generated or None,
        generated_kind=("stored" if "stored" in extra else "virtual") if generated else None,
        collation_name=_opt(r["co"]),
    )


def _constraints(rows: list[Row]) -> tuple[Constraint, ...]:
    grouped: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for r in rows:
        grouped[(_s(r["s"]), _s(r["t"]), _s(r["n"]))].append(r)
    out = []
    for (schema, table, name), parts in grouped.items():
        kind = _s(parts[0]["ty"])
        cols = tuple(_s(p["col"]) for p in parts)
        listed = ", ".join(quote_mysql(c) for c in cols)
        ref = None
        if kind == "FOREIGN KEY":
            ref = (_s(parts[0]["rs"]), _s(parts[0]["rt"]))
            ref_cols = ", ".join(quote_mysql(_s(p["rc"])) for p in parts)
            definition = f"FOREIGN KEY ({listed}) REFERENCES {quote_mysql(ref[0])}.{quote_mysql(ref[1])} ({ref_cols})"
        else:
            definition = f"{kind} ({listed})"
        out.append(Constraint(schema, table, name, _KINDS[kind], definition, cols, ref))
    return tuple(out)


def _indexes(rows: list[Row]) -> tuple[Index, ...]:
    grouped: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for r in rows:
        grouped[(_s(r["s"]), _s(r["t"]), _s(r["n"]))].append(r)
    out = []
    for (schema, table, name), parts in grouped.items():
        cols = ", ".join(quote_mysql(_s(p["col"])) for p in parts if p["col"] is not None)
        using = _s(parts[0]["ty"] or "BTREE")
        on = f"{quote_mysql(schema)}.{quote_mysql(table)}"
        out.append(Index(schema, table, name, f"CREATE INDEX {quote_mysql(name)} ON {on} USING {using} ({cols})"))
    return tuple(out)
