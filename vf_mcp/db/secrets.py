"""Secrets in the database's own catalogs: the relations and functions model SQL may not read, by OID.

Protected: password hashes (pg_authid, pg_shadow), foreign-server and replication passwords (user
mappings, pg_subscription), the server's configuration files (pg_hba_file_rules, pg_file_settings...),
other sessions' statement text (pg_stat_activity and every view over pg_stat_get_activity,
pg_stat_statements in whatever schema the extension lives), sampled column values of every table
(pg_statistic, pg_stats...), large objects and per-role settings; plus, recursively, every view or
materialized view in any schema defined over one of them (a DBA's ``public.v_users AS SELECT * FROM
pg_authid``). The closure reads each view's rule tree (``:relid`` / ``:funcid``) rather than pg_depend,
because PostgreSQL records no dependency on pinned system catalogs and functions.

System views (pg_catalog, information_schema) over catalogs of which only a column is secret
(pg_roles over pg_authid, for example) stay readable; user views over them do not.

A statement's relations are resolved with to_regclass under the session's own search_path (which
model SQL cannot change), so quoting, schema qualification and shadowing cannot dodge the check.
Only names equal to a protected relation's name can resolve to one, so other statements cost no round
trip; those names are resolved in one batched query and cached with the protected set, which is
computed once per catalog refresh (schema_cache_ttl_s).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vf_mcp.db.pool import recording_sql
from vf_mcp.errors import RefusedError
from vf_mcp.identifiers import quote_ident

if TYPE_CHECKING:
    from vf_mcp.db.catalog import Catalog

__all__ = [
    "PROTECTED_FUNCTIONS",
    "PROTECTED_RELATIONS",
    "ProtectedSet",
    "protected_set",
    "refuse_protected",
]

_HASHES = "holds password hashes"
_FDW = "holds foreign-server passwords (user mapping options)"
_SUBSCRIPTION = "holds replication connection strings, with their passwords"
_FILES = "shows the server's configuration files"
_ACTIVITY = "shows other sessions' statement text"
_STATS = "holds sampled values of every table's columns, including tables this role cannot read"
_LARGE_OBJECTS = "holds large object contents"
_ROLE_SETTINGS = "holds per-role settings, which can include secrets"
_MEMORY = "shows server memory internals"

PROTECTED_RELATIONS: dict[str, str] = {
    "pg_catalog.pg_authid": _HASHES,
    "pg_catalog.pg_shadow": _HASHES,
    "pg_catalog.pg_user_mapping": _FDW,
    "pg_catalog.pg_user_mappings": _FDW,
    "information_schema._pg_user_mappings": _FDW,
    "information_schema.user_mapping_options": _FDW,
    "pg_catalog.pg_subscription": _SUBSCRIPTION,
    "pg_catalog.pg_hba_file_rules": _FILES,
    "pg_catalog.pg_ident_file_mappings": _FILES,
    "pg_catalog.pg_file_settings": _FILES,
    "pg_catalog.pg_config": _FILES,
    "pg_catalog.pg_stat_activity": _ACTIVITY,
    "pg_catalog.pg_statistic": _STATS,
    "pg_catalog.pg_statistic_ext_data": _STATS,
    "pg_catalog.pg_stats": _STATS,
    "pg_catalog.pg_stats_ext": _STATS,
    "pg_catalog.pg_stats_ext_exprs": _STATS,
    "pg_catalog.pg_largeobject": _LARGE_OBJECTS,
    "pg_catalog.pg_db_role_setting": _ROLE_SETTINGS,
    "pg_catalog.pg_backend_memory_contexts": _MEMORY,
}
"""Relations protected by name (schema.name -> what they hold); views over them are found in the catalog."""

_COLUMN_SECRET: tuple[str, ...] = (
    "pg_authid",
    "pg_shadow",
    "pg_user_mapping",
    "pg_user_mappings",
    "pg_subscription",
    "pg_db_role_setting",
)
"""Catalogs of which only some columns are secret: system views over them (pg_roles...) stay readable."""

PROTECTED_FUNCTIONS: dict[str, str] = {
    "pg_stat_get_activity": _ACTIVITY,
    "pg_stat_get_backend_activity": _ACTIVITY,
    "pg_stat_statements": _ACTIVITY,
    "pg_stat_statements_info": _ACTIVITY,
    "pg_config": _FILES,
    "pg_get_backend_memory_contexts": _MEMORY,
    "pg_hba_file_rules": _FILES,
    "pg_ident_file_mappings": _FILES,
    "pg_show_all_file_settings": _FILES,
}
"""Functions exposing the same data (bare lower-case name, any schema); views calling them are protected."""

_EXTENSION_WHY = {"pg_stat_statements": _ACTIVITY, "pg_stat_statements_info": _ACTIVITY}

PROTECTED_SQL = r"""
WITH RECURSIVE seed(oid, full_secret, root) AS (
  SELECT c.oid, NOT (c.relname = ANY ($2::text[])), t.name
  FROM unnest($1::text[]) AS t(name) JOIN pg_class c ON c.oid = to_regclass(t.name)
  UNION ALL
  SELECT d.objid, true, e.extname FROM pg_extension e
  JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
   AND d.classid = 'pg_class'::regclass AND d.deptype = 'e'
  WHERE e.extname = 'pg_stat_statements'
), funcs AS (
  SELECT p.oid, p.proname::text AS root FROM pg_proc p WHERE p.proname = ANY ($3::text[])
), edges AS (
  SELECT DISTINCT r.ev_class AS view_oid, m[1] AS kind, m[2]::oid AS ref
  FROM pg_rewrite r CROSS JOIN LATERAL regexp_matches(r.ev_action::text, ':(relid|funcid) (\d+)', 'g') AS m
  WHERE r.rulename = '_RETURN'
), views AS (
  SELECT c.oid, c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace) AS is_user
  FROM pg_class c WHERE c.relkind IN ('v', 'm')
), prot(oid, full_secret, root) AS (
  SELECT oid, full_secret, root FROM seed
  UNION
  SELECT e.view_oid, true, f.root || '()' FROM edges e JOIN views v ON v.oid = e.view_oid
  JOIN funcs f ON e.kind = 'funcid' AND e.ref = f.oid
  UNION
  SELECT e.view_oid, true, p.root FROM edges e JOIN views v ON v.oid = e.view_oid
  JOIN prot p ON e.kind = 'relid' AND e.ref = p.oid AND e.view_oid <> p.oid
  WHERE p.full_secret OR v.is_user
)
SELECT DISTINCT ON (c.oid) c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name, prot.root
FROM prot JOIN pg_class c ON c.oid = prot.oid JOIN pg_namespace n ON n.oid = c.relnamespace
ORDER BY c.oid, prot.root
"""
"""The protected relations: the named ones, pg_stat_statements' views, and every view over them (closure)."""

RESOLVE_SQL = "SELECT t.name, to_regclass(t.name)::oid::bigint AS oid FROM unnest($1::text[]) AS t(name)"
"""Resolve relation names under the session's own search_path (NULL: no such relation)."""

_MAX_RESOLVED = 4096
"""Resolved spellings kept per protected set (cleared when full: spellings are attacker-chosen)."""


def _spelling(schema: str, name: str) -> str:
    """The exact, quoted text to_regclass resolves for a parsed (schema, relation) reference."""
    return f"{quote_ident(schema)}.{quote_ident(name)}" if schema else quote_ident(name)


@dataclass
class ProtectedSet:
    """The protected relations of one database (by OID), with a cache of resolved relation names."""

    relations: dict[int, tuple[str, str]]
    """OID -> (schema.name, why it is protected)."""
    names: frozenset[str]
    """Relation names of the protected relations: only these spellings need resolving."""
    resolved: dict[str, int | None] = field(default_factory=dict)
    """Quoted spelling -> OID under the session's search_path (None: no such relation)."""


async def protected_set(catalog: Catalog) -> ProtectedSet:
    """The database's protected relations, computed once per catalog refresh (one query)."""

    async def load() -> ProtectedSet:
        with recording_sql():  # vf-mcp's own lookup: not part of the caller's audited statements
            rows = await catalog.db.fetch(
                PROTECTED_SQL, list(PROTECTED_RELATIONS), list(_COLUMN_SECRET), list(PROTECTED_FUNCTIONS)
            )
        relations: dict[int, tuple[str, str]] = {}
        for r in rows:
            qualified = f"{r['schema']}.{r['name']}"
            root = str(r["root"])
            why = PROTECTED_RELATIONS.get(qualified) or _EXTENSION_WHY.get(str(r["name"]))
            if why is None:
                base_why = PROTECTED_RELATIONS.get(root) or PROTECTED_FUNCTIONS.get(root.removesuffix("()"))
                base_why = base_why or _ACTIVITY
                base = root.removeprefix("pg_catalog.")
                why = f"is defined over {base}, which {base_why},"
            relations[int(r["oid"])] = (qualified, why)
        return ProtectedSet(relations=relations, names=frozenset(q.rpartition(".")[2] for q, _ in relations.values()))

    return await catalog.cached("protected_relations", load)


def _pointer(why: str, *, admin: bool) -> str:
    if _ACTIVITY in why or _MEMORY in why:
        tip = "use check_database_health for sessions and get_slow_queries for statement statistics"
    elif _STATS in why:
        tip = "use get_table_stats or run_query on the table itself for column statistics"
    else:
        tip = "query your own tables instead"
    if admin:
        tip += " (an operator can let admin keys read it with admin_reads_system_secrets = true)"
    return tip


def _refusal(name: str, why: str, *, admin: bool) -> RefusedError:
    verb = why if why.startswith(("is ", "holds ", "shows ")) else f"is {why}"
    return RefusedError(
        f"Refused: {name} {verb} and is not readable through this server; {_pointer(why, admin=admin)}."
    )


def refuse_function(functions: frozenset[str], *, admin: bool) -> None:
    """Raise RefusedError when a called function (lower-case names as the guard reports) exposes secrets."""
    for name in sorted(functions):
        bare = name.rpartition(".")[2]
        why = PROTECTED_FUNCTIONS.get(bare)
        if why is not None:
            raise _refusal(f"{name}()", why, admin=admin)


async def refuse_protected(catalog: Catalog, refs: frozenset[tuple[str, str]], *, admin: bool) -> None:
    """Raise RefusedError when one of the (schema, relation) references resolves to a protected relation."""
    if not refs:
        return
    prot = await protected_set(catalog)
    spellings = sorted({_spelling(schema, name) for schema, name in refs if name in prot.names})
    if not spellings:
        return
    missing = [s for s in spellings if s not in prot.resolved]
    if missing:
        with recording_sql():
            rows = await catalog.db.fetch(RESOLVE_SQL, missing)
        if len(prot.resolved) + len(rows) > _MAX_RESOLVED:
            prot.resolved.clear()
        for r in rows:
            prot.resolved[str(r["name"])] = None if r["oid"] is None else int(r["oid"])
    for s in spellings:
        oid = prot.resolved.get(s)
        hit = prot.relations.get(oid) if oid is not None else None
        if hit is not None:
            raise _refusal(hit[0].removeprefix("pg_catalog."), hit[1], admin=admin)


def refuse_relation_oid(prot: ProtectedSet, oid: int, *, admin: bool) -> None:
    """Raise RefusedError when the relation with `oid` is protected (tools that take a table name)."""
    hit = prot.relations.get(oid)
    if hit is not None:
        raise _refusal(hit[0].removeprefix("pg_catalog."), hit[1], admin=admin)
