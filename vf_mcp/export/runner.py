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
from typing import Any

import anyio

from vf_mcp.db.catalog import Catalog
from vf_mcp.db.convert import Converters, converters_for
from vf_mcp.db.gate import check_user_sql
from vf_mcp.db.pool import Database, note_sql
from vf_mcp.db.runner import _coerce_param
from vf_mcp.errors import InvalidArgumentError, QueryTimeoutError, db_errors
from vf_mcp.export.columns import ExportColumn, Writer, export_columns
from vf_mcp.export.csvout import csv_line_sql, statement_text
from vf_mcp.export.masking import mask_pii, masked_columns, text_cast_sql

FIRST_CHUNK_ROWS = 1_000
MIN_CHUNK_ROWS = 10
MAX_CHUNK_ROWS = 20_000
TARGET_CHUNK_BYTES = 4 * 1024 * 1024

OpenWriter = Callable[[list[ExportColumn], Converters, bool], Writer]
"""(columns, converters, csv_lines) -> the writer; csv_lines: rows are CSV lines PostgreSQL built."""
OnChunk = Callable[[int], Awaitable[None]]
"""Called after each chunk with the rows written so far (progress, size checks); may raise to stop."""


@dataclass(frozen=True)
class Streamed:
    columns: list[ExportColumn]
    row_count: int
    server_version: str
    database: str
    elapsed_ms: float


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
    params: Sequence[Any],
    *,
    csv: bool,
    open_writer: OpenWriter,
    on_chunk: OnChunk,
    pii: Any = None,
) -> tuple[Streamed, Writer]:
    """Guard `sql`, stream all its rows into the writer `open_writer` makes; the caller closes the writer."""
    settings = db.settings
    checked = await check_user_sql(db, catalog, sql)
    timeout_ms = settings.export_statement_timeout_ms
    client_timeout = timeout_ms / 1000.0 + 2.0
    started = time.monotonic()
    deadline = started + timeout_ms / 1000.0
    writer: Writer | None = None
    rows = 0
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
                        text_cast_sql(statement_text(sql), columns, masked), timeout=client_timeout
                    )
                    attrs = stmt.get_attributes()
                    columns = export_columns(attrs)
                converters = converters_for(attrs)
                lines = csv and wrappable and not masked
                if lines:
                    stmt = await conn.prepare(csv_line_sql(statement_text(sql), columns), timeout=client_timeout)
                writer = open_writer(columns, converters, lines)
                cursor = await stmt.cursor(*args, timeout=client_timeout)
                want = FIRST_CHUNK_ROWS
                while True:
                    if time.monotonic() > deadline:
                        raise _timeout(timeout_ms, rows)
                    batch = await cursor.fetch(want, timeout=client_timeout)
                    if not batch:
                        break
                    chunk = mask_pii(columns, batch, csv_lines=lines, policy=pii)
                    encoded = await anyio.to_thread.run_sync(writer.write, chunk)
                    rows += len(batch)
                    await on_chunk(rows)
                    if len(batch) < want:
                        break
                    want = next_chunk_rows(encoded, len(batch))
    except QueryTimeoutError as exc:
        if writer is not None:
            writer.abort()
        if "export_statement_timeout_ms" in exc.message:
            raise
        raise _timeout(timeout_ms, rows) from exc
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    assert writer is not None and info is not None
    return (
        Streamed(
            columns=columns,
            row_count=rows,
            server_version=str(info["version"]),
            database=str(info["db"]),
            elapsed_ms=round((time.monotonic() - started) * 1000.0, 1),
        ),
        writer,
    )
