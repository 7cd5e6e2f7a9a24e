"""get_table_stats and the overview's database facts on MySQL/MariaDB, computed inside the server.

The same passes as on PostgreSQL (vf_mcp/db/stats.py), in MySQL's SQL: one aggregate pass (counts, distinct,
min/max, avg, stddev_samp, rule violations), one exact median per numeric column through window functions
(MySQL has no percentile_cont: the average of the middle one or two values by ROW_NUMBER(), which is
percentile_cont(0.5)), one most-common-values pass (a UNION ALL of per-column GROUP BYs). Identifiers come
from the catalog and are backquoted; no user text reaches the SQL.
"""

from __future__ import annotations

from decimal import Decimal

from vf_mcp.compute.periods import zone_info
from vf_mcp.compute.quality import EMAIL_RE, PHONE_RE
from vf_mcp.db.catalog import Relation
from vf_mcp.db.mysql.catalog import mysql_name, quote_mysql
from vf_mcp.db.mysql.convert import MyField, convert_rows, converter_for
from vf_mcp.db.mysql.masking import column_maskers, mask_mysql_rows
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.stats import EMAIL_NAME, NON_NEGATIVE_NAME, PHONE_NAME, ColumnSpec, DatabaseInfo, Profile, RawStats
from vf_mcp.jsontypes import JSONValue, as_int

_TIMESTAMPS = frozenset(("date", "timestamp", "timestamptz"))  # the catalog's base types of DATE, DATETIME, TIMESTAMP
_NO_DISTINCT = frozenset(("json", "blob", "tinyblob", "mediumblob", "longblob", "geometry", "point", "polygon"))


def _q(c: ColumnSpec) -> str:
    return f"s.{quote_mysql(c.name)}"


def source_sql(rel: Relation, *, sample_percent: float | None, sample_rows: int | None) -> str:
    """The FROM source: the table, a seeded Bernoulli sample of it, or (views) its first rows."""
    if sample_percent is not None and rel.kind == "r":
        return f"(SELECT * FROM {mysql_name(rel)} WHERE RAND(42) < {sample_percent / 100.0:.8f}) s"
    if sample_rows is not None:
        return f"(SELECT * FROM {mysql_name(rel)} LIMIT {int(sample_rows)}) s"
    return f"{mysql_name(rel)} s"


def _text(c: ColumnSpec, expr: str) -> str:
    if c.base_type == "timestamptz":  # an instant (sessions run in UTC): the offset stated
        return f"CONCAT(REPLACE(CAST({expr} AS CHAR), ' ', 'T'), '+00:00')"
    if c.base_type == "timestamp":
        return f"REPLACE(CAST({expr} AS CHAR), ' ', 'T')"
    return f"CAST({expr} AS CHAR)"


def aggregate_sql(cols: list[ColumnSpec], source: str) -> str:
    parts = ["COUNT(*) AS n"]
    for i, c in enumerate(cols):
        q = _q(c)
        parts.append(f"COUNT({q}) AS nn_{i}")
        distinct = c.base_type not in _NO_DISTINCT
        if distinct:
            parts.append(f"COUNT(DISTINCT {q}) AS nd_{i}")
            parts.append(f"{_text(c, f'MIN({q})')} AS mn_{i}, {_text(c, f'MAX({q})')} AS mx_{i}")
        if c.numeric:
            parts.append(f"AVG({q}) + 0e0 AS av_{i}, STDDEV_SAMP({q}) AS sd_{i}")
        rules: list[str] = []
        if c.text_like:
            rules.append(f"CHAR_LENGTH({q}) <> CHAR_LENGTH(TRIM({q}))")
            if EMAIL_NAME.search(c.name):
                rules.append(f"{q} NOT REGEXP {_lit(EMAIL_RE)}")
            elif PHONE_NAME.search(c.name):
                rules.append(f"REGEXP_REPLACE({q}, '[[:space:]().-]', '') NOT REGEXP {_lit(PHONE_RE)}")
        if rules:
            parts.append(f"COALESCE(SUM({' OR '.join(rules)}), 0) AS cv_{i}")
        if c.numeric and NON_NEGATIVE_NAME.search(c.name):
            parts.append(f"COALESCE(SUM({q} < 0), 0) AS ac_{i}")
        elif c.base_type in _TIMESTAMPS:
            parts.append(f"COALESCE(SUM({q} > NOW() + INTERVAL 1 DAY OR {q} < '1900-01-01'), 0) AS ac_{i}")
    return f"SELECT {', '.join(parts)} FROM {source}"


def _lit(text: str) -> str:
    """A string literal of a constant pattern (backslashes doubled: sessions keep backslash escapes, and
    '\\+' would reach the regex engine as a bare '+')."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def median_sql(c: ColumnSpec, source: str) -> str:
    """percentile_cont(0.5) of one column: the mean of the middle one or two values (ROW_NUMBER window)."""
    q = _q(c)
    return (
        "SELECT AVG(v) + 0e0 AS md FROM ("
        f"SELECT {q} AS v, ROW_NUMBER() OVER (ORDER BY {q}) AS rn, COUNT(*) OVER () AS cnt "
        f"FROM {source} WHERE {q} IS NOT NULL) x WHERE rn IN (FLOOR((cnt + 1) / 2), CEIL((cnt + 1) / 2))"
    )


def mcv_sql(cols: list[tuple[int, ColumnSpec]], source: str, top: int) -> str:
    parts = [
        f"(SELECT {i} AS k, {_text(c, _q(c))} AS v, COUNT(*) AS n FROM {source} WHERE {_q(c)} IS NOT NULL "
        f"GROUP BY {_q(c)} ORDER BY n DESC, v LIMIT {int(top)})"
        for i, c in cols
    ]
    return " UNION ALL ".join(parts)


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


async def profile(
    db: MySqlDatabase,
    rel: Relation,
    cols: list[ColumnSpec],
    *,
    sample_percent: float | None,
    sample_rows: int | None,
    top: int,
    preview_rows: int,
) -> Profile:
    """Aggregates, medians, most common values and the first `preview_rows` rows."""
    source = source_sql(rel, sample_percent=sample_percent, sample_rows=sample_rows)
    agg = {k: _plain(v) for k, v in (await db.fetch_rows(aggregate_sql(cols, source)))[0].items()}
    for i, c in enumerate(cols):
        if c.numeric:
            agg[f"md_{i}"] = _plain((await db.fetch_rows(median_sql(c, source)))[0]["md"])
    repeated = [(i, c) for i, c in enumerate(cols) if 0 < as_int(agg.get(f"nd_{i}")) < as_int(agg.get(f"nn_{i}"))]
    mcv: dict[int, list[tuple[str, int]]] = {}
    if repeated and top > 0:
        for r in await db.fetch_rows(mcv_sql(repeated, source, top)):
            mcv.setdefault(int(r["k"]), []).append((str(_plain(r["v"])), int(r["n"])))
    names, rows = await _preview(db, rel, preview_rows)
    await _mask_by_lineage(rel, cols, agg, mcv)
    rows = await mask_mysql_rows(None, f"SELECT * FROM {mysql_name(rel)}", names, rows)
    return Profile(raw=RawStats(agg=agg, mcv=mcv, planner={}), sample_columns=names, sample_rows=rows)


async def _mask_by_lineage(
    rel: Relation, cols: list[ColumnSpec], agg: dict[str, object], mcv: dict[int, list[tuple[str, int]]]
) -> None:
    """Values of personal data by lineage (a view's innocently named column over one) masked in place: min, max
    and most common values (averages and medians are numbers, as on PostgreSQL). Columns PII by name are masked
    again by `respond` (idempotent)."""
    maskers = await column_maskers(mysql_name(rel), [c.name for c in cols])
    for i, mask in maskers.items():
        for key in (f"mn_{i}", f"mx_{i}"):
            if agg.get(key) is not None:
                agg[key] = mask(agg[key])
        if i in mcv:
            mcv[i] = [(str(mask(v)), n) for v, n in mcv[i]]


async def _preview(db: MySqlDatabase, rel: Relation, n: int) -> tuple[list[str], list[list[JSONValue]]]:
    zone = zone_info(db.settings.time_zone)
    async with db.connection() as conn:
        cur = conn.cursor()

        async def work() -> tuple[list[MyField], list[tuple[object, ...]]]:
            await cur.execute(f"SELECT * FROM {mysql_name(rel)} LIMIT {int(n)}")
            rows = list(await cur.fetchall() or ())
            return list(cur._result.fields or ()), rows

        fields, raw = await db.guarded_call(conn, work(), None)
        await cur.close()
    convs = [converter_for(f.type_code, f.flags, f.charsetnr, getattr(f, "length", 0), zone) for f in fields]
    return [str(f.name) for f in fields], list(convert_rows(raw, convs))


async def database_info(db: MySqlDatabase) -> DatabaseInfo:
    """The database's name, size (data + indexes) and server version, in one query."""
    row = (
        await db.fetch_rows(
            "SELECT DATABASE() AS db, COALESCE((SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE()), 0) AS size, VERSION() AS version"
        )
    )[0]
    return DatabaseInfo(name=str(_plain(row["db"])), size_bytes=int(row["size"]), version=str(_plain(row["version"])))
