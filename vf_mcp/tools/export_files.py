"""The files export_results writes, served: the `export://{export_id}` resource (up to RESOURCE_MAX_BYTES) and
the HTTP route `/exports/{export_id}` (HMAC-signed, expiring links). The server wires them at start
(`install`) and its lifespan enters `serving`, which cleans the exports directory at start and every
CLEANUP_INTERVAL_S. Kept apart from the export tool so that start-up loads none of the writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol, TypeAlias

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from vf_mcp.app import App
from vf_mcp.export.service import Exports, ServerExports
from vf_mcp.export.signing import verify
from vf_mcp.export.store import ExportStore
from vf_mcp.tools.common import app_of, exports_of, identity_of
from vf_mcp.units import human_bytes

log = logging.getLogger(__name__)

RESOURCE_MAX_BYTES = 20 * 1024 * 1024
"""Largest file served as an MCP resource (base64 in one JSON-RPC message); larger: path or HTTP link."""
CLEANUP_INTERVAL_S = 600.0


async def export_file(export_id: str, ctx: Context[App]) -> str | bytes:
    """A file export_results wrote (export://{id}), or its metadata sidecar (export://{id}.meta.json).

    CSV, JSON, JSON Lines and the sidecar are text; Excel and Parquet bytes (a base64 blob on the wire).
    The MIME type of each is set by `_ExportContentTypes`.
    """
    exports = exports_of(app_of(ctx))
    found = exports.store.resolve(export_id, owner=identity_of(ctx).name)  # another key: "No such export"
    if found is None:
        raise ResourceNotFoundError(
            "No such export: the id is unknown or the export expired (exports are deleted after "
            "export_ttl_hours). Run export_results again."
        )
    path, record = found
    size = path.stat().st_size
    if size > RESOURCE_MAX_BYTES:
        raise ResourceError(
            f"The export is {human_bytes(size)}; files over {human_bytes(RESOURCE_MAX_BYTES)} are not served "
            f"as MCP resources. Read it at {path} on the server's machine, or download it over HTTP "
            "(serve with --transport http and use download_url)."
        )
    data = await anyio.to_thread.run_sync(path.read_bytes)
    return data.decode("utf-8") if ExportStore.content_type(export_id, record)[1] else data


class _ExportContentTypes:
    """Server middleware: an export:// read carries its file's MIME type (text/csv, application/json...).

    The SDK gives every read of one resource template the template's MIME type; exports differ by format.
    """

    def __init__(self, state: ServerExports) -> None:
        self.state = state

    async def __call__(self, ctx: ServerRequestContext[App, object], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        params = ctx.params if isinstance(ctx.params, dict) else {}
        uri = str(params.get("uri", ""))
        if ctx.method != "resources/read" or not uri.startswith("export://") or not self.state.running:
            return result
        name = uri.removeprefix("export://")
        found = self.state.running[-1].store.resolve(name)
        if found is None or not isinstance(result, dict) or not isinstance(contents := result.get("contents"), list):
            return result  # (the result is in its wire form here)
        mime, _ = ExportStore.content_type(name, found[1])
        return {**result, "contents": [{**c, "mimeType": mime} if isinstance(c, dict) else c for c in contents]}


def install(server: MCPServer[App]) -> ServerExports:
    """Wire what export_results needs besides the tool itself (call once per server, at build time).

    The export:// resource template and the /exports/ download route; returns the holder the server puts in
    its Hub, and its lifespan enters `serving(holder, app)`.
    """
    state = ServerExports()
    server.resource(
        "export://{export_id}", mime_type="application/octet-stream", title="Exported file (export_results)"
    )(export_file)
    server.middleware.append(_ExportContentTypes(state))

    @server.custom_route("/exports/{export_id}", methods=["GET"])  # type: ignore[untyped-decorator]
    async def download(request: Request) -> Response:
        return _download(state.running, request)

    return state


def _download(running: list[Exports], request: Request) -> Response:
    """GET /exports/{export_id}: the file behind a signed, unexpired link."""
    name = str(request.path_params.get("export_id", ""))
    if not running:
        return PlainTextResponse("Not Found", status_code=404)
    exports = running[-1]
    verdict = verify(exports.secret, name, request.query_params.get("expires"), request.query_params.get("sig"))
    if verdict == "forbidden":
        return PlainTextResponse("Forbidden", status_code=403)
    found = exports.store.resolve(name) if verdict == "ok" else None
    if found is None:
        return PlainTextResponse("Gone", status_code=410)
    path, record = found
    is_meta = name.endswith(".meta.json")
    return FileResponse(
        path,
        media_type="application/json" if is_meta else record.mime_type,
        filename=(record.file_name.rsplit(".", 1)[0] + ".meta.json") if is_meta else record.file_name,
        headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"},
    )


_Lifespan: TypeAlias = Callable[[object], AbstractAsyncContextManager[App]]


class _LowLevel(Protocol):
    """The low-level server's lifespan attribute (the only part of it this module touches)."""

    lifespan: _Lifespan


@asynccontextmanager
async def serving(holder: ServerExports, app: App) -> AsyncIterator[Exports]:
    """The server's Exports while it runs: cleanup at start and every CLEANUP_INTERVAL_S, /exports/ links live."""
    running = holder.running
    exports = Exports.from_settings(app.settings)
    running.append(exports)
    task = asyncio.create_task(_cleanup_loop(exports.store))
    try:
        yield exports
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        running.remove(exports)


async def _cleanup_loop(store: ExportStore) -> None:
    while True:
        try:
            removed = await anyio.to_thread.run_sync(store.cleanup)
            if removed:
                log.info("deleted %d expired export file(s) from %s", removed, store.directory)
        except OSError as exc:
            log.warning("export cleanup failed: %s", exc)
        await asyncio.sleep(CLEANUP_INTERVAL_S)
