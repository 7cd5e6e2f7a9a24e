"""Fixtures: a real PostgreSQL (embedded, or the one in VF_MCP_TEST_DSN) with the test databases.

VF_MCP_TEST_DSN, when set, must name a superuser connection to a server where the tests may create
and drop databases (any database name works; the tests only swap it). Otherwise an embedded
PostgreSQL 18 is started in a temporary directory for the test session and deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

DATASETS = Path(__file__).resolve().parent / "data"  # chinook and pagila, with their licences


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class PgCluster:
    """Superuser access to a test cluster: DSNs per database and database creation."""

    def __init__(self, base_dsn: str) -> None:
        self.base_dsn = base_dsn

    def dsn(self, database: str) -> str:
        parts = urlsplit(self.base_dsn)
        return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))

    def create_database(self, name: str, setup_sql: str | None = None) -> str:
        """(Re)create database `name`, run `setup_sql` in it (setup code, simple protocol), return its DSN."""
        return asyncio.run(self.acreate_database(name, setup_sql))

    async def acreate_database(self, name: str, setup_sql: str | None = None) -> str:
        """create_database for async tests."""

        async def go() -> None:
            admin = await asyncpg.connect(self.dsn("postgres"))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await admin.execute(f'CREATE DATABASE "{name}"')
            finally:
                await admin.close()
            if setup_sql:
                conn = await asyncpg.connect(self.dsn(name))
                try:
                    await conn.execute(setup_sql)
                finally:
                    await conn.close()

        await go()
        return self.dsn(name)


@pytest.fixture(scope="session")
def pg() -> Iterator[PgCluster]:
    env = os.environ.get("VF_MCP_TEST_DSN")
    if env:
        yield PgCluster(env)
        return
    from vf_mcp.db.embedded import EmbeddedPostgres

    tmp = tempfile.mkdtemp(prefix="vfmcp-test-")
    server = EmbeddedPostgres.start(Path(tmp) / "pgdata", cleanup="delete")
    try:
        yield PgCluster(server.dsn("postgres"))
    finally:
        server.stop()


@pytest.fixture(scope="session")
def demo_dsn(pg: PgCluster) -> str:
    """The VelocityFibre demo database at scale 1."""
    from vf_mcp.demo.generator import load_demo

    dsn = pg.create_database("velocityfibre_test")

    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await load_demo(conn, scale=1)
        finally:
            await conn.close()

    asyncio.run(go())
    return dsn


@pytest.fixture(scope="session")
def chinook_dsn(pg: PgCluster) -> str:
    text = (DATASETS / "chinook" / "chinook.sql").read_text(encoding="utf-8")
    # The dump creates and switches database itself; keep what follows the \c line.
    match = re.search(r"^\\c .*$", text, flags=re.MULTILINE)
    body = text[match.end() :] if match else text
    return pg.create_database("chinook_test", body)


@pytest.fixture(scope="session")
def pagila_dsn(pg: PgCluster) -> str:
    text = (DATASETS / "pagila" / "pagila-schema.sql").read_text(encoding="utf-8")
    return pg.create_database("pagila_test", text)
