"""A real MariaDB server on loopback for the MySQL-engine tests: data dir in a temp directory, own process.

`start_mariadb` runs mariadb-install-db into a fresh directory and starts /usr/sbin/mariadbd on a free
loopback port (TCP only, no system service; `--user=root` when the tests run as root, as in CI). The admin
account `vf_admin` has every privilege (the attack tests run as a privileged user); the Chinook sample
database (MIT, tests/data/chinook_mysql) is loaded into `chinook`. VF_MCP_TEST_MYSQL_DSN names an external
server instead (its admin DSN, mysql://user:pass@host:port/): the tests then (re)create `chinook` there; its
zone tables must hold America/New_York.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

MARIADBD = Path("/usr/sbin/mariadbd")
INSTALL_DB = "mariadb-install-db"
ADMIN_USER = "vf_admin"
ADMIN_PASSWORD = "admin-secret"
DATA = Path(__file__).parent / "data" / "chinook_mysql" / "chinook_mysql.sql.gz"
ENV_DSN = "VF_MCP_TEST_MYSQL_DSN"
ZONEINFO = "/usr/share/zoneinfo"  # Debian's tzdata
TIME_ZONES = ("America/New_York",)
BINLOG_ARGS = ("--log-bin=mysql-bin", "--server-id=1", "--binlog-format=ROW")
"""A binary log from the start, so a replica (tests/mysql_replica.py) can replay everything from the first event."""


@dataclass
class MariaDb:
    """A reachable server: where it listens and the admin account (all privileges)."""

    host: str
    port: int
    user: str
    password: str
    files_dir: Path  # a directory the server may write (secure_file_priv) when we started it

    def dsn(self, database: str = "", *, user: str | None = None, password: str | None = None) -> str:
        return f"mysql://{user or self.user}:{password or self.password}@{self.host}:{self.port}/{database}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"mariadbd did not listen on {port} within {timeout_s} s")


def _client(port: int, sock: Path, sql: str) -> None:
    """Run setup SQL through the mariadb client as the OS user (unix_socket authentication)."""
    subprocess.run(
        ["mariadb", f"--socket={sock}", "-uroot", "--batch"], input=sql.encode(), check=True, capture_output=True
    )


def launch_mariadbd(base: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int, Path, Path, Path]:
    """Initialise a data directory under `base` and start mariadbd on a free port with `extra` options.

    Returns (process, port, socket, error log, secure-file-priv directory); the caller waits for it.
    """
    datadir, files, sock, log = base / "data", base / "files", base / "mysqld.sock", base / "mysqld.log"
    files.mkdir(parents=True)
    user_args = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [INSTALL_DB, "--no-defaults", f"--datadir={datadir}", "--auth-root-authentication-method=socket",
         "--skip-test-db", *user_args],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [str(MARIADBD), "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", f"--log-error={log}", f"--pid-file={base / 'mysqld.pid'}",
         f"--secure-file-priv={files}", "--skip-name-resolve", "--innodb-buffer-pool-size=32M",
         "--performance-schema=ON", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
         *extra, *user_args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return proc, port, sock, log, files


@contextmanager
def start_mariadb(base: Path) -> Iterator[MariaDb]:
    """Initialise a data directory under `base`, start mariadbd on a free port, yield, then stop it."""
    proc, port, sock, log, files = launch_mariadbd(base, *BINLOG_ARGS)
    try:
        _wait_ready(port, proc, log)
        _client(
            port,
            sock,
            f"CREATE USER '{ADMIN_USER}'@'%' IDENTIFIED BY '{ADMIN_PASSWORD}';"
            f"GRANT ALL PRIVILEGES ON *.* TO '{ADMIN_USER}'@'%' WITH GRANT OPTION;",
        )
        zones = [z for z in TIME_ZONES if Path(ZONEINFO, z).exists()]
        for zone in zones:  # named zones for the session time_zone (the tests use these)
            sql = subprocess.run(
                ["mariadb-tzinfo-to-sql", str(Path(ZONEINFO, zone)), zone], check=True, capture_output=True
            ).stdout.decode()
            _client(port, sock, "USE mysql;\n" + sql)
        yield MariaDb("127.0.0.1", port, ADMIN_USER, ADMIN_PASSWORD, files)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def external() -> MariaDb | None:
    """The server named by VF_MCP_TEST_MYSQL_DSN, if set."""
    raw = os.environ.get(ENV_DSN)
    if not raw:
        return None
    u = urlsplit(raw)
    files = Path(tempfile.mkdtemp(prefix="vf-mcp-mysql-files-"))  # stays empty: the server writes elsewhere
    return MariaDb(u.hostname or "127.0.0.1", u.port or 3306, u.username or "root", u.password or "", files)


def chinook_script() -> str:
    """The Chinook MySQL script without its DROP/CREATE DATABASE and USE lines (we pick the database)."""
    text = gzip.decompress(DATA.read_bytes()).decode("utf-8-sig")
    start = text.index("USE `Chinook`;") + len("USE `Chinook`;")
    return text[start:]


def available() -> bool:
    return external() is not None or (MARIADBD.exists() and shutil.which(INSTALL_DB) is not None)


async def admin_sql(server: MariaDb, query: str, database: str = "", *, params: tuple[object, ...] = ()) -> list[tuple]:
    """An independent answer: `query` on a separate plain admin connection (text protocol, pyformat params)."""
    from asyncmy import connect

    conn = await connect(
        host=server.host, port=server.port, user=server.user, password=server.password,
        database=database or None, autocommit=True, charset="utf8mb4",
    )  # fmt: skip
    try:
        cur = conn.cursor()
        await cur.execute(query, params or None)
        rows = await cur.fetchall()
        return list(rows or ())
    finally:
        conn.close()


async def load_chinook(server: MariaDb, database: str = "chinook") -> None:
    """Create `database` and load the Chinook MySQL script into it (setup SQL, one statement at a time)."""
    await admin_sql(server, f"DROP DATABASE IF EXISTS `{database}`")
    await admin_sql(server, f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    from asyncmy import connect

    conn = await connect(
        host=server.host, port=server.port, user=server.user, password=server.password, database=database,
        autocommit=True, charset="utf8mb4",
    )  # fmt: skip
    try:
        cur = conn.cursor()
        for chunk in chinook_script().split(";\n"):
            text = chunk.strip()
            while text.startswith("/*"):
                text = text[text.index("*/") + 2 :].strip()
            if text:
                await cur.execute(text)
    finally:
        conn.close()
