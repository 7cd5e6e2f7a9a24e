"""vf-mcp's own statements are described once and then run in one round trip (Database.shapes).

Checked on a real server: the remembered form gives the same rows as a hand-written query, and a schema change
under a remembered statement (a column's type changed from a separate connection) is noticed and the
statement described afresh, never answered with the old form.
"""

from __future__ import annotations

import asyncpg
import pytest

from tests.conftest import PgCluster
from vf_mcp.db.pool import Database
from vf_mcp.db.runner import fetch_converted
from vf_mcp.settings import Settings

pytestmark = pytest.mark.anyio

SETUP = """
CREATE TABLE shape_t (id int PRIMARY KEY, v text);
INSERT INTO shape_t SELECT g, 'v' || (g % 3) FROM generate_series(1, 30) g;
"""
SQL = 'SELECT "v", count(*) AS "n" FROM "public"."shape_t" GROUP BY "v" ORDER BY "v"'


@pytest.fixture(scope="module")
def dsn(pg: PgCluster) -> str:
    return pg.create_database("shapes_test", SETUP)


async def _hand(dsn: str, sql: str) -> list[list[object]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [list(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def test_a_remembered_statement_gives_the_same_rows(dsn: str) -> None:
    db = Database(Settings(dsn=dsn, pool_max_size=1))
    try:
        want = await _hand(dsn, "SELECT v, count(*) FROM shape_t GROUP BY v ORDER BY v")
        cols, first, _ = await fetch_converted(db, SQL)
        assert db.shapes.get(SQL) is not None
        for _ in range(3):
            again_cols, again, _ = await fetch_converted(db, SQL)
            assert again == first and again_cols == cols
        assert first == want and [c.name for c in cols] == ["v", "n"]
    finally:
        await db.close()


async def test_a_type_change_under_a_remembered_statement_is_noticed(dsn: str) -> None:
    db = Database(Settings(dsn=dsn, pool_max_size=1))
    admin = await asyncpg.connect(dsn)
    sql = 'SELECT "id", "v" FROM "public"."shape_t" WHERE "id" <= 3 ORDER BY "id"'
    try:
        cols, rows, _ = await fetch_converted(db, sql)
        assert [c.type for c in cols] == ["integer", "text"] and rows[0] == [1, "v1"]
        await admin.execute("ALTER TABLE shape_t ALTER COLUMN v TYPE int USING length(v)")
        cols, rows, _ = await fetch_converted(db, sql)  # the text-cutting form no longer applies
        assert [c.type for c in cols] == ["integer", "integer"]
        want = await _hand(dsn, "SELECT id, v FROM shape_t WHERE id <= 3 ORDER BY id")
        assert rows == want == [[1, 2], [2, 2], [3, 2]]
        await admin.execute("ALTER TABLE shape_t ALTER COLUMN v TYPE text USING 'w' || v")
        cols, rows, _ = await fetch_converted(db, sql)
        assert [c.type for c in cols] == ["integer", "text"] and rows[0] == [1, "w2"]
    finally:
        await admin.execute("ALTER TABLE shape_t ALTER COLUMN v TYPE text USING v::text")
        await admin.close()
        await db.close()


async def test_without_a_schema_cache_nothing_is_remembered(dsn: str) -> None:
    db = Database(Settings(dsn=dsn, schema_cache_ttl_s=0))
    try:
        await fetch_converted(db, SQL)
        assert db.shapes.get(SQL) is None
    finally:
        await db.close()


async def test_run_query_remembers_named_columns_and_notices_schema_changes(dsn: str) -> None:
    """A model's statement with named columns runs in its remembered form (one round trip); a type change under
    it is noticed and the answer follows the new schema; a `*` statement is never remembered, so a new column
    shows at once."""
    from helpers import call, mcp_client

    admin = await asyncpg.connect(dsn)
    await admin.execute("DROP TABLE IF EXISTS rq_t; CREATE TABLE rq_t (id int PRIMARY KEY, v text)")
    await admin.execute("INSERT INTO rq_t VALUES (1, 'a'), (2, 'bb')")
    named = "SELECT id, v FROM rq_t ORDER BY id"
    star = "SELECT * FROM rq_t ORDER BY id"
    try:
        async with mcp_client(dsn, query_cache_ttl_s=0) as client:
            for _ in range(3):
                out = await call(client, "run_query", {"sql": named})
                assert out["rows"] == [[1, "a"], [2, "bb"]]
                assert [c["type"] for c in out["columns"]] == ["integer", "text"]
            await call(client, "run_query", {"sql": star})
            await admin.execute("ALTER TABLE rq_t ALTER COLUMN v TYPE int USING length(v)")
            await admin.execute("ALTER TABLE rq_t ADD COLUMN w date DEFAULT '2026-01-02'")
            out = await call(client, "run_query", {"sql": named})
            want = [list(r) for r in await admin.fetch(named)]
            assert out["rows"] == want == [[1, 1], [2, 2]]
            assert [c["type"] for c in out["columns"]] == ["integer", "integer"]
            out = await call(client, "run_query", {"sql": star})
            assert [c["name"] for c in out["columns"]] == ["id", "v", "w"]
            assert out["rows"] == [[1, 1, "2026-01-02"], [2, 2, "2026-01-02"]]
            bad = await client.call_tool("run_query", {"sql": "SELECT id / (id - 1) AS q FROM rq_t ORDER BY id"})
            assert bad.is_error and "division by zero" in bad.content[0].text  # type: ignore[union-attr]
    finally:
        await admin.execute("DROP TABLE IF EXISTS rq_t")
        await admin.close()


async def test_remembered_forms_keep_every_value_whole(dsn: str) -> None:
    """The cast that pins a remembered form never changes a value: bit(n), char(n), arrays, records, numeric
    with a scale, timestamps with a precision, enums and domains come back as on the first, described run."""
    from helpers import call, mcp_client

    admin = await asyncpg.connect(dsn)
    await admin.execute("DROP TYPE IF EXISTS rq_mood; CREATE TYPE rq_mood AS ENUM ('ok', 'meh')")
    sql_text = (
        "SELECT B'101'::bit(3) AS b, 'abc'::char(3) AS c, ARRAY[1, 2] AS a, ARRAY['x', 'y'] AS t, (1, 'z') AS r, "
        "12.345::numeric(6, 3) AS n, '2026-01-02 03:04:05.678'::timestamp(1) AS ts, 'meh'::rq_mood AS m, "
        "'1 day'::interval AS i, 'x'::\"char\" AS ch"
    )
    try:
        async with mcp_client(dsn, query_cache_ttl_s=0) as client:
            first = await call(client, "run_query", {"sql": sql_text})
            for _ in range(2):
                again = await call(client, "run_query", {"sql": sql_text})
                assert again["rows"] == first["rows"] and again["columns"] == first["columns"]
            row = first["rows"][0]
            assert row[0] == "101" and row[1] == "abc" and row[2] == [1, 2] and row[7] == "meh"
    finally:
        await admin.execute("DROP TYPE IF EXISTS rq_mood")
        await admin.close()
