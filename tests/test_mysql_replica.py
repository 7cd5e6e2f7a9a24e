"""Read replicas of a MariaDB source: a second real mariadbd replicating the test server (tests/mysql_replica.py).

Reads go to the replicas round-robin (a marker row that differs per server says which one answered, and the
replica's own process list shows vf-mcp's sessions); a stopped replica falls back to the primary without an
error; every replica session has the primary's guarantees (read-only, time limit with a KILL QUERY sent to
the replica itself, reset on release: the session-state attacks, verified from a separate connection to the
replica); check_database_health states each replica's lag (Seconds_Behind_Master) and a stopped SQL thread.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.helpers import call, call_error, mcp_client, settings_for
from tests.mysql_replica import Replica, primary_has_binlog, replica_status, start_replica, wait_caught_up
from tests.mysql_server import MariaDb, admin_sql, external
from tests.sshd import CLIENT_PASSPHRASE, SSHD, SshServer, running_sshd
from tests.test_mysql_attacks import CPU_QUERY, PAYLOADS, _state
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.errors import QueryTimeoutError

pytestmark = pytest.mark.anyio

MARKER = "SELECT who FROM vf_where"


@pytest.fixture(scope="module")
def replica(mariadb: MariaDb) -> Iterator[Replica]:
    """A replica of the test server, caught up, with a marker row that differs from the primary's."""
    if external() is not None and not asyncio.run(primary_has_binlog(mariadb)):
        pytest.skip("VF_MCP_TEST_MYSQL_DSN names a server without a binary log: no replica can follow it")
    asyncio.run(admin_sql(mariadb, "CREATE OR REPLACE TABLE vf_where (who VARCHAR(20))", "chinook"))
    asyncio.run(admin_sql(mariadb, "INSERT INTO vf_where VALUES ('primary')", "chinook"))
    with tempfile.TemporaryDirectory(prefix="vf-mcp-replica-") as tmp, start_replica(Path(tmp), mariadb) as rep:
        asyncio.run(wait_caught_up(mariadb, rep))
        # written on the replica only (it has no binary log of its own): tells which server answered a read
        asyncio.run(admin_sql(rep.server, "UPDATE vf_where SET who = 'replica'", "chinook"))
        asyncio.run(admin_sql(rep.server, "CREATE DATABASE vf_other"))
        asyncio.run(admin_sql(rep.server, "CREATE TABLE vf_other.vf_where (who VARCHAR(20))"))
        asyncio.run(admin_sql(rep.server, "INSERT INTO vf_other.vf_where VALUES ('replica, vf_other')"))
        yield rep


def _with_replicas(primary_dsn: str, *replica_dsns: str, **overrides: Any) -> dict[str, Any]:
    return {"replica_dsns": tuple(SecretStr(d) for d in replica_dsns), "query_cache_ttl_s": 0, **overrides}


async def _who(client: Any) -> str:
    return str((await call(client, "run_query", {"sql": MARKER}))["rows"][0][0])


async def _vf_sessions(server: MariaDb) -> int:
    """vf-mcp's sessions on `server`, from its own process list (a separate admin connection)."""
    rows = await admin_sql(
        server,
        "SELECT COUNT(*) FROM performance_schema.session_connect_attrs a "
        "JOIN information_schema.PROCESSLIST p ON p.ID = a.PROCESSLIST_ID "
        "WHERE a.ATTR_NAME = 'program_name' AND a.ATTR_VALUE = 'vf-mcp' AND p.DB = 'chinook'",
    )
    return int(rows[0][0])


async def test_reads_go_to_the_replicas_round_robin(chinook_mysql_dsn: str, replica: Replica) -> None:
    rep = replica.server
    assert (await admin_sql(rep, MARKER, "chinook")) == [("replica",)]
    async with mcp_client(chinook_mysql_dsn, **_with_replicas(chinook_mysql_dsn, rep.dsn("chinook"))) as client:
        seen = [await _who(client) for _ in range(4)]
        tracks = await call(client, "run_query", {"sql": "SELECT COUNT(*) AS n, SUM(Milliseconds) AS ms FROM Track"})
        listed = await call(client, "list_sources", {})
        assert await _vf_sessions(rep) >= 1  # vf-mcp's pooled sessions live on the replica
    assert seen == ["replica"] * 4  # the primary serves no read while its replica answers
    want = await admin_sql(rep, "SELECT COUNT(*), SUM(Milliseconds) FROM Track", "chinook")
    assert [tracks["rows"][0][0], int(tracks["rows"][0][1])] == [want[0][0], int(want[0][1])]
    assert listed["sources"][0]["replicas"] == 1
    two = _with_replicas(chinook_mysql_dsn, rep.dsn("chinook"), rep.dsn("vf_other"))
    async with mcp_client(chinook_mysql_dsn, **two) as client:
        seen = [await _who(client) for _ in range(6)]
    assert set(seen) == {"replica", "replica, vf_other"}  # both replicas take turns, the primary none


async def test_health_states_each_replicas_lag(chinook_mysql_dsn: str, mariadb: MariaDb, replica: Replica) -> None:
    rep = replica.server
    async with mcp_client(chinook_mysql_dsn, **_with_replicas(chinook_mysql_dsn, rep.dsn("chinook"))) as client:
        report = await call(client, "check_database_health", {})
        (status,) = await replica_status(rep)  # the independent answer, from a separate connection
        await admin_sql(rep, "STOP SLAVE SQL_THREAD")
        try:
            stopped = await call(client, "check_database_health", {})
            (halted,) = await replica_status(rep)
        finally:
            await admin_sql(rep, "START SLAVE SQL_THREAD")
    assert status["Slave_SQL_Running"] == "Yes" and status["Seconds_Behind_Master"] == 0
    assert report["checks"]["replication"] == f"replica 1: {status['Seconds_Behind_Master']} s behind"
    assert not [f for f in report["findings"] if f["check"] == "replication"]
    (finding,) = [f for f in stopped["findings"] if f["check"] == "replication"]
    assert finding["object"] == "replica 1" and finding["severity"] == "critical"
    assert finding["evidence"]["sql_running"] == halted["Slave_SQL_Running"] == "No"
    assert finding["evidence"]["io_running"] == halted["Slave_IO_Running"] == "Yes"
    assert finding["evidence"].get("seconds_behind_master") is halted["Seconds_Behind_Master"] is None
    assert stopped["checks"]["replication"] == "replica 1: lag unknown"
    await wait_caught_up(mariadb, replica)


async def test_least_privilege_user_lag_needs_a_grant(
    chinook_mysql_dsn: str, mariadb: MariaDb, replica: Replica
) -> None:
    """A SELECT-only user: the primary's unreadable status is no finding; a replica's says which grant shows its
    lag. The user is created on the primary and reaches the replica by replication."""
    await admin_sql(mariadb, "DROP USER IF EXISTS 'vf_repl_ro'@'%'")
    await admin_sql(mariadb, "CREATE USER 'vf_repl_ro'@'%' IDENTIFIED BY 'ro-pw'")
    await admin_sql(mariadb, "GRANT SELECT, SHOW VIEW ON chinook.* TO 'vf_repl_ro'@'%'")
    await wait_caught_up(mariadb, replica)
    ro, rep_ro = (s.dsn("chinook", user="vf_repl_ro", password="ro-pw") for s in (mariadb, replica.server))
    async with mcp_client(ro) as client:
        alone = await call(client, "check_database_health", {})
    async with mcp_client(ro, **_with_replicas(ro, rep_ro)) as client:
        both = await call(client, "check_database_health", {})
        assert await _who(client) == "replica"
    assert alone["checks"]["replication"] == "primary: status not readable"
    assert not [f for f in alone["findings"] if f["check"] == "replication"]
    (finding,) = [f for f in both["findings"] if f["check"] == "replication"]
    assert finding["object"] == "replica 1" and "GRANT SLAVE MONITOR" in finding["recommendation"]
    with pytest.raises(Exception, match="denied"):  # the independent check: this user may not read it
        await admin_sql(
            MariaDb(replica.server.host, replica.server.port, "vf_repl_ro", "ro-pw", Path()), "SHOW SLAVE STATUS"
        )


@pytest.fixture(scope="module")
def sshd() -> Iterator[SshServer]:
    if not SSHD.exists():
        pytest.skip(f"OpenSSH server not installed ({SSHD} missing; apt-get install openssh-server)")
    with tempfile.TemporaryDirectory(prefix="vfmcp-sshd-") as tmp, running_sshd(Path(tmp)) as server:
        yield server


async def test_replica_through_its_own_ssh_tunnel(
    chinook_mysql_dsn: str, replica: Replica, sshd: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vf_mcp.settings import Source, SshTunnel

    monkeypatch.setenv("VF_MCP_TEST_SSH_PASSPHRASE", CLIENT_PASSPHRASE)
    ssh = SshTunnel(
        host="127.0.0.1", port=sshd.port, user=sshd.user, private_key_path=str(sshd.client_key),
        passphrase_env="VF_MCP_TEST_SSH_PASSPHRASE", known_hosts=str(sshd.known_hosts), connect_timeout_s=5.0,
    )  # fmt: skip
    before = sshd.accepted_logins()
    far = Source(
        name="far", dsn=chinook_mysql_dsn, ssh=ssh, default=True,
        replica_dsns=(SecretStr(replica.server.dsn("chinook")),),
    )  # fmt: skip
    async with mcp_client(chinook_mysql_dsn, sources=(far,), query_cache_ttl_s=0) as client:
        seen = [await _who(client) for _ in range(2)]
        listed = await call(client, "list_sources", {})
    assert seen == ["replica", "replica"] and listed["sources"][0]["replicas"] == 1
    assert sshd.wait_accepted(before + 1) > before
    # which tunnel carried the reads: the source's runtime, built the same way, one tunnel per server
    from vf_mcp.db.mysql.pool import MySqlDatabase as My
    from vf_mcp.db.sources import open_source

    runtime = open_source(settings_for(chinook_mysql_dsn, sources=(far,)), far)
    try:
        assert isinstance(runtime.db, My)
        rows = await runtime.db.fetch_rows(MARKER)
        primary_tunnel, replica_tunnel = runtime.tunnels
        assert rows == [{"who": "replica"}]
        assert (primary_tunnel.connections_opened, replica_tunnel.connections_opened) == (0, 1)
        assert await runtime.db.fetch_rows(MARKER, server="primary") == [{"who": "primary"}]
        assert primary_tunnel.connections_opened == 1  # the primary, too, only through the bastion
    finally:
        await runtime.close()


@pytest.fixture
async def replica_pool(chinook_mysql_dsn: str, replica: Replica) -> AsyncIterator[MySqlDatabase]:
    """One pooled session, on the replica (round-robin over one replica: every read goes there)."""
    dsn = replica.server.dsn("chinook")

    async def replica_dsn() -> str:
        return dsn

    settings = settings_for(chinook_mysql_dsn, pool_max_size=1, statement_timeout_ms=1500)
    db = MySqlDatabase(settings, replicas=[replica_dsn])
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


async def test_every_payload_refused_on_the_replica(chinook_mysql_dsn: str, replica: Replica) -> None:
    rep = replica.server
    before = await _state(rep)
    overrides = _with_replicas(chinook_mysql_dsn, rep.dsn("chinook"), pool_max_size=1)
    async with mcp_client(chinook_mysql_dsn, **overrides) as client:
        for name, payload in PAYLOADS.items():
            text = await call_error(client, "run_query", {"sql": payload.format(files=rep.files_dir)})
            assert "Refused:" in text or "Permission denied" in text, (name, text)
        after = await call(client, "run_query", {"sql": "SELECT DATABASE() AS db, (SELECT who FROM vf_where) AS w"})
    assert after["rows"] == [["chinook", "replica"]]
    assert await _state(rep) == before
    assert sorted(p.name for p in rep.files_dir.iterdir()) == []


async def test_replica_session_state_never_reaches_the_next_call(replica_pool: MySqlDatabase, replica: Replica) -> None:
    db, rep = replica_pool, replica.server
    ((server_id, first),) = await _raw(db, "SELECT @@server_id, CONNECTION_ID()")
    assert server_id == 2  # the replica's session, not the primary's
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
        assert (await admin_sql(rep, "SELECT IS_FREE_LOCK('vf_attack')"))[0][0] == 0  # held on the replica...
    rows = await _raw(
        db,
        "SELECT @@server_id, CONNECTION_ID(), @x, @@session.max_statement_time, @@character_set_client, "
        "@@session.tx_read_only, DATABASE(), (SELECT COUNT(*) FROM Track)",
    )
    assert rows == [(2, first, None, 1.5, "utf8mb4", 1, "chinook", 3503)]  # same connection, reset
    assert (await admin_sql(rep, "SELECT IS_FREE_LOCK('vf_attack')"))[0][0] == 1  # ...released by the reset


async def test_replica_session_refuses_writes_even_unguarded(replica_pool: MySqlDatabase, replica: Replica) -> None:
    db = replica_pool
    for statement in ("INSERT INTO Genre VALUES (997, 'x')", "UPDATE Genre SET Name = 'x'", "DELETE FROM Genre"):
        with pytest.raises(Exception, match=r"READ ONLY|read only|1792"):
            await _raw(db, statement)
    with pytest.raises(Exception, match="syntax"):  # multi-statements are off in the replica's handshake too
        await _raw(db, "SELECT 1; SELECT 2")
    await _raw(db, "XA START 'vf_attack'")
    assert await _raw(db, "SELECT @@server_id") == [(2,)]
    assert await admin_sql(replica.server, "XA RECOVER") == []
    assert (await admin_sql(replica.server, "SELECT COUNT(*) FROM Genre", "chinook"))[0][0] == 25


async def _running_on(server: MariaDb) -> list[tuple[Any, ...]]:
    return await admin_sql(
        server,
        "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%Track a, Track b%' "
        "AND INFO NOT LIKE '%PROCESSLIST%'",
    )


async def test_backstop_kills_the_query_on_the_replica(
    replica_pool: MySqlDatabase, replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    # fault injected: the server-side limit is lifted, so only the client-side backstop can stop the query
    monkeypatch.setattr(MySqlDatabase, "_timeout_sql", lambda self, ms: "max_statement_time = 0")
    monkeypatch.setattr(MySqlDatabase, "client_timeout_s", lambda self, ms: 1.0)
    db = replica_pool
    async with db.connection() as conn:
        cur = conn.cursor()
        with pytest.raises(QueryTimeoutError, match="killed by vf-mcp"):
            await db.guarded_call(conn, cur.execute(CPU_QUERY), None)
    for _ in range(50):  # KILL QUERY went to the replica, where the query ran
        if not await _running_on(replica.server):
            break
        await asyncio.sleep(0.1)
    assert await _running_on(replica.server) == []
    assert await _raw(db, "SELECT @@server_id") == [(2,)]


async def test_stopped_replica_falls_back_to_the_primary(chinook_mysql_dsn: str, replica: Replica) -> None:
    """Runs last: it stops the replica (the module's fixture)."""
    rep = replica.server
    overrides = _with_replicas(chinook_mysql_dsn, rep.dsn("chinook"), breaker_cooldown_s=60)
    async with mcp_client(chinook_mysql_dsn, **overrides) as client:
        assert await _who(client) == "replica"  # an idle session to the replica is pooled now
        replica.stop()
        seen = [await _who(client) for _ in range(3)]
        report = await call(client, "check_database_health", {})
    assert seen == ["primary"] * 3  # no error: the dead session is dropped, the primary answers
    (finding,) = [f for f in report["findings"] if f["check"] == "replication"]
    assert finding["object"] == "replica 1" and "did not answer" in finding["recommendation"]
    assert report["checks"]["replication"] == "replica 1: unavailable"


@pytest.mark.parametrize(
    ("row", "severity", "summary"),
    [
        ({"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": 299}, None, "299 s behind"),
        ({"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": 300}, "warning", "300 s"),
        ({"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": 1800}, "critical", "1800"),
        # MySQL 8.0.22+ SHOW REPLICA STATUS names
        ({"Replica_IO_Running": "Yes", "Replica_SQL_Running": "Yes", "Seconds_Behind_Source": 301}, "warning", "301"),
        (
            {
                "Replica_IO_Running": "Connecting",
                "Replica_SQL_Running": "Yes",
                "Seconds_Behind_Source": None,
                "Last_IO_Error": "error connecting to master",
            },
            "warning",
            "lag unknown",
        ),
    ],
)
def test_lag_thresholds_as_on_postgresql(row: dict[str, object], severity: str | None, summary: str) -> None:
    """The same thresholds as PostgreSQL's replay delay (300 s a warning, 1800 s critical), on both spellings."""
    from vf_mcp.compute.dba.mysql_replication import replication_findings

    issues, line = replication_findings([("primary", [], None), ("replica 1", [row], None)])
    assert [i.severity for i in issues] == ([severity] if severity else [])
    assert line.startswith("replica 1: ") and summary in line
