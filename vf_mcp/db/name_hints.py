"""Suggestions for PostgreSQL's unknown-name errors on user SQL (run_query, explain_query, export_results).

An unknown relation (42P01) gets the closest table names the caller can list, an unknown column (42703)
the closest columns of the tables the statement reads, an invalid enum value (22P02) the enum's labels.
Names come from the cached catalog (what list_tables and get_table_schema show this caller), never from
rows.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from vf_mcp.db.catalog import Catalog, Relation, suggest
from vf_mcp.db.pool import recording_sql
from vf_mcp.errors import LOOKUP_HINT, QueryError, VfError

log = logging.getLogger(__name__)

ENUM_LABELS_SQL = (
    "SELECT e.enumlabel::text AS label FROM pg_enum e WHERE e.enumtypid = to_regtype($1) ORDER BY e.enumsortorder"
)
MAX_LABELS = 30
MAX_COLUMNS = 5


@asynccontextmanager
async def name_hints(catalog: Catalog, sql: str) -> AsyncIterator[None]:
    """Re-raise a QueryError about an unknown name (or a bad enum value) with the closest valid names."""
    try:
        yield
    except QueryError as exc:
        try:
            with recording_sql():  # vf-mcp's own catalog lookups: not the caller's audited statements
                hint = await _hint(catalog, sql, exc)
        except VfError as failed:  # a hint is a courtesy: the original error stands
            log.info("no name suggestions: %s", failed.message)
            hint = None
        if not hint:
            raise
        base = exc.message.removesuffix(LOOKUP_HINT)
        raise QueryError(f"{base}{hint}", sqlstate=exc.sqlstate, subject=exc.subject) from exc


async def _hint(catalog: Catalog, sql: str, exc: QueryError) -> str | None:
    subject = exc.subject
    if not subject:
        return None
    if exc.sqlstate == "42P01":
        return suggest(subject, await catalog.relations())
    if exc.sqlstate == "42703":
        return await _column_hint(catalog, sql, subject.rsplit(".", 1)[-1])
    if exc.sqlstate == "22P02":
        rows = await catalog.db.fetch(ENUM_LABELS_SQL, subject)
        labels = [str(r["label"]) for r in rows]
        if not labels:
            return None
        shown = ", ".join(labels[:MAX_LABELS]) + (", ..." if len(labels) > MAX_LABELS else "")
        return f"; valid values of {subject}: {shown}"
    return None


async def _column_hint(catalog: Catalog, sql: str, column: str) -> str | None:
    """'; closest columns: drops.status, ...' over the columns of every table the statement names."""
    from vf_mcp.db.gate import check_user_sql  # the gate imports the catalog, like this module

    checked = await check_user_sql(catalog.db, catalog, sql)
    tables: list[Relation] = []
    for name in sorted(checked.relations):
        try:
            tables.append(await catalog.resolve(name))
        except VfError:
            continue  # not a table this caller may see (or a CTE): never named
    pool: dict[str, str] = {}  # lower-case name -> name
    for rel in tables:
        for col in (await catalog.table_info(rel)).columns:
            pool.setdefault(col.name.lower(), col.name)
    if not pool:
        return None
    close = difflib.get_close_matches(column.lower(), list(pool), n=MAX_COLUMNS, cutoff=0.5)
    where = ", ".join(r.qualified for r in tables)
    if not close:
        return f"; columns of {where}: {', '.join(sorted(pool.values())[:40])}"
    return f"; did you mean {', '.join(pool[c] for c in close)}? (columns of {where})"
