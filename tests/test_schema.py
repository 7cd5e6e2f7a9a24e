"""Schema tools and resources on databases no one here designed, odd identifiers, and the read-only role."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import call, call_error, mcp_client, sql
from mcp import MCPError

pytestmark = pytest.mark.anyio

ODD = """
CREATE SCHEMA "My Schema";
CREATE TABLE "My Schema"."Order ""Lines"" ü" ("select" int PRIMARY KEY, "Order Id" text, "ÜberWert" numeric);
INSERT INTO "My Schema"."Order ""Lines"" ü" VALUES (1, 'a', 1.5), (2, NULL, 2.5);
CREATE TABLE "Users" (id int PRIMARY KEY, "from" text);
CREATE TABLE users (id int PRIMARY KEY);
COMMENT ON TABLE "Users" IS 'capitalised twin';
"""


@pytest.fixture(scope="module")
def odd_dsn(pg) -> str:  # type: ignore[no-untyped-def]
    return str(pg.create_database("odd_names", ODD))


async def test_odd_identifiers(odd_dsn: str) -> None:
    async with mcp_client(odd_dsn) as client:
        t = await call(client, "get_table_schema", {"table_name": '"My Schema"."Order ""Lines"" ü"'})
        assert t["name"] == 'Order "Lines" ü' and t["schema_name"] == "My Schema"
        assert [c["name"] for c in t["columns"]] == ["select", "Order Id", "ÜberWert"]
        assert t["primary_key"] == ["select"]
        quoted = await call(client, "get_table_schema", {"table_name": '"Users"'})
        lower = await call(client, "get_table_schema", {"table_name": "users"})
        assert quoted["comment"] == "capitalised twin" and lower["comment"] is None
        stats = await call(client, "get_table_stats", {"table_name": '"My Schema"."Order ""Lines"" ü"'})
        col = next(c for c in stats["columns"] if c["name"] == "Order Id")
        assert col["null_count"] == 1 and stats["row_count"] == 2
        res = await client.read_resource('schema://My Schema/Order "Lines" ü')
        assert json.loads(res.contents[0].text)["columns"][0]["name"] == "select"  # type: ignore[union-attr]
        bad = await call_error(client, "get_table_schema", {"table_name": 'x"; DROP TABLE users; --'})
        assert "not found" in bad or "Bad table name" in bad or "Unterminated" in bad
    assert (await sql(odd_dsn, "SELECT count(*) AS n FROM users"))[0]["n"] == 0


async def test_schema_resources_match_tool(demo_dsn: str) -> None:
    async with mcp_client(demo_dsn) as client:
        listing = json.loads((await client.read_resource("schema://tables")).contents[0].text)  # type: ignore[union-attr]
        uris = [t["uri"] for t in listing["tables"]]
        assert "schema://public/staff" in uris
        via_resource = json.loads(
            (await client.read_resource("schema://public/staff")).contents[0].text  # type: ignore[union-attr]
        )
        via_tool = await call(client, "get_table_schema", {"table_name": "public.staff"})
        assert via_resource == via_tool
        with pytest.raises(MCPError) as err:
            await client.read_resource("schema://public/no_such_table")
        assert err.value.code == -32602


async def test_chinook_every_table(chinook_dsn: str) -> None:
    names = [
        r["relname"]
        for r in await sql(
            chinook_dsn,
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace",
        )
    ]
    tracks = (await sql(chinook_dsn, 'SELECT count(*) AS n FROM "track"'))[0]["n"] if "track" in names else None
    async with mcp_client(chinook_dsn) as client:
        listing = await call(client, "list_tables")
        assert {t["name"] for t in listing["tables"]} >= set(names)
        for name in names:
            schema = await call(client, "get_table_schema", {"table_name": name})
            assert schema["columns"]
            stats = await call(client, "get_table_stats", {"table_name": name})
            exact = (await sql(chinook_dsn, f'SELECT count(*) AS n FROM "{name}"'))[0]["n"]
            assert stats["row_count"] == exact
        overview = await call(client, "get_database_overview")
        assert overview["total_tables"] == len(names)
        if tracks is not None:
            out = await call(client, "run_query", {"sql": "SELECT count(*) FROM track"})
            assert out["rows"] == [[tracks]]


async def test_pagila_partitions_enums_domains(pagila_dsn: str) -> None:
    async with mcp_client(pagila_dsn) as client:
        listing = await call(client, "list_tables")
        payment = next(t for t in listing["tables"] if t["name"] == "payment")
        parts = await sql(pagila_dsn, "SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'payment'::regclass")
        assert payment["kind"] == "partitioned table" and len(payment["partitions"]) == parts[0]["n"]
        film = await call(client, "get_table_schema", {"table_name": "film"})
        rating = next(c for c in film["columns"] if c["name"] == "rating")
        labels = await sql(pagila_dsn, "SELECT enum_range(NULL::mpaa_rating)::text[] AS l")
        assert rating["enum_labels"] == labels[0]["l"]
        pay = await call(client, "get_table_schema", {"table_name": "payment"})
        assert pay["partitioning"]["key"].startswith("RANGE")
        views = [t for t in listing["tables"] if t["kind"] == "view"]
        assert views
        view = await call(client, "get_table_schema", {"table_name": views[0]["name"]})
        assert view["view_definition"]
        unpopulated = {
            r["relname"]
            for r in await sql(pagila_dsn, "SELECT relname FROM pg_class WHERE relkind = 'm' AND NOT relispopulated")
        }
        for t in listing["tables"]:
            args = {"table_name": f'"{t["schema_name"]}"."{t["name"]}"'}
            if t["name"] in unpopulated:
                assert "REFRESH MATERIALIZED VIEW" in await call_error(client, "get_table_stats", args)
            else:
                await call(client, "get_table_stats", args)
        await call(client, "get_database_overview")


async def test_types_through_run_query(pg) -> None:  # type: ignore[no-untyped-def]
    dsn = await pg.acreate_database(
        "types_rq",
        "CREATE TYPE mood AS ENUM ('sad', 'happy');"
        "CREATE TABLE t (n numeric, ts timestamptz, d date, i interval, b bytea, a int[], j jsonb, m mood,"
        " u uuid, r int4range, money money);"
        "INSERT INTO t VALUES (12345678901234567890.123, '2024-01-02 03:04:05+02', '2024-02-29',"
        " '1 year 2 mons 3 days', '\\x00ff', '{1,NULL,3}', '{\"k\": [1, true]}', 'happy',"
        " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '[1,5)', 12.5);",
    )
    async with mcp_client(dsn) as client:
        out = await call(client, "run_query", {"sql": "SELECT * FROM t"})
    row = dict(zip([c["name"] for c in out["columns"]], out["rows"][0], strict=True))
    assert row["n"] == "12345678901234567890.123"
    assert row["ts"] == "2024-01-02T01:04:05+00:00"
    assert row["d"] == "2024-02-29"
    assert row["b"] == "AP8="
    assert row["a"] == [1, None, 3]
    assert row["j"] == {"k": [1, True]}
    assert row["m"] == "happy"
    assert row["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    types = {c["name"]: c["type"] for c in out["columns"]}
    assert types["ts"] == "timestamp with time zone" and types["a"] == "integer[]"


async def test_setup_role_makes_a_read_only_role(pg) -> None:  # type: ignore[no-untyped-def]
    dsn = await pg.acreate_database("role_test", "CREATE TABLE things (id int); INSERT INTO things VALUES (1);")
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "vf_mcp.cli",
            "setup-role",
            "--dsn",
            dsn,
            "--role",
            "vf_ro_print",
            "--password",
            "pw1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    assert "CREATE ROLE vf_ro_print LOGIN PASSWORD 'pw1'" in printed.stdout
    assert "GRANT pg_read_all_data" not in printed.stdout and "GRANT pg_monitor" not in printed.stdout
    assert "GRANT SELECT ON ALL TABLES IN SCHEMA public TO vf_ro_print" in printed.stdout
    await sql(dsn, "DROP ROLE IF EXISTS vf_ro")
    applied = subprocess.run(
        [
            sys.executable,
            "-m",
            "vf_mcp.cli",
            "setup-role",
            "--apply",
            "--dsn",
            dsn,
            "--role",
            "vf_ro",
            "--password",
            "pw2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert applied.returncode == 0, applied.stderr
    ro_dsn = dsn.replace("postgresql://postgres@", "postgresql://vf_ro:pw2@", 1)
    await sql(dsn, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    async with mcp_client(ro_dsn, require_readonly_role=True) as client:
        overview = await call(client, "get_database_overview")
        assert overview["role_safety"] == {"role": "vf_ro", "read_only": True, "warning": None}
        out = await call(client, "run_query", {"sql": "SELECT count(*) FROM things"})
        assert out["rows"] == [[1]]


async def test_require_readonly_role_refuses_superuser(demo_dsn: str) -> None:
    from vf_mcp.server import StartupRefused

    with pytest.raises(Exception) as err:
        async with mcp_client(demo_dsn, require_readonly_role=True) as client:
            await client.list_tools()
    chain = []
    exc: BaseException | None = err.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__ or (exc.exceptions[0] if isinstance(exc, BaseExceptionGroup) else None)
    assert any(isinstance(e, StartupRefused) for e in chain)
