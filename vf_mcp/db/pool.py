"""The connection pool and read-only sessions (layer 3 of the read-only guarantee).

Every connection starts with default_transaction_read_only=on, statement_timeout, lock_timeout,
idle_in_transaction_session_timeout and TimeZone (the `time_zone` setting) as *startup parameters*, so the
session defaults themselves are safe and one zone governs every statement: literals cast to timestamptz, now(),
date_trunc on timestamptz, and the rendered timestamps (the codecs render timestamptz in the same zone).
A single query runs in its own implicit transaction, READ ONLY by that session default (one round trip);
anything else (a cursor, a lowered timeout, an export) runs inside an explicit READ ONLY transaction. asyncpg
resets each connection on release (RESET ALL, CLOSE ALL, UNLISTEN *, advisory unlocks), which restores those
startup values: nothing one call sets survives into the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vf_mcp.compute.periods import zone_info
from vf_mcp.errors import (
    ConfigError,
    DatabaseUnavailableError,
    QueryCancelledError,
    QueryTimeoutError,
    ServerBusyError,
    VfError,
    db_errors,
)
from vf_mcp.settings import Settings, redact_dsn

if TYPE_CHECKING:
    import asyncpg
else:
    from vf_mcp.lazy import asyncpg  # imported on first use: not before the stdio handshake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoleSafety:
    """What the connected role could do if every other layer failed: write, or read the catalogs' secrets."""

    role: str
    superuser: bool
    can_write: bool
    reasons: tuple[str, ...]
    """Why the role is not least-privilege (write and secret-reading reasons alike)."""
    server_version: str
    reads_secrets: bool = False
    """Can read password hashes, user mappings, planner statistics, server files or all data."""
    notes: tuple[str, ...] = ()
    """Worth knowing but acceptable (pg_monitor from `setup-role --monitoring`)."""

    @property
    def is_read_only(self) -> bool:
        """Least privilege: not a superuser, cannot write, cannot read the catalogs' secrets."""
        return not self.superuser and not self.can_write and not self.reads_secrets

    def warning(self) -> str | None:
        """One paragraph naming the reasons and the fix, or None for a least-privilege role."""
        if self.is_read_only:
            return None
        return (
            f"Role {self.role!r} is not a least-privilege read-only role ({'; '.join(self.reasons)}). vf-mcp "
            "still refuses writes and secret catalogs in model SQL, but the role is the last line of defence: "
            "run `vf-mcp setup-role --dsn ADMIN_URL --role vf_readonly` and connect as that role."
        )


_SECRET_TABLES = (
    "pg_catalog.pg_authid",
    "pg_catalog.pg_user_mapping",
    "pg_catalog.pg_statistic",
    "pg_catalog.pg_subscription",
    "pg_catalog.pg_hba_file_rules",
    "pg_catalog.pg_ident_file_mappings",
    "pg_catalog.pg_file_settings",
)
_WRITE_ROLES = ("pg_write_all_data", "pg_write_server_files", "pg_execute_server_program")
_SECRET_ROLES = ("pg_read_all_data", "pg_read_server_files")
_NOTE_ROLES = ("pg_read_all_stats", "pg_read_all_settings")
_ROLE_NOTES = {
    "pg_read_all_stats": "member of pg_read_all_stats: it can see other sessions' query text (the SQL guard "
    "refuses those views to model SQL; the DBA tools use them)",
    "pg_read_all_settings": "member of pg_read_all_settings: it can read superuser-only settings such as "
    "primary_conninfo",
}

ROLE_SAFETY_SQL = f"""
WITH me AS (SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls
            FROM pg_roles r WHERE r.rolname = current_user)
SELECT me.*, current_setting('server_version') AS server_version,
  ARRAY(SELECT n.nspname FROM pg_namespace n
        WHERE has_schema_privilege(n.oid, 'CREATE')
          AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema') AS create_schemas,
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r','p','v','m','f')
      AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      AND has_table_privilege(c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE')) AS writable_tables,
  ARRAY(SELECT t FROM unnest(ARRAY{list(_SECRET_TABLES)}::text[]) AS t
        WHERE to_regclass(t) IS NOT NULL AND has_table_privilege(to_regclass(t), 'SELECT')) AS secret_tables,
  ARRAY(SELECT r.rolname::text FROM pg_roles r
        WHERE r.rolname = ANY (ARRAY{list(_WRITE_ROLES + _SECRET_ROLES + _NOTE_ROLES)}::text[])
          AND pg_has_role(current_user, r.oid, 'MEMBER') ORDER BY r.rolname) AS member_of
FROM me
"""
"""One query: privileges that let the role write or read the catalogs' secrets (see Database.role_safety)."""


class ShapeMemo:
    """What vf-mcp's own statements return (described once), by SQL text, for as long as the catalog is cached.

    Those statements are built from the cached catalog, so their result shape changes only with a schema change,
    which the catalog cache itself sees at its next refresh (schema_cache_ttl_s); Catalog.invalidate clears both.
    A remembered statement runs in one round trip (asyncpg keeps it prepared per connection) instead of a
    describe and then the run.
    """

    MAX_ENTRIES = 512

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, object]] = {}

    def get(self, sql: str) -> object | None:
        entry = self._entries.get(sql)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[sql]
            return None
        return entry[1]

    def put(self, sql: str, shape: object) -> None:
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.pop(next(iter(self._entries)))
        self._entries[sql] = (self._clock() + self.ttl_s, shape)

    def forget(self, sql: str) -> None:
        self._entries.pop(sql, None)

    def clear(self) -> None:
        self._entries.clear()


@dataclass
class StatementCounter:
    """Counts vf-mcp's own catalog/metadata statements (those run through Database.fetch)."""

    statements: int = 0


_SQL_LOG: ContextVar[list[str] | None] = ContextVar("vf_mcp_sql_log", default=None)


@contextmanager
def recording_sql() -> Iterator[list[str]]:
    """Collect the SQL statements run in this context (for the audit log)."""
    log_: list[str] = []
    token = _SQL_LOG.set(log_)
    try:
        yield log_
    finally:
        _SQL_LOG.reset(token)


def note_sql(sql: str) -> None:
    """Record a statement about to run, when a caller is recording (see recording_sql)."""
    log_ = _SQL_LOG.get()
    if log_ is not None and len(log_) < 50:
        log_.append(sql)


class CircuitBreaker:
    """Opens after `failures` consecutive connection failures; after `cooldown_s` lets one trial call through."""

    def __init__(self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self.cooldown_s else "open"

    def before(self) -> None:
        """Raise DatabaseUnavailableError while open; in half-open, admit one trial call at a time."""
        if self._opened_at is None:
            return
        wait = self.cooldown_s - (self._clock() - self._opened_at)
        if wait > 0 or self._trial:
            retry = max(wait, 1.0)
            raise DatabaseUnavailableError(
                f"Database unavailable (circuit breaker open after {self._consecutive} consecutive connection "
                f"failures): retry after {retry:.0f} s."
            )
        self._trial = True

    def success(self) -> None:
        self._consecutive = 0
        self._opened_at = None
        self._trial = False

    def failure(self) -> None:
        self._consecutive += 1
        self._trial = False
        if self._consecutive >= self.failures:
            self._opened_at = self._clock()


def _is_connection_failure(exc: BaseException) -> bool:
    if isinstance(exc, DatabaseUnavailableError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", "") or ""
        return state.startswith(("08", "57P")) or state == "53300"
    return isinstance(
        exc, (OSError, asyncpg.exceptions.ConnectionDoesNotExistError, TimeoutError, asyncpg.InternalClientError)
    )


def _is_closed(conn: asyncpg.Connection) -> bool:
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:  # detached: the pool already dropped a dead connection
        return True


async def _release(pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
    """Give `conn` back to the pool, finishing the release even when the call is being cancelled.

    asyncpg resets the connection in a shielded task: a cancelled caller would leave that task running (and a
    connection that could not be reset would raise in it, unobserved). The pool drops such a connection itself.
    """
    release = asyncio.ensure_future(pool.release(conn))
    release.add_done_callback(_observed)
    try:
        await asyncio.shield(release)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await release
        raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
        pass  # could not be reset: the pool closed it; the call's own outcome stands


def _observed(task: asyncio.Future[None]) -> None:
    """Retrieve a finished release's outcome (never 'exception was never retrieved' on a cancelled call)."""
    if not task.cancelled():
        task.exception()


_BAD_DSN = (ValueError, ArithmeticError)  # asyncpg's own DSN parsing (a port of 99999 overflows)

DsnProvider = Callable[[], Awaitable[str]]


def _connect_error(exc: BaseException, dsn: str) -> VfError:
    """A failed connect as one actionable line: a wrong password, user, database or host is a setting to fix
    (ConfigError, never retried); anything else may pass (DatabaseUnavailableError, retryable)."""
    import socket

    where = f"Cannot connect to {redact_dsn(dsn)}"
    text = _scrub(str(exc), dsn)
    fix = "in the DSN (--dsn, VF_MCP_DSN or the config file)"
    if isinstance(exc, asyncpg.InvalidPasswordError):  # 28P01
        return ConfigError(f"{where}: {text}. Fix the user name or password {fix} (not retried).")
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):  # 28000: unknown role, pg_hba.conf
        return ConfigError(f"{where}: {text}. Fix the user name {fix} or allow it in pg_hba.conf (not retried).")
    if isinstance(exc, asyncpg.InvalidCatalogNameError):  # 3D000
        return ConfigError(f"{where}: {text}. Fix the database name {fix} (not retried).")
    if isinstance(exc, socket.gaierror):  # DNS: the host name does not resolve
        return ConfigError(f"{where}: unknown host ({exc.strerror or text}). Fix the host name {fix} (not retried).")
    return DatabaseUnavailableError(f"{where}: {type(exc).__name__}: {text}", retryable=True)


class _Target:
    """One server (primary or a replica): its DSN (possibly through a tunnel) and a lazily created pool."""

    def __init__(self, label: str, dsn: DsnProvider) -> None:
        self.label = label
        self._dsn = dsn
        self.pool: asyncpg.Pool | None = None
        self.lock = asyncio.Lock()
        self.active = 0
        self.last_used = time.monotonic()
        self.down_until = 0.0


class Database:
    """Owns the pools (primary and read replicas): lazy, read-only sessions with server-side timeouts.

    Connection failures feed a circuit breaker; a pool whose connections broke is discarded and rebuilt on
    the next call (after a server restart or a dropped SSH tunnel). Reads go to replicas round-robin when
    configured, with the primary as fallback.
    """

    def __init__(
        self,
        settings: Settings,
        counter: StatementCounter | None = None,
        *,
        dsn: DsnProvider | None = None,
        replicas: Sequence[DsnProvider] = (),
    ) -> None:
        self.settings = settings
        self.counter = counter or StatementCounter()
        self.breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown_s)
        self._primary = _Target("primary", dsn or self._settings_dsn)
        self._replicas = [_Target(f"replica {i + 1}", r) for i, r in enumerate(replicas)]
        self._next_replica = 0
        self._temp_file_limit_ok: bool | None = None  # may this role set temp_file_limit? (None: not tried yet)
        self._export_slots: asyncio.Semaphore | None = None
        self._releases: set[asyncio.Future[None]] = set()  # connections being reset after a finished call
        self.shapes = ShapeMemo(settings.schema_cache_ttl_s)
        """Result shapes of vf-mcp's own statements (runner.fetch_converted)."""

    @property
    def export_slots(self) -> int:
        """Exports allowed at once: export_max_concurrent, leaving one connection for interactive tools."""
        s = self.settings
        return max(1, min(s.export_max_concurrent, s.pool_max_size - 1))

    async def _settings_dsn(self) -> str:
        return self.settings.dsn_value()

    def _server_settings(self) -> dict[str, str]:
        s = self.settings
        out = {
            "application_name": "vf-mcp",
            "default_transaction_read_only": "on",
            "statement_timeout": str(s.statement_timeout_ms),
            "lock_timeout": str(s.lock_timeout_ms),
            "idle_in_transaction_session_timeout": str(s.idle_in_transaction_session_timeout_ms),
            "TimeZone": s.time_zone,  # a startup value: RESET ALL on release restores it, SET is refused to models
        }
        if s.temp_file_limit_kb > 0 and self._temp_file_limit_ok is not False:
            out["temp_file_limit"] = f"{s.temp_file_limit_kb}kB"
        return out

    async def _create_pool(self, dsn: str) -> asyncpg.Pool:
        """A pool whose sessions start with _server_settings; drops temp_file_limit if the role may not set it."""
        from vf_mcp.db.codecs import install_codecs

        try:
            zone = zone_info(self.settings.time_zone)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        while True:
            server_settings = self._server_settings()
            pool: asyncpg.Pool | None = None
            try:
                pool = await asyncpg.create_pool(
                    dsn,
                    min_size=min(self.settings.pool_min_size, self.settings.pool_max_size),
                    max_size=self.settings.pool_max_size,
                    timeout=self.settings.connect_timeout_s,
                    server_settings=server_settings,
                    init=functools.partial(install_codecs, zone=zone),
                    max_inactive_connection_lifetime=300.0,
                )
                if "temp_file_limit" in server_settings and self._temp_file_limit_ok is None:
                    # one session proves it
                    await _release(pool, await pool.acquire(timeout=self.settings.connect_timeout_s))
                    self._temp_file_limit_ok = True
                return pool
            except asyncpg.InsufficientPrivilegeError as exc:
                if pool is not None:
                    pool.terminate()
                if "temp_file_limit" not in server_settings or "temp_file_limit" not in str(exc):
                    raise
                self._temp_file_limit_ok = False
                log.warning(
                    "the role may not set temp_file_limit (%s): temporary files are bounded only by the role's "
                    "own setting; grant it (GRANT SET ON PARAMETER temp_file_limit TO <role>, PostgreSQL 15+) "
                    "or set it on the role (ALTER ROLE <role> SET temp_file_limit = '1GB')",
                    exc,
                )
            except BaseException:
                if pool is not None:
                    pool.terminate()
                raise

    async def _pool_of(self, target: _Target) -> asyncpg.Pool:
        if target.pool is not None:
            return target.pool
        async with target.lock:
            if target.pool is None:
                dsn = await target._dsn()
                try:
                    target.pool = await self._create_pool(dsn)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError, *_BAD_DSN) as exc:
                    raise _connect_error(exc, dsn) from exc
        return target.pool

    async def pool(self) -> asyncpg.Pool:
        """The primary's pool, created on first use."""
        return await self._pool_of(self._primary)

    def _pick(self) -> list[_Target]:
        """Targets to try in order: the next healthy replica (round-robin), then the primary."""
        now = time.monotonic()
        healthy = [r for r in self._replicas if r.down_until <= now]
        if not healthy:
            return [self._primary]
        choice = healthy[self._next_replica % len(healthy)]
        self._next_replica += 1
        return [choice, self._primary]

    async def _discard(self, target: _Target) -> None:
        pool, target.pool = target.pool, None
        if pool is not None:
            pool.terminate()

    @asynccontextmanager
    async def session(self, *, statement_timeout_ms: int) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection in a READ ONLY transaction with exactly this statement_timeout (exports).

        Exports take one of `export_slots` first (waiting at most pool_acquire_timeout_ms), so they can never
        hold every connection.
        """
        if self._export_slots is None:
            self._export_slots = asyncio.Semaphore(self.export_slots)
        slots = self._export_slots
        try:
            await asyncio.wait_for(slots.acquire(), self.settings.pool_acquire_timeout_ms / 1000.0)
        except TimeoutError:
            raise ServerBusyError(
                f"Server busy: {self.export_slots} export(s) are already running (export_max_concurrent); "
                "retry when one finishes."
            ) from None
        try:
            async with self._connection(statement_timeout_ms, force=True) as conn:
                yield conn
        finally:
            slots.release()

    @asynccontextmanager
    async def read_only(
        self, *, timeout_ms: int | None = None, transaction: bool = True
    ) -> AsyncIterator[asyncpg.Connection]:
        """A pooled read-only connection; `timeout_ms` may only lower the timeout.

        With `transaction=False` (one statement, no cursor) and the default timeout, no BEGIN/COMMIT is sent:
        the statement runs in its own implicit transaction, READ ONLY by the session default every connection
        starts with, and the connection is reset (RESET ALL) after the answer, off the caller's path.
        """
        async with self._connection(
            self.effective_timeout_ms(timeout_ms), force=False, transaction=transaction
        ) as conn:
            yield conn

    @asynccontextmanager
    async def _connection(
        self, timeout_ms: int, *, force: bool, transaction: bool = True
    ) -> AsyncIterator[asyncpg.Connection]:
        self.breaker.before()
        targets = self._pick()
        explicit = transaction or force or timeout_ms != self.settings.statement_timeout_ms
        for i, target in enumerate(targets):
            last = i == len(targets) - 1
            target.active += 1
            target.last_used = time.monotonic()
            entered = False
            lost = False  # the connection we held died (killed session, server restart)
            pool: asyncpg.Pool | None = None
            try:
                with db_errors(statement_timeout_ms=timeout_ms):
                    pool = await self._pool_of(target)
                    conn = await self._acquire(pool)
                    done = False
                    try:
                        if not explicit:
                            entered = True
                            yield conn
                            done = True
                        else:
                            tx = conn.transaction(readonly=True)
                            await tx.start()
                            try:
                                if force or timeout_ms != self.settings.statement_timeout_ms:
                                    await conn.fetchval(
                                        "SELECT set_config('statement_timeout', $1, true)", f"{timeout_ms}ms"
                                    )
                                entered = True
                                yield conn
                            except BaseException:
                                # keep the call's own error (a killed session makes ROLLBACK fail too); the pool's
                                # reset on release rolls back whatever is left
                                if not _is_closed(conn):
                                    with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                                        await tx.rollback()
                                raise
                            await tx.commit()
                    except BaseException:
                        try:
                            lost = conn.is_closed()
                        except asyncpg.InterfaceError:  # detached: the pool already dropped a dead connection
                            lost = True
                        raise
                    finally:
                        if done:
                            self._release_later(pool, conn)
                        else:
                            await _release(pool, conn)
                self.breaker.success()
                return
            except BaseException as exc:
                lost = lost or (pool is not None and target.pool is not pool)  # discarded meanwhile ("closing")
                if isinstance(exc, (QueryCancelledError, ServerBusyError)):
                    self.breaker.success()  # the server answered: an administrator's decision, or our own limit
                    raise
                if not _is_connection_failure(exc) and not lost:
                    if not isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
                        self.breaker.success()  # the server answered
                    raise
                if lost and not _is_connection_failure(exc) and not isinstance(exc, QueryTimeoutError):
                    exc = DatabaseUnavailableError(
                        f"The database connection was lost during the call ({exc}). Retry in a moment.",
                        retryable=True,
                    )
                await self._discard(target)
                if target is not self._primary:
                    target.down_until = time.monotonic() + self.settings.breaker_cooldown_s
                    log.warning("%s unreachable, falling back to the primary", target.label)
                if entered or last:
                    self.breaker.failure()
                    if isinstance(exc, DatabaseUnavailableError):
                        exc.retryable = True
                    raise exc from exc.__cause__
            finally:
                target.active -= 1
                target.last_used = time.monotonic()

    def _release_later(self, pool: asyncpg.Pool, conn: asyncpg.Connection) -> None:
        """Reset and return `conn` to the pool in the background (awaited by close())."""
        release = asyncio.ensure_future(pool.release(conn))
        self._releases.add(release)
        release.add_done_callback(self._releases.discard)
        release.add_done_callback(_observed)

    async def _acquire(self, pool: asyncpg.Pool) -> asyncpg.Connection:
        """A pooled connection within pool_acquire_timeout_ms, else ServerBusyError (not retried)."""
        s = self.settings
        try:
            conn: asyncpg.Connection = await pool.acquire(timeout=s.pool_acquire_timeout_ms / 1000.0)
        except TimeoutError:
            if pool.get_size() >= s.pool_max_size and pool.get_idle_size() == 0:
                raise ServerBusyError(
                    f"Server busy: all {s.pool_max_size} database connections are in use (pool_max_size); "
                    "retry in a few seconds."
                ) from None
            raise DatabaseUnavailableError(
                f"No database connection within {s.pool_acquire_timeout_ms} ms (pool_acquire_timeout_ms): "
                "connecting is slow. Retry in a moment.",
                retryable=True,
            ) from None
        return conn

    async def close_if_idle(self, idle_s: float) -> bool:
        """Close pools unused for `idle_s` seconds (none in use); reopened lazily. True if one was closed."""
        closed = False
        now = time.monotonic()
        for target in [self._primary, *self._replicas]:
            if target.pool is not None and target.active == 0 and now - target.last_used >= idle_s:
                pool, target.pool = target.pool, None
                await pool.close()
                closed = True
        return closed

    def pool_stats(self) -> dict[str, int]:
        """Connections open and in use, over all pools."""
        size = in_use = 0
        for target in [self._primary, *self._replicas]:
            if target.pool is not None:
                size += target.pool.get_size()
                in_use += target.pool.get_size() - target.pool.get_idle_size()
        return {"size": size, "in_use": in_use, "max_size": self.settings.pool_max_size * (1 + len(self._replicas))}

    async def close(self) -> None:
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)
        for target in [self._primary, *self._replicas]:
            if target.pool is not None:
                pool, target.pool = target.pool, None
                await pool.close()

    def effective_timeout_ms(self, timeout_ms: int | None) -> int:
        limit = self.settings.statement_timeout_ms
        return limit if timeout_ms is None else max(1, min(int(timeout_ms), limit))

    def client_timeout_s(self, timeout_ms: int | None) -> float:
        """A client-side backstop a little past the server-side timeout (the server cancels first)."""
        return self.effective_timeout_ms(timeout_ms) / 1000.0 + 2.0

    async def fetch(self, sql: str, *args: object, timeout_ms: int | None = None) -> list[asyncpg.Record]:
        """Run one of vf-mcp's own (trusted, parameterised) statements read-only."""
        self.counter.statements += 1
        note_sql(sql)
        async with self.read_only(timeout_ms=timeout_ms) as conn:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *args, timeout=self.client_timeout_s(timeout_ms))
            return rows

    async def role_safety(self) -> RoleSafety:
        """Check whether the connected role could write or read the catalogs' secrets if every other layer failed."""
        row = (await self.fetch(ROLE_SAFETY_SQL))[0]
        writes: list[str] = []
        secrets: list[str] = []
        if row["rolsuper"]:
            writes.append("superuser")  # implies the role attributes and memberships below: not repeated
        for key, label in (
            ("rolcreaterole", "CREATEROLE"),
            ("rolcreatedb", "CREATEDB"),
            ("rolreplication", "REPLICATION"),
        ):
            if row[key] and not row["rolsuper"]:
                writes.append(label)
        if row["create_schemas"]:
            writes.append(f"CREATE on schema(s) {', '.join(row['create_schemas'])}")
        if row["writable_tables"]:
            writes.append(f"INSERT/UPDATE/DELETE/TRUNCATE on {row['writable_tables']} table(s)")
        member_of = set(row["member_of"] or ()) if not row["rolsuper"] else set()  # a superuser is implied
        writes += [f"member of {r}" for r in _WRITE_ROLES if r in member_of]
        secrets += [f"member of {r}" for r in _SECRET_ROLES if r in member_of]
        if row["secret_tables"] and not row["rolsuper"]:
            tables = ", ".join(t.removeprefix("pg_catalog.") for t in row["secret_tables"])
            secrets.append(f"can read {tables}")
        if row["rolbypassrls"] and not row["rolsuper"]:
            secrets.append("BYPASSRLS")
        notes = tuple(_ROLE_NOTES[r] for r in _NOTE_ROLES if r in member_of)
        return RoleSafety(
            role=row["rolname"],
            superuser=bool(row["rolsuper"]),
            can_write=bool(writes),
            reasons=tuple(writes + secrets),
            server_version=row["server_version"],
            reads_secrets=bool(secrets) or bool(row["rolsuper"]),
            notes=notes,
        )


def _scrub(text: str, dsn: str) -> str:
    """`text` without the DSN's password: structurally, and literally when long enough to be unambiguous."""
    from vf_mcp.redaction import dsn_parts, redact_text, register_secrets

    passwords, names = dsn_parts(dsn)
    register_secrets(passwords, names=names)
    return redact_text(text)
