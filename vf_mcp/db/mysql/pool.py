"""MySQL/MariaDB connections: read-only sessions with server-side time limits, a KILL QUERY backstop, and a
reset of every pooled connection on release.

Every connection is opened by asyncmy with multi-statements OFF (asyncmy turns CLIENT_MULTI_STATEMENTS on
unconditionally; it is cleared before the handshake) and LOAD DATA LOCAL off, then set up with
SET SESSION TRANSACTION READ ONLY, the statement time limit (max_statement_time on MariaDB, seconds;
max_execution_time on MySQL, milliseconds), lock_wait_timeout, time_zone '+00:00' (TIMESTAMP values arrive as
UTC instants, converted to the `time_zone` setting exactly, even in a DST fold; buckets and windows convert with
CONVERT_TZ, so a named zone needs the server's zone tables), utf8mb4 and an sql_mode without
NO_BACKSLASH_ESCAPES and ANSI_QUOTES (the guard's tokenizer reads strings the way the server does). On
release each connection gets COM_RESET_CONNECTION (user variables, temporary tables, named locks, session
variables, prepared statements, open transactions all dropped), its database selected again and the set-up
re-applied; a connection that cannot be reset is closed. A call that outlives the server's limit is stopped
by KILL QUERY from another connection to the same server, and its connection is closed.

Read replicas (`replica_dsns`) are servers of their own (`_Server`: idle sessions, slots), set up and reset
exactly like the primary's; reads go to them round-robin, and a replica that does not answer (a refused connect,
a session the server closed) is skipped for breaker_cooldown_s while the primary answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from vf_mcp.db.pool import Database, DsnProvider, RoleSafety, StatementCounter, note_sql
from vf_mcp.errors import (
    ConfigError,
    DatabaseUnavailableError,
    InvalidArgumentError,
    PermissionDeniedError,
    QueryCancelledError,
    QueryError,
    QueryTimeoutError,
    ServerBusyError,
    VfError,
)
from vf_mcp.settings import Settings, redact_dsn

if TYPE_CHECKING:
    import asyncpg
else:
    from vf_mcp.lazy import asyncpg  # imported on first use: not before the stdio handshake

MyConn: TypeAlias = Any
"""An asyncmy Connection (its stubs miss the protocol calls this module makes: reset, flags)."""
Row: TypeAlias = dict[str, Any]
"""One row of vf-mcp's own statements, by column name, as the driver decoded it."""
T = TypeVar("T")

log = logging.getLogger(__name__)

MYSQL_SCHEMES = ("mysql", "mariadb")
DEFAULT_MYSQL_PORT = 3306
COM_RESET_CONNECTION = 0x1F
_DROP_MODES = ("NO_BACKSLASH_ESCAPES", "ANSI_QUOTES", "ANSI", "PIPES_AS_CONCAT")


def mysql_zone(name: str) -> str:
    """The `time_zone` setting as CONVERT_TZ takes it ('+00:00' for UTC, needing no zone tables)."""
    return "+00:00" if name.strip().upper() in ("UTC", "Z", "ETC/UTC", "GMT", "ETC/GMT", "UCT", "ZULU") else name


def is_mysql_dsn(dsn: str | None) -> bool:
    """True for mysql:// and mariadb:// URLs."""
    return bool(dsn) and urlsplit(str(dsn)).scheme.lower() in MYSQL_SCHEMES


@dataclass(frozen=True)
class MySqlTarget:
    host: str
    port: int
    user: str
    password: str
    database: str
    unix_socket: str | None = None


def parse_mysql_dsn(dsn: str) -> MySqlTarget:
    """mysql://user:pass@host:3306/db (or mariadb://); ?unix_socket=/path is honoured."""
    parts = urlsplit(dsn)
    if parts.scheme.lower() not in MYSQL_SCHEMES:
        raise ConfigError(f"Not a MySQL DSN: {redact_dsn(dsn)} (use mysql://user:pass@host:3306/database).")
    try:
        port = parts.port or DEFAULT_MYSQL_PORT
    except ValueError:
        raise ConfigError(f"The DSN's port is not valid: {redact_dsn(dsn)}") from None
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ConfigError(f"The MySQL DSN names no database: {redact_dsn(dsn)} (mysql://user:pass@host/db).")
    query = dict(parse_qsl(parts.query))
    return MySqlTarget(
        host=unquote(parts.hostname or "localhost"),
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=database,
        unix_socket=query.get("unix_socket"),
    )


def mysql_dsn_through(dsn: str, host: str, port: int) -> str:
    """The same mysql:// URL (user, password, database, query kept) pointing at host:port (an SSH tunnel's end)."""
    parts = urlsplit(dsn)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + (f"[{host}]" if ":" in host else host) + f":{int(port)}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def translate_mysql(exc: BaseException, *, timeout_ms: int | None = None) -> VfError:
    """A driver or server error as one of vf-mcp's errors (one line, no stack trace)."""
    if isinstance(exc, VfError):
        return exc
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code and not 2000 <= code < 3000:  # a server error may echo data values (personal data): cut them
        from vf_mcp.db.mysql.masking import without_mysql_values

        text = without_mysql_values(code, text)
    if code in (1969, 3024, 1317, 1028):  # max_statement_time / max_execution_time exceeded, interrupted
        limit = f" of {timeout_ms} ms" if timeout_ms else ""
        return QueryTimeoutError(
            f"Query stopped by the statement time limit{limit}: add filters or LIMIT, or aggregate in SQL."
        )
    if code in (1792, 1290, 1227, 1044, 1142, 1143, 1370):  # read only transaction, privileges
        return PermissionDeniedError(f"Permission denied: {text}")
    if code in (1045, 1049, 1698):
        return ConfigError(f"Cannot connect: {text}. Fix the DSN (not retried).")
    if code in (1040, 1203):
        return ServerBusyError(f"Server busy: {text}")
    if code in (2003, 2006, 2013, 2055) or isinstance(exc, (OSError, ConnectionError)):
        return DatabaseUnavailableError(f"Database unavailable: {text}", retryable=True)
    if code == 1060:
        return QueryError(f"{text}: give every column of the result a distinct name (AS alias).")
    if code:
        return QueryError(f"MySQL error {code}: {text}")
    return QueryError(f"{type(exc).__name__}: {text}")


class _Server:
    """One MySQL/MariaDB server (the primary or a read replica): its DSN, idle sessions and connection slots."""

    def __init__(self, label: str, dsn: DsnProvider) -> None:
        self.label = label
        self.dsn = dsn
        self.idle: list[MyConn] = []
        self.open = 0
        self.down_until = 0.0
        self._slots: asyncio.Semaphore | None = None
        self._target: MySqlTarget | None = None

    async def target(self) -> MySqlTarget:
        if self._target is None:
            self._target = parse_mysql_dsn(await self.dsn())
        return self._target

    def slots_for(self, size: int) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(size)
        return self._slots

    def take_idle(self) -> MyConn | None:
        """The most recently pooled session still open; sessions the server closed meanwhile (a restart, a
        stopped replica: the socket saw EOF or unread bytes arrived) are dropped without a round trip."""
        while self.idle:
            conn = self.idle.pop()
            proto = getattr(conn, "_proto", None)
            if conn.connected and not (proto is not None and (proto.eof or proto.length > proto.pos)):
                return conn
            with contextlib.suppress(Exception):
                conn.close()
            self.open -= 1
        return None


class MySqlDatabase(Database):
    """The MySQL/MariaDB side of `Database`: read-only sessions over asyncmy (see the module docstring).

    It is a `Database` so the App and the sources carry one type; the PostgreSQL entry points (`read_only`,
    `session`, `fetch`, `pool`) refuse with a clear error: a tool not yet built for this engine says so
    instead of sending PostgreSQL SQL to MySQL.
    """

    engine_name = "mysql"

    def __init__(
        self,
        settings: Settings,
        counter: StatementCounter | None = None,
        *,
        dsn: DsnProvider | None = None,
        replicas: Sequence[DsnProvider] = (),
    ) -> None:
        super().__init__(settings, counter, dsn=dsn)
        self._server = _Server("primary", dsn or self._settings_dsn)
        self._replica_servers = [_Server(f"replica {i + 1}", r) for i, r in enumerate(replicas)]
        self._next_replica = 0
        self._home: weakref.WeakKeyDictionary[MyConn, _Server] = weakref.WeakKeyDictionary()
        self.flavor = "MySQL"  # "MariaDB" once connected to one
        self._zone_checked = False
        self.server_version = ""

    # -- refusals of the PostgreSQL entry points -------------------------------------------------------
    def _unsupported(self) -> VfError:
        from vf_mcp.db.engine import not_on_engine

        return not_on_engine(self.flavor_label)

    @property
    def flavor_label(self) -> str:
        return "MySQL/MariaDB" if not self.server_version else self.flavor

    @asynccontextmanager
    async def read_only(
        self, *, timeout_ms: int | None = None, transaction: bool = True
    ) -> AsyncIterator[asyncpg.Connection]:
        raise self._unsupported()
        yield  # pragma: no cover

    @asynccontextmanager
    async def session(self, *, statement_timeout_ms: int) -> AsyncIterator[asyncpg.Connection]:
        raise self._unsupported()
        yield  # pragma: no cover

    async def fetch(self, sql: str, *args: object, timeout_ms: int | None = None) -> list[asyncpg.Record]:
        raise self._unsupported()

    async def pool(self) -> asyncpg.Pool:
        raise self._unsupported()

    # -- connections -------------------------------------------------------------------------------------
    async def target(self) -> MySqlTarget:
        """Where the primary is (its database is the one every server serves)."""
        return await self._server.target()

    @property
    def replica_labels(self) -> list[str]:
        return [r.label for r in self._replica_servers]

    async def _connect(self, server: _Server | None = None) -> MyConn:
        from asyncmy.connection import Connection
        from asyncmy.constants.CLIENT import LOCAL_FILES, MULTI_STATEMENTS

        from vf_mcp.db.mysql.cursors import QuietCursor  # no SHOW WARNINGS: their messages echo values

        server = server or self._server
        t = await server.target()
        conn: MyConn = Connection(  # type: ignore[no-untyped-call]
            host=t.host,
            port=t.port,
            user=t.user,
            password=t.password,
            database=t.database,
            unix_socket=t.unix_socket,
            charset="utf8mb4",
            autocommit=True,
            local_infile=False,
            connect_timeout=self.settings.connect_timeout_s,
            program_name="vf-mcp",
            cursor_cls=QuietCursor,
        )
        conn._client_flag &= ~(MULTI_STATEMENTS | LOCAL_FILES)  # asyncmy always asks for multi-statements
        try:
            await asyncio.wait_for(conn.connect(), self.settings.connect_timeout_s + 1.0)
            version = str(conn.get_server_info())
            self.server_version = version
            self.flavor = "MariaDB" if "mariadb" in version.lower() else "MySQL"
            await self._setup(conn)
        except BaseException as exc:
            conn.close()
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
                raise
            err = translate_mysql(exc)
            if isinstance(err, QueryError | DatabaseUnavailableError) and not isinstance(exc, VfError):
                where = redact_dsn(await server.dsn())
                err = DatabaseUnavailableError(f"Cannot connect to {where}: {err.message}", retryable=True)
            raise err from None
        server.open += 1
        self._home[conn] = server
        return conn

    async def _run(self, conn: MyConn, sql: str) -> list[tuple[object, ...]]:
        cur = conn.cursor()
        # vf-mcp's own SQL; stacked statements cannot run: CLIENT_MULTI_STATEMENTS is cleared before the handshake
        # (_connect), so the server refuses a second statement (tests/test_mysql_attacks.py)
        await cur.execute(sql)
        rows = await cur.fetchall()
        await cur.close()
        return list(rows or ())

    def _timeout_sql(self, timeout_ms: int) -> str:
        if self.flavor == "MariaDB":
            return f"max_statement_time = {timeout_ms / 1000.0:.3f}"
        return f"max_execution_time = {int(timeout_ms)}"

    async def _setup(self, conn: MyConn) -> None:
        """The session every call starts with (after connect and after each reset)."""
        s = self.settings
        ((mode,),) = await self._run(conn, "SELECT @@SESSION.sql_mode")
        modes = ",".join(m for m in str(mode).split(",") if m and m.upper() not in _DROP_MODES)
        await self._run(conn, "SET SESSION TRANSACTION READ ONLY")
        await self._run(
            conn,
            f"SET SESSION {self._timeout_sql(s.statement_timeout_ms)}, "
            f"lock_wait_timeout = {max(1, s.lock_timeout_ms // 1000)}, "
            f"sql_mode = {conn.literal(modes)}, time_zone = '+00:00'",
        )
        if not self._zone_checked and mysql_zone(s.time_zone) != "+00:00":
            ((known,),) = await self._run(
                conn, f"SELECT CONVERT_TZ('2000-01-01', '+00:00', {conn.literal(s.time_zone)})"
            )
            if known is None:
                raise ConfigError(
                    f"The server does not know the time zone {s.time_zone!r}: load its zone tables "
                    "(mariadb-tzinfo-to-sql /usr/share/zoneinfo | mariadb mysql) or set time_zone = 'UTC'."
                )
            self._zone_checked = True

    async def _reset(self, conn: MyConn) -> None:
        """COM_RESET_CONNECTION, the database again, then the read-only/timeout set-up."""
        await conn._execute_command(COM_RESET_CONNECTION, b"")
        await conn._read_ok_packet()
        await conn.select_db((await self._home.get(conn, self._server).target()).database)
        await self._setup(conn)

    def _pick_servers(self) -> list[_Server]:
        """Servers to try in order: the next healthy replica (round-robin), then the primary."""
        now = time.monotonic()
        healthy = [r for r in self._replica_servers if r.down_until <= now]
        if not healthy:
            return [self._server]
        choice = healthy[self._next_replica % len(healthy)]
        self._next_replica += 1
        return [choice, self._server]

    def _down(self, server: _Server, why: str) -> None:
        """A replica that failed: skipped for breaker_cooldown_s, its idle sessions closed."""
        if server is self._server:
            return
        server.down_until = time.monotonic() + self.settings.breaker_cooldown_s
        idle, server.idle = server.idle, []
        for conn in idle:
            conn.close()
            server.open -= 1
        log.warning("%s unreachable (%s): reads fall back to the primary", server.label, why)

    async def _checkout(self, servers: Sequence[_Server]) -> tuple[_Server, MyConn]:
        """A session from the first server that answers (a replica that does not is skipped for a while)."""
        s = self.settings
        for i, server in enumerate(servers):
            slots = server.slots_for(s.pool_max_size)
            try:
                await asyncio.wait_for(slots.acquire(), s.pool_acquire_timeout_ms / 1000.0)
            except TimeoutError:
                raise ServerBusyError(
                    f"Server busy: all {s.pool_max_size} database connections are in use (pool_max_size); "
                    "retry in a few seconds."
                ) from None
            try:
                conn = server.take_idle() or await self._connect(server)
            except DatabaseUnavailableError as exc:
                slots.release()
                if server is not self._server:
                    self._down(server, exc.message)
                if i == len(servers) - 1:
                    self.breaker.failure()
                    raise
                continue
            except BaseException:
                slots.release()
                raise
            self.breaker.success()
            return server, conn
        raise AssertionError("no server to try")  # pragma: no cover  (the primary is always last)

    @asynccontextmanager
    async def connection(
        self, timeout_ms: int | None = None, *, exact: bool = False, server: str | None = None
    ) -> AsyncIterator[MyConn]:
        """A pooled read-only session (a replica's when configured, round-robin, else the primary's);
        `timeout_ms` may only lower the statement time limit (`exact`: the limit is `timeout_ms` itself, for
        exports). `server` names one server ("primary", "replica 1", ...): that one, no fallback."""
        s = self.settings
        self.breaker.before()
        home, conn = await self._checkout(self._pick_servers() if server is None else [self._by_label(server)])
        healthy = False
        try:
            effective = int(timeout_ms) if exact and timeout_ms else self.effective_timeout_ms(timeout_ms)
            if effective != s.statement_timeout_ms:
                await self._run(conn, f"SET SESSION {self._timeout_sql(effective)}")
            yield conn
            healthy = True
        except VfError as exc:  # the server answered (a refusal, a syntax error, its own time limit): reusable
            healthy = bool(conn.connected)
            if isinstance(exc, DatabaseUnavailableError) and not healthy:
                self._down(home, exc.message)
            raise
        finally:  # reset in the background, off the answer's path; the slot frees once the connection is back
            release = asyncio.ensure_future(self._give_back(home, conn, healthy))
            self._releases.add(release)
            release.add_done_callback(self._releases.discard)

    def _by_label(self, label: str) -> _Server:
        for server in (self._server, *self._replica_servers):
            if server.label == label:
                return server
        raise InvalidArgumentError(f"No server called {label!r}: primary, {', '.join(self.replica_labels)}.")

    async def _give_back(self, server: _Server, conn: MyConn, healthy: bool) -> None:
        """Reset `conn` and pool it again (closed if it cannot be reset), then free its slot."""
        try:
            if healthy and conn.connected:
                try:
                    await self._reset(conn)
                    server.idle.append(conn)
                    return
                except Exception as exc:  # could not be reset: never reused
                    log.info("closing a MySQL connection that could not be reset: %s", exc)
            with contextlib.suppress(Exception):
                conn.close()
            server.open -= 1
        finally:
            server.slots_for(self.settings.pool_max_size).release()

    async def kill_query(self, thread_id: int, server: _Server | None = None) -> None:
        """KILL QUERY from a separate connection to the server running it (the client-side backstop)."""
        server = server or self._server
        conn = await self._connect(server)
        try:
            await self._run(conn, f"KILL QUERY {int(thread_id)}")
        finally:
            conn.close()
            server.open -= 1

    async def guarded_call(self, conn: MyConn, work: Awaitable[T], timeout_ms: int | None, *, exact: bool = False) -> T:
        """Await `work` on `conn` with a backstop a little past the server's limit: KILL QUERY, then close."""
        effective = int(timeout_ms) if exact and timeout_ms else self.effective_timeout_ms(timeout_ms)
        thread, home = conn.thread_id(), self._home.get(conn)
        task = asyncio.ensure_future(work)
        try:
            backstop = effective / 1000.0 + 2.0 if exact else self.client_timeout_s(timeout_ms)
            return await asyncio.wait_for(asyncio.shield(task), backstop)
        except TimeoutError:
            with contextlib.suppress(Exception):
                await self.kill_query(thread, home)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 2.0)
            conn.close()
            raise QueryTimeoutError(
                f"Query stopped by the statement time limit of {effective} ms (killed by vf-mcp): add filters "
                "or LIMIT, or aggregate in SQL."
            ) from None
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self.kill_query(thread, home)
            conn.close()
            raise QueryCancelledError("The call was cancelled; its query was killed.") from None
        except Exception as exc:
            raise translate_mysql(exc, timeout_ms=effective) from None

    async def fetch_rows(
        self, sql: str, params: Sequence[object] = (), *, timeout_ms: int | None = None, server: str | None = None
    ) -> list[Row]:
        """Run one of vf-mcp's own statements (quoted identifiers; values bound as a prepared statement), on
        `server` ("primary", "replica 1", ...) when given, else where reads go."""
        self.counter.statements += 1
        note_sql(sql)
        async with self.connection(timeout_ms, server=server) as conn:

            async def work() -> list[Row]:
                if params:
                    stmt = await conn.prepare(sql)
                    try:
                        result = await stmt.execute(tuple(params))
                    finally:
                        await stmt.close()
                    names = [f.name for f in result.fields or ()]
                    return [dict(zip(names, r, strict=True)) for r in result.rows or ()]
                cur = conn.cursor()
                # one statement only: CLIENT_MULTI_STATEMENTS is cleared before the handshake (_connect), so the
                # server refuses stacked statements (tests/test_mysql_attacks.py)
                await cur.execute(sql)
                rows = await cur.fetchall()
                names = [d[0] for d in cur.description or ()]
                await cur.close()
                return [dict(zip(names, r, strict=True)) for r in rows or ()]

            return await self.guarded_call(conn, work(), timeout_ms)

    # -- Database surface ------------------------------------------------------------------------------
    def pool_stats(self) -> dict[str, int]:
        servers = (self._server, *self._replica_servers)
        size = sum(x.open for x in servers)
        idle = sum(len(x.idle) for x in servers)
        return {"size": size, "in_use": size - idle, "max_size": self.settings.pool_max_size * len(servers)}

    async def close_if_idle(self, idle_s: float) -> bool:
        return False

    async def close(self) -> None:
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)
        for server in (self._server, *self._replica_servers):
            idle, server.idle = server.idle, []
            for conn in idle:
                with contextlib.suppress(Exception):
                    await conn.ensure_closed()
                server.open -= 1

    async def role_safety(self) -> RoleSafety:
        """Whether the connected user could write or read secrets if every other layer failed (SHOW GRANTS)."""
        rows = await self.fetch_rows("SHOW GRANTS FOR CURRENT_USER()")
        grants = [str(next(iter(r.values()))) for r in rows]
        user = (await self.fetch_rows("SELECT CURRENT_USER() AS u"))[0]["u"]
        return mysql_role_safety(str(user), grants, self.server_version)


_WRITE_PRIVS = (
    "ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "INDEX", "CREATE TEMPORARY TABLES",
    "LOCK TABLES", "EXECUTE", "CREATE VIEW", "CREATE ROUTINE", "ALTER ROUTINE", "EVENT", "TRIGGER", "SUPER",
    "FILE", "SHUTDOWN", "PROCESS", "RELOAD", "GRANT OPTION", "CREATE USER", "REPLICATION SLAVE",
)  # fmt: skip


def mysql_role_safety(user: str, grants: Sequence[str], version: str) -> RoleSafety:
    """Least privilege from SHOW GRANTS: SELECT (and USAGE) only, on no system schema."""
    reasons: list[str] = []
    secrets = False
    for g in grants:
        head = g.split(" ON ", 1)[0].upper().removeprefix("GRANT ")
        privs = {p.strip() for p in head.split(",")}
        on = g.split(" ON ", 1)[1].split(" TO ", 1)[0].strip() if " ON " in g else ""
        bad = sorted(p for p in privs if p in _WRITE_PRIVS or p.startswith("ALL"))
        if "WITH GRANT OPTION" in g.upper():
            bad.append("GRANT OPTION")
        if bad:
            reasons.append(f"{', '.join(bad)} on {on}")
        if "SELECT" in privs and on.split(".")[0].strip("`") in ("*", "mysql"):
            secrets = True
            reasons.append(f"SELECT on {on} (includes the mysql schema: password hashes)")
    return RoleSafety(
        role=user,
        superuser=any("ALL PRIVILEGES ON *.*" in g.upper() for g in grants),
        can_write=any(not r.startswith("SELECT on") for r in reasons),
        reasons=tuple(reasons),
        server_version=version,
        reads_secrets=secrets,
    )


def started_ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000.0, 3)
