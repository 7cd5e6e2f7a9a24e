"""The one gate every model-written statement passes (run_query, export_results, explain_query, KPI SQL,
recommend_indexes), and who is calling.

`check_user_sql` bounds the text's size first, runs the parser check (`guard.check_sql`) off the event loop
when the text is large (a multi-MB statement costs its caller, not the other clients), then applies the
checks that need the catalog: relations and functions holding the database's own secrets (password
hashes, user mappings, other sessions' queries, planner statistics: vf_mcp/db/secrets.py) are refused,
by resolved OID, unless the caller is an admin and admin_reads_system_secrets is on. The tool pipeline
sets `CALLER` for the duration of each call, so the database layer can decide by the caller's rights
without tools passing them through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from vf_mcp.db.catalog import Catalog, Relation
from vf_mcp.db.guard import CheckedStatement, check_sql
from vf_mcp.db.offload import OFF_LOOP_CHARS, off_loop
from vf_mcp.db.pool import Database
from vf_mcp.db.secrets import protected_set, refuse_function, refuse_protected, refuse_relation_oid
from vf_mcp.errors import RefusedError
from vf_mcp.settings import Settings

if TYPE_CHECKING:
    from vf_mcp.pii import PiiPolicy

__all__ = [
    "CALLER",
    "Caller",
    "calling_as",
    "check_relation_access",
    "check_user_sql",
    "current_caller",
    "reads_system_secrets",
]


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the database layer needs to know it."""

    name: str
    admin: bool
    """An admin API key (or the local stdio user)."""
    unmask_pii: bool
    """Allowed to see personal data unmasked (admin keys with unmask_pii only)."""
    pii: PiiPolicy | None = None
    """The PII policy in force for the call (None: unmasked): rows are masked by lineage."""
    catalog: Catalog | None = None
    """The catalog of the source the call uses, for lineage."""


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
    if len(sql) > OFF_LOOP_CHARS:
        checked = await off_loop(  # a process: pglast holds the GIL (a thread would stall every client)
            check_sql, sql, volatile_functions=volatile, allowed_functions=settings.allowed_functions
        )
    else:
        checked = _checked(sql, volatile, settings.allowed_functions)
    if not reads_system_secrets(settings):
        admin = current_caller().admin
        refuse_function(checked.functions, admin=admin)
        await refuse_protected(catalog, checked.relation_refs, admin=admin)
    return checked


@lru_cache(maxsize=512)
def _checked(sql: str, volatile: frozenset[str], allowed: tuple[str, ...]) -> CheckedStatement:
    """check_sql memoised: the verdict depends only on the text, the volatile set and the allow-list (a
    refusal raises and is not remembered)."""
    return check_sql(sql, volatile_functions=volatile, allowed_functions=allowed)


def reads_system_secrets(settings: Settings) -> bool:
    """Whether the current caller may read the database's own secrets (admin, with the setting on)."""
    return settings.admin_reads_system_secrets and current_caller().admin


async def check_relation_access(catalog: Catalog, rel: Relation) -> None:
    """Refuse a table-name tool on a protected view (a user view over pg_authid...) for this caller."""
    if rel.kind not in ("v", "m") or reads_system_secrets(catalog.db.settings):
        return
    refuse_relation_oid(await protected_set(catalog), rel.oid, admin=current_caller().admin)
