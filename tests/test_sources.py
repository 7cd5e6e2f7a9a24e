"""Several named databases in one server: list_sources, the `source` argument, lazy pools, replicas."""

from __future__ import annotations

import asyncio

import pytest
from conftest import PgCluster
from helpers import call, call_error, sql
from mcp import Client
from pydantic import SecretStr

from vf_mcp.server import build_server, build_server_with_hubs
from vf_mcp.settings import Settings, Source

pytestmark = pytest.mark.anyio

OLD = """CREATE TABLE customers (id int PRIMARY KEY, name text);
INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 30) g;"""
NEW = """CREATE TABLE clients (id int PRIMARY KEY, label text);
INSERT INTO clients SELECT g, 'k' || g FROM generate_series(1, 12) g;"""


@pytest.fixture(scope="module")
def two_dbs(pg: PgCluster) -> tuple[str, str]:
    return pg.create_database("vf_src_old", OLD), pg.create_database("vf_src_new", NEW)


def two_sources(old: str, new: str, **extra: object) -> Settings:
    return Settings(
        sources=(
            Source(name="old", dsn=SecretStr(old), description="the old system", max_rows=5),
            Source(name="new", dsn=SecretStr(new), description="the new system", default=True),
        ),
        **extra,  # type: ignore[arg-type]
    )


async def test_list_sources_and_source_argument(two_dbs: tuple[str, str]) -> None:
    old, new = two_dbs
    async with Client(build_server(two_sources(old, new))) as client:
        listed = await call(client, "list_sources")
        by_name = {s["name"]: s for s in listed["sources"]}
        assert set(by_name) == {"old", "new"}
        assert by_name["new"]["default"] is True and by_name["old"]["default"] is False
        assert by_name["old"]["description"] == "the old system"
        version = (await sql(old, "SHOW server_version"))[0][0]
        assert by_name["old"]["server_version"] == version and by_name["old"]["status"] == "ok"
        # the test DSNs are superusers: the safety status says so
        assert by_name["old"]["read_only_role"] is False and "superuser" in by_name["old"]["safety_warning"]
        assert by_name["old"]["max_rows"] == 5 and by_name["new"]["max_rows"] == 1000

        # default source answers without `source`; the named one with it
        new_tables = await call(client, "list_tables")
        old_tables = await call(client, "list_tables", {"source": "old"})
        assert [t["name"] for t in new_tables["tables"]] == ["clients"]
        assert [t["name"] for t in old_tables["tables"]] == ["customers"]
        counted = await call(client, "run_query", {"sql": "SELECT count(*) FROM customers", "source": "old"})
        assert counted["rows"] == [[(await sql(old, "SELECT count(*) FROM customers"))[0][0]]]
        # per-source row cap
        capped = await call(client, "run_query", {"sql": "SELECT id FROM customers ORDER BY id", "source": "old"})
        assert capped["row_count"] == 5 and capped["truncated"] is True
        # analytics on a named source
        stats = await call(client, "get_table_stats", {"table_name": "clients", "source": "new"})
        assert stats["row_count"] == (await sql(new, "SELECT count(*) FROM clients"))[0][0] == 12

        text = await call_error(client, "list_tables", {"source": "nope"})
        assert "Unknown source 'nope'" in text and "new" in text and "old" in text


async def test_single_dsn_is_the_default_source(two_dbs: tuple[str, str]) -> None:
    old, _ = two_dbs
    async with Client(build_server(Settings(dsn=old))) as client:
        listed = await call(client, "list_sources")
        assert [(s["name"], s["default"]) for s in listed["sources"]] == [("default", True)]
        named = await call(client, "list_tables", {"source": "default"})
        assert [t["name"] for t in named["tables"]] == ["customers"]


async def test_pools_open_lazily_and_close_when_idle(two_dbs: tuple[str, str]) -> None:
    old, new = two_dbs
    server, hubs = build_server_with_hubs(two_sources(old, new, pool_idle_close_s=1.0))
    async with Client(server) as client:
        hub = hubs[-1]
        await call(client, "run_query", {"sql": "SELECT 1", "source": "new"})
        assert hub.apps["old"].db.pool_stats()["size"] == 0  # never used: never opened
        assert hub.apps["new"].db.pool_stats()["size"] >= 1
        await call(client, "run_query", {"sql": "SELECT 2", "source": "old"})
        assert hub.apps["old"].db.pool_stats()["size"] >= 1
        for _ in range(40):  # the reaper runs every ~1 s and closes pools idle for 1 s
            await asyncio.sleep(0.25)
            if hub.apps["old"].db.pool_stats()["size"] == 0 and hub.apps["new"].db.pool_stats()["size"] == 0:
                break
        assert hub.apps["old"].db.pool_stats()["size"] == 0 and hub.apps["new"].db.pool_stats()["size"] == 0
        again = await call(client, "run_query", {"sql": "SELECT count(*) FROM customers", "source": "old"})
        assert again["rows"] == [[30]]  # reopened on demand


async def test_replicas_round_robin_with_primary_fallback(pg: PgCluster) -> None:
    """Reads alternate between replicas; an unreachable replica falls back to the primary."""
    primary = await pg.acreate_database(
        "vf_rep_primary", "CREATE TABLE who (name text); INSERT INTO who VALUES ('primary');"
    )
    r1 = await pg.acreate_database("vf_rep_one", "CREATE TABLE who (name text); INSERT INTO who VALUES ('replica1');")
    r2 = await pg.acreate_database("vf_rep_two", "CREATE TABLE who (name text); INSERT INTO who VALUES ('replica2');")
    settings = Settings(dsn=primary, replica_dsns=(SecretStr(r1), SecretStr(r2)), query_cache_ttl_s=0)
    async with Client(build_server(settings)) as client:
        seen = [(await call(client, "run_query", {"sql": "SELECT name FROM who"}))["rows"][0][0] for _ in range(8)]
        assert set(seen) == {"replica1", "replica2"}  # both replicas serve reads, the primary none
        # (the start-up warm-up also takes turns, so the exact alternation of these four calls may shift)
    dead = "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1"
    settings = Settings(dsn=primary, replica_dsns=(SecretStr(dead),), query_cache_ttl_s=0, connect_timeout_s=1)
    async with Client(build_server(settings)) as client:
        seen = [(await call(client, "run_query", {"sql": "SELECT name FROM who"}))["rows"][0][0] for _ in range(3)]
        assert seen == ["primary", "primary", "primary"]
