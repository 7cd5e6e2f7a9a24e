"""The tools on MySQL/MariaDB (a real MariaDB from tests/mysql_server.py, Chinook loaded): every number is
compared with a hand-written query on a separate admin connection."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from tests.helpers import call, call_error, mcp_client
from tests.mysql_server import MariaDb, admin_sql

pytestmark = pytest.mark.anyio


async def test_run_query_matches_independent_sql(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    sql = (
        "SELECT g.Name AS genre, COUNT(*) AS tracks, SUM(t.UnitPrice) AS revenue FROM Track t "
        "JOIN Genre g ON g.GenreId = t.GenreId GROUP BY g.Name ORDER BY tracks DESC, genre"
    )
    async with mcp_client(chinook_mysql_dsn) as client:
        out = await call(client, "run_query", {"sql": sql, "limit": 5})
    want = await admin_sql(mariadb, sql + " LIMIT 5", "chinook")
    assert [c["name"] for c in out["columns"]] == ["genre", "tracks", "revenue"]
    assert out["columns"][1]["type"] == "bigint"
    assert out["rows"] == [[g, n, float(r)] for g, n, r in want]
    assert out["truncated"] is True and out["next_offset"] == 5
    assert [Decimal(str(r[2])) for r in out["rows"]] == [r for _, _, r in want]  # DECIMAL exact


async def test_paging_and_params(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    sql = "SELECT TrackId, Name FROM Track WHERE AlbumId = $1 AND Milliseconds > ? ORDER BY TrackId"
    async with mcp_client(chinook_mysql_dsn) as client:
        first = await call(client, "run_query", {"sql": sql.replace("?", "$2"), "params": [1, 200000], "limit": 3})
        second = await call(
            client, "run_query", {"sql": sql.replace("?", "$2"), "params": [1, 200000], "limit": 3, "offset": 3}
        )
        mixed = await call_error(client, "run_query", {"sql": sql, "params": [1, 2]})
        tricky = await call(
            client, "run_query", {"sql": "SELECT COUNT(*) FROM Artist WHERE Name = $1", "params": ["AC/DC' OR '1'='1"]}
        )
    want = await admin_sql(
        mariadb,
        "SELECT TrackId, Name FROM Track WHERE AlbumId = 1 AND Milliseconds > 200000 ORDER BY TrackId",
        "chinook",
    )
    assert [tuple(r) for r in first["rows"] + second["rows"]] == [tuple(r) for r in want[:6]]
    assert "placeholders" in mixed
    assert tricky["rows"] == [[0]]  # a value is a value, never SQL


async def test_types(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    await admin_sql(mariadb, "DROP TABLE IF EXISTS typed", "chinook")
    await admin_sql(
        mariadb,
        "CREATE TABLE typed (id INT PRIMARY KEY, u BIGINT UNSIGNED, b BIT(5), j JSON, bl BLOB, "
        "d DECIMAL(30,10), dt DATETIME(6), ts TIMESTAMP(3) NULL, da DATE, ti TIME, y YEAR, e ENUM('a','b'))",
        "chinook",
    )

    await admin_sql(
        mariadb,
        "INSERT INTO typed VALUES (1, 18446744073709551615, b'10101', '{\"a\": [1, 2.5]}', x'00ff10', "
        "12345678901234567890.0123456789, '2024-01-02 03:04:05.123456', '2024-06-01 12:00:00.500', "
        "'2024-02-29', '-838:59:59', 2024, 'b')",
        "chinook",
    )
    async with mcp_client(chinook_mysql_dsn) as client:
        out = await call(client, "run_query", {"sql": "SELECT * FROM typed"})
        zero = await call(client, "run_query", {"sql": "SELECT CAST('0000-00-00' AS CHAR) AS z, 0.1e0 AS f"})
    types = {c["name"]: c["type"] for c in out["columns"]}
    row = dict(zip(types, out["rows"][0], strict=True))
    assert types["u"] == "bigint unsigned" and row["u"] == 18446744073709551615
    assert row["b"] == "10101"
    assert row["bl"] == base64.b64encode(b"\x00\xff\x10").decode()
    assert row["d"] == "12345678901234567890.0123456789" and "exact decimal" in types["d"]
    assert row["dt"] == "2024-01-02T03:04:05.123456"  # DATETIME has no zone
    assert row["ts"] == "2024-06-01T12:00:00.500000+00:00"  # TIMESTAMP: in the session zone, stated
    assert row["da"] == "2024-02-29" and row["ti"] == "-838:59:59" and row["y"] == 2024 and row["e"] == "b"
    assert row["j"] in ({"a": [1, 2.5]}, '{"a": [1, 2.5]}')  # MariaDB's JSON is LONGTEXT: text
    assert zero["rows"] == [["0000-00-00", 0.1]]


async def test_list_tables_and_overview(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    async with mcp_client(chinook_mysql_dsn) as client:
        listed = await call(client, "list_tables", {})
        overview = await call(client, "get_database_overview", {})
    want = await admin_sql(
        mariadb,
        "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'chinook' ORDER BY 1",
    )
    assert [(t["schema_name"], t["name"], t["row_estimate"]) for t in listed["tables"]] == [
        ("chinook", n, r) for n, r in want
    ]
    size = await admin_sql(
        mariadb,
        "SELECT SUM(DATA_LENGTH + INDEX_LENGTH), VERSION() FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = 'chinook'",
    )
    assert overview["database"] == "chinook" and overview["total_tables"] == len(want)
    assert overview["total_size_bytes"] == int(size[0][0]) and overview["server_version"] == size[0][1]
    assert "MariaDB" in overview["message"]
    assert overview["role_safety"]["read_only"] is False  # the admin user: the warning names it


async def test_table_schema_keys_both_ways(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    async with mcp_client(chinook_mysql_dsn) as client:
        album = await call(client, "get_table_schema", {"table_name": "album"})
        missing = await call_error(client, "get_table_schema", {"table_name": "Albun"})
    cols = await admin_sql(
        mariadb,
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = 'chinook' AND TABLE_NAME = 'Album' ORDER BY ORDINAL_POSITION",
    )
    assert [(c["name"], c["type"], c["nullable"]) for c in album["columns"]] == [
        (n, t, nl == "YES") for n, t, nl in cols
    ]
    assert album["primary_key"] == ["AlbumId"]
    assert [(f["columns"], f["ref_table"], f["ref_columns"]) for f in album["foreign_keys"]] == [
        (["ArtistId"], "chinook.Artist", ["ArtistId"])
    ]
    refs = await admin_sql(
        mariadb,
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = 'chinook' "
        "AND REFERENCED_TABLE_NAME = 'Album' ORDER BY 1",
    )
    assert [(f["table"], f["columns"]) for f in album["referenced_by"]] == [(f"chinook.{t}", [c]) for t, c in refs]
    idx = await admin_sql(
        mariadb,
        "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'chinook' "
        "AND TABLE_NAME = 'Album' ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME",
    )
    assert [i["name"] for i in album["indexes"]] == [n for (n,) in idx]
    assert "Album" in missing


async def test_comments(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    await admin_sql(mariadb, "DROP TABLE IF EXISTS commented", "chinook")
    await admin_sql(
        mariadb,
        "CREATE TABLE commented (id INT PRIMARY KEY COMMENT 'the key', v VARCHAR(5) UNIQUE) COMMENT 'a table'",
        "chinook",
    )
    async with mcp_client(chinook_mysql_dsn) as client:
        out = await call(client, "get_table_schema", {"table_name": "chinook.commented"})
    assert out["comment"] == "a table" and out["columns"][0]["comment"] == "the key"
    assert [u["columns"] for u in out["unique_constraints"]] == [["v"]]


async def test_table_stats(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    async with mcp_client(chinook_mysql_dsn) as client:
        stats = await call(client, "get_table_stats", {"table_name": "Track"})
    by = {c["name"]: c for c in stats["columns"]}
    (n, comp_nulls, distinct_album, mn, mx, avg, sd) = (
        await admin_sql(
            mariadb,
            "SELECT COUNT(*), SUM(Composer IS NULL), COUNT(DISTINCT AlbumId), MIN(Milliseconds), MAX(Milliseconds), "
            "AVG(Milliseconds), STDDEV_SAMP(Milliseconds) FROM Track",
            "chinook",
        )
    )[0]
    assert stats["row_count"] == n and stats["exact"] is True
    assert by["Composer"]["null_count"] == comp_nulls
    assert by["AlbumId"]["distinct_count"] == distinct_album
    assert by["Milliseconds"]["min"] == mn and by["Milliseconds"]["max"] == mx
    assert by["Milliseconds"]["avg"] == pytest.approx(float(avg))
    assert by["Milliseconds"]["stddev"] == pytest.approx(float(sd))
    ms = sorted(r[0] for r in await admin_sql(mariadb, "SELECT Milliseconds FROM Track", "chinook"))
    median = (ms[(len(ms) - 1) // 2] + ms[len(ms) // 2]) / 2
    assert by["Milliseconds"]["median"] == pytest.approx(median)
    top = await admin_sql(
        mariadb, "SELECT GenreId, COUNT(*) FROM Track GROUP BY GenreId ORDER BY 2 DESC, 1 LIMIT 1", "chinook"
    )
    assert by["GenreId"]["most_common"][0]["count"] == top[0][1]
    assert len(stats["sample_rows"]["rows"]) > 0


async def test_migration_tools_compare_chinook_with_itself(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    """compare_schemas and validate_migration work on MariaDB (they once refused): the database against itself."""
    from vf_mcp.settings import Source

    sources = (Source(name="a", dsn=chinook_mysql_dsn, default=True), Source(name="b", dsn=chinook_mysql_dsn))
    async with mcp_client(chinook_mysql_dsn, sources=sources) as client:
        schema = await call(client, "compare_schemas", {"source": "a", "target": "b"})
        data = await call(client, "validate_migration", {"source": "a", "target": "b", "tables": ["Track", "Genre"]})
    assert schema["identical"] is True and schema["differences"] == []
    by = {t["table"]: t for t in data["tables"]}
    ((tracks,),) = await admin_sql(mariadb, "SELECT COUNT(*) FROM Track", "chinook")
    assert by["chinook.Track"]["status"] == "ok" and by["chinook.Track"]["source_rows"] == tracks
    assert by["chinook.Genre"]["status"] == "ok" and data["summary"] == {"ok": 2}


async def test_explain_show_describe(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    async with mcp_client(chinook_mysql_dsn) as client:
        explained = await call(
            client, "run_query", {"sql": "SELECT * FROM Track WHERE AlbumId = 1", "explain": True, "limit": 2}
        )
        shown = await call(client, "run_query", {"sql": "SHOW TABLES"})
        described = await call(client, "run_query", {"sql": "DESCRIBE Album"})
        paged = await call(client, "run_query", {"sql": "SHOW TABLES", "limit": 2, "offset": 2})
    plan = explained["query_plan"]["query_block"]
    assert "Track" in str(plan) and "select_id" in plan  # MySQL's EXPLAIN FORMAT=JSON, as the server gives it
    tables = await admin_sql(mariadb, "SHOW TABLES", "chinook")
    assert [r[0] for r in shown["rows"]] == [t for (t,) in tables]
    assert [r[0] for r in paged["rows"]] == [t for (t,) in tables[2:4]]
    assert [r[0] for r in described["rows"]] == ["AlbumId", "Title", "ArtistId"]


async def test_relationships_declared_and_inferred(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    await admin_sql(mariadb, "DROP TABLE IF EXISTS review", "chinook")
    await admin_sql(mariadb, "CREATE TABLE review (ReviewId INT PRIMARY KEY, TrackId INT, Stars INT)", "chinook")
    await admin_sql(mariadb, "INSERT INTO review VALUES (1, 1, 5), (2, 2, 4), (3, 99999, 1)", "chinook")
    async with mcp_client(chinook_mysql_dsn) as client:
        whole = await call(client, "get_table_relationships", {})
        review = await call(client, "get_table_relationships", {"table_name": "review"})
        path = await call(client, "get_table_relationships", {"table_name": "InvoiceLine", "to_table": "Genre"})
    declared = await admin_sql(
        mariadb,
        "SELECT TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME "
        "FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = 'chinook' AND REFERENCED_TABLE_NAME IS NOT NULL",
    )
    got = {
        (e["table"], e["columns"][0], e["ref_table"], e["ref_columns"][0])
        for e in whole["edges"]
        if e["kind"] == "declared"
    }
    assert got == {(f"chinook.{t}", c, f"chinook.{rt}", rc) for t, c, rt, rc in declared}
    (inferred,) = [e for e in review["edges"] if e["kind"] == "inferred"]
    assert (inferred["table"], inferred["columns"], inferred["ref_table"]) == (
        "chinook.review",
        ["TrackId"],
        "chinook.Track",
    )
    assert inferred["orphans"] == 1 and inferred["coverage"] == pytest.approx(2 / 3, abs=0.01)
    assert path["paths"] and "Genre" in str(path["paths"][0])


async def test_pii_masked_by_column_name(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    async with mcp_client(chinook_mysql_dsn, pii_mode="mask") as client:
        out = await call(
            client, "run_query", {"sql": "SELECT CustomerId, Email, Phone FROM Customer ORDER BY 1 LIMIT 3"}
        )
    emails = [
        e for (e,) in await admin_sql(mariadb, "SELECT Email FROM Customer ORDER BY CustomerId LIMIT 3", "chinook")
    ]
    assert [r[0] for r in out["rows"]] == [1, 2, 3]
    assert all(r[1] != e and "@" in str(r[1]) and "*" in str(r[1]) for r, e in zip(out["rows"], emails, strict=True))


async def test_trailing_semicolon_and_comment(chinook_mysql_dsn: str) -> None:
    async with mcp_client(chinook_mysql_dsn) as client:
        out = await call(client, "run_query", {"sql": "SELECT COUNT(*) AS n FROM Genre; -- all genres"})
    assert out["rows"] == [[25]]
