"""Named sources: which databases this server serves, and the Database (pools, tunnel) for each one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr

from vf_mcp.db.cache import ResultCache
from vf_mcp.db.catalog import Catalog
from vf_mcp.db.mysql.pool import is_mysql_dsn
from vf_mcp.db.pool import Database, StatementCounter
from vf_mcp.errors import ConfigError
from vf_mcp.settings import Settings, Source

if TYPE_CHECKING:
    from vf_mcp.db.tunnel import SshTunnel

DEFAULT_NAME = "default"


def configured_sources(settings: Settings) -> tuple[Source, ...]:
    """The [[sources]] of the settings, or one source called 'default' made of dsn and replica_dsns."""
    if not settings.sources:
        return (
            Source(
                name=DEFAULT_NAME,
                description="The database given by --dsn / VF_MCP_DSN",
                default=True,
                dsn=settings.dsn,
                replica_dsns=settings.replica_dsns,
            ),
        )
    names = [s.name for s in settings.sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"Source names must be unique; repeated: {', '.join(dupes)}")
    defaults = [s.name for s in settings.sources if s.default]
    if len(defaults) > 1:
        raise ConfigError(f"Only one source may be the default; marked default: {', '.join(defaults)}")
    if settings.dsn is not None and DEFAULT_NAME not in names:  # --dsn given beside [[sources]]
        extra = Source(name=DEFAULT_NAME, description="The database given by --dsn", dsn=settings.dsn)
        return (*settings.sources, extra.model_copy(update={"default": not defaults}))
    if not defaults:
        first = settings.sources[0].model_copy(update={"default": True})
        return (first, *settings.sources[1:])
    return settings.sources


def source_settings(settings: Settings, source: Source) -> Settings:
    """The settings one source runs with: its DSN and its own limits over the global ones."""
    update: dict[str, object] = {"sources": (), "replica_dsns": source.replica_dsns}
    if source.dsn is not None or source.host is not None or source.database is not None:
        update["dsn"] = SecretStr(source.dsn_value())
    elif source.name != DEFAULT_NAME or settings.dsn is None:
        update["dsn"] = None
    if source.statement_timeout_ms is not None:
        update["statement_timeout_ms"] = source.statement_timeout_ms
    if source.max_rows is not None:
        update["max_rows"] = source.max_rows
    if source.pii_mode is not None:
        update["pii_mode"] = source.pii_mode
    if source.pii_columns:
        update["pii_columns"] = {**settings.pii_columns, **source.pii_columns}
    return settings.model_copy(update=update)


@dataclass
class SourceRuntime:
    """One source's Database and, when it is reached through a bastion, its SSH tunnels."""

    source: Source
    settings: Settings
    db: Database
    tunnels: tuple[SshTunnel, ...] = ()  # one per server (primary, replicas)

    def catalog(self, cache: ResultCache) -> Catalog:
        """The source's catalog, of its engine (PostgreSQL or MySQL/MariaDB)."""
        from vf_mcp.db.engine import engine_of

        return engine_of(self.db).catalog(self.db, cache)

    async def close(self) -> None:
        await self.db.close()
        for tunnel in self.tunnels:
            await tunnel.close()


def open_source(settings: Settings, source: Source, counter: StatementCounter | None = None) -> SourceRuntime:
    """Build (without connecting) the Database of one source; pools and tunnels open on first use."""
    own = source_settings(settings, source)
    replicas = [r.get_secret_value() for r in own.replica_dsns]
    if own.dsn is not None and is_mysql_dsn(own.dsn_value()):  # mysql:// or mariadb://: the MySQL engine
        return _open_mysql(own, source, counter, replicas)
    if source.ssh is None:
        return SourceRuntime(source, own, Database(own, counter, replicas=[_fixed(r) for r in replicas]))
    from vf_mcp.db.tunnel import SshTunnel, dsn_target, dsn_through

    tunnels: list[SshTunnel] = []

    def through_bastion(dsn: str) -> Callable[[], Awaitable[str]]:
        tunnel = SshTunnel(source.ssh, *dsn_target(dsn))  # type: ignore[arg-type]
        tunnels.append(tunnel)

        async def get() -> str:
            host, port = await tunnel.local_address()
            return str(dsn_through(dsn, host, port))

        return get

    primary = through_bastion(own.dsn_value())
    db = Database(own, counter, dsn=primary, replicas=[through_bastion(r) for r in replicas])
    return SourceRuntime(source, own, db, tuple(tunnels))


def _open_mysql(own: Settings, source: Source, counter: StatementCounter | None, replicas: list[str]) -> SourceRuntime:
    """A MySQL/MariaDB source (vf_mcp/db/mysql/) and its read replicas, reached directly or each through its own
    SSH tunnel."""
    from vf_mcp.db.mysql.pool import MySqlDatabase, is_mysql_dsn, mysql_dsn_through, parse_mysql_dsn

    for dsn in replicas:
        if not is_mysql_dsn(dsn):
            raise ConfigError(f"Source {source.name!r}: the replicas of a MySQL/MariaDB source are mysql:// URLs too.")
        parse_mysql_dsn(dsn)  # a malformed replica DSN is a configuration error now, not at the first read
    if source.ssh is None:
        db = MySqlDatabase(own, counter, dsn=_fixed(own.dsn_value()), replicas=[_fixed(r) for r in replicas])
        return SourceRuntime(source, own, db)
    from vf_mcp.db.tunnel import SshTunnel

    tunnels: list[SshTunnel] = []

    def through_bastion(dsn: str) -> Callable[[], Awaitable[str]]:
        where = parse_mysql_dsn(dsn)
        tunnel = SshTunnel(source.ssh, where.host, where.port)  # type: ignore[arg-type]
        tunnels.append(tunnel)

        async def through() -> str:
            host, port = await tunnel.local_address()
            return mysql_dsn_through(dsn, host, port)

        return through

    primary = through_bastion(own.dsn_value())
    db = MySqlDatabase(own, counter, dsn=primary, replicas=[through_bastion(r) for r in replicas])
    return SourceRuntime(source, own, db, tuple(tunnels))


def _fixed(dsn: str) -> Callable[[], Awaitable[str]]:
    async def get() -> str:
        return dsn

    return get
