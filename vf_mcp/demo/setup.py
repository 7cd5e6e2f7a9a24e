"""Create the demo database on the embedded server on first use (and reuse it afterwards)."""

from __future__ import annotations

import logging
import time

import asyncpg

from vf_mcp.db.embedded import EmbeddedPostgres

log = logging.getLogger(__name__)


def demo_database_name(scale: int) -> str:
    return "velocityfibre" if scale == 1 else f"velocityfibre_x{scale}"


async def ensure_demo_database(server: EmbeddedPostgres, *, scale: int = 1) -> str:
    """Return the DSN of the demo database at `scale`, creating and loading it when missing or incomplete."""
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
        ident = '"' + name.replace('"', '""') + '"'
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
