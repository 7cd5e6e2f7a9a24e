"""Personal data masked by lineage where rows leave the database layer (run_guarded, fetch_converted, exports).

The policy in force is the caller's (`current_caller().pii`, set by the tool pipeline; None: unmasked).
The columns of every relation and the view definitions are read once per schema-cache period (one query)
and kept, with a bounded LRU of analyses and masks per SQL text, in the catalog's schema cache: a repeated
statement costs a dictionary lookup, a statement without personal data in its lineage costs nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vf_mcp.db.gate import current_caller
from vf_mcp.db.lineage import LineageCache, Tables, analyze_or_none
from vf_mcp.db.offload import OFF_LOOP_CHARS, off_loop
from vf_mcp.db.pool import recording_sql
from vf_mcp.jsontypes import JSONValue
from vf_mcp.pii import Cell, ColumnMask, PiiPolicy

if TYPE_CHECKING:
    from vf_mcp.db.catalog import Catalog
    from vf_mcp.db.runner import Column

__all__ = ["TABLES_SQL", "lineage_cache", "lineage_masks", "mask_by_lineage", "masked_json_rows"]

TABLES_SQL = r"""
SELECT n.nspname AS schema, c.relname AS name, array_agg(a.attname::text ORDER BY a.attnum) AS columns,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition,
       current_schemas(false)::text[] AS path
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
GROUP BY n.nspname, c.relname, c.relkind, c.oid
"""
"""Every relation's columns (all of them: column privileges do not hide names) and view definitions."""

LINEAGE_CACHE_ENTRIES = 1024


async def lineage_cache(catalog: Catalog) -> LineageCache:
    """The catalog's lineage cache (built with one catalog query, rebuilt when the schema cache expires)."""

    async def load() -> LineageCache:
        with recording_sql():  # vf-mcp's own catalog read: not part of the caller's audited statements
            rows = await catalog.db.fetch(TABLES_SQL)
        columns = {(r["schema"], r["name"]): tuple(r["columns"]) for r in rows}
        views = {(r["schema"], r["name"]): r["definition"] for r in rows if r["definition"]}
        path = tuple(rows[0]["path"]) if rows else ("public",)
        return LineageCache(Tables.build(columns, views, path or ("public",)), LINEAGE_CACHE_ENTRIES)

    cache: LineageCache = await catalog.cached("pii_lineage", load)
    return cache


async def lineage_masks(
    catalog: Catalog | None, sql: str, names: Sequence[str], policy: PiiPolicy | None
) -> tuple[ColumnMask, ...]:
    """How to mask each output column of `sql` (named `names`) under `policy`, by lineage; () for nothing."""
    if policy is None or not policy.enabled or catalog is None or not names:
        return ()
    cache = await lineage_cache(catalog)
    key = ("masks", sql, tuple(names), id(policy))
    hit = cache.get(key)
    if isinstance(hit, tuple) and hit[0] is policy:  # (policy, masks)
        masks: tuple[ColumnMask, ...] = hit[1]
        return masks
    if len(sql) > OFF_LOOP_CHARS and not cache.knows(sql):  # a long parse holds the GIL: not on the loop
        cache.remember(sql, await off_loop(analyze_or_none, sql, cache.tables))
    lineage = cache.lineage(sql)
    masks = () if lineage is None else policy.lineage_masks(lineage.for_columns(list(names)))
    cache.put(key, (policy, masks))
    return masks


async def mask_by_lineage(
    catalog: Catalog | None, sql: str, names: Sequence[str], rows: list[list[Cell]]
) -> list[list[Cell]]:
    """`rows` of `sql` with personal data masked by lineage under the caller's policy (the same list if none)."""
    caller = current_caller()
    policy = caller.pii
    if policy is None or not rows:
        return rows
    masks = await lineage_masks(catalog if catalog is not None else caller.catalog, sql, names, policy)
    return policy.apply_masks(rows, masks) if masks else rows


async def masked_json_rows(
    catalog: Catalog | None, sql: str, columns: Sequence[Column], rows: list[list[JSONValue]], row_json: list[str]
) -> tuple[list[list[JSONValue]], list[str]]:
    """run_guarded's rows and their encodings, masked by lineage (re-encoded only when something changed)."""
    masked = await mask_by_lineage(catalog, sql, [c.name for c in columns], rows)
    if masked is rows:
        return rows, row_json
    encoded = [
        enc if new == old else json.dumps(new, ensure_ascii=False, separators=(",", ":"), default=str)
        for new, old, enc in zip(masked, rows, row_json, strict=True)
    ]  # only the rows masking changed are encoded again
    return masked, encoded
