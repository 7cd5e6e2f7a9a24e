"""SSH tunnels against a real OpenSSH server on loopback, forwarding to the test PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import asyncssh
import pytest

from tests.conftest import PgCluster
from tests.sshd import CLIENT_PASSPHRASE, SSHD, SshServer, running_sshd, tcp_to_unix_relay
from vf_mcp.db.tunnel import SshTunnel, dsn_target, dsn_through
from vf_mcp.errors import ConfigError, DatabaseUnavailableError
from vf_mcp.settings import SshTunnel as SshTunnelSettings

PASS_ENV = "VF_MCP_TEST_SSH_PASSPHRASE"

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sshd() -> Iterator[SshServer]:
    """sshd on a free loopback port for this module (the tests needing it skip when OpenSSH is absent)."""
    if not SSHD.exists():
        pytest.skip(f"OpenSSH server not installed ({SSHD} missing; apt-get install openssh-server)")
    with tempfile.TemporaryDirectory(prefix="vfmcp-sshd-") as tmp, running_sshd(Path(tmp)) as server:
        yield server


@pytest.fixture(scope="module")
def tunnel_db(pg: PgCluster) -> str:
    return pg.create_database("tunnel_test", "CREATE TABLE t (x int); INSERT INTO t VALUES (42);")


@pytest.fixture(scope="module")
def tcp_db(tunnel_db: str) -> Iterator[str]:
    """tunnel_db over TCP: as is when PostgreSQL listens on TCP, else through a local relay to its Unix socket."""
    host, port = dsn_target(tunnel_db)
    if not host.startswith("/"):
        yield tunnel_db
        return
    with tcp_to_unix_relay(f"{host}/.s.PGSQL.{port}") as relay_port:
        yield dsn_through(tunnel_db, "127.0.0.1", relay_port)


@pytest.fixture
def passphrase_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASS_ENV, CLIENT_PASSPHRASE)
    return PASS_ENV


def ssh_cfg(server: SshServer, **overrides: Any) -> SshTunnelSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "user": server.user,
        "private_key_path": str(server.client_key),
        "passphrase_env": PASS_ENV,
        "known_hosts": str(server.known_hosts),
        "connect_timeout_s": 5.0,
    }
    values.update(overrides)
    return SshTunnelSettings(**values)


async def through(tunnel: SshTunnel, dsn: str) -> tuple[str, int, int]:
    """current_database(), inet_server_port() and a row, over a fresh connection through the tunnel."""
    host, port = await tunnel.local_address()
    conn = await asyncpg.connect(dsn_through(dsn, host, port), timeout=10)
    try:
        row = await conn.fetchrow("SELECT current_database(), inet_server_port(), (SELECT x FROM t)")
        assert row is not None
        return row[0], row[1], row[2]
    finally:
        await conn.close()


async def direct(dsn: str) -> tuple[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT current_database(), inet_server_port()")
        assert row is not None
        return row[0], row[1]
    finally:
        await conn.close()


async def wait_until(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


# --- (1) PostgreSQL through the tunnel ---------------------------------------------------------------------


async def test_postgres_through_tunnel(sshd: SshServer, tcp_db: str, passphrase_env: str) -> None:
    tunnel = SshTunnel(ssh_cfg(sshd), *dsn_target(tcp_db))
    assert not tunnel.is_open
    try:
        host, port = await tunnel.local_address()
        assert host == "127.0.0.1"
        assert port != dsn_target(tcp_db)[1]
        assert tunnel.is_open
        db, server_port, x = await through(tunnel, tcp_db)
        assert (db, server_port) == await direct(tcp_db)
        assert db == "tunnel_test"
        assert x == 42
        assert await tunnel.local_address() == (host, port)  # reused while up
        assert tunnel.connections_opened == 1
    finally:
        await tunnel.close()
    assert not tunnel.is_open
    with pytest.raises(OSError):  # the local listener is gone
        await asyncio.open_connection(host, port)
    # closed is not final: the next call opens a new connection (idle sources reopen on demand)
    try:
        assert (await through(tunnel, tcp_db))[0] == "tunnel_test"
        assert tunnel.connections_opened == 2
    finally:
        await tunnel.close()


async def test_forward_to_the_fixture_server(sshd: SshServer, tunnel_db: str, passphrase_env: str) -> None:
    """The pg fixture's own host/port: a Unix-socket directory (embedded server) or a TCP host (VF_MCP_TEST_DSN)."""
    tunnel = SshTunnel(ssh_cfg(sshd), *dsn_target(tunnel_db))
    try:
        db, server_port, x = await through(tunnel, tunnel_db)
        assert (db, server_port) == await direct(tunnel_db)
        assert (db, x) == ("tunnel_test", 42)
    finally:
        await tunnel.close()


# --- (2) passphrases and key errors ------------------------------------------------------------------------


async def test_passphrase_from_env(sshd: SshServer, tcp_db: str, passphrase_env: str) -> None:
    tunnel = SshTunnel(ssh_cfg(sshd, passphrase_env=passphrase_env), *dsn_target(tcp_db))
    try:
        assert (await through(tunnel, tcp_db))[0] == "tunnel_test"
    finally:
        await tunnel.close()


async def test_passphrase_from_file(sshd: SshServer, tcp_db: str, tmp_path: Path) -> None:
    pass_file = tmp_path / "passphrase"
    pass_file.write_text(CLIENT_PASSPHRASE + "\n")  # trailing newline as editors write it
    tunnel = SshTunnel(ssh_cfg(sshd, passphrase_env=None, passphrase_file=str(pass_file)), *dsn_target(tcp_db))
    try:
        assert (await through(tunnel, tcp_db))[0] == "tunnel_test"
    finally:
        await tunnel.close()


async def test_wrong_passphrase(sshd: SshServer, tcp_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASS_ENV, "not-the-passphrase")
    tunnel = SshTunnel(ssh_cfg(sshd), *dsn_target(tcp_db))
    with pytest.raises(ConfigError) as info:
        await tunnel.local_address()
    msg = info.value.message
    assert "wrong passphrase" in msg and str(sshd.client_key) in msg
    assert "not-the-passphrase" not in msg and CLIENT_PASSPHRASE not in msg
    assert not tunnel.is_open


async def test_key_problems(sshd: SshServer, tcp_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = dsn_target(tcp_db)
    monkeypatch.delenv(PASS_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"Environment variable {PASS_ENV} .* is not set"):
        await SshTunnel(ssh_cfg(sshd), *target).local_address()
    with pytest.raises(ConfigError, match="is encrypted: give its passphrase"):
        await SshTunnel(ssh_cfg(sshd, passphrase_env=None), *target).local_address()
    missing = tmp_path / "no_such_key"
    with pytest.raises(ConfigError, match=f"Cannot read the SSH private key {missing}"):
        await SshTunnel(ssh_cfg(sshd, private_key_path=str(missing)), *target).local_address()
    with pytest.raises(ConfigError, match="Cannot read the SSH key passphrase file"):
        cfg = ssh_cfg(sshd, passphrase_env=None, passphrase_file=str(tmp_path / "nope"))
        await SshTunnel(cfg, *target).local_address()
    # a valid key the bastion does not know: authentication refused
    with pytest.raises(ConfigError, match="refused the key") as info:
        await SshTunnel(
            ssh_cfg(sshd, private_key_path=str(sshd.other_key), passphrase_env=None), *target
        ).local_address()
    assert "authorized_keys" in info.value.message
    # nothing listening: unavailable and retryable
    with pytest.raises(DatabaseUnavailableError, match="Cannot reach SSH bastion") as down:
        cfg = ssh_cfg(sshd, port=_closed_port(), passphrase_env=None, private_key_path=str(sshd.other_key))
        await SshTunnel(cfg, *target).local_address()
    assert down.value.retryable


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- (3) host key checking ---------------------------------------------------------------------------------


async def test_unknown_host_key_refused(sshd: SshServer, tcp_db: str, passphrase_env: str, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    tunnel = SshTunnel(ssh_cfg(sshd, known_hosts=str(empty)), *dsn_target(tcp_db))
    before = sshd.accepted_logins()
    with pytest.raises(ConfigError) as info:
        await tunnel.local_address()
    msg = info.value.message
    assert f"host key of 127.0.0.1:{sshd.port} is not in {empty}" in msg
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {empty}" in msg
    assert "after verifying the fingerprint" in msg
    assert host_fingerprint(sshd) in msg  # the fingerprint the bastion presented, to compare
    assert not tunnel.is_open
    assert sshd.accepted_logins() == before
    # following the advice works
    command = re.search(r"`(ssh-keyscan [^`]*)`", msg)
    assert command is not None
    subprocess.run(command.group(1), shell=True, check=True, capture_output=True, timeout=30)
    try:
        assert (await through(tunnel, tcp_db))[0] == "tunnel_test"
    finally:
        await tunnel.close()


def host_fingerprint(server: SshServer) -> str:
    return str(asyncssh.read_public_key(server.dir / "host_ed25519.pub").get_fingerprint())


async def test_changed_host_key_refused(sshd: SshServer, tcp_db: str, passphrase_env: str) -> None:
    tunnel = SshTunnel(ssh_cfg(sshd, known_hosts=str(sshd.wrong_known_hosts)), *dsn_target(tcp_db))
    with pytest.raises(ConfigError) as info:
        await tunnel.local_address()
    msg = info.value.message
    assert f"host key of 127.0.0.1:{sshd.port} does not match the key recorded in {sshd.wrong_known_hosts}" in msg
    assert "ssh-keygen -R" in msg
    assert host_fingerprint(sshd) in msg
    assert not tunnel.is_open


async def test_missing_known_hosts_file(sshd: SshServer, tcp_db: str, passphrase_env: str, tmp_path: Path) -> None:
    missing = tmp_path / "absent_known_hosts"
    with pytest.raises(ConfigError, match=f"known_hosts file {missing} .*does not exist.*ssh-keyscan"):
        await SshTunnel(ssh_cfg(sshd, known_hosts=str(missing)), *dsn_target(tcp_db)).local_address()


async def test_host_key_check_off(sshd: SshServer, tcp_db: str, passphrase_env: str, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    for known_hosts in (str(empty), str(tmp_path / "absent")):
        cfg = ssh_cfg(sshd, known_hosts=known_hosts, check_host_key=False)
        tunnel = SshTunnel(cfg, *dsn_target(tcp_db))
        try:
            assert (await through(tunnel, tcp_db))[0] == "tunnel_test"
        finally:
            await tunnel.close()


# --- (4) drop and re-open ----------------------------------------------------------------------------------


async def test_reconnects_after_server_side_drop(sshd: SshServer, tcp_db: str, passphrase_env: str) -> None:
    tunnel = SshTunnel(ssh_cfg(sshd), *dsn_target(tcp_db))
    try:
        before = sshd.accepted_logins()
        first = await tunnel.local_address()
        old_host, old_port = first
        held = await asyncpg.connect(dsn_through(tcp_db, old_host, old_port))
        assert await held.fetchval("SELECT x FROM t") == 42
        assert sshd.wait_accepted(before + 1) == before + 1

        assert sshd.kill_connections(), "no per-connection sshd process found"
        await wait_until(lambda: not tunnel.is_open)  # the client sees the connection close
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await held.fetchval("SELECT 1")  # what went through the old connection is gone
        held.terminate()

        db, _, x = await through(tunnel, tcp_db)  # local_address() reconnects
        assert (db, x) == ("tunnel_test", 42)
        assert tunnel.is_open
        assert tunnel.connections_opened == 2
        assert sshd.wait_accepted(before + 2) == before + 2
    finally:
        await tunnel.close()


# --- (5) single flight -------------------------------------------------------------------------------------


async def test_concurrent_callers_share_one_connection(sshd: SshServer, tcp_db: str, passphrase_env: str) -> None:
    tunnel = SshTunnel(ssh_cfg(sshd), *dsn_target(tcp_db))
    try:
        before = sshd.accepted_logins()
        addresses = await asyncio.gather(*(tunnel.local_address() for _ in range(20)))
        assert len(set(addresses)) == 1
        assert tunnel.connections_opened == 1
        assert sshd.wait_accepted(before + 1) == before + 1
        await asyncio.sleep(0.3)
        assert sshd.accepted_logins() == before + 1  # exactly one SSH connection reached sshd
        # and the 20 callers can all use it at once
        host, port = addresses[0]
        dsn = dsn_through(tcp_db, host, port)

        async def one() -> int:
            conn = await asyncpg.connect(dsn)
            try:
                return int(await conn.fetchval("SELECT x FROM t"))
            finally:
                await conn.close()

        assert await asyncio.gather(*(one() for _ in range(20))) == [42] * 20
        assert tunnel.open_attempts == 1
    finally:
        await tunnel.close()


async def test_concurrent_callers_share_one_failure(
    sshd: SshServer, tcp_db: str, passphrase_env: str, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    tunnel = SshTunnel(ssh_cfg(sshd, known_hosts=str(empty)), *dsn_target(tcp_db))
    results = await asyncio.gather(*(tunnel.local_address() for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, ConfigError) and "is not in" in r.message for r in results)
    assert tunnel.open_attempts == 1  # one attempt, its error shared: not 20 connect timeouts in a row
    with pytest.raises(ConfigError):  # failures are not cached: the next call tries again
        await tunnel.local_address()
    assert tunnel.open_attempts == 2


async def test_cancelled_caller_does_not_cancel_the_others(sshd: SshServer, tcp_db: str, passphrase_env: str) -> None:
    tunnel = SshTunnel(ssh_cfg(sshd), *dsn_target(tcp_db))
    try:
        impatient = asyncio.create_task(tunnel.local_address())
        patient = asyncio.create_task(tunnel.local_address())
        await asyncio.sleep(0)  # both are waiting for the same attempt
        impatient.cancel()
        address = await patient
        assert impatient.cancelled()
        assert tunnel.is_open and tunnel.connections_opened == 1
        assert await tunnel.local_address() == address
    finally:
        await tunnel.close()


# --- (6) DSN helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://u:p@db.internal:6543/sales", ("db.internal", 6543)),
        ("postgresql://u@db.internal/sales", ("db.internal", 5432)),
        ("postgres://db.internal", ("db.internal", 5432)),
        ("postgresql:///sales", ("localhost", 5432)),
        ("postgresql://u:p%40ss@[fd00::5]:5433/db", ("fd00::5", 5433)),
        ("postgresql://u@ignored:1/db?host=10.0.0.7&port=6000", ("10.0.0.7", 6000)),
        ("postgresql://postgres@/db?host=/var/run/postgresql&port=5433", ("/var/run/postgresql", 5433)),
        ("postgresql://%2Ftmp%2Fpg/db", ("/tmp/pg", 5432)),
    ],
)
def test_dsn_target(dsn: str, expected: tuple[str, int]) -> None:
    assert dsn_target(dsn) == expected


def test_dsn_through() -> None:
    dsn = "postgresql://rep%40rt:p%3Ass%2Fw@db.internal:6543/sales%20db?sslmode=require&application_name=vf"
    out = dsn_through(dsn, "127.0.0.1", 40001)
    assert out == "postgresql://rep%40rt:p%3Ass%2Fw@127.0.0.1:40001/sales%20db?sslmode=require&application_name=vf"
    assert dsn_target(out) == ("127.0.0.1", 40001)
    assert dsn_through("postgres://db", "127.0.0.1", 1) == "postgres://127.0.0.1:1"
    assert dsn_through("postgresql://u@[fd00::5]/d", "::1", 7) == "postgresql://u@[::1]:7/d"
    # host/port given as query parameters would override the netloc: they are dropped
    moved = dsn_through("postgresql://u@x/d?host=10.0.0.7&port=6000&sslmode=disable", "127.0.0.1", 9)
    assert moved == "postgresql://u@127.0.0.1:9/d?sslmode=disable"
    socket_dsn = dsn_through("postgresql://postgres@/db?host=/tmp/s&port=5433", "127.0.0.1", 9)
    assert socket_dsn == "postgresql://postgres@127.0.0.1:9/db"


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("host=db port=5432 dbname=x", "postgresql:// URL"),
        ("mysql://db/x", "postgresql:// URL"),
        ("postgresql://a:5432,b:5432/x", "single host"),
        ("postgresql://db:notaport/x", "not a number"),
        ("postgresql://db:70000/x", "out of range"),
    ],
)
def test_dsn_errors(dsn: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        dsn_target(dsn)


# --- a source reached through the bastion, end to end over MCP ---------------------------------------------


async def test_source_through_bastion_over_mcp(sshd: SshServer, tcp_db: str, passphrase_env: str) -> None:
    """A [[sources]] entry with [sources.ssh]: tools reach it through the tunnel, which reopens after a drop."""
    from mcp import Client
    from pydantic import SecretStr

    from vf_mcp.server import build_server
    from vf_mcp.settings import Settings, Source

    source = Source(name="behind-bastion", dsn=SecretStr(tcp_db), ssh=ssh_cfg(sshd), default=True)
    settings = Settings(sources=(source,), query_cache_ttl_s=0, pii_mode="allow", audit_log_path="off")
    async with Client(build_server(settings)) as client:
        listed = await client.call_tool("list_sources", {})
        (info,) = listed.structured_content["sources"]  # type: ignore[index]
        assert info["name"] == "behind-bastion" and info["via_ssh"] is True and info["status"] == "ok"
        out = await client.call_tool("run_query", {"sql": "SELECT x FROM t", "source": "behind-bastion"})
        assert out.structured_content["rows"] == [[42]]  # type: ignore[index]
        logins = sshd.accepted_logins()
        assert sshd.kill_connections()  # the bastion drops us
        await asyncio.sleep(0.5)
        again = await client.call_tool("run_query", {"sql": "SELECT x + 1 FROM t"})
        assert not again.is_error, again.content[0].text  # type: ignore[union-attr]
        assert again.structured_content["rows"] == [[43]]  # type: ignore[index]
        assert sshd.wait_accepted(logins + 1) == logins + 1  # through a new SSH connection
