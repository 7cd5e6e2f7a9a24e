"""export_results: a guarded query's full result as a CSV, JSON, JSON Lines, Excel or Parquet file.

The files are served by `vf_mcp.tools.export_files` (the export:// resource and the signed /exports/ route),
which the server wires at start without loading this module.

Ownership: an export belongs to the identity that created it (API key name; 'stdio' for the local user).
Through MCP (export://) only that identity finds it; any other gets the same "No such export" as for a
missing id. The signed /exports/ link is a capability URL: whoever holds it may download the file until
it expires (export_ttl_hours), without a key, so share it like a password. The file is written once,
masked for the creator's PII rights, and always served as written.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ResourceLink, ToolAnnotations
from pydantic import Field

from vf_mcp import __version__
from vf_mcp.app import App
from vf_mcp.db.convert import Converters
from vf_mcp.db.name_hints import name_hints
from vf_mcp.export.columns import ExportColumn, Writer
from vf_mcp.export.csvout import CsvWriter
from vf_mcp.export.jsonout import JsonWriter
from vf_mcp.export.masking import with_lineage
from vf_mcp.export.runner import Streamed, stream_export
from vf_mcp.export.service import Exports
from vf_mcp.export.signing import signed_url
from vf_mcp.export.store import (
    MIME_TYPES,
    Format,
    StoredExport,
    iso,
    sanitize_filename,
)
from vf_mcp.models.export import ExportResult
from vf_mcp.tools.common import (
    SourceArg,
    ToolDef,
    app_of,
    exports_of,
    identity_of,
    pii_policy_for,
    respond,
    tool_errors,
)
from vf_mcp.units import human_bytes

log = logging.getLogger(__name__)

SIZE_CHECK_INTERVAL_S = 0.5

EXPORT = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=False)

_VALUES = {
    "csv": "PostgreSQL's own text output per value, byte-identical to COPY (query) TO STDOUT WITH (FORMAT csv, "
    "HEADER): NULL empty, '' quoted, booleans t/f, timestamptz with its offset",
    "json": "as run_query: exact numerics (number or string), timestamptz UTC ISO 8601, bytea base64, arrays lists",
    "jsonl": "as run_query: exact numerics (number or string), timestamptz UTC ISO 8601, bytea base64, arrays lists",
    "excel": "typed cells (numbers, booleans, dates, timestamps in UTC); other types as text as in JSON exports",
    "parquet": "Arrow types: decimal, date32, timestamp[us] (UTC for timestamptz), lists; json as JSON text",
}


@tool_errors
async def export_results(
    query: Annotated[str, Field(description="One read-only statement, as in run_query; $1, $2 ... for values")],
    format: Annotated[Format, Field(description="json: one array; excel: .xlsx")],
    ctx: Context[App],
    filename: Annotated[str | None, Field(description="Download name (extension added)")] = None,
    include_metadata: Annotated[bool, Field(description="Also write query, params, row count, types")] = True,
    params: Annotated[list[Any], Field(description="Values for $1, $2 ...")] = [],  # noqa: B006
    source: SourceArg = None,
) -> Annotated[CallToolResult, ExportResult]:
    """Export the FULL result of one read-only query (no row cap) to a file; returns where it is, not rows.

    Over HTTP: a signed, expiring download_url; else file_path and resource_uri (up to 20 MB).
    """
    app = app_of(ctx, source)
    exports = exports_of(app)
    async with name_hints(app.catalog, query):
        result = await run_export(
            app, exports, ctx, query, format, filename=filename, include_metadata=include_metadata, params=params
        )
    out = respond(result)
    out.content.append(
        ResourceLink(
            type="resource_link",
            name=result.file_name,
            uri=result.resource_uri,
            mime_type=MIME_TYPES[format],
            size=result.file_size_bytes,
            description=f"{result.row_count:,} rows, expires {result.expires_at}",
        )
    )
    return out


TOOLS = (ToolDef(export_results, EXPORT),)


def _requested_by(ctx: Context[App]) -> dict[str, str] | None:
    """The MCP client (name/version) and the OAuth client id, when known."""
    out: dict[str, str] = {}
    with contextlib.suppress(Exception):
        info = ctx.session.client_params.client_info
        out["client"] = f"{info.name} {info.version}".strip()
    with contextlib.suppress(Exception):
        from mcp.server.auth.middleware.auth_context import get_access_token

        token = get_access_token()
        if token is not None:
            out["client_id"] = str(token.client_id)
    return out or None


def _open_writer(
    fmt: str, path: Path, tmpdir: Path, columns: list[ExportColumn], converters: Converters, lines: bool
) -> Writer:
    if fmt == "csv":
        return CsvWriter(path, columns, converters, lines=lines)
    if fmt in ("json", "jsonl"):
        return JsonWriter(path, columns, converters, lines=fmt == "jsonl")
    if fmt == "excel":
        from vf_mcp.export.excel import ExcelWriter  # xlsxwriter and pyarrow load on first use

        return ExcelWriter(path, columns, converters, tmpdir=tmpdir)
    from vf_mcp.export.parquet import ParquetWriter

    return ParquetWriter(path, columns, converters)


async def run_export(
    app: App,
    exports: Exports,
    ctx: Context[App],
    query: str,
    fmt: Format,
    *,
    filename: str | None,
    include_metadata: bool,
    params: list[Any],
) -> ExportResult:
    store = exports.store
    await anyio.to_thread.run_sync(store.cleanup)
    store.check_room(adding=1)
    created = time.time()
    expires = int(created + app.settings.export_ttl_hours * 3600.0)
    export_id = store.new_id()
    file_name = sanitize_filename(filename, fmt, datetime.fromtimestamp(created, UTC))
    part = store.create_part(export_id, fmt)
    last_check = time.monotonic()

    async def on_chunk(rows: int) -> None:
        nonlocal last_check
        await ctx.report_progress(rows, None, message=f"{rows:,} rows")
        if time.monotonic() - last_check >= SIZE_CHECK_INTERVAL_S:
            last_check = time.monotonic()
            store.check_room()

    def open_writer(columns: list[ExportColumn], converters: Converters, lines: bool) -> Writer:
        return _open_writer(fmt, part, store.directory, columns, converters, lines)

    try:
        mysql = app.engine.name == "mysql"  # on MySQL, PII by lineage is worked out once the columns are known
        if mysql:
            from vf_mcp.export.mysql import stream_mysql_export  # the MySQL driver and parser load on first use
        streamed, writer = await (stream_mysql_export if mysql else stream_export)(
            app.db,
            app.catalog,
            query,
            params,
            csv=fmt == "csv",
            open_writer=open_writer,
            on_chunk=on_chunk,
            reserve=functools.partial(store.reserve, export_id),  # the quota, enforced chunk by chunk
            pii=pii_policy_for(ctx, app) if mysql else await with_lineage(app.catalog, query, pii_policy_for(ctx, app)),
        )
        metadata = (
            _metadata(ctx, export_id, fmt, file_name, created, expires, query, params, streamed)
            if include_metadata
            else None
        )
        try:
            await anyio.to_thread.run_sync(functools.partial(writer.close, metadata))
        except BaseException:
            writer.abort()
            raise
        size = part.stat().st_size
        store.check_room()
        if metadata is not None:
            metadata["warnings"] = writer.warnings
        record = StoredExport(
            export_id=export_id,
            format=fmt,
            file_name=file_name,
            data_file=store.data_path(export_id, fmt).name,
            mime_type=MIME_TYPES[fmt],
            created_at=iso(created),
            expires=expires,
            size_bytes=size,
            has_metadata=metadata is not None,
            owner=identity_of(ctx).name,
        )
        final = await anyio.to_thread.run_sync(store.publish, part, record, metadata)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        store.release(export_id)
    return _result(exports, export_id, fmt, file_name, final, size, expires, include_metadata, streamed, writer)


def _metadata(
    ctx: Context[App],
    export_id: str,
    fmt: Format,
    file_name: str,
    created: float,
    expires: int,
    query: str,
    params: list[Any],
    streamed: Streamed,
) -> dict[str, Any]:
    """The export's metadata (sidecar, Excel sheet or Parquet key-value metadata)."""
    return {
        "export_id": export_id,
        "format": fmt,
        "file_name": file_name,
        "created_at": iso(created),
        "expires_at": iso(expires),
        "query": query,
        "parameters": params,
        "row_count": streamed.row_count,
        "columns": [{"name": c.name, "type": c.type} for c in streamed.columns],
        "server_version": streamed.server_version,
        "database": streamed.database,
        "requested_by": _requested_by(ctx),
        "generator": f"vf-mcp {__version__}",
        "values": _VALUES[fmt],
    }


def _result(
    exports: Exports,
    export_id: str,
    fmt: Format,
    file_name: str,
    final: Path,
    size: int,
    expires: int,
    include_metadata: bool,
    streamed: Streamed,
    writer: Writer,
) -> ExportResult:
    """Where the export is (signed links over HTTP, the path and export:// otherwise) and a one-line message."""
    sidecar = fmt in ("csv", "json", "jsonl") and include_metadata
    url = signed_url(exports.base_url, exports.secret, export_id, expires) if exports.base_url else None
    meta_url = (
        signed_url(exports.base_url, exports.secret, f"{export_id}.meta.json", expires)
        if exports.base_url and sidecar
        else None
    )
    rows = streamed.row_count
    where = f"download: {url}" if url else f"file: {final} (or read the resource export://{export_id})"
    msg = (
        f"Exported {rows:,} row{'s' if rows != 1 else ''} ({human_bytes(size)}) as {fmt} '{file_name}' in "
        f"{streamed.elapsed_ms / 1000:.1f} s; {where}; expires {iso(expires)}."
    )
    if writer.warnings:
        msg += " Warnings: " + "; ".join(writer.warnings) + "."
    return ExportResult(
        export_id=export_id,
        format=fmt,
        file_name=file_name,
        file_path=str(final),
        file_size=human_bytes(size) or "0 bytes",
        file_size_bytes=size,
        row_count=rows,
        download_url=url,
        resource_uri=f"export://{export_id}",
        metadata_path=str(exports.store.meta_path(export_id)) if sidecar else None,
        metadata_url=meta_url,
        expires_at=iso(expires),
        warnings=writer.warnings,
        message=msg,
    )
