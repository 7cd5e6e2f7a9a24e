"""Catalog questions on MySQL/MariaDB, answered from information_schema in one query each (cached).

The DSN's database is the one schema vf-mcp describes (a table is `database.table`); the answers are the
same dataclasses as on PostgreSQL (Relation, TableDetail...), so the tools read them unchanged. A relation's
`oid` is a stable number derived from its name (MySQL has no OIDs): it only keys the caches.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from vf_mcp.db.catalog import (
    Catalog,
    ColumnDetail,
    ConstraintDetail,
    IndexDetail,
    Relation,
    TableDetail,
    TableStatsEstimate,
    _fold,
    split_identifier,
    suggest,
)
from vf_mcp.db.mysql.pool import MySqlDatabase, Row
from vf_mcp.db.pool import recording_sql
from vf_mcp.errors import InvalidArgumentError, NotFoundError

T = TypeVar("T")

_KINDS = {"BASE TABLE": "r", "VIEW": "v", "SYSTEM VERSIONED": "r", "SEQUENCE": "r"}
_CATEGORY = {
    **dict.fromkeys(
        ("tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float", "double",
         "real"), "N"),
    **dict.fromkeys(("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "set"), "S"),
    **dict.fromkeys(("date", "datetime", "timestamp", "time", "year"), "D"),
    "enum": "E", "bit": "V", "json": "U",
}  # fmt: skip
_BASE_TYPES = {"datetime": "timestamp", "timestamp": "timestamptz"}
"""DATETIME is a zone-less timestamp, TIMESTAMP an instant shown in the session zone: the PostgreSQL families
the engine-free code reads (time columns, buckets, freshness)."""
_ENUM_RE = re.compile(r"'((?:[^']|'')*)'")

RELATIONS_SQL = """
SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, TABLE_TYPE AS k, TABLE_ROWS AS r,
       DATA_LENGTH + INDEX_LENGTH AS b, TABLE_COMMENT AS c, UPDATE_TIME AS u
FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME
"""
COLUMNS_SQL = """
SELECT COLUMN_NAME AS n, COLUMN_TYPE AS t, DATA_TYPE AS d, IS_NULLABLE AS nl, COLUMN_DEFAULT AS df, EXTRA AS x,
       GENERATION_EXPRESSION AS g, COLUMN_COMMENT AS c
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION
"""
KEYS_SQL = """
SELECT k.CONSTRAINT_NAME AS name, k.TABLE_NAME AS tbl, k.COLUMN_NAME AS col, k.REFERENCED_TABLE_SCHEMA AS rs,
       k.REFERENCED_TABLE_NAME AS rt, k.REFERENCED_COLUMN_NAME AS rc, tc.CONSTRAINT_TYPE AS type
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.TABLE_CONSTRAINTS tc ON tc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA
  AND tc.TABLE_NAME = k.TABLE_NAME AND tc.CONSTRAINT_NAME = k.CONSTRAINT_NAME
WHERE k.TABLE_SCHEMA = DATABASE() AND (k.TABLE_NAME = ? OR k.REFERENCED_TABLE_NAME = ?)
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""
CHECKS_SQL = """
SELECT CONSTRAINT_NAME AS name, CHECK_CLAUSE AS def FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = ?
"""
INDEXES_SQL = """
SELECT INDEX_NAME AS name, NON_UNIQUE AS nu, COLUMN_NAME AS col, INDEX_TYPE AS t, SUB_PART AS sp
FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?
ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX
"""
VIEW_SQL = (
    "SELECT VIEW_DEFINITION AS d FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
)
FUNCTIONS_SQL = "SELECT LOWER(ROUTINE_NAME) AS n FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'FUNCTION'"
UDF_SQL = "SELECT LOWER(name) AS n FROM mysql.func"
LINEAGE_SQL = """
SELECT TABLE_SCHEMA AS s, TABLE_NAME AS n, COLUMN_NAME AS c, ORDINAL_POSITION AS p, NULL AS d, 0 AS v,
       DATABASE() AS db
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA NOT IN ('mysql', 'performance_schema', 'sys', 'information_schema')
UNION ALL
SELECT TABLE_SCHEMA, TABLE_NAME, NULL, 0, VIEW_DEFINITION, 1, DATABASE()
FROM information_schema.VIEWS
WHERE TABLE_SCHEMA NOT IN ('mysql', 'performance_schema', 'sys', 'information_schema')
ORDER BY 1, 2, 4
"""
"""Every column and view definition the user can see (PII lineage; a view without SHOW VIEW has an empty one)."""


def quote_mysql(name: str) -> str:
    """A MySQL identifier in backquotes (a backquote doubled)."""
    return "`" + name.replace("`", "``") + "`"


def mysql_name(rel: Relation) -> str:
    return f"{quote_mysql(rel.schema)}.{quote_mysql(rel.name)}"


def _oid(schema: str, name: str) -> int:
    return zlib.crc32(f"{schema}\x00{name}".encode())


def _text(v: object) -> str | None:
    if v is None:
        return None
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)


@dataclass
class MySqlCatalog(Catalog):
    """The catalog answers of one MySQL/MariaDB database (see the module docstring)."""

    @property
    def my(self) -> MySqlDatabase:
        assert isinstance(self.db, MySqlDatabase)
        return self.db

    async def relations(self, *, refresh: bool = False) -> tuple[Relation, ...]:
        async def load() -> tuple[Relation, ...]:
            rows = await self.my.fetch_rows(RELATIONS_SQL)
            return tuple(
                Relation(
                    oid=_oid(_text(r["s"]) or "", _text(r["n"]) or ""),
                    schema=_text(r["s"]) or "",
                    name=_text(r["n"]) or "",
                    kind=_KINDS.get(_text(r["k"]) or "", "r"),
                    parent=None,
                    row_estimate=None if r["r"] is None else int(r["r"]),
                    total_bytes=None if r["b"] is None else int(r["b"]),
                    comment=_text(r["c"]) or None,
                    last_analyzed=None,
                    dead_rows=None,
                )
                for r in rows
            )

        return await self.cached("relations", load, refresh=refresh)

    async def volatile_functions(self) -> frozenset[str]:
        """Stored functions and UDFs: the guard refuses calls to them unless allowed_functions names them."""

        async def load() -> frozenset[str]:
            names = {_text(r["n"]) or "" for r in await self.my.fetch_rows(FUNCTIONS_SQL)}
            with contextlib.suppress(Exception):  # a least-privilege user cannot read mysql.func (nor call UDFs)
                names |= {_text(r["n"]) or "" for r in await self.my.fetch_rows(UDF_SQL)}
            return frozenset(names)

        return await self.cached("volatile", load)

    async def pii_lineage(self, build: Callable[[list[Row]], T]) -> T:
        """What `build` makes of LINEAGE_SQL's rows (one catalog query, cached for the schema-cache period)."""

        async def load() -> T:
            with recording_sql():  # vf-mcp's own catalog read: not part of the caller's audited statements
                return build(await self.my.fetch_rows(LINEAGE_SQL))

        return await self.cached("pii_lineage", load)

    async def stats_estimates(self, *, refresh: bool = False) -> dict[int, TableStatsEstimate]:
        return {}  # no planner statistics of null fractions or timestamps to read on MySQL

    async def resolve(self, table_name: str) -> Relation:
        """Find a relation by name: `t`, `db.t`, `` `Odd Name` ``; exact first, then case-insensitive."""
        parts = split_identifier(table_name.replace("`", '"'))
        rels = await self.relations()
        if len(parts) == 2:
            schema, name = parts
            cands = [r for r in rels if r.schema == schema[0] and r.name == name[0]]
            if not cands:
                cands = [r for r in rels if _fold(r.schema, schema) and _fold(r.name, name)]
        else:
            (name,) = parts
            cands = [r for r in rels if r.name == name[0]] or [r for r in rels if _fold(r.name, name)]
        if len(cands) == 1:
            return cands[0]
        if len(cands) > 1:
            names = ", ".join(sorted(r.qualified for r in cands))
            raise InvalidArgumentError(f"Table name {table_name!r} is ambiguous: {names}.")
        raise NotFoundError(f"Table {table_name!r} not found{suggest(table_name, rels)}")

    async def table_info(self, rel: Relation, *, refresh: bool = False) -> TableDetail:
        async def load() -> TableDetail:
            return await self._detail(rel)

        return await self.cached(("detail", rel.oid), load, refresh=refresh)

    async def _detail(self, rel: Relation) -> TableDetail:
        db = self.my
        columns = tuple(_column(c) for c in await db.fetch_rows(COLUMNS_SQL, (rel.name,)))
        keys = await db.fetch_rows(KEYS_SQL, (rel.name, rel.name))
        checks = await db.fetch_rows(CHECKS_SQL, (rel.name,)) if rel.kind == "r" else []
        index_rows = await db.fetch_rows(INDEXES_SQL, (rel.name,))
        view = await db.fetch_rows(VIEW_SQL, (rel.name,)) if rel.kind == "v" else []
        return TableDetail(
            columns=columns,
            constraints=_constraints(rel, keys, checks),
            indexes=_indexes(rel, index_rows),
            partition_key=None,
            partitions=(),
            partition_bound=None,
            view_definition=_text(view[0]["d"]) if view else None,
        )


def _column(c: Row) -> ColumnDetail:
    data_type = (_text(c["d"]) or "").lower()
    extra = (_text(c["x"]) or "").lower()
    col_type = _text(c["t"]) or data_type
    generated = _text(c["g"]) if "generated" in extra else None
    return ColumnDetail(
        name=_text(c["n"]) or "",
        type=col_type,
        nullable=(_text(c["nl"]) or "") == "YES",
        default=None if generated else _text(c["df"]),
        identity="by default" if "auto_increment" in extra else None,
        generated=generated or None,
        comment=_text(c["c"]) or None,
        base_type=_BASE_TYPES.get(data_type, data_type),
        category=_CATEGORY.get(data_type, "U"),
        enum_labels=tuple(v.replace("''", "'") for v in _ENUM_RE.findall(col_type)) if data_type == "enum" else None,
    )


def _constraints(rel: Relation, keys: list[Row], checks: list[Row]) -> tuple[ConstraintDetail, ...]:
    grouped: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for k in keys:
        grouped[(_text(k["tbl"]) or "", _text(k["name"]) or "")].append(k)
    out: list[ConstraintDetail] = []
    for (table, name), parts in grouped.items():
        kind = _text(parts[0]["type"]) or ""
        cols = tuple(_text(p["col"]) or "" for p in parts)
        qualified = f"{rel.schema}.{table}"
        if kind == "FOREIGN KEY":
            ref = f"{_text(parts[0]['rs']) or rel.schema}.{_text(parts[0]['rt'])}"
            ref_cols = tuple(_text(p["rc"]) or "" for p in parts)
            definition = f"FOREIGN KEY ({', '.join(cols)}) REFERENCES {ref}({', '.join(ref_cols)})"
            out.append(ConstraintDetail(name, "f", definition, True, qualified, cols, ref, ref_cols))
        elif table == rel.name and kind in ("PRIMARY KEY", "UNIQUE"):
            code = "p" if kind == "PRIMARY KEY" else "u"
            out.append(ConstraintDetail(name, code, f"{kind} ({', '.join(cols)})", True, qualified, cols, None, None))
    for c in checks:
        definition = f"CHECK ({_text(c['def'])})"
        out.append(ConstraintDetail(_text(c["name"]) or "", "c", definition, True, rel.qualified, None, None, None))
    return tuple(out)


def _indexes(rel: Relation, rows: list[Row]) -> tuple[IndexDetail, ...]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        grouped[_text(r["name"]) or ""].append(r)
    out: list[IndexDetail] = []
    for name, parts in grouped.items():
        unique = int(parts[0]["nu"]) == 0
        cols = ", ".join(
            quote_mysql(_text(p["col"]) or "") + (f"({int(p['sp'])})" if p["sp"] is not None else "") for p in parts
        )
        how = _text(parts[0]["t"]) or "BTREE"
        definition = (
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {quote_mysql(name)} ON {mysql_name(rel)} USING {how} ({cols})"
        )
        out.append(IndexDetail(name, definition, unique, name == "PRIMARY", False, True, None))
    return tuple(out)
