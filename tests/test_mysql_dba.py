"""The DBA tools on MariaDB: EXPLAIN FORMAT=JSON digests, health from status variables, performance_schema
statement digests; recommend_indexes estimates gains (tests/test_mysql_index_gain.py)."""

from __future__ import annotations

import pytest

from tests.helpers import call, call_error, mcp_client
from tests.mysql_server import MariaDb, admin_sql

pytestmark = pytest.mark.anyio


async def test_explain_finds_the_full_scan(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    sql = "SELECT * FROM Track WHERE Composer = $1"
    async with mcp_client(chinook_mysql_dsn) as client:
        plain = await call(client, "explain_query", {"sql": sql, "params": ["AC/DC"]})
        analyzed = await call(client, "explain_query", {"sql": "SELECT * FROM Track WHERE Composer = 'AC/DC'",
                                                        "analyze": True})  # fmt: skip
        keyed = await call(client, "explain_query", {"sql": "SELECT * FROM Track WHERE TrackId = 5"})
        refused = await call_error(client, "explain_query", {"sql": "SELECT LOAD_FILE('/etc/passwd')"})
    (rows,) = (await admin_sql(mariadb, "SELECT COUNT(*) FROM Track", "chinook"))[0]
    (scan,) = [i for i in plain["issues"] if i["check"] == "full_table_scan"]
    assert scan["object"] == "Track" and scan["evidence"]["rows"] >= rows * 0.5
    assert plain["top_nodes"][0]["node"] == "ALL on Track"
    assert analyzed["analyzed"] is True and analyzed["top_nodes"][0]["rows_actual"] == rows
    matched = (await admin_sql(mariadb, "SELECT COUNT(*) FROM Track WHERE Composer = 'AC/DC'", "chinook"))[0][0]
    assert analyzed["execution_time_ms"] is not None and matched >= 0
    assert keyed["issues"] == [] and keyed["top_nodes"][0]["node"].startswith("const on Track")
    assert "Refused" in refused


async def test_health_from_status_variables(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    await admin_sql(mariadb, "DROP TABLE IF EXISTS no_key", "chinook")
    await admin_sql(mariadb, "CREATE TABLE no_key (a INT)", "chinook")
    async with mcp_client(chinook_mysql_dsn) as client:
        report = await call(client, "check_database_health", {})
    (limit,) = (await admin_sql(mariadb, "SELECT @@max_connections"))[0]
    assert report["checks"]["connections"].split(" of ")[1].startswith(str(limit))
    assert any(f["check"] == "no_primary_key" and f["object"] == "chinook.no_key" for f in report["findings"])
    assert report["status"] in ("ok", "warning", "critical")


async def test_slow_queries_from_performance_schema(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    for _ in range(3):
        await admin_sql(mariadb, "SELECT COUNT(*) FROM Track t JOIN Album a USING (AlbumId)", "chinook")
    async with mcp_client(chinook_mysql_dsn) as client:
        out = await call(client, "get_slow_queries", {"sort_by": "calls", "limit": 100})
    assert out["available"] is True
    want = await admin_sql(
        mariadb,
        "SELECT DIGEST, COUNT_STAR FROM performance_schema.events_statements_summary_by_digest "
        "WHERE SCHEMA_NAME = 'chinook' AND DIGEST_TEXT LIKE '%JOIN%Album%'",
    )
    got = {q["queryid"]: q["calls"] for q in out["queries"]}
    assert want and all(got.get(d) == n for d, n in want)


async def test_recommend_indexes(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    await admin_sql(mariadb, "DROP TABLE IF EXISTS dup_ix", "chinook")
    await admin_sql(mariadb, "CREATE TABLE dup_ix (id INT PRIMARY KEY, a INT, KEY a1 (a), KEY a2 (a))", "chinook")
    queries = [
        "SELECT * FROM Track WHERE Composer = 'AC/DC' AND Milliseconds > 1000",
        "SELECT * FROM Track t JOIN Album a ON a.AlbumId = t.AlbumId WHERE t.AlbumId = 1",
        "SELECT LOAD_FILE('/etc/passwd')",
    ]
    async with mcp_client(chinook_mysql_dsn) as client:
        out = await call(client, "recommend_indexes", {"queries": queries})
    assert [(c["table"], c["columns"]) for c in out["create"]] == [("Track", ["Composer", "Milliseconds"])]
    assert (
        out["create"][0]["statement"]
        == "ALTER TABLE `Track` ADD INDEX `ix_Track_Composer_Milliseconds` (`Composer`, `Milliseconds`)"
    )
    assert any("LOAD_FILE" in s for s in out["skipped"]) and out["queries_analyzed"] == 2
    (has_sys,) = (
        await admin_sql(mariadb, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'sys'")
    )[0]
    if has_sys:
        want = await admin_sql(
            mariadb,
            "SELECT table_name, redundant_index_name FROM sys.schema_redundant_indexes WHERE table_schema = 'chinook'",
        )
        got = {(d["table"], d["index"]) for d in out["drop"] if d["kind"] == "duplicate"}
        assert got == {(t, i) for t, i in want} and ("dup_ix", "a2") in got | {("dup_ix", "a1")}
    else:
        assert any("sys schema" in s for s in out["skipped"])
