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
