"""Outages: a PostgreSQL restart mid-run, starting with the database down, the circuit breaker, retries.

These tests run their own embedded cluster (stopped and started by the tests), not the shared one.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from helpers import call
from mcp import Client

from vf_mcp.db.embedded import EmbeddedPostgres
from vf_mcp.db.pool import Database
from vf_mcp.errors import DatabaseUnavailableError
from vf_mcp.server import build_server
from vf_mcp.settings import Settings

pytestmark = pytest.mark.anyio

SETUP = "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 500) g;"


@pytest.fixture(scope="module")
def cluster() -> Iterator[EmbeddedPostgres]:
    tmp = tempfile.mkdtemp(prefix="vfmcp-outage-")
    server = EmbeddedPostgres.start(Path(tmp) / "pgdata", cleanup="delete")

    async def setup() -> None:
        conn = await asyncpg.connect(server.dsn("postgres"))
        try:
            await conn.execute("DROP TABLE IF EXISTS t; " + SETUP)
        finally:
            await conn.close()

    asyncio.run(setup())
    try:
        yield server
    finally:
        server.stop()


def outage_settings(dsn: str, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        dsn=dsn,
        retry_attempts=3,
        retry_base_delay_ms=20,
        breaker_failures=3,
        breaker_cooldown_s=0.5,
        connect_timeout_s=2,
        audit_log_path=str(tmp_path / "audit.jsonl"),
        **extra,  # type: ignore[arg-type]
    )


async def _until_ok(client: Client, deadline_s: float) -> float:
    """Call run_query until it succeeds; return the seconds it took."""
    started = time.monotonic()
    while True:
        result = await client.call_tool("run_query", {"sql": "SELECT count(*) AS n FROM t", "refresh": True})
        if not result.is_error:
            assert result.structured_content is not None
            assert result.structured_content["rows"] == [[500]]
            return time.monotonic() - started
        assert time.monotonic() - started < deadline_s, result.content[0].text  # type: ignore[union-attr]
        await asyncio.sleep(0.2)


def _clean_outage_error(text: str) -> None:
    """Outage errors are actionable messages, never tracebacks or 'internal error'."""
    assert "Traceback" not in text and "Internal error" not in text
    assert any(w in text for w in ("unavailable", "Cannot connect", "Cannot reach", "connection")), text


async def test_postgres_restart_mid_run(cluster: EmbeddedPostgres, tmp_path: Path) -> None:
    """Calls fail cleanly while PostgreSQL is down and succeed again afterwards, without restarting vf-mcp."""
    async with Client(build_server(outage_settings(cluster.dsn("postgres"), tmp_path))) as client:
        for _ in range(5):
            row = await call(client, "run_query", {"sql": "SELECT count(*) AS n FROM t", "refresh": True})
            assert row["rows"] == [[500]]
        cluster.pause()
        try:
            outage_errors = []
            for _ in range(6):
                result = await client.call_tool("run_query", {"sql": "SELECT count(*) AS n FROM t", "refresh": True})
                assert result.is_error
                outage_errors.append(result.content[0].text)  # type: ignore[union-attr]
            for text in outage_errors:
                _clean_outage_error(text)
            # after breaker_failures consecutive failures the breaker answers at once, saying when to retry
            assert any("retry after" in t for t in outage_errors), outage_errors
            tools = await client.list_tools()  # listings still work during the outage
            assert "run_query" in {t.name for t in tools.tools}
        finally:
            cluster.resume()
        await _until_ok(client, deadline_s=15)
        # and it stays healthy
        for _ in range(3):
            row = await call(client, "run_query", {"sql": "SELECT count(*) AS n FROM t", "refresh": True})
            assert row["rows"] == [[500]]


async def test_start_with_database_down(cluster: EmbeddedPostgres, tmp_path: Path) -> None:
    """The server starts and lists tools with PostgreSQL down, then recovers by itself when it comes back."""
    cluster.pause()
    try:
        async with Client(build_server(outage_settings(cluster.dsn("postgres"), tmp_path))) as client:
            tools = await client.list_tools()
            assert len(tools.tools) >= 13
            result = await client.call_tool("list_tables", {})
            assert result.is_error
            _clean_outage_error(result.content[0].text)  # type: ignore[union-attr]
            cluster.resume()
            await _until_ok(client, deadline_s=15)
            listed = await call(client, "list_tables", {})
            assert [t["name"] for t in listed["tables"]] == ["t"]
    finally:
        cluster.resume()


async def test_lost_connections_are_retried_query_errors_are_not(
    cluster: EmbeddedPostgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed pooled connections and a transient failure are retried; query errors and timeouts run once."""
    settings = outage_settings(cluster.dsn("postgres"), tmp_path, pool_min_size=2, pool_max_size=2)
    audit = tmp_path / "audit.jsonl"
    async with Client(build_server(settings)) as client:
        await call(client, "run_query", {"sql": "SELECT 1 AS one"})
        admin = await asyncpg.connect(cluster.dsn("postgres"))
        try:  # kill every vf-mcp session (what a restart or a failover does to a pool)
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'vf-mcp'"
            )
        finally:
            await admin.close()
        assert killed >= 1
        out = await call(client, "run_query", {"sql": "SELECT count(*) AS n FROM t WHERE id <= 7"})
        assert out["rows"] == [[7]]

        # fault injection (the only patch in these tests; the database itself is real): the next connection
        # attempt fails once, as a refused connection would
        attempts = []
        real = Database._pool_of

        async def flaky(self: Database, target: object) -> object:
            attempts.append(1)
            if len(attempts) == 1:
                raise DatabaseUnavailableError("Cannot connect: injected", retryable=True)
            return await real(self, target)  # type: ignore[arg-type]

        monkeypatch.setattr(Database, "_pool_of", flaky)
        out = await call(client, "run_query", {"sql": "SELECT count(*) AS n FROM t WHERE id <= 9"})
        assert out["rows"] == [[9]] and len(attempts) == 2
        monkeypatch.setattr(Database, "_pool_of", real)

        bad = await client.call_tool("run_query", {"sql": "SELECT 1/0 AS boom"})
        assert bad.is_error and "division by zero" in bad.content[0].text  # type: ignore[union-attr]
        slow = await client.call_tool("run_query", {"sql": "SELECT pg_sleep(2)", "timeout_ms": 200})
        assert slow.is_error and "timeout" in slow.content[0].text  # type: ignore[union-attr]
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    by_sql = {}
    for r in records:
        if r["tool"] == "run_query":
            by_sql.setdefault(r["arguments"]["sql"], []).append(r)
    assert [r["ok"] for r in by_sql["SELECT count(*) AS n FROM t WHERE id <= 9"]] == [True]
    for failing, code in (("SELECT 1/0 AS boom", "query"), ("SELECT pg_sleep(2)", "timeout")):
        (rec,) = by_sql[failing]
        assert rec["ok"] is False and rec["error_code"] == code
        assert rec["sql"].count(failing) == 1  # never retried


async def test_connection_killed_mid_call_is_a_retryable_outage(cluster: EmbeddedPostgres, tmp_path: Path) -> None:
    """A session killed while a call holds it becomes 'connection lost' (retryable), never an internal error."""
    db = Database(outage_settings(cluster.dsn("postgres"), tmp_path))
    try:
        with pytest.raises(DatabaseUnavailableError) as caught:
            async with db.read_only() as conn:
                pid = await conn.fetchval("SELECT pg_backend_pid()")
                admin = await asyncpg.connect(cluster.dsn("postgres"))
                try:
                    assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid) is True
                finally:
                    await admin.close()
                await conn.fetchval("SELECT 1")
        assert caught.value.retryable is True
        assert (await db.fetch("SELECT count(*) AS n FROM t"))[0]["n"] == 500  # a fresh pool answers
    finally:
        await db.close()
