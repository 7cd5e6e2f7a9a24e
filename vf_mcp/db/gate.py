"""The one gate every model-written statement passes (run_query, export_results, explain_query, KPI SQL,
recommend_indexes), and who is calling.

`check_user_sql` bounds the text's size first, runs the parser check (`guard.check_sql`) off the event loop
when the text is large (a multi-MB statement costs its caller, not the other clients), then applies the
checks that need the catalog. The tool pipeline sets `CALLER` for the duration of each call, so the
database layer can decide by the caller's rights without tools passing them through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from vf_mcp.db.catalog import Catalog
from vf_mcp.db.guard import CheckedStatement, check_sql
from vf_mcp.db.pool import Database
from vf_mcp.errors import RefusedError

__all__ = ["CALLER", "Caller", "calling_as", "check_user_sql", "current_caller"]

_OFF_LOOP_CHARS = 16 * 1024
"""Statements longer than this are parsed in a worker thread."""


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the database layer needs to know it."""

    name: str
    admin: bool
    """An admin API key (or the local stdio user)."""
    unmask_pii: bool
    """Allowed to see personal data unmasked (admin keys with unmask_pii only)."""


_LOCAL = Caller("stdio", admin=True, unmask_pii=False)
CALLER: ContextVar[Caller | None] = ContextVar("vf_mcp_caller", default=None)


def current_caller() -> Caller:
    """The caller of the tool call in progress (the local stdio user outside any call)."""
    return CALLER.get() or _LOCAL


@contextmanager
def calling_as(caller: Caller) -> Iterator[None]:
    """Run the block as `caller` (the tool pipeline wraps every call in this)."""
    token = CALLER.set(caller)
    try:
        yield
    finally:
        CALLER.reset(token)


async def check_user_sql(db: Database, catalog: Catalog, sql: str) -> CheckedStatement:
    """Refuse `sql` unless it is one allowed read-only statement for this caller; return what it does."""
    settings = db.settings
    limit = settings.max_sql_bytes
    size = len(sql.encode("utf-8", "surrogatepass")) if len(sql) * 4 > limit else len(sql)
    if size > limit:
        raise RefusedError(
            f"Refused: the statement is {size:,} bytes, over the {limit:,}-byte limit (max_sql_bytes). "
            "Send a shorter statement: put long value lists in params, or aggregate in SQL."
        )
    volatile = await catalog.volatile_functions()
    if len(sql) > _OFF_LOOP_CHARS:
        return await asyncio.to_thread(
            check_sql, sql, volatile_functions=volatile, allowed_functions=settings.allowed_functions
        )
    return check_sql(sql, volatile_functions=volatile, allowed_functions=settings.allowed_functions)
