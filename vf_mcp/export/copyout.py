"""CSV exports written by PostgreSQL's own `COPY (statement) TO STDOUT WITH (FORMAT csv)`, streamed to the file.

Used when nothing per value is needed in Python: format csv, a SELECT/VALUES/TABLE without parameters, no
column masked (lineage, name or configuration) and no value-pattern net for the caller's PII policy
(`masking.scans_values`). Everything else stays as for the cursor path (`runner.stream_export`): the same
pooled READ ONLY transaction with statement_timeout = export_statement_timeout_ms (COPY is one statement, so
that limit bounds the whole export), the same guard verdict, the same header line, the same bytes (COPY is
what the cursor path's lines reproduce; tests/test_export.py compares both with COPY).

Why it is safe to send as text: the statement passed `check_user_sql` (exactly one read-only statement) and
carries no parameters; the COPY wrapping it is parsed again here and must be exactly one `COPY (query) TO
STDOUT`, so nothing in the statement can close the parenthesis and add a statement of its own. Sent through
the simple query protocol inside the READ ONLY transaction.

Memory: asyncpg hands over what the socket delivered (at most one read, or one row when a row is longer);
chunks are written in FLUSH_BYTES batches in a worker thread, each reserved against the exports quota
first. A row whose variable-length values add up to more than export_max_value_bytes / ROW_SHARE never
reaches the client: PostgreSQL raises on it inside the COPY (`RowTooLarge`), and the caller redoes the
export through the cursor path, which measures each CSV line exactly and stops at that row with its usual
message (or writes it, when the line is under the limit after all).

Lock courtesy: COPY holds its connection until done, so a second pooled connection checks every
BLOCK_CHECK_INTERVAL_S whether a session waits for a lock this export holds; after lock_timeout_ms of that
the export is cancelled (pg_cancel_backend on its own session) with the same message as the cursor path's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import anyio
import asyncpg

from vf_mcp.db.convert import PgAttribute
from vf_mcp.db.pool import Database
from vf_mcp.db.runner import _size_sql, is_variable_length
from vf_mcp.export.csvout import CsvWriter
from vf_mcp.export.store import ExportLimitError

if TYPE_CHECKING:
    from asyncpg import Connection

log = logging.getLogger(__name__)

FLUSH_BYTES = 1024 * 1024
"""Bytes gathered from COPY before one write (and one quota reservation)."""
PROGRESS_BYTES = 4 * 1024 * 1024
"""Bytes between two progress reports."""
ROW_SHARE = 8
"""Rows whose variable-length values exceed export_max_value_bytes / ROW_SHARE go through the cursor path."""
BLOCK_CHECK_INTERVAL_S = 0.5
MARKER = "vf-export-row-too-large:"
_BLOCKED_BY = "SELECT count(*) FROM pg_stat_activity WHERE pid <> $1::int AND $1::int = ANY(pg_blocking_pids(pid))"


class RowTooLarge(Exception):
    """A row over the COPY path's size limit: redo the export through the cursor path."""

    def __init__(self, reserved: int) -> None:
        super().__init__("a row over the COPY path's size limit")
        self.reserved = reserved
        """Bytes already reserved against the exports quota (to give back)."""


def copy_query(statement: str, attrs: Sequence[PgAttribute], value_cap: int) -> str:
    """The query to COPY: `statement`, with a size check on variable-length values when there are any.

    The check raises inside PostgreSQL (an invalid boolean whose text starts with MARKER) on a row whose
    measured values add up to more than value_cap // ROW_SHARE; other rows pass unchanged.
    """
    measured = [(i, a) for i, a in enumerate(attrs) if is_variable_length(a)]
    query = f"\n{statement}\n"
    if measured:
        aliases = ", ".join(f'"{i}"' for i in range(1, len(attrs) + 1))
        limit = value_cap // ROW_SHARE  # also the cap of _size_sql's compression guess: text measured past it
        sizes = [_size_sql("q." + f'"{i + 1}"', a, limit) for i, a in measured]
        total = " + ".join(f"coalesce({size}, 0)" for size in sizes)
        check = f"CASE WHEN {total} > {limit} THEN ('{MARKER}' || ({total}))::bool ELSE true END"
        query = f"\nSELECT * FROM (\n{statement}\n) AS q({aliases}) WHERE {check}\n"
    return query


def copy_statement(query: str) -> str:
    """The COPY text asyncpg's copy_from_query(query, format='csv') sends (simple query protocol)."""
    return f"COPY ({query}) TO STDOUT (FORMAT 'csv')"


def check_copy_sql(sql: str) -> None:
    """Raise unless `sql` is exactly one `COPY (query) TO STDOUT` (no file, no program, not FROM)."""
    from pglast import ast, parser

    stmts = parser.parse_sql(sql)
    copy = stmts[0].stmt if len(stmts) == 1 else None
    if not (
        isinstance(copy, ast.CopyStmt)
        and copy.query is not None
        and copy.relation is None
        and not copy.is_from
        and not copy.is_program
        and copy.filename is None
    ):
        raise RuntimeError("internal error: the COPY wrapping the statement is not one COPY (query) TO STDOUT")


async def copy_csv(
    conn: Connection,
    db: Database,
    sql: str,
    writer: CsvWriter,
    *,
    timeout_s: float,
    on_chunk: Callable[[int], Awaitable[None]],
    reserve: Callable[[int], None] | None,
    guarded: bool,
) -> int:
    """COPY the query `sql` (from copy_query; its COPY text checked here) into `writer`; returns COPY's row count.

    Raises RowTooLarge when `guarded` (the query has copy_query's size check) and PostgreSQL raised it; the
    transaction is then aborted: roll back to a savepoint taken before, and retry through the cursor path.
    """
    await anyio.to_thread.run_sync(check_copy_sql, copy_statement(sql))
    sink = _Sink(writer, on_chunk, reserve)
    stop: list[ExportLimitError] = []
    watcher = asyncio.create_task(_watch_locks(db, conn.get_server_pid(), stop, sink))
    try:
        status = await conn.copy_from_query(
            sql, output=functools.partial(sink.take, stop), format="csv", timeout=timeout_s
        )
        await sink.flush()
    except asyncpg.InvalidTextRepresentationError as exc:
        if guarded and MARKER in str(exc):
            raise RowTooLarge(sink.reserved) from None
        raise
    except asyncpg.QueryCanceledError:
        if stop:
            raise stop[0] from None
        raise
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    if stop:
        raise stop[0]
    return int(str(status).rsplit(" ", 1)[-1])


class _Sink:
    """COPY's data, gathered into FLUSH_BYTES writes (each reserved first), progress every PROGRESS_BYTES."""

    def __init__(
        self, writer: CsvWriter, on_chunk: Callable[[int], Awaitable[None]], reserve: Callable[[int], None] | None
    ) -> None:
        self.writer, self.on_chunk, self.reserve = writer, on_chunk, reserve
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.lines = 0
        """Line ends received: the rows so far, unless values hold line breaks (progress only)."""
        self.unreported = 0
        self.reserved = 0

    async def take(self, stop: list[ExportLimitError], data: bytes) -> None:
        if stop:
            raise stop[0]
        self.pending.append(data)
        self.pending_bytes += len(data)
        self.lines += data.count(b"\n")
        if self.pending_bytes >= FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if not self.pending:
            return
        size, chunks = self.pending_bytes, self.pending
        self.pending, self.pending_bytes = [], 0
        if self.reserve is not None:
            self.reserve(size)
            self.reserved += size
        await anyio.to_thread.run_sync(self.writer.write_copy, chunks)
        self.unreported += size
        if self.unreported >= PROGRESS_BYTES:
            self.unreported = 0
            await self.on_chunk(self.lines)


async def _watch_locks(db: Database, pid: int, stop: list[ExportLimitError], sink: _Sink) -> None:
    """Cancel the export (its session `pid`) once another session has waited lock_timeout_ms for its locks."""
    limit_s = db.settings.lock_timeout_ms / 1000.0
    since: float | None = None
    while True:
        await asyncio.sleep(BLOCK_CHECK_INTERVAL_S)
        try:
            async with db.read_only(transaction=False) as other:
                if not stop:
                    waiting = await other.fetchval(_BLOCKED_BY, pid)
                    now = time.monotonic()
                    since = (since or now) if waiting else None
                    if since is None or now - since < limit_s:
                        continue
                    stop.append(_held_lock(sink.lines))
                await other.fetchval("SELECT pg_cancel_backend($1::int)", pid)
                return
        except Exception as exc:  # no connection free right now, a pool error...: check at the next tick
            log.debug("lock check for export session %s failed: %s", pid, exc)


def _held_lock(lines: int) -> ExportLimitError:
    return ExportLimitError(
        f"The export was stopped after about {lines:,} rows: it held a lock another session waited for (an "
        "ALTER TABLE or similar) longer than lock_timeout_ms. Export fewer rows at a time, or retry when the "
        "schema change is done."
    )
