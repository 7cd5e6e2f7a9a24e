"""Stream a guarded statement's whole result from MySQL/MariaDB into an export writer, chunk by chunk.

The MySQL counterpart of export/runner.py's `stream_export` (same arguments, same `Streamed`): the statement
passes the MySQL gate (vf_mcp/db/mysql/runner.py), runs in a read-only session whose time limit is
export_statement_timeout_ms, and is read through an unbuffered cursor (rows stay on the server until fetched)
in chunks of about TARGET_CHUNK_BYTES, each written before the next is fetched. Values are handed to the writers
as the PostgreSQL types they already know: integers int8 (BIGINT UNSIGNED numeric), DECIMAL numeric, FLOAT/DOUBLE
float8, DATE date, DATETIME timestamp, TIMESTAMP timestamptz (in the session zone), BLOB/BINARY bytea, and
everything else text as run_query shows it (TIME "-838:59:59", BIT "0101", JSON text, ENUM/SET). A zero or
partial date ("0000-00-00") cannot be a date in any format: it is written as null and counted in the warnings.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from vf_mcp.compute.periods import zone_info
from vf_mcp.db.catalog import Catalog
from vf_mcp.db.convert import Converters, converter_for
from vf_mcp.db.mysql import convert as my
from vf_mcp.db.mysql.catalog import MySqlCatalog
from vf_mcp.db.mysql.guard import placeholders_to_qmark
from vf_mcp.db.mysql.masking import field_origins, mysql_masks
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.mysql.runner import _body, bind, check_mysql_user_sql
from vf_mcp.db.pool import Database, note_sql
from vf_mcp.errors import InvalidArgumentError
from vf_mcp.export.columns import ExportColumn, Writer
from vf_mcp.export.masking import ExportPolicy, LineagePolicy, mask_pii, masked_columns
from vf_mcp.export.runner import OnChunk, OpenWriter, Reserve, Streamed, next_chunk_rows
from vf_mcp.pii import ColumnMask, PiiPolicy

_PG_TYPE = {
    **dict.fromkeys((my.TINY, my.SHORT, my.LONG, my.INT24, my.LONGLONG, my.YEAR), "int8"),
    my.DECIMAL: "numeric", my.NEWDECIMAL: "numeric", my.FLOAT: "float8", my.DOUBLE: "float8",
    my.DATE: "date", my.NEWDATE: "date", my.DATETIME: "timestamp", my.TIMESTAMP: "timestamptz",
}  # fmt: skip


def _plan(fields: Sequence[object], zone: tzinfo) -> list[tuple[str, Callable[[object], object]]]:
    """Per column: the PostgreSQL type name the writers get, and how one MySQL value becomes its Python value."""
    out: list[tuple[str, Callable[[object], object]]] = []
    for f in fields:
        code, flags, charset = int(f.type_code), int(f.flags), int(f.charsetnr)  # type: ignore[attr-defined]
        name = _PG_TYPE.get(code)
        if code == my.LONGLONG and flags & my.UNSIGNED_FLAG:
            name = "numeric"
        if name is None and (code == my.GEOMETRY or (code in my._TEXTS and charset == my.BINARY_CHARSET)):
            out.append(("bytea", lambda v: v))
        elif name in ("date", "timestamp", "timestamptz"):
            out.append((name, _stamp(zone if name == "timestamptz" else None)))
        elif name is not None:
            out.append((name, _same))
        else:
            out.append(("text", _texted(my.converter_for(code, flags, charset, int(getattr(f, "length", 0)), zone))))
    return out


def _same(value: object) -> object:
    return value


def _stamp(zone: tzinfo | None) -> Callable[[object], object]:
    def convert(value: object) -> object:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC).astimezone(zone) if zone is not None else value  # sessions run in UTC
        return value if isinstance(value, date) else None  # a zero date: null

    return convert


async def stream_mysql_export(
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
    """Guard `sql`, stream all its rows into the writer `open_writer` makes; the caller closes the writer."""
    from vf_mcp.db.mysql.cursors import QuietSSCursor as SSCursor  # warnings echo values: never logged

    assert isinstance(db, MySqlDatabase) and isinstance(catalog, MySqlCatalog)
    await check_mysql_user_sql(db, catalog, sql)
    text, values = placeholders_to_qmark(sql, list(params))
    timeout_ms = db.settings.export_statement_timeout_ms
    zone = zone_info(db.settings.time_zone)
    started = time.monotonic()
    writer = None
    rows = 0
    zero_dates = 0
    async with db.connection(timeout_ms, exact=True) as conn:
        cur = conn.cursor(SSCursor)
        try:
            final = bind(conn, _body(text), values)
            note_sql(final)
            await db.guarded_call(conn, cur.execute(final), timeout_ms, exact=True)
            fields = list(cur._result.fields or ()) if cur._result is not None else []
            if not fields:
                raise InvalidArgumentError("The statement returns no columns: there is nothing to export.")
            plan = _plan(fields, zone)
            columns = _columns(fields, plan)
            pii = await _with_lineage(catalog, _body(text), fields, pii)
            masked = set(masked_columns(columns, pii))
            if masked:  # masked values are text
                columns = [c if i not in masked else _as_text(c) for i, c in enumerate(columns)]
                plan = [p if i not in masked else ("text", _texted(p[1])) for i, p in enumerate(plan)]
            converters = Converters(converter_for(c.type_name, "scalar") for c in columns)
            writer = open_writer(columns, converters, False)
            want = 1_000
            while True:
                batch = await db.guarded_call(conn, cur.fetchmany(want), timeout_ms, exact=True)
                if not batch:
                    break
                chunk = [[fn(v) for (_, fn), v in zip(plan, row, strict=True)] for row in batch]
                zero_dates += sum(v is None and r is not None for row, raw in zip(chunk, batch, strict=True)
                                  for v, r in zip(row, raw, strict=True))  # fmt: skip
                if reserve is not None:
                    reserve(64 * len(chunk))
                encoded = writer.write(mask_pii(columns, chunk, csv_lines=False, policy=pii))
                if reserve is not None:
                    reserve(encoded - 64 * len(chunk))
                rows += len(chunk)
                await on_chunk(rows)
                if len(batch) < want:
                    break
                want = next_chunk_rows(encoded, len(batch))
        except BaseException:
            if writer is not None:
                writer.abort()
            conn.close()  # an unbuffered result may be pending: never reused
            raise
        info = (conn.get_server_info(), (await db.target()).database)
    if zero_dates:
        writer.warnings.append(f"{zero_dates} zero or invalid date value(s) written as null")
    streamed = Streamed(
        columns=columns,
        row_count=rows,
        server_version=str(info[0]).removeprefix("5.5.5-"),
        database=str(info[1]),
        elapsed_ms=round((time.monotonic() - started) * 1000.0, 1),
    )
    return streamed, writer


@dataclass(frozen=True)
class _MaskedByLineage(LineagePolicy):
    """The policy with the statement's masks by lineage (and the server's own column origins) worked out."""

    fixed: tuple[ColumnMask, ...] = ()

    def masks(self, columns: Sequence[ExportColumn]) -> tuple[ColumnMask, ...]:
        return self.fixed


async def _with_lineage(catalog: MySqlCatalog, sql: str, fields: Sequence[object], pii: ExportPolicy) -> ExportPolicy:
    """`pii` with the masks of `sql`'s output columns by lineage (vf_mcp/db/mysql/masking.py)."""
    if not isinstance(pii, PiiPolicy) or not pii.enabled:
        return pii
    names = [str(f.name) for f in fields]  # type: ignore[attr-defined]
    masks = await mysql_masks(catalog, sql, names, pii, field_origins(fields))
    return _MaskedByLineage(pii, None, masks)


def _columns(fields: Sequence[object], plan: Sequence[tuple[str, object]]) -> list[ExportColumn]:
    seen: set[str] = set()
    out: list[ExportColumn] = []
    for f, (pg, _) in zip(fields, plan, strict=True):
        name = str(f.name)  # type: ignore[attr-defined]
        key, n = name, 1
        while key in seen:
            n += 1
            key = f"{name}_{n}"
        seen.add(key)
        label = my.type_name(int(f.type_code), int(f.flags), int(f.charsetnr))  # type: ignore[attr-defined]
        out.append(ExportColumn(name, key, label, pg, "scalar", "pg_catalog"))
    return out


def _as_text(c: ExportColumn) -> ExportColumn:
    return ExportColumn(c.name, c.key, c.type, "text", "scalar", "pg_catalog")


def _texted(fn: Callable[[object], object]) -> Callable[[object], object]:
    """`fn`, then its value as text (None stays None)."""

    def convert(value: object) -> object:
        v = fn(value)
        return None if v is None else v if isinstance(v, str) else str(v)

    return convert
