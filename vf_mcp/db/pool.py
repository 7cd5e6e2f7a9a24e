"""The connection pool and read-only sessions (layer 3 of the read-only guarantee).

Every connection starts with default_transaction_read_only=on, statement_timeout, lock_timeout and
idle_in_transaction_session_timeout as *startup parameters*, so the session defaults themselves are safe.
Every call then runs inside an explicit READ ONLY transaction, and asyncpg resets each connection on
release (RESET ALL, CLOSE ALL, UNLISTEN *, advisory unlocks), which restores those startup values: nothing
one call sets survives into the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from vf_mcp.errors import DatabaseUnavailableError, db_errors
from vf_mcp.settings import Settings, redact_dsn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoleSafety:
    """What the connected role could do if every other layer failed."""

    role: str
    superuser: bool
    can_write: bool
    reasons: tuple[str, ...]
    server_version: str

    @property
    def is_read_only(self) -> bool:
        return not self.superuser and not self.can_write

    def warning(self) -> str | None:
        if self.is_read_only:
            return None
        return (
            f"Role {self.role!r} is not read-only ({'; '.join(self.reasons)}). vf-mcp still refuses writes "
            "(SQL guard + READ ONLY transactions), but a least-privilege role is the last line of defence: "
            "run `vf-mcp setup-role --dsn ADMIN_URL --role vf_readonly` and connect as that role."
        )


ROLE_SAFETY_SQL = """
WITH me AS (SELECT r.rolname, r.rolsuper FROM pg_roles r WHERE r.rolname = current_user)
SELECT me.rolname, me.rolsuper, current_setting('server_version') AS server_version,
  ARRAY(SELECT n.nspname FROM pg_namespace n
        WHERE has_schema_privilege(n.oid, 'CREATE')
          AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema') AS create_schemas,
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r','p','v','m','f')
      AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
      AND has_table_privilege(c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE')) AS writable_tables,
  pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') AS read_files,
  pg_has_role(current_user, 'pg_write_server_files', 'MEMBER') AS write_files,
  pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') AS run_programs
FROM me
"""


@dataclass
class StatementCounter:
    """Counts vf-mcp's own catalog/metadata statements (those run through Database.fetch)."""

    statements: int = 0


class Database:
    """Owns the pool: lazily created, read-only sessions with server-side timeouts."""

    def __init__(self, settings: Settings, counter: StatementCounter | None = None) -> None:
        self.settings = settings
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self.counter = counter or StatementCounter()

    def _server_settings(self) -> dict[str, str]:
        s = self.settings
        return {
            "application_name": "vf-mcp",
            "default_transaction_read_only": "on",
            "statement_timeout": str(s.statement_timeout_ms),
            "lock_timeout": str(s.lock_timeout_ms),
            "idle_in_transaction_session_timeout": str(s.idle_in_transaction_session_timeout_ms),
        }

    async def pool(self) -> asyncpg.Pool:
        """The pool, created on first use."""
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                from vf_mcp.db.convert import install_codecs

                dsn = self.settings.dsn_value()
                try:
                    self._pool = await asyncpg.create_pool(
                        dsn,
                        min_size=self.settings.pool_min_size,
                        max_size=self.settings.pool_max_size,
                        timeout=self.settings.connect_timeout_s,
                        server_settings=self._server_settings(),
                        init=install_codecs,
                        max_inactive_connection_lifetime=300.0,
                    )
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                    raise DatabaseUnavailableError(
                        f"Cannot connect to {redact_dsn(dsn)}: {type(exc).__name__}: {_scrub(str(exc), dsn)}"
                    ) from exc
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @asynccontextmanager
    async def read_only(self, *, timeout_ms: int | None = None) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection inside a READ ONLY transaction; `timeout_ms` may only lower the timeout."""
        effective = self.effective_timeout_ms(timeout_ms)
        pool = await self.pool()
        with db_errors(statement_timeout_ms=effective):
            async with pool.acquire() as conn, conn.transaction(readonly=True):
                if effective != self.settings.statement_timeout_ms:
                    await conn.fetchval("SELECT set_config('statement_timeout', $1, true)", f"{effective}ms")
                yield conn

    def effective_timeout_ms(self, timeout_ms: int | None) -> int:
        limit = self.settings.statement_timeout_ms
        return limit if timeout_ms is None else max(1, min(int(timeout_ms), limit))

    def client_timeout_s(self, timeout_ms: int | None) -> float:
        """A client-side backstop a little past the server-side timeout (the server cancels first)."""
        return self.effective_timeout_ms(timeout_ms) / 1000.0 + 2.0

    async def fetch(self, sql: str, *args: Any, timeout_ms: int | None = None) -> list[asyncpg.Record]:
        """Run one of vf-mcp's own (trusted, parameterised) statements read-only."""
        self.counter.statements += 1
        async with self.read_only(timeout_ms=timeout_ms) as conn:
            rows: list[asyncpg.Record] = await conn.fetch(
                sql, *args, timeout=self.client_timeout_s(timeout_ms)
            )
            return rows

    async def role_safety(self) -> RoleSafety:
        """Check whether the connected role could write if every other layer failed."""
        row = (await self.fetch(ROLE_SAFETY_SQL))[0]
        reasons: list[str] = []
        if row["rolsuper"]:
            reasons.append("superuser")
        if row["create_schemas"]:
            reasons.append(f"CREATE on schema(s) {', '.join(row['create_schemas'])}")
        if row["writable_tables"]:
            reasons.append(f"INSERT/UPDATE/DELETE/TRUNCATE on {row['writable_tables']} table(s)")
        for key, label in (
            ("read_files", "pg_read_server_files"),
            ("write_files", "pg_write_server_files"),
            ("run_programs", "pg_execute_server_program"),
        ):
            if row[key]:
                reasons.append(f"member of {label}")
        return RoleSafety(
            role=row["rolname"],
            superuser=bool(row["rolsuper"]),
            can_write=bool(reasons),
            reasons=tuple(reasons),
            server_version=row["server_version"],
        )


def _scrub(text: str, dsn: str) -> str:
    from urllib.parse import urlsplit

    try:
        pw = urlsplit(dsn).password
    except ValueError:
        return text
    return text.replace(pw, "***") if pw else text
