"""The typed app container: one `App` per source, the `Hub` of every source, and the shared `Ops` services.

Built in the server lifespan (vf_mcp/server.py), never at module level; tools receive it through the
request context. Nothing else lives here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vf_mcp.db.catalog import Catalog
from vf_mcp.db.engine import Engine, engine_of
from vf_mcp.db.pool import Database
from vf_mcp.errors import NotFoundError
from vf_mcp.settings import Settings

if TYPE_CHECKING:
    from vf_mcp.db.cache import ResultCache
    from vf_mcp.db.sources import SourceRuntime
    from vf_mcp.export.service import ServerExports
    from vf_mcp.ops.audit import AuditLog
    from vf_mcp.ops.auth import KeyRing
    from vf_mcp.ops.metrics import Metrics
    from vf_mcp.ops.ratelimit import LocalRateLimiter, RedisRateLimiter
    from vf_mcp.ops.shared_cache import RedisCache
    from vf_mcp.pii import PiiPolicy
    from vf_mcp.settings import Source

__all__ = ["App", "Hub", "Ops"]


@dataclass
class Ops:
    """Cross-cutting services shared by every source: access, limits, metrics, audit, shared cache."""

    keyring: KeyRing
    limiter: LocalRateLimiter | RedisRateLimiter
    metrics: Metrics
    audit: AuditLog | None
    shared_cache: RedisCache | None
    started_at: float = field(default_factory=time.time)


@dataclass
class Hub:
    """Every source's App, by name, and the shared services."""

    apps: dict[str, App]
    default: str
    ops: Ops | None = None
    exports: ServerExports | None = None
    """The server's exports (export_results, export:// and /exports/ links), set by the server."""


@dataclass
class App:
    """Everything a tool needs for one source, built in the server lifespan (never module-level)."""

    settings: Settings
    db: Database
    catalog: Catalog
    query_cache: ResultCache
    source: Source | None = None
    pii: PiiPolicy | None = None
    hub: Hub | None = None
    runtime: SourceRuntime | None = None
    """Closes the source's pools and tunnel."""

    @property
    def engine(self) -> Engine:
        """The source's database engine (PostgreSQL, MySQL/MariaDB): what tools ask of the database layer."""
        return engine_of(self.db)

    @property
    def source_name(self) -> str:
        """The source's name ('default' for a single-database server)."""
        return self.source.name if self.source is not None else "default"

    def for_source(self, name: str | None) -> App:
        """The App of the named source (None: the default source)."""
        if self.hub is None:
            if name in (None, self.source_name):
                return self
            raise NotFoundError(f"Unknown source {name!r}; this server has only {self.source_name!r}.")
        if name is None:
            return self.hub.apps[self.hub.default]
        app = self.hub.apps.get(name)
        if app is None:
            raise NotFoundError(
                f"Unknown source {name!r}. Sources: {', '.join(sorted(self.hub.apps))} (see list_sources)."
            )
        return app
