"""Known bypass payloads, run as a SUPERUSER through the MCP client: nothing may change.

After each payload a separate connection compares a fingerprint of the database: tables, row contents,
sequence values, large objects and the role/database settings.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import pytest
from helpers import call, call_error, mcp_client, sql

pytestmark = pytest.mark.anyio

SETUP = """
CREATE TABLE staff (id serial PRIMARY KEY, name text NOT NULL, email text);
INSERT INTO staff (name, email) SELECT 'person ' || g, 'p' || g || '@example.com' FROM generate_series(1, 20) g;
CREATE TABLE audit_log (id serial PRIMARY KEY, note text);
CREATE FUNCTION bump() RETURNS int LANGUAGE sql VOLATILE
  AS $$ INSERT INTO audit_log (note) VALUES ('x') RETURNING id $$;
CREATE FUNCTION harmless(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$;
"""

ATTACKS = [
    "COMMIT; DROP TABLE staff",
    "END; CREATE TABLE pwned(x int)",
    "SELECT 1; UPDATE staff SET email='x'",
    "ROLLBACK; BEGIN READ WRITE; DELETE FROM staff",
    "SET TRANSACTION READ WRITE",
    "SET default_transaction_read_only = off",
    "SELECT set_config('default_transaction_read_only','off',false)",
    "WITH d AS (DELETE FROM staff RETURNING *) SELECT * FROM d",
    "SELECT * INTO pwned FROM staff",
    "SELECT * FROM staff FOR UPDATE",
    "SELECT * FROM pg_read_file('/etc/passwd')",
    "SELECT pg_ls_dir('.')",
    "SELECT lo_import('/etc/passwd')",
    "COPY staff TO PROGRAM 'id'",
    "DO $$BEGIN EXECUTE 'DROP TABLE staff'; END$$",
    "SELECT nextval('staff_id_seq')",
    "SELECT query_to_xml('DELETE FROM staff RETURNING 1', true, true, '')",
    "/* x */ COMMIT; DROP TABLE staff",
    "CoMmIt; dRoP TaBlE staff",
    "-- comment\nDROP TABLE staff",
    "SELECT U&\"\\0070g_read_file\"('/etc/passwd')",
    "SELECT bump()",
    "SELECT public.bump()",
    "SELECT * FROM staff WHERE id = (SELECT bump())",
    "SELECT pg_catalog.setval('staff_id_seq', 1000)",
    "SELECT pg_advisory_lock(42)",
    "SELECT pg_terminate_backend(pg_backend_pid())",
    "EXPLAIN ANALYZE DELETE FROM staff",
    "CREATE TABLE pwned AS SELECT 1",
    "TRUNCATE staff",
    "ALTER SYSTEM SET statement_timeout = 0",
    "SELECT dblink_exec('dbname=x', 'DROP TABLE staff')",
    "PREPARE p AS DELETE FROM staff",
    "LOCK TABLE staff",
    "SELECT 1 FROM staff FOR SHARE",
    "VACUUM staff",
    "SELECT lo_from_bytea(0, 'x')",
    "SELECT pg_notify('c', 'x')",
]


async def fingerprint(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            "tables": await conn.fetch(
                "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1"
            ),
            "staff": await conn.fetchval("SELECT md5(string_agg(s::text, ',' ORDER BY id)) FROM staff s"),
            "audit": await conn.fetchval("SELECT count(*) FROM audit_log"),
            "seq": await conn.fetch("SELECT sequencename, last_value FROM pg_sequences ORDER BY 1"),
            "lo": await conn.fetchval("SELECT count(*) FROM pg_largeobject_metadata"),
            "settings": await conn.fetch(
                "SELECT setdatabase, setrole, setconfig::text FROM pg_db_role_setting ORDER BY 1, 2"
            ),
            "auto_conf": await conn.fetch("SELECT name, setting FROM pg_file_settings WHERE applied ORDER BY 1"),
        }
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def safety_dsn(pg) -> str:  # type: ignore[no-untyped-def]
    return str(pg.create_database("safety_test", SETUP))


async def test_attacks_change_nothing(safety_dsn: str) -> None:
    before = await fingerprint(safety_dsn)
    async with mcp_client(safety_dsn) as client:
        for payload in ATTACKS:
            text = await call_error(client, "run_query", {"sql": payload})
            assert "Refused" in text or "read-only" in text, (payload, text)
            assert await fingerprint(safety_dsn) == before, payload
        # the session is still healthy and still read-only afterwards
        ok = await call(client, "run_query", {"sql": "SHOW default_transaction_read_only"})
        assert ok["rows"] == [["on"]]
        harmless = await call(client, "run_query", {"sql": "SELECT harmless(21) AS x"})
        assert harmless["rows"] == [[42]]


async def test_refusals_name_the_rule(safety_dsn: str) -> None:
    async with mcp_client(safety_dsn) as client:
        two = await call_error(client, "run_query", {"sql": "SELECT 1; SELECT 2"})
        fn = await call_error(client, "run_query", {"sql": "SELECT * FROM pg_read_file('/etc/passwd')"})
        vol = await call_error(client, "run_query", {"sql": "SELECT bump()"})
        dml = await call_error(client, "run_query", {"sql": "DELETE FROM staff"})
    assert "one statement" in two
    assert "pg_read_file" in fn
    assert "bump" in vol
    assert "DELETE" in dml.upper()


async def test_read_only_transaction_stops_writes_the_guard_missed(safety_dsn: str) -> None:
    """Layer 3 on its own: even a VOLATILE writer that slipped past the guard cannot write."""
    from vf_mcp.db.pool import Database
    from vf_mcp.errors import PermissionDeniedError
    from vf_mcp.settings import Settings

    db = Database(Settings(dsn=safety_dsn))
    try:
        with pytest.raises(PermissionDeniedError, match="read-only"):
            async with db.read_only() as conn:
                await conn.fetchval("SELECT bump()")
    finally:
        await db.close()
    assert (await sql(safety_dsn, "SELECT count(*) AS n FROM audit_log"))[0]["n"] == 0


async def test_session_changes_do_not_survive_release(safety_dsn: str) -> None:
    """Even if a call managed to SET something, the pool resets the connection on release."""
    from vf_mcp.db.pool import Database
    from vf_mcp.settings import Settings

    db = Database(Settings(dsn=safety_dsn, pool_min_size=1, pool_max_size=1, statement_timeout_ms=5000))
    try:
        async with db.read_only() as conn:
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            await conn.fetchval("SELECT set_config('default_transaction_read_only', 'off', false)")
            await conn.fetchval("SELECT set_config('statement_timeout', '0', false)")
        async with db.read_only() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == pid  # the same pooled session
            assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
            assert await conn.fetchval("SHOW statement_timeout") == "5s"
    finally:
        await db.close()


async def test_timeouts_cancel_server_side(safety_dsn: str) -> None:
    async with mcp_client(safety_dsn, statement_timeout_ms=1000) as client:
        for payload in (
            "SELECT pg_sleep(60)",
            "SELECT count(*) FROM generate_series(1, 30000) a, generate_series(1, 30000) b",
        ):
            started = time.perf_counter()
            text = await call_error(client, "run_query", {"sql": payload})
            elapsed = time.perf_counter() - started
            assert elapsed < 3.0, (payload, elapsed)
            assert "1000 ms" in text and "statement timeout" in text and "VF_MCP_STATEMENT_TIMEOUT_MS" in text
            await asyncio.sleep(0.2)
            left = await sql(
                safety_dsn,
                "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query = $1",
                payload,
            )
            assert left[0]["n"] == 0, payload
        ok = await call(client, "run_query", {"sql": "SELECT count(*) FROM staff"})
        assert ok["rows"] == [[20]]


async def test_per_call_timeout_only_lowers(safety_dsn: str) -> None:
    async with mcp_client(safety_dsn, statement_timeout_ms=2000) as client:
        started = time.perf_counter()
        text = await call_error(client, "run_query", {"sql": "SELECT pg_sleep(5)", "timeout_ms": 300})
        assert time.perf_counter() - started < 1.5 and "300 ms" in text
        text = await call_error(client, "run_query", {"sql": "SELECT pg_sleep(5)", "timeout_ms": 60000})
        assert "2000 ms" in text
