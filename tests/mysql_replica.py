"""A real MariaDB read replica of the test server (tests/mysql_server.py), for the replica tests.

`start_replica` initialises a second data directory, starts a second mariadbd on a free loopback port with its
own server id and points it at the primary's binary log from the first event (`CHANGE MASTER TO ...;
START SLAVE`): it replays everything the primary did since it started, the admin account and Chinook included,
so the same admin DSN works on both. It returns once the replica has applied the primary's current position
(MASTER_GTID_WAIT). `stop` ends the process (the fallback test stops it mid-module).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.mysql_server import MariaDb, _client, _wait_ready, admin_sql, launch_mariadbd

REPLICA_SERVER_ID = 2


@dataclass
class Replica:
    server: MariaDb  # the same admin account, on the replica's port
    proc: subprocess.Popen[bytes]
    socket: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def primary_has_binlog(primary: MariaDb) -> bool:
    return bool((await admin_sql(primary, "SELECT @@GLOBAL.log_bin"))[0][0])


async def replica_status(server: MariaDb) -> list[dict[str, Any]]:
    """SHOW SLAVE STATUS on a separate admin connection, by column name."""
    from asyncmy import connect

    conn = await connect(host=server.host, port=server.port, user=server.user, password=server.password)
    try:
        cur = conn.cursor()
        await cur.execute("SHOW SLAVE STATUS")
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in await cur.fetchall() or ()]
    finally:
        conn.close()


async def wait_caught_up(primary: MariaDb, replica: Replica, timeout_s: int = 30) -> None:
    """Until the replica has applied everything the primary has logged so far (or fail with its status).

    Asked as the replica's own root over its socket: the admin account exists there only once replayed."""
    ((pos,),) = await admin_sql(primary, "SELECT @@GLOBAL.gtid_binlog_pos")
    waited = _root_value(replica.socket, f"SELECT MASTER_GTID_WAIT('{pos}', {int(timeout_s)})")
    if waited != "0":
        status = _root_value(replica.socket, "SHOW SLAVE STATUS\\G")
        raise RuntimeError(f"the replica did not reach {pos} within {timeout_s} s:\n{status}")


def _root_value(sock: Path, sql: str) -> str:
    done = subprocess.run(
        ["mariadb", f"--socket={sock}", "-uroot", "--batch", "--skip-column-names", "-e", sql],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return done.stdout.decode().strip()


@contextmanager
def start_replica(base: Path, primary: MariaDb) -> Iterator[Replica]:
    """A second mariadbd under `base`, replicating `primary` from its first binary log event."""
    proc, port, sock, log, files = launch_mariadbd(
        base, f"--server-id={REPLICA_SERVER_ID}", "--read-only", "--skip-slave-start"
    )
    replica = Replica(MariaDb("127.0.0.1", port, primary.user, primary.password, files), proc, sock)
    try:
        _wait_ready(port, proc, log)
        _client(
            port,
            sock,
            f"CHANGE MASTER TO MASTER_HOST='{primary.host}', MASTER_PORT={primary.port}, "
            f"MASTER_USER='{primary.user}', MASTER_PASSWORD='{primary.password}', "
            "MASTER_LOG_FILE='mysql-bin.000001', MASTER_LOG_POS=4, MASTER_USE_GTID=no; START SLAVE;",
        )
        yield replica
    finally:
        replica.stop()
