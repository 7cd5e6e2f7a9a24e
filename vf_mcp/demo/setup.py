"""Create the demo database on the embedded server on first use, keep it current, and reuse it afterwards.

Several processes may start the demo at once (two MCP clients configured together, two terminals): the
whole preparation (create and load, move the dates forward, create the reader role) runs under one
PostgreSQL advisory lock, so the second process waits and then finds the database ready. A database is
never dropped while another session uses it.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import date

import asyncpg

from vf_mcp.db.embedded import EmbeddedPostgres
from vf_mcp.demo.spec import demo_today
from vf_mcp.errors import ConfigError
from vf_mcp.identifiers import quote_ident

log = logging.getLogger(__name__)


def demo_database_name(scale: int) -> str:
    return "velocityfibre" if scale == 1 else f"velocityfibre_x{scale}"


DEMO_ROLE = "vf_demo_reader"
DEMO_LOCK_KEY = 0x5646_4D43_5044_454D  # 'VFMCPDEM': the advisory lock that serialises demo preparation
DATA_VERSION = 2
"""Bumped whenever the generator makes different rows: a database of another version is made again."""
_MARKER = re.compile(r"^vf-mcp demo complete scale=(\d+) anchor=(\d{4}-\d{2}-\d{2}) data=(\d+)$")


def completion_marker(scale: int, anchor: date) -> str:
    """The database comment written last: the load finished, at this scale, with this anchor date."""
    return f"vf-mcp demo complete scale={scale} anchor={anchor.isoformat()} data={DATA_VERSION}"


def parse_marker(comment: str | None, scale: int) -> date | None:
    """The anchor date of a complete demo database of this version at `scale`, or None when it is not one."""
    m = _MARKER.match(comment or "")
    if not m or int(m[1]) != scale or int(m[3]) != DATA_VERSION:
        return None
    return date.fromisoformat(m[2])


async def ensure_demo_database(server: EmbeddedPostgres, *, scale: int = 1, today: date | None = None) -> str:
    """The DSN of the demo database at `scale`, created and loaded when missing or incomplete, and with its
    dates moved forward when it was made on an earlier day (`today` defaults to today in South Africa).

    The DSN connects as a least-privilege read-only role (`vf-mcp setup-role`), as recommended for real use.
    """
    today = today or demo_today()
    name = demo_database_name(scale)
    lock = await asyncpg.connect(server.dsn("postgres"))
    try:
        if not await lock.fetchval("SELECT pg_try_advisory_lock($1)", DEMO_LOCK_KEY):
            log.info("waiting for another vf-mcp process to finish preparing the demo database")
            await lock.execute("SELECT pg_advisory_lock($1)", DEMO_LOCK_KEY)
        await _ensure_loaded(server, lock, scale, today)
        await _ensure_reader(server, name)
    finally:
        await lock.close()  # ends the session: the advisory lock is released
    return server.dsn(name, user=DEMO_ROLE)


async def _ensure_reader(server: EmbeddedPostgres, database: str) -> None:
    """Create the reader role (cluster-wide) or, when it exists, grant it this database's schemas: the
    database may be newer than the role (another scale, or reloaded after an interrupted load)."""
    import secrets

    from vf_mcp.db.roles import apply_role_sql

    admin = await asyncpg.connect(server.dsn(database))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", DEMO_ROLE):
            await apply_role_sql(server.dsn(database), DEMO_ROLE, secrets.token_urlsafe(18), monitoring=True)
        else:
            rows = await admin.fetch(
                "SELECT format('GRANT USAGE ON SCHEMA %I TO %I', nspname, $1::text) AS usage, "
                "format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', nspname, $1::text) AS sel "
                "FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'",
                DEMO_ROLE,
            )
            async with admin.transaction():
                await admin.execute(f"GRANT CONNECT ON DATABASE {quote_ident(database)} TO {quote_ident(DEMO_ROLE)}")
                for r in rows:
                    await admin.execute(r["usage"])
                    await admin.execute(r["sel"])
                # A demo cluster made by an earlier version gave the reader pg_read_all_data (password hashes
                # included): take it back (SELECT on the demo's own schemas is granted above).
                if await admin.fetchval("SELECT pg_has_role($1, 'pg_read_all_data', 'MEMBER')", DEMO_ROLE):
                    await admin.execute(f"REVOKE pg_read_all_data FROM {quote_ident(DEMO_ROLE)}")
        # The pool bounds temporary files per session (temp_file_limit): let the reader set it.
        await admin.execute(f"GRANT SET ON PARAMETER temp_file_limit TO {quote_ident(DEMO_ROLE)}")
    finally:
        await admin.close()


async def _ensure_loaded(server: EmbeddedPostgres, admin: asyncpg.Connection, scale: int, today: date) -> None:
    """Under the advisory lock: leave a current database alone, move an older one's dates, (re)load the rest."""
    from vf_mcp.demo.generator import load_demo

    name = demo_database_name(scale)
    ident = quote_ident(name)
    comment = await admin.fetchval(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", name
    )
    anchor = parse_marker(comment, scale)
    if anchor == today:
        return
    if anchor is not None:
        await _move_forward(server, name, scale, anchor, today)
        return
    users = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name
    )
    if users:
        raise ConfigError(
            f"the demo database {name} is unfinished or from another vf-mcp version and {users} other "
            "session(s) use it: stop the other vf-mcp demo and start again"
        )
    log.info("creating the demo database %s (scale %d; first start only, a few seconds)", name, scale)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {ident}")  # unfinished or outdated; nobody uses it
    except asyncpg.ObjectInUseError as exc:
        raise ConfigError(f"the demo database {name} is in use by another session: stop it and start again") from exc
    await admin.execute(f"CREATE DATABASE {ident}")
    started = time.perf_counter()
    conn = await asyncpg.connect(server.dsn(name))
    try:
        summary = await load_demo(conn, scale=scale, anchor=today)
        await conn.execute(f"COMMENT ON DATABASE {ident} IS '{completion_marker(scale, today)}'")
    finally:
        await conn.close()
    log.info(
        "demo database %s ready: %d tables, %d rows, up to %s (%.1f s)",
        name, summary.tables, summary.rows, summary.anchor, time.perf_counter() - started,
    )  # fmt: skip


async def _move_forward(server: EmbeddedPostgres, name: str, scale: int, anchor: date, today: date) -> None:
    """Move every date of a demo database made on `anchor` by whole days onto `today`, in one transaction
    (with the new marker, so an interrupted move is simply redone), then compact and re-analyse the tables."""
    from vf_mcp.demo.generator import shift_dates

    days = (today - anchor).days
    log.info("moving the demo data of %s forward %d day(s), from %s to %s", name, days, anchor, today)
    started = time.perf_counter()
    conn = await asyncpg.connect(server.dsn(name))
    try:
        async with conn.transaction():
            tables = await shift_dates(conn, days)
            await conn.execute(f"COMMENT ON DATABASE {quote_ident(name)} IS '{completion_marker(scale, today)}'")
        # The UPDATEs left a dead copy of every row: rewrite the tables unless a reader holds one (then a plain
        # VACUUM), so the DBA tools do not report bloat on a demo that is a day old.
        await conn.execute("SET lock_timeout = '500ms'")
        for table in tables:
            try:
                await conn.execute(f"VACUUM (FULL, ANALYZE) {table}")
            except asyncpg.LockNotAvailableError:
                await conn.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await conn.close()
    log.info("demo data moved forward in %.1f s (%d tables)", time.perf_counter() - started, len(tables))
