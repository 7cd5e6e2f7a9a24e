"""The read-only guarantee on MariaDB, attacked as a privileged user (ALL PRIVILEGES WITH GRANT OPTION).

Every payload goes through the MCP client's run_query (the model's path); what it would have changed is
then read from a separate admin connection: tables, files, global variables, accounts, plugins, named
locks, XA transactions, and the next call's session state on the same pooled connection. The session
layer (reset on release, read-only transactions, time limit, KILL QUERY backstop) is also attacked
directly, as if the guard had let a statement through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import call, call_error, mcp_client, settings_for
from tests.mysql_server import MariaDb, admin_sql
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.errors import QueryTimeoutError

pytestmark = pytest.mark.anyio

PAYLOADS = {
    "stacked": "SELECT 1; DROP TABLE Genre",
    "stacked_after_comment": "SELECT 1 -- x\n; CREATE TABLE pwned (a int)",
    "executable_comment": "SELECT 1 /*!50000 , (SELECT GET_LOCK('vf_attack', 0)) */",
    "mariadb_executable_comment": "SELECT 1 /*M!100000 , SLEEP(5) */",
    "whole_executable": "/*!50000 CREATE TABLE pwned (a int) */",
    "optimizer_hint": "SELECT /*+ MAX_EXECUTION_TIME(0) */ COUNT(*) FROM Track",
    "into_outfile": "SELECT * FROM Genre INTO OUTFILE '{files}/out.txt'",
    "into_dumpfile": "SELECT 'x' INTO DUMPFILE '{files}/dump.bin'",
    "into_var": "SELECT COUNT(*) INTO @n FROM Track",
    "load_file": "SELECT LOAD_FILE('/etc/passwd')",
    "load_data": "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE Genre",
    "set_global": "SET GLOBAL max_connections = 3",
    "set_session": "SET SESSION max_statement_time = 0",
    "set_statement": "SET STATEMENT max_statement_time=0 FOR SELECT COUNT(*) FROM Track a, Track b",
    "use": "USE mysql",
    "set_names": "SET NAMES latin1",
    "user_variable": "SELECT @x := 42",
    "user_variable_read": "SELECT @@global.secure_file_priv",
    "temporary_table": "CREATE TEMPORARY TABLE Track (TrackId int)",
    "get_lock": "SELECT GET_LOCK('vf_attack', 0)",
    "get_lock_hidden": "SELECT Name FROM Genre WHERE GET_LOCK('vf_attack', 0) = 1",
    "handler": "HANDLER Genre OPEN",
    "kill": "KILL CONNECTION_ID()",
    "xa": "XA START 'vf_attack'",
    "ddl": "CREATE TABLE pwned (a int)",
    "drop": "DROP TABLE Genre",
    "grant": "GRANT ALL ON *.* TO 'evil'@'%' IDENTIFIED BY 'x'",
    "create_user": "CREATE USER 'evil'@'%'",
    "install_plugin": "INSTALL SONAME 'ha_blackhole'",
    "call": "CALL mysql.nothing()",
    "do": "DO SLEEP(1)",
    "for_update": "SELECT * FROM Genre FOR UPDATE",
    "lock_in_share_mode": "SELECT * FROM Genre LOCK IN SHARE MODE",
    "lock_tables": "LOCK TABLES Genre WRITE",
    "sleep": "SELECT SLEEP(3)",
    "benchmark": "SELECT BENCHMARK(100000000, MD5('x'))",
    "insert": "INSERT INTO Genre VALUES (999, 'pwned')",
    "insert_select": "WITH x AS (SELECT 1) INSERT INTO Genre SELECT 998, 'pwned'",
    "system_schema": "SELECT User, Password FROM mysql.user",
    "processlist": "SELECT * FROM information_schema.PROCESSLIST",
    "prepare": "PREPARE s FROM 'DROP TABLE Genre'",
    "shutdown": "SHUTDOWN",
    "flush": "FLUSH PRIVILEGES",
    "analyze": "ANALYZE TABLE Genre",
    "nextval": "SELECT NEXTVAL(s)",
    "explain_analyze": "EXPLAIN ANALYZE SELECT SLEEP(1)",
    "show_processlist": "SHOW FULL PROCESSLIST",
}


async def _state(server: MariaDb) -> dict[str, Any]:
    """Everything an attack could change, read from a separate admin connection."""
    tables = await admin_sql(
        server, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'chinook' ORDER BY 1"
    )
    genres = await admin_sql(server, "SELECT COUNT(*), MAX(GenreId) FROM Genre", "chinook")
    users = await admin_sql(server, "SELECT User, Host FROM mysql.user ORDER BY 1, 2")
    plugins = await admin_sql(server, "SELECT PLUGIN_NAME FROM information_schema.PLUGINS ORDER BY 1")
    variables = await admin_sql(
        server,
        "SELECT @@global.max_connections, @@global.max_statement_time, @@global.general_log, @@global.read_only",
    )
    lock = await admin_sql(server, "SELECT IS_FREE_LOCK('vf_attack')")
    xa = await admin_sql(server, "XA RECOVER")
    return {
        "tables": tables,
        "genres": genres,
        "users": users,
        "plugins": plugins,
        "variables": variables,
        "lock": lock,
        "xa": xa,
        "files": sorted(p.name for p in server.files_dir.iterdir()) if server.files_dir.exists() else [],
    }


async def test_every_payload_refused_and_nothing_changed(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    before = await _state(mariadb)
    async with mcp_client(chinook_mysql_dsn, pool_max_size=1) as client:
        for name, payload in PAYLOADS.items():
            text = await call_error(client, "run_query", {"sql": payload.format(files=mariadb.files_dir)})
            assert "Refused:" in text or "Permission denied" in text, (name, text)
            assert "Traceback" not in text
        # the next call on the same (only) pooled connection sees the database as it was
        after_calls = await call(
            client,
            "run_query",
            {"sql": "SELECT DATABASE() AS db, (SELECT COUNT(*) FROM Track) AS tracks, CHARSET('x') AS cs"},
        )
    assert after_calls["rows"] == [["chinook", 3503, "utf8mb4"]]
    assert await _state(mariadb) == before


@pytest.fixture
async def one_connection(chinook_mysql_dsn: str) -> AsyncIterator[MySqlDatabase]:
    db = MySqlDatabase(settings_for(chinook_mysql_dsn, pool_max_size=1, statement_timeout_ms=1500))
    try:
        yield db
    finally:
        await db.close()


async def _raw(db: MySqlDatabase, sql: str) -> list[tuple[Any, ...]]:
    """Run `sql` on the pooled session as if the guard had let it through (the session layer alone)."""
    async with db.connection() as conn:
        cur = conn.cursor()
        await cur.execute(sql)
        return list(await cur.fetchall() or ())


async def test_session_state_never_reaches_the_next_call(one_connection: MySqlDatabase, mariadb: MariaDb) -> None:
    db = one_connection
    (first,) = await _raw(db, "SELECT CONNECTION_ID()")
    # state statements could leave behind if they got past the guard, all in one call
    async with db.connection() as conn:
        cur = conn.cursor()
        for statement in (
            "SET @x = 42",
            "SET SESSION max_statement_time = 0",
            "SET NAMES latin1",
            "SET SESSION TRANSACTION READ WRITE",
            "CREATE TEMPORARY TABLE Track (TrackId int)",  # shadows the real table
            "USE mysql",
            "SELECT GET_LOCK('vf_attack', 0)",
        ):
            await cur.execute(statement)
        assert (await admin_sql(mariadb, "SELECT IS_FREE_LOCK('vf_attack')"))[0][0] == 0  # held until reset...
    rows = await _raw(
        db,
        "SELECT CONNECTION_ID(), @x, @@session.max_statement_time, @@character_set_client, @@session.tx_read_only, "
        "DATABASE(), (SELECT COUNT(*) FROM Track)",
    )
    assert rows == [(first[0], None, 1.5, "utf8mb4", 1, "chinook", 3503)]  # same connection, reset
    assert (await admin_sql(mariadb, "SELECT IS_FREE_LOCK('vf_attack')"))[0][0] == 1  # ...released by the reset


async def test_session_layer_refuses_writes_even_unguarded(one_connection: MySqlDatabase, mariadb: MariaDb) -> None:
    db = one_connection
    for statement in ("INSERT INTO Genre VALUES (997, 'x')", "UPDATE Genre SET Name = 'x'", "DELETE FROM Genre"):
        with pytest.raises(Exception, match=r"READ ONLY|read only|1792"):
            await _raw(db, statement)
    with pytest.raises(Exception, match="syntax"):  # multi-statements are off in the handshake
        await _raw(db, "SELECT 1; SELECT 2")
    with pytest.raises(Exception):  # noqa: B017  LOAD DATA LOCAL is off in the handshake and the driver
        await _raw(db, "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE Genre")
    assert (await admin_sql(mariadb, "SELECT COUNT(*) FROM Genre", "chinook"))[0][0] == 25


async def test_xa_transaction_does_not_survive(one_connection: MySqlDatabase, mariadb: MariaDb) -> None:
    await _raw(one_connection, "XA START 'vf_attack'")
    assert await _raw(one_connection, "SELECT 1") == [(1,)]
    assert await admin_sql(mariadb, "XA RECOVER") == []


async def _ours_running(server: MariaDb) -> list[tuple[Any, ...]]:
    return await admin_sql(
        server,
        "SELECT ID, INFO FROM information_schema.PROCESSLIST WHERE INFO LIKE '%Track a, Track b%' "
        "AND INFO NOT LIKE '%PROCESSLIST%'",
    )


CPU_QUERY = "SELECT COUNT(*) FROM Track a, Track b, Track c WHERE a.Milliseconds + b.Bytes > c.Milliseconds"


async def test_long_cpu_query_stopped_by_the_time_limit(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    async with mcp_client(chinook_mysql_dsn, statement_timeout_ms=800) as client:
        text = await call_error(client, "run_query", {"sql": CPU_QUERY})
        assert "time limit" in text
        assert (await call(client, "run_query", {"sql": "SELECT 1 AS one"}))["rows"] == [[1]]
    assert await _ours_running(mariadb) == []


async def test_backstop_kills_the_query_when_the_server_limit_fails(
    one_connection: MySqlDatabase, mariadb: MariaDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fault injected: the server-side limit is lifted, so only the client-side backstop can stop the query
    monkeypatch.setattr(MySqlDatabase, "_timeout_sql", lambda self, ms: "max_statement_time = 0")
    monkeypatch.setattr(MySqlDatabase, "client_timeout_s", lambda self, ms: 1.0)
    db = one_connection
    async with db.connection() as conn:
        cur = conn.cursor()
        with pytest.raises(QueryTimeoutError, match="killed by vf-mcp"):
            await db.guarded_call(conn, cur.execute(CPU_QUERY), None)
    for _ in range(50):
        if not await _ours_running(mariadb):
            break
        await asyncio.sleep(0.1)
    assert await _ours_running(mariadb) == []
    assert await _raw(db, "SELECT 2") == [(2,)]  # the pool goes on with a new connection


def test_no_files_written(mariadb: MariaDb) -> None:
    assert not Path(mariadb.files_dir, "out.txt").exists()
    assert not Path(mariadb.files_dir, "dump.bin").exists()
