"""SQL for the recommended least-privilege read-only role (printed, or applied with --apply)."""

from __future__ import annotations

import asyncpg


async def _statements(conn: asyncpg.Connection, role: str, password: str) -> list[str]:
    """Build the statements with the server's own quoting (format %I / %L), never string pasting."""
    row = await conn.fetchrow(
        """
        SELECT current_database() AS db, current_setting('server_version_num')::int AS version,
               format('CREATE ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION '
                      'CONNECTION LIMIT 20', $1::text, $2::text) AS create_role,
               format('ALTER ROLE %I SET default_transaction_read_only = on', $1::text) AS ro,
               format('ALTER ROLE %I SET statement_timeout = %L', $1::text, '30s') AS timeout,
               format('ALTER ROLE %I SET idle_in_transaction_session_timeout = %L', $1::text, '60s') AS idle,
               format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1::text) AS connect,
               format('GRANT pg_read_all_data TO %I', $1::text) AS read_all,
               format('GRANT pg_monitor TO %I', $1::text) AS stats
        """,
        role,
        password,
    )
    assert row is not None
    stmts = [row["create_role"], row["ro"], row["timeout"], row["idle"], row["connect"]]
    if row["version"] >= 140000:
        stmts += [row["read_all"], row["stats"]]
    else:
        schemas = await conn.fetch(
            "SELECT format('GRANT USAGE ON SCHEMA %I TO %I', nspname, $1::text) AS usage, "
            "format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', nspname, $1::text) AS sel "
            "FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'",
            role,
        )
        for s in schemas:
            stmts += [s["usage"], s["sel"]]
        stmts.append(row["stats"])
    return stmts


async def role_sql(admin_dsn: str, role: str, password: str) -> str:
    """The SQL script (to review and run yourself)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        stmts = await _statements(conn, role, password)
    finally:
        await conn.close()
    return "\n".join(
        [
            "-- Least-privilege read-only role for vf-mcp. Review, then run as an admin.",
            *[s + ";" for s in stmts],
            "-- On PostgreSQL < 15 PUBLIC may CREATE in schema public; consider:",
            "--   REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
        ]
    )


async def apply_role_sql(admin_dsn: str, role: str, password: str) -> None:
    """Run the statements one by one in a transaction (setup code run by an admin, not model SQL)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        stmts = await _statements(conn, role, password)
        async with conn.transaction():
            for stmt in stmts:
                await conn.execute(stmt)
    finally:
        await conn.close()
