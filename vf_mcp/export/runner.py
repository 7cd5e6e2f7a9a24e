"""Stream a guarded statement's whole result into a writer: READ ONLY transaction, server-side cursor, chunks.

The statement passes check_sql exactly as run_query's do, is prepared (extended protocol, bound parameters)
and read through a cursor in chunks sized to about TARGET_CHUNK_BYTES of output (between MIN_CHUNK_ROWS and
MAX_CHUNK_ROWS rows), each chunk written (in a worker thread) before the next is fetched: memory holds one
chunk whatever the row count. The transaction is READ ONLY with statement_timeout = export_statement_timeout_ms
(per round trip), and the whole export must also finish within that time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from vf_mcp.db.catalog import Catalog
from vf_mcp.db.convert import Converters, PgAttribute, converters_for
from vf_mcp.db.gate import check_user_sql
from vf_mcp.db.pool import Database, note_sql
from vf_mcp.db.runner import Bounded, _coerce_param, bounded_sql, is_variable_length, statement_body
from vf_mcp.errors import InvalidArgumentError, QueryTimeoutError, db_errors
from vf_mcp.export.columns import ExportColumn, Writer, export_columns
from vf_mcp.export.copyout import MARKER, RowTooLarge, copy_csv, copy_query
from vf_mcp.export.csvout import CsvWriter, csv_line_sql
from vf_mcp.export.masking import ExportPolicy, mask_pii, masked_columns, scans_values, text_cast_sql
from vf_mcp.export.store import ExportLimitError

if TYPE_CHECKING:
    from asyncpg import Connection, Record
    from asyncpg.prepared_stmt import PreparedStatement

FIRST_CHUNK_ROWS = 1_000
MIN_CHUNK_ROWS = 10
MAX_CHUNK_ROWS = 20_000
TARGET_CHUNK_BYTES = 4 * 1024 * 1024
TARGET_FETCH_S = 0.5
"""Chunks shrink so one fetch takes about this long when rows are slow to produce."""

OpenWriter = Callable[[list[ExportColumn], Converters, bool], Writer]
"""(columns, converters, csv_lines) -> the writer; csv_lines: rows are CSV lines PostgreSQL built."""
OnChunk = Callable[[int], Awaitable[None]]
"""Called after each chunk with the rows written so far (progress, size checks); may raise to stop."""
Reserve = Callable[[int], None]
"""Called with a chunk's estimated bytes before it is written, then with the correction; may raise to stop."""
BLOCK_CHECK_INTERVAL_S = 0.5
BLOCKING_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
    "AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
)
"""Sessions waiting for a lock this export's transaction holds (an ALTER TABLE, a VACUUM FULL...)."""


def _too_large(db: Database, row: int, column: str | None, size_text: str) -> ExportLimitError:
    what = f"column {column!r} holds a value of {size_text}" if column else f"is {size_text} as one CSV line"
    return ExportLimitError(
        f"Row {row:,} {what}, over the "
        f"{db.settings.export_max_value_bytes:,}-byte limit per value (export_max_value_bytes): export it "
        "cut (left(col, n), substring(col for n)) or leave the column out, or raise the setting."
    )


@dataclass(frozen=True)
class Streamed:
    columns: list[ExportColumn]
    row_count: int
    server_version: str
    database: str
    elapsed_ms: float


def _following_chunk_rows(encoded_bytes: int, rows: int, per_row: int, fetch_s: float) -> int:
    """Rows to fetch next, from the last chunk's encoded size, the largest row seen and the fetch time."""
    want = next_chunk_rows(encoded_bytes, rows)
    if per_row:
        want = max(MIN_CHUNK_ROWS, min(want, TARGET_CHUNK_BYTES // per_row))
    if fetch_s > 0.01:  # slow rows: keep each round trip near TARGET_FETCH_S (lock checks)
        want = max(MIN_CHUNK_ROWS, min(want, int(rows * TARGET_FETCH_S / fetch_s)))
    return want


def _strip_sizes(
    db: Database, batch: Sequence[Record], bounded: Bounded, column_names: Sequence[str] | None, rows_before: int
) -> tuple[list[tuple[object, ...]], int, int]:
    """A bounded chunk without its size columns, its bytes and its largest row's; raises on a value cut.

    `column_names`: the final statement's column names (None for CSV lines: the line is one value).
    """
    width, var = bounded.width, bounded.var_columns
    estimate = largest = 0
    for index, rec in enumerate(batch):
        for k, j in enumerate(var):
            cut = rec[width + k]
            if cut is not None:
                name = column_names[j] if column_names is not None else None
                raise _too_large(db, rows_before + index + 1, name, cut[cut.rfind("[") + 12 : -1])
        row_bytes = rec[width + len(var)] or 0
        estimate += row_bytes
        largest = max(largest, row_bytes)
    return [tuple(rec)[:width] for rec in batch], estimate, largest


async def _blocking_since(
    conn: Connection, since: float | None, now: float, client_timeout: float, lock_timeout_ms: int, rows: int
) -> float | None:
    """Since when the export has held a lock another session waits for (None: nobody waits now).

    Raises ExportLimitError once that has lasted lock_timeout_ms.
    """
    if not await conn.fetchval(BLOCKING_SQL, timeout=client_timeout):
        return None
    since = since or now
    if now - since >= lock_timeout_ms / 1000.0:
        raise ExportLimitError(
            f"The export was stopped after {rows:,} rows: it held a lock another session "
            "waited for (an ALTER TABLE or similar) longer than lock_timeout_ms. Export "
            "fewer rows at a time, or retry when the schema change is done."
        )
    return since


def next_chunk_rows(encoded_bytes: int, rows: int) -> int:
    if rows <= 0 or encoded_bytes <= 0:
        return FIRST_CHUNK_ROWS
    per_row = encoded_bytes / rows
    return int(max(MIN_CHUNK_ROWS, min(MAX_CHUNK_ROWS, TARGET_CHUNK_BYTES / per_row)))


def _timeout(ms: int, rows: int) -> QueryTimeoutError:
    return QueryTimeoutError(
        f"The export was stopped after {ms} ms (export_statement_timeout_ms, env "
        f"VF_MCP_EXPORT_STATEMENT_TIMEOUT_MS) with {rows:,} rows written. Export fewer rows (add filters), "
        "aggregate in SQL, or raise the setting."
    )


async def stream_export(
    db: Database,
    catalog: Catalog,
    sql: str,
    params: Sequence[object],
    *,
    csv: bool,
    open_writer: OpenWriter,
    on_chunk: OnChunk,
    pii: ExportPolicy = None,
    reserve: Reserve | None = None,
) -> tuple[Streamed, Writer]:
    """Guard `sql`, stream all its rows into the writer `open_writer` makes; the caller closes the writer.

    CSV of a parameterless SELECT/VALUES/TABLE with nothing to mask is written by COPY itself (`copyout`);
    everything else through a server-side cursor in chunks.
    """
    settings = db.settings
    checked = await check_user_sql(db, catalog, sql)
    timeout_ms = settings.export_statement_timeout_ms
    client_timeout = timeout_ms / 1000.0 + 2.0
    started = time.monotonic()
    run = _Run(deadline=started + timeout_ms / 1000.0, client_timeout=client_timeout, timeout_ms=timeout_ms)
    try:
        with db_errors(statement_timeout_ms=timeout_ms):
            async with db.session(statement_timeout_ms=timeout_ms) as conn:
                info = await conn.fetchrow(
                    "SELECT current_setting('server_version') AS version, current_database() AS db"
                )
                note_sql(sql)
                stmt = await conn.prepare(sql, timeout=client_timeout)
                ptypes = [p.name for p in stmt.get_parameters()]
                if len(ptypes) != len(params):
                    raise InvalidArgumentError(
                        f"The statement has {len(ptypes)} parameter(s) ($1..${len(ptypes)}) but {len(params)} "
                        "value(s) were given in params."
                    )
                args = [_coerce_param(v, t) for v, t in zip(params, ptypes, strict=True)]
                attrs = stmt.get_attributes()
                if not attrs:
                    raise InvalidArgumentError("The statement returns no columns: there is nothing to export.")
                columns = export_columns(attrs)
                wrappable = checked.kind in ("select", "values", "table")
                masked = masked_columns(columns, pii)
                if masked and wrappable:  # masked values are text: cast those columns in SQL
                    stmt = await conn.prepare(
                        text_cast_sql(await statement_body(sql), columns, masked), timeout=client_timeout
                    )
                    attrs = stmt.get_attributes()
                    columns = export_columns(attrs)
                converters = converters_for(attrs)
                lines = csv and wrappable and not masked

                def opened(lines: bool) -> Writer:
                    run.writer = open_writer(columns, converters, lines)
                    return run.writer

                if lines and not args and not scans_values(pii):  # nothing per value: COPY writes the CSV
                    await _copy_rows(conn, db, sql, attrs, opened, run, on_chunk, reserve)
                if run.writer is None:
                    if lines:
                        stmt = await conn.prepare(
                            csv_line_sql(await statement_body(sql), columns, flag=scans_values(pii)),
                            timeout=client_timeout,
                        )
                    await _cursor_rows(conn, db, sql, stmt, args, wrappable, lines, columns, pii, run, on_chunk,
                                       reserve, opened)  # fmt: skip
    except QueryTimeoutError as exc:
        if run.writer is not None:
            run.writer.abort()
        if "export_statement_timeout_ms" in exc.message:
            raise
        raise _timeout(timeout_ms, run.rows) from exc
    except BaseException:
        if run.writer is not None:
            run.writer.abort()
        raise
    assert run.writer is not None and info is not None
    return (
        Streamed(
            columns=columns,
            row_count=run.rows,
            server_version=str(info["version"]),
            database=str(info["db"]),
            elapsed_ms=round((time.monotonic() - started) * 1000.0, 1),
        ),
        run.writer,
    )


@dataclass
class _Run:
    """One export's state shared by its steps: the writer once opened, rows written, the time limits."""

    deadline: float
    client_timeout: float
    timeout_ms: int
    writer: Writer | None = None
    rows: int = 0


async def _copy_rows(
    conn: Connection,
    db: Database,
    sql: str,
    attrs: Sequence[PgAttribute],
    opened: Callable[[bool], Writer],
    run: _Run,
    on_chunk: OnChunk,
    reserve: Reserve | None,
) -> None:
    """Write the CSV with COPY; on a row too large for it, leave `run.writer` None (the cursor path redoes it)."""
    copy = copy_query(await statement_body(sql), attrs, db.settings.export_max_value_bytes)
    writer = opened(True)
    assert isinstance(writer, CsvWriter)
    guarded = MARKER in copy
    if guarded:
        await conn.execute("SAVEPOINT vf_export_copy", timeout=run.client_timeout)

    async def progress(rows: int) -> None:
        run.rows = rows
        await on_chunk(rows)

    try:
        run.rows = await copy_csv(
            conn, db, copy, writer, timeout_s=run.client_timeout, on_chunk=progress, reserve=reserve, guarded=guarded
        )
    except RowTooLarge as exc:
        await conn.execute("ROLLBACK TO SAVEPOINT vf_export_copy", timeout=run.client_timeout)
        writer.abort()
        run.writer, run.rows = None, 0
        if reserve is not None:
            reserve(-exc.reserved)
        return
    await on_chunk(run.rows)


async def _cursor_rows(
    conn: Connection,
    db: Database,
    sql: str,
    stmt: PreparedStatement,
    args: Sequence[object],
    wrappable: bool,
    lines: bool,
    columns: list[ExportColumn],
    pii: ExportPolicy,
    run: _Run,
    on_chunk: OnChunk,
    reserve: Reserve | None,
    opened: Callable[[bool], Writer],
) -> None:
    """Read `stmt` through a cursor in chunks into a new writer (values over the limit stop the export)."""
    settings = db.settings
    client_timeout = run.client_timeout
    bounded = None
    final_attrs = stmt.get_attributes()
    if wrappable and any(is_variable_length(a) for a in final_attrs):
        # a value over export_max_value_bytes never leaves PostgreSQL: it stops the export instead
        final = stmt.get_query()
        final = await statement_body(final) if final == sql else final
        bounded = bounded_sql(final, final_attrs, value_cap=settings.export_max_value_bytes)
        stmt = await conn.prepare(bounded.sql, timeout=client_timeout)
    writer = opened(lines)
    cursor = await stmt.cursor(*args, timeout=client_timeout)
    want = FIRST_CHUNK_ROWS
    per_row = 0  # bytes of the largest row seen (as PostgreSQL measures it)
    blocking_since: float | None = None
    last_block_check = time.monotonic()
    while True:
        if time.monotonic() > run.deadline:
            raise _timeout(run.timeout_ms, run.rows)
        fetch_started = time.monotonic()
        batch = await cursor.fetch(want, timeout=client_timeout)
        fetch_s = time.monotonic() - fetch_started
        if not batch:
            break
        fetched = len(batch)
        estimate = 0
        if bounded is not None:
            column_names = None if lines else [a.name for a in final_attrs]
            batch, estimate, largest = _strip_sizes(db, batch, bounded, column_names, run.rows)
            per_row = max(per_row, largest)
        if reserve is not None:
            estimate = max(estimate, 64 * fetched)
            reserve(estimate)
        chunk = mask_pii(columns, batch, csv_lines=lines, policy=pii)
        encoded = await anyio.to_thread.run_sync(writer.write, chunk)
        if reserve is not None:
            reserve(encoded - estimate)
        run.rows += fetched
        await on_chunk(run.rows)
        if fetched < want:
            break
        want = _following_chunk_rows(encoded, fetched, per_row, fetch_s)
        if time.monotonic() - last_block_check >= BLOCK_CHECK_INTERVAL_S:
            last_block_check = time.monotonic()
            blocking_since = await _blocking_since(
                conn, blocking_since, last_block_check, client_timeout, settings.lock_timeout_ms, run.rows
            )
