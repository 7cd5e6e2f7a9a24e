"""Personal data masked by lineage on MySQL/MariaDB, where rows leave the database layer; values cut from errors.

The MySQL counterpart of vf_mcp/db/masking.py: each output column of a statement is masked when it is computed
from a column the caller's policy holds as personal data (vf_mcp/db/mysql/lineage.py follows it through
aliases, expressions, sub-queries, CTEs, set operations, `*` and views). Belt and braces, the source column
the server itself names in the result's column definitions (org_table / org_name, given for plain references
even when aliased) is added to each column's lineage. Name rules and the value-pattern net still apply in
`respond`, as on PostgreSQL.

The catalog facts (every column and view definition, one query) are read once per schema-cache period and
kept with a bounded LRU of analyses and masks per SQL text.

Server errors that can echo data values (XPATH errors of EXTRACTVALUE/UPDATEXML, duplicate-entry errors of
GROUP BY tricks, truncated or incorrect values of CAST, out-of-range expressions...) lose their quoted text
(`without_mysql_values`), like PostgreSQL's data exceptions (vf_mcp.errors.without_values).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING

from vf_mcp.db.gate import current_caller
from vf_mcp.db.offload import OFF_LOOP_CHARS, off_loop
from vf_mcp.pii import Cell, ColumnMask, PiiPolicy

if TYPE_CHECKING:
    from vf_mcp.db.lineage import Col, QueryLineage
    from vf_mcp.db.mysql.catalog import MySqlCatalog
    from vf_mcp.db.mysql.lineage import MyTables
    from vf_mcp.db.mysql.pool import Row

__all__ = [
    "MyLineageCache",
    "column_maskers",
    "field_origins",
    "mask_mysql_rows",
    "mysql_masks",
    "without_mysql_values",
]

LINEAGE_CACHE_ENTRIES = 1024

# ---------- error text ----------

_NAMES_ONLY = frozenset(
    {1044, 1045, 1046, 1049, 1051, 1052, 1054, 1055, 1060, 1064, 1066, 1109, 1111, 1115, 1142, 1143, 1146, 1149,
     1221, 1222, 1227, 1235, 1241, 1242, 1247, 1248, 1253, 1267, 1270, 1271, 1273, 1290, 1305, 1317, 1327, 1370,
     1463, 1582, 1583, 1630, 1792, 1969, 3024}
)  # fmt: skip
"""Server errors whose quoted text is an identifier or the statement's own text (kept: the model needs them)."""
_QUOTE = re.compile(r"['\"]")
_VALUE_CUT = "\u2026"


def without_mysql_values(code: int, text: str) -> str:
    """`text` of server error `code` with everything between its first and last quote cut, unless the error
    only ever quotes identifiers or the statement (unknown column, syntax error...): values may be personal."""
    if code in _NAMES_ONLY:
        return text
    quotes = [m.start() for m in _QUOTE.finditer(text)]
    if not quotes:
        return text
    first, last = quotes[0], quotes[-1]
    end = "'" if last > first else ""
    cut = text[:first] + "'" + _VALUE_CUT + end + (text[last + 1 :] if last > first else "")
    return cut.rstrip(" .:") + " (values in the message are not shown)"


# ---------- lineage ----------


class MyLineageCache:
    """A bounded LRU of analyses and masks per SQL text, for one `MyTables` (rebuilt when the catalog expires)."""

    def __init__(self, tables: MyTables, max_entries: int = LINEAGE_CACHE_ENTRIES) -> None:
        self.tables = tables
        self._max = max(1, max_entries)
        self._entries: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, key: Hashable) -> object:
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
        return hit

    def put(self, key: Hashable, value: object) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def lineage(self, sql: str) -> QueryLineage | None:
        """`analyze_mysql(sql)`, cached (a long statement is analysed in a worker process)."""
        from vf_mcp.db.lineage import QueryLineage
        from vf_mcp.db.mysql.lineage import analyze_mysql

        key = ("lineage", sql)
        hit = self.get(key)
        if hit is None:
            found = (
                await off_loop(analyze_mysql, sql, self.tables)
                if len(sql) > OFF_LOOP_CHARS
                else analyze_mysql(sql, self.tables)
            )
            self.put(key, found if found is not None else False)
            return found
        return hit if isinstance(hit, QueryLineage) else None


def _build(rows: list[Row]) -> MyLineageCache:
    from vf_mcp.db.mysql.lineage import MyTables

    columns: dict[tuple[str, str], list[str]] = {}
    views: dict[tuple[str, str], str | None] = {}
    database = ""
    for r in rows:
        key = (_text(r["s"]), _text(r["n"]))
        database = database or _text(r["db"])
        if int(r["v"] or 0):
            views[key] = _text(r["d"]) or None
        else:
            columns.setdefault(key, []).append(_text(r["c"]))
    return MyLineageCache(MyTables.build(columns, views, database))


def _text(v: object) -> str:
    if v is None:
        return ""
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)


async def lineage_cache(catalog: MySqlCatalog) -> MyLineageCache:
    """The catalog's lineage cache (one catalog query, rebuilt when the schema cache expires)."""
    return await catalog.pii_lineage(_build)


def field_origins(fields: Sequence[object]) -> list[tuple[str, str] | None]:
    """(org_table, org_name) of each result column the server reports as a plain column reference."""
    out: list[tuple[str, str] | None] = []
    for f in fields:
        table, name = str(getattr(f, "org_table", "") or ""), str(getattr(f, "org_name", "") or "")
        out.append((table, name) if table and name else None)
    return out


async def mysql_masks(
    catalog: MySqlCatalog,
    sql: str,
    names: Sequence[str],
    policy: PiiPolicy | None,
    origins: Sequence[tuple[str, str] | None] = (),
) -> tuple[ColumnMask, ...]:
    """How to mask each output column of `sql` (named `names`) under `policy`, by lineage and by the source
    columns the server names (`origins`); () for nothing."""
    if policy is None or not policy.enabled or not names:
        return ()
    from vf_mcp.db.lineage import OutputLineage
    from vf_mcp.db.mysql.lineage import aligned, with_origin

    cache = await lineage_cache(catalog)
    key = ("masks", sql, tuple(names), tuple(origins), id(policy))
    hit = cache.get(key)
    if isinstance(hit, tuple) and hit[0] is policy:  # (policy, masks)
        masks: tuple[ColumnMask, ...] = hit[1]
        return masks
    lineage = await cache.lineage(sql)
    outs = (
        aligned(lineage, names)
        if lineage is not None
        else tuple(OutputLineage(n, frozenset(), frozenset(), False, False) for n in names)
    )
    if origins:
        outs = tuple(with_origin(o, _origin(cache, origin)) for o, origin in zip(outs, origins, strict=False))
    masks = policy.lineage_masks(outs)
    cache.put(key, (policy, masks))
    return masks


def _origin(cache: MyLineageCache, origin: tuple[str, str] | None) -> Col | None:
    if origin is None:
        return None
    table, column = origin
    where = cache.tables.locate(None, table)
    db = where[0] if where is not None else cache.tables.database
    return (db, where[1] if where is not None else table, column)


async def mask_mysql_rows(
    catalog: MySqlCatalog | None,
    sql: str,
    names: Sequence[str],
    rows: list[list[Cell]],
    origins: Sequence[tuple[str, str] | None] = (),
) -> list[list[Cell]]:
    """`rows` of `sql` with personal data masked by lineage under the caller's policy (the same list if none)."""
    from vf_mcp.db.mysql.catalog import MySqlCatalog

    caller = current_caller()
    policy = caller.pii
    target = catalog if catalog is not None else caller.catalog
    if policy is None or not rows or not isinstance(target, MySqlCatalog):
        return rows
    masks = await mysql_masks(target, sql, names, policy, origins)
    return policy.apply_masks(rows, masks) if masks else rows


async def column_maskers(relation_sql: str, names: Sequence[str]) -> dict[int, Callable[[object], object]]:
    """Per column position of `SELECT names FROM relation_sql`: how to mask one of its values (min, max, most
    common values) under the caller's policy, by lineage; {} when nothing is masked. A view's column computed
    from personal data is masked whatever it is called."""
    from vf_mcp.db.mysql.catalog import MySqlCatalog, quote_mysql

    caller = current_caller()
    policy = caller.pii
    if policy is None or not names or not isinstance(caller.catalog, MySqlCatalog):
        return {}
    sql = f"SELECT {', '.join(quote_mysql(n) for n in names)} FROM {relation_sql}"
    masks = await mysql_masks(caller.catalog, sql, names, policy)
    return {m.index: _masker(policy, m) for m in masks}


def _masker(policy: PiiPolicy, m: ColumnMask) -> Callable[[object], object]:
    def mask(value: object) -> object:
        return policy.mask_whole(value, m.mode) if m.whole else policy.mask_value(value, m.kind, m.mode)

    return mask
