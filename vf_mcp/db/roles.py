"""SQL for the recommended least-privilege read-only role (printed, or applied with --apply).

The role gets what analysis needs and no more: CONNECT, USAGE on each user schema, SELECT on every
table, view, materialized view and foreign table in them, and default privileges so tables created
later are readable too. Never pg_read_all_data: it also reads pg_authid (every password hash), user
mappings (foreign-server passwords) and pg_statistic. pg_monitor (other sessions' activity and
statement statistics, for the DBA tools) only on request (`--monitoring`).
"""

from __future__ import annotations

import asyncpg

__all__ = ["apply_role_sql", "role_sql"]

_ROLE_SQL = """
SELECT current_database() AS db, current_setting('server_version_num')::int AS version,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       format('CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS '
              'CONNECTION LIMIT 20', $1::text, $2::text) AS create_role,
       format('ALTER ROLE %I SET default_transaction_read_only = on', $1::text) AS ro,
       format('ALTER ROLE %I SET statement_timeout = %L', $1::text, '30s') AS timeout,
       format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', $1::text, '60s') AS idle,
       format('ALTER ROLE %I SET temp_file_limit = %L', $1::text, '1GB') AS temp_files,
       format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1::text) AS connect,
       format('GRANT pg_monitor TO %I', $1::text) AS monitor
"""

_SCHEMAS_SQL = r"""
SELECT n.nspname,
       format('GRANT USAGE ON SCHEMA %I TO %I', n.nspname, $1::text) AS usage,
       format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', n.nspname, $1::text) AS sel,
       ARRAY(SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT SELECT ON TABLES TO %I',
                           o.rolname, n.nspname, $1::text)
             FROM pg_roles o
             WHERE o.rolname NOT LIKE 'pg\_%'
               AND (o.oid = n.nspowner OR o.rolname = current_user
                    OR o.oid IN (SELECT c.relowner FROM pg_class c WHERE c.relnamespace = n.oid))
               AND pg_has_role(current_user, o.oid, 'MEMBER')
             ORDER BY o.rolname) AS defaults,
       ARRAY(SELECT o.rolname::text FROM pg_roles o
             WHERE o.rolname NOT LIKE 'pg\_%'
               AND (o.oid = n.nspowner OR o.oid IN (SELECT c.relowner FROM pg_class c WHERE c.relnamespace = n.oid))
               AND NOT pg_has_role(current_user, o.oid, 'MEMBER')
             ORDER BY o.rolname) AS other_owners
FROM pg_namespace n
WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
ORDER BY n.nspname
"""

_HEADER = """\
-- Least-privilege read-only role for vf-mcp. Review, then run as an admin (or use --apply).
-- Grants: CONNECT; USAGE on each user schema; SELECT on its tables, views, materialized views and
--   foreign tables; default privileges so tables its owners create later are readable too.
-- Session defaults: read-only transactions, statement/idle-in-transaction timeouts (and temp_file_limit,
--   which only a superuser can set).
-- Not granted: pg_read_all_data (it can also read pg_authid password hashes, pg_user_mapping foreign-server
--   passwords and pg_statistic), write privileges, CREATE anywhere.
-- pg_monitor (other sessions' activity and query text, for check_database_health / get_slow_queries) only
--   with --monitoring."""


async def _statements(conn: asyncpg.Connection, role: str, password: str, monitoring: bool) -> list[str]:
    """Build the statements (SQL comments included) with the server's own quoting (format %I / %L)."""
    row = await conn.fetchrow(_ROLE_SQL, role, password)
    assert row is not None
    stmts = [row["create_role"], row["ro"], row["timeout"], row["idle"]]
    if row["superuser"]:
        stmts.append(row["temp_files"])
    else:
        stmts.append("-- temp_file_limit not set: only a superuser can set it for a role")
    stmts.append(row["connect"])
    for s in await conn.fetch(_SCHEMAS_SQL, role):
        stmts += [s["usage"], s["sel"], *s["defaults"]]
        if s["other_owners"]:
            stmts.append(
                f"-- schema {s['nspname']}: also run, as (or as a member of) {', '.join(s['other_owners'])}: "
                "ALTER DEFAULT PRIVILEGES FOR ROLE <owner> IN SCHEMA ... GRANT SELECT ON TABLES TO the role"
            )
    if monitoring:
        stmts.append(row["monitor"])
    return stmts


async def role_sql(admin_dsn: str, role: str, password: str, *, monitoring: bool = False) -> str:
    """The SQL script (to review and run yourself)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        stmts = await _statements(conn, role, password, monitoring)
    finally:
        await conn.close()
    return "\n".join(
        [
            _HEADER,
            *[s if s.startswith("--") else s + ";" for s in stmts],
            "-- On PostgreSQL < 15 PUBLIC may CREATE in schema public; consider:",
            "--   REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        ]
    )


async def apply_role_sql(admin_dsn: str, role: str, password: str, *, monitoring: bool = False) -> None:
    """Run the statements one by one in a transaction (setup code run by an admin, not model SQL)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        stmts = await _statements(conn, role, password, monitoring)
        async with conn.transaction():
            for stmt in stmts:
                if not stmt.startswith("--"):
                    await conn.execute(stmt)
    finally:
        await conn.close()
