"""get_table_relationships' catalog questions on MySQL/MariaDB (the PostgreSQL ones: db/relationships.py).

Tables with columns, base types (as the PostgreSQL families the inference compares: int2/int4/int8/numeric,
text, ...) and unique keys; declared foreign keys; and the coverage of inferred candidates in one UNION ALL,
each source read up to `exact_rows` rows (a table estimated larger is read through its first `sample_rows`
non-null values: a sample, reported as not exact).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from vf_mcp.compute.graph import Link, Table
from vf_mcp.db.mysql.catalog import quote_mysql
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.relationships import Coverage

_FAMILY = {
    "tinyint": "int2", "smallint": "int2", "mediumint": "int4", "int": "int4", "integer": "int4", "bigint": "int8",
    "decimal": "numeric", "numeric": "numeric", "char": "bpchar", "varchar": "varchar", "text": "text",
    "tinytext": "text", "mediumtext": "text", "longtext": "text", "datetime": "timestamp", "timestamp": "timestamptz",
}  # fmt: skip

TABLES_SQL = """
SELECT t.TABLE_SCHEMA AS s, t.TABLE_NAME AS n, t.TABLE_ROWS AS r, c.COLUMN_NAME AS col, c.DATA_TYPE AS dt,
       c.IS_NULLABLE AS nl
FROM information_schema.TABLES t JOIN information_schema.COLUMNS c
  ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME
WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
ORDER BY t.TABLE_NAME, c.ORDINAL_POSITION
"""
KEYS_SQL = """
SELECT TABLE_NAME AS n, INDEX_NAME AS k, COLUMN_NAME AS col FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0 AND SUB_PART IS NULL
ORDER BY TABLE_NAME, INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX
"""
FOREIGN_KEYS_SQL = """
SELECT CONSTRAINT_NAME AS name, TABLE_SCHEMA AS s, TABLE_NAME AS n, COLUMN_NAME AS col,
       REFERENCED_TABLE_SCHEMA AS rs, REFERENCED_TABLE_NAME AS rn, REFERENCED_COLUMN_NAME AS rc
FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION
"""


def _s(v: object) -> str:
    return v.decode() if isinstance(v, (bytes, bytearray)) else str(v)


async def load_tables(db: MySqlDatabase) -> dict[str, Table]:
    cols: dict[tuple[str, str], list[tuple[str, str, bool]]] = defaultdict(list)
    rows_of: dict[tuple[str, str], int | None] = {}
    for r in await db.fetch_rows(TABLES_SQL):
        key = (_s(r["s"]), _s(r["n"]))
        rows_of[key] = None if r["r"] is None else int(r["r"])
        dt = _s(r["dt"]).lower()
        cols[key].append((_s(r["col"]), _FAMILY.get(dt, dt), _s(r["nl"]) != "YES"))
    keys: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for r in await db.fetch_rows(KEYS_SQL):
        keys[_s(r["n"])].setdefault(_s(r["k"]), []).append(_s(r["col"]))
    out: dict[str, Table] = {}
    for (schema, name), cs in cols.items():
        uniques = keys.get(name, {})
        t = Table(
            schema=schema,
            name=name,
            rows=rows_of[(schema, name)],
            columns=tuple(c[0] for c in cs),
            types=tuple(c[1] for c in cs),
            notnull=tuple(c[2] for c in cs),
            pk=tuple(uniques.get("PRIMARY", ())),
            uniques=tuple(dict.fromkeys(tuple(v) for v in uniques.values())),
        )
        out[t.key] = t
    return out


async def load_foreign_keys(db: MySqlDatabase, tables: dict[str, Table]) -> list[Link]:
    grouped: dict[tuple[str, str, str], list[dict[str, object]]] = defaultdict(list)
    for r in await db.fetch_rows(FOREIGN_KEYS_SQL):
        grouped[(_s(r["s"]), _s(r["n"]), _s(r["name"]))].append(r)
    out: list[Link] = []
    for (schema, name, fk), parts in grouped.items():
        src, ref = f"{schema}.{name}", f"{_s(parts[0]['rs'])}.{_s(parts[0]['rn'])}"
        if src not in tables or ref not in tables:
            continue
        cols = tuple(_s(p["col"]) for p in parts)
        out.append(
            Link(
                table=src,
                columns=cols,
                ref_table=ref,
                ref_columns=tuple(_s(p["rc"]) for p in parts),
                declared=True,
                one_to_one=tables[src].is_unique(cols),
                nullable=tables[src].nullable(cols),
                name=fk,
                validated=True,
            )
        )
    return out


async def measure_coverage(
    db: MySqlDatabase, cands: Sequence[Link], tables: dict[str, Table], *, exact_rows: int, sample_rows: int
) -> list[Coverage]:
    """For each candidate: non-null values examined and values found in the target, in one statement."""
    if not cands:
        return []
    parts: list[str] = []
    sampled: list[bool] = []
    for i, c in enumerate(cands):
        src, tgt = tables[c.table], tables[c.ref_table]
        col, pk = quote_mysql(c.columns[0]), quote_mysql(c.ref_columns[0])
        big = (src.rows or 0) > exact_rows
        sampled.append(big)
        cap = sample_rows if big else exact_rows + 1
        parts.append(
            f"SELECT {i} AS i, COUNT(*) AS checked, COUNT(y.{pk}) AS matched "
            f"FROM (SELECT x.{col} AS v FROM {quote_mysql(src.schema)}.{quote_mysql(src.name)} x "
            f"WHERE x.{col} IS NOT NULL LIMIT {int(cap)}) s "
            f"LEFT JOIN {quote_mysql(tgt.schema)}.{quote_mysql(tgt.name)} y ON y.{pk} = s.v"
        )
    rows = {int(r["i"]): r for r in await db.fetch_rows("\nUNION ALL\n".join(f"({p})" for p in parts))}
    out: list[Coverage] = []
    for i in range(len(cands)):
        checked = int(rows[i]["checked"])
        matched = int(rows[i]["matched"])
        out.append(Coverage(checked=checked, matched=matched, exact=not sampled[i] and checked <= exact_rows))
    return out
