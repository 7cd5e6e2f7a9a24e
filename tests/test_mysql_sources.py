"""MySQL/MariaDB sources: setup-role's SELECT-only user, mariadb:// and [[sources]] beside PostgreSQL, and a
MySQL source reached through an SSH tunnel (a real OpenSSH server on loopback)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import call, call_error, mcp_client
from tests.mysql_server import MariaDb, admin_sql
from tests.sshd import CLIENT_PASSPHRASE, SSHD, SshServer, running_sshd

pytestmark = pytest.mark.anyio


def _setup_role(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vf_mcp.cli", "setup-role", *args], capture_output=True, text=True, timeout=60
    )


async def test_setup_role_makes_a_select_only_user(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    printed = _setup_role("--dsn", chinook_mysql_dsn, "--role", "vf_ro_print", "--password", "p'w")
    assert printed.returncode == 0, printed.stderr
    assert "CREATE USER 'vf_ro_print'@'%' IDENTIFIED BY 'p''w'" in printed.stdout
    assert "GRANT SELECT, SHOW VIEW ON `chinook`.* TO 'vf_ro_print'@'%'" in printed.stdout
    assert "performance_schema" not in printed.stdout.split("\n", 4)[-1]
    await admin_sql(mariadb, "DROP USER IF EXISTS 'vf_ro'@'%'")
    applied = _setup_role("--apply", "--dsn", chinook_mysql_dsn, "--role", "vf_ro", "--password", "pw2")
    assert applied.returncode == 0, applied.stderr
    grants = [g for (g,) in await admin_sql(mariadb, "SHOW GRANTS FOR 'vf_ro'@'%'")]
    assert any("GRANT SELECT, SHOW VIEW ON `chinook`.*" in g for g in grants)
    assert not any(w in g for g in grants for w in ("INSERT", "FILE", "ALL PRIVILEGES", "PROCESS"))
    ro_dsn = mariadb.dsn("chinook", user="vf_ro", password="pw2")
    async with mcp_client(ro_dsn) as client:
        overview = await call(client, "get_database_overview", {})
        counted = await call(client, "run_query", {"sql": "SELECT COUNT(*) AS n FROM Invoice"})
    assert overview["role_safety"] == {"role": "vf_ro@%", "read_only": True, "warning": None}
    assert counted["rows"] == [[(await admin_sql(mariadb, "SELECT COUNT(*) FROM Invoice", "chinook"))[0][0]]]
    # the user itself cannot read password hashes, whatever reaches the server
    with pytest.raises(Exception, match="denied"):
        await admin_sql(
            MariaDb(mariadb.host, mariadb.port, "vf_ro", "pw2", mariadb.files_dir), "SELECT * FROM mysql.user"
        )


async def test_mariadb_scheme_and_sources_beside_postgresql(chinook_mysql_dsn: str, chinook_dsn: str) -> None:
    from vf_mcp.settings import Source

    maria = chinook_mysql_dsn.replace("mysql://", "mariadb://", 1)
    sources = (
        Source(name="pg", dsn=chinook_dsn, default=True),
        Source(name="maria", dsn=maria, description="Chinook on MariaDB"),
    )
    async with mcp_client(chinook_dsn, sources=sources) as client:
        listed = await call(client, "list_sources", {})
        on_maria = await call(client, "run_query", {"sql": "SELECT COUNT(*) FROM Track", "source": "maria"})
        on_pg = await call(client, "run_query", {"sql": "SELECT count(*) FROM track", "source": "pg"})
        schema = await call(client, "get_table_schema", {"table_name": "Invoice", "source": "maria"})
        refused = await call_error(client, "run_query", {"sql": "SELECT SLEEP(1)", "source": "maria"})
    names = {s["name"]: s for s in listed["sources"]}
    assert {"pg", "maria"} <= set(names) and "MariaDB" in names["maria"]["server_version"]
    assert on_maria["rows"] == on_pg["rows"] == [[3503]]
    assert schema["schema_name"] == "chinook" and schema["primary_key"] == ["InvoiceId"]
    assert "SLEEP" in refused


@pytest.fixture(scope="module")
def sshd() -> Iterator[SshServer]:
    if not SSHD.exists():
        pytest.skip(f"OpenSSH server not installed ({SSHD} missing; apt-get install openssh-server)")
    with tempfile.TemporaryDirectory(prefix="vfmcp-sshd-") as tmp, running_sshd(Path(tmp)) as server:
        yield server


async def test_mysql_source_through_ssh_tunnel(
    chinook_mysql_dsn: str, mariadb: MariaDb, sshd: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vf_mcp.settings import Source, SshTunnel

    monkeypatch.setenv("VF_MCP_TEST_SSH_PASSPHRASE", CLIENT_PASSPHRASE)
    ssh = SshTunnel(
        host="127.0.0.1",
        port=sshd.port,
        user=sshd.user,
        private_key_path=str(sshd.client_key),
        passphrase_env="VF_MCP_TEST_SSH_PASSPHRASE",
        known_hosts=str(sshd.known_hosts),
        connect_timeout_s=5.0,
    )
    before = sshd.accepted_logins()
    sources = (Source(name="far", dsn=chinook_mysql_dsn, ssh=ssh, default=True),)
    async with mcp_client(chinook_mysql_dsn, sources=sources) as client:
        out = await call(client, "run_query", {"sql": "SELECT COUNT(*) AS n FROM Album", "source": "far"})
    assert out["rows"] == [[(await admin_sql(mariadb, "SELECT COUNT(*) FROM Album", "chinook"))[0][0]]]
    assert sshd.wait_accepted(before + 1) > before  # the connection went through the bastion
