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
