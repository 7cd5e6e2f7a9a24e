"""The DBA tools on MariaDB: EXPLAIN FORMAT=JSON digests, health from status variables, performance_schema
statement digests; recommend_indexes says it is not available yet."""

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
        index = await call_error(client, "recommend_indexes", {})
    assert out["available"] is True
    want = await admin_sql(
        mariadb,
        "SELECT DIGEST, COUNT_STAR FROM performance_schema.events_statements_summary_by_digest "
        "WHERE SCHEMA_NAME = 'chinook' AND DIGEST_TEXT LIKE '%JOIN%Album%'",
    )
    got = {q["queryid"]: q["calls"] for q in out["queries"]}
    assert want and all(got.get(d) == n for d, n in want)
    assert "not available on MariaDB yet" in index
