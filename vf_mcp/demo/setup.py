"""Create the demo database on the embedded server on first use (and reuse it afterwards)."""

from __future__ import annotations

import logging
import time

import asyncpg

from vf_mcp.db.embedded import EmbeddedPostgres
from vf_mcp.identifiers import quote_ident

log = logging.getLogger(__name__)


def demo_database_name(scale: int) -> str:
    return "velocityfibre" if scale == 1 else f"velocityfibre_x{scale}"


DEMO_ROLE = "vf_demo_reader"


async def ensure_demo_database(server: EmbeddedPostgres, *, scale: int = 1) -> str:
    """The DSN of the demo database at `scale` (created and loaded when missing or incomplete).

    The DSN connects as a least-privilege read-only role (`vf-mcp setup-role`), as recommended for real use.
    """
    await _ensure_loaded(server, scale)
    await _ensure_reader(server, demo_database_name(scale))
    return server.dsn(demo_database_name(scale), user=DEMO_ROLE)


async def _ensure_reader(server: EmbeddedPostgres, database: str) -> None:
    import secrets

    from vf_mcp.db.roles import apply_role_sql

    admin = await asyncpg.connect(server.dsn(database))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", DEMO_ROLE)
        if exists:
            grant = await admin.fetchval(
                "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1::text)", DEMO_ROLE
            )
            await admin.execute(grant)
            # A demo cluster made by an earlier version gave the reader pg_read_all_data (password hashes
            # included): take it back and grant SELECT on the demo's own schemas instead.
            if await admin.fetchval("SELECT pg_has_role($1, 'pg_read_all_data', 'MEMBER')", DEMO_ROLE):
                rows = await admin.fetch(
                    "SELECT format('GRANT USAGE ON SCHEMA %I TO %I', nspname, $1::text) AS usage, "
                    "format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', nspname, $1::text) AS sel "
                    "FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'",
                    DEMO_ROLE,
                )
                revoke = await admin.fetchval("SELECT format('REVOKE pg_read_all_data FROM %I', $1::text)", DEMO_ROLE)
                async with admin.transaction():
                    for r in rows:
                        await admin.execute(r["usage"])
                        await admin.execute(r["sel"])
                    await admin.execute(revoke)
            return
    finally:
        await admin.close()
    await apply_role_sql(server.dsn(database), DEMO_ROLE, secrets.token_urlsafe(18), monitoring=True)  # DBA tools


async def _ensure_loaded(server: EmbeddedPostgres, scale: int) -> str:
    from vf_mcp.demo.generator import load_demo

    name = demo_database_name(scale)
    marker = f"vf-mcp demo complete scale={scale}"
    admin = await asyncpg.connect(server.dsn("postgres"))
    try:
        comment = await admin.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", name
        )
        if comment == marker:
            return server.dsn(name)
        log.info("creating demo database %s (scale %d)", name, scale)
        ident = quote_ident(name)
        await admin.execute(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {ident}")
    finally:
        await admin.close()
    started = time.perf_counter()
    conn = await asyncpg.connect(server.dsn(name))
    try:
        summary = await load_demo(conn, scale=scale)
        await conn.execute(f"COMMENT ON DATABASE {ident} IS '{marker}'")
    finally:
        await conn.close()
    log.info("demo database loaded: %s in %.1f s", summary, time.perf_counter() - started)
    return server.dsn(name)
