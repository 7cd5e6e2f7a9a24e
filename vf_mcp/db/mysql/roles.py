"""`vf-mcp setup-role` for a mysql:// or mariadb:// DSN: a SELECT-only user for the DSN's database.

The user gets SELECT and SHOW VIEW on that one database and nothing else: no write privilege, no FILE,
PROCESS, SUPER or GRANT OPTION, no access to the mysql schema (password hashes); at most 20 connections.
With --monitoring it may also read performance_schema (statement digests of every session, for DBA tools).
Setup code run by an administrator, never model SQL; values are quoted by the driver, names backquoted.
"""

from __future__ import annotations

from vf_mcp.db.mysql.catalog import quote_mysql
from vf_mcp.db.mysql.pool import MySqlTarget, parse_mysql_dsn

_HEADER = """\
-- Least-privilege read-only user for vf-mcp on MySQL/MariaDB. Review, then run as an admin (or use --apply).
-- Grants: SELECT and SHOW VIEW on the one database of the DSN. Not granted: INSERT/UPDATE/DELETE, CREATE,
--   CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, FILE, PROCESS, SUPER, GRANT OPTION, any access to the mysql
--   schema (password hashes). performance_schema (other sessions' statements) only with --monitoring."""


def _literal(text: str) -> str:
    """A MySQL string literal (backslashes and quotes escaped; the sessions run without NO_BACKSLASH_ESCAPES)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _statements(database: str, role: str, password: str, monitoring: bool) -> list[str]:
    user = f"{_literal(role)}@'%'"
    stmts = [
        f"CREATE USER {user} IDENTIFIED BY {_literal(password)} WITH MAX_USER_CONNECTIONS 20",
        f"GRANT SELECT, SHOW VIEW ON {quote_mysql(database)}.* TO {user}",
    ]
    if monitoring:
        stmts.append(f"GRANT SELECT ON performance_schema.* TO {user}")
    return stmts


async def role_sql(admin_dsn: str, role: str, password: str, *, monitoring: bool = False) -> str:
    """The SQL script (to review and run yourself)."""
    stmts = _statements(parse_mysql_dsn(admin_dsn).database, role, password, monitoring)
    return "\n".join([_HEADER, *[s + ";" for s in stmts]])


async def apply_role_sql(admin_dsn: str, role: str, password: str, *, monitoring: bool = False) -> None:
    """Run the statements one by one as the admin (a plain session: these are writes by design)."""
    from vf_mcp.db.mysql.pool import translate_mysql

    t = parse_mysql_dsn(admin_dsn)
    try:
        await _apply(t, role, password, monitoring)
    except Exception as exc:
        raise translate_mysql(exc) from None


async def _apply(t: MySqlTarget, role: str, password: str, monitoring: bool) -> None:
    from asyncmy import connect

    conn = await connect(
        host=t.host, port=t.port, user=t.user, password=t.password, database=t.database,
        unix_socket=t.unix_socket, autocommit=True, charset="utf8mb4",
    )  # fmt: skip
    try:
        cur = conn.cursor()
        for stmt in _statements(t.database, role, password, monitoring):
            await cur.execute(stmt)
    finally:
        conn.close()
