"""list_sources: the named databases this server serves."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult

from vf_mcp.app import App
from vf_mcp.concurrency import gather_all
from vf_mcp.errors import VfError
from vf_mcp.models.sources import SourceInfo, SourceList
from vf_mcp.tools.common import ToolDef, app_of, respond, tool_errors

CHECK_TIMEOUT_S = 5.0


@tool_errors
async def list_sources(ctx: Context[App]) -> Annotated[CallToolResult, SourceList]:
    """List the named databases, to pass as `source` to any tool."""
    app = app_of(ctx)
    apps = list(app.hub.apps.values()) if app.hub is not None else [app]
    infos = await gather_all(*(describe_source(a) for a in apps))
    default = next((i.name for i in infos if i.default), infos[0].name)
    down = [i.name for i in infos if i.status != "ok"]
    msg = f"{len(infos)} source(s); default: {default}" + (f"; unavailable: {', '.join(down)}" if down else "")
    return respond(SourceList(sources=list(infos), message=msg))


TOOLS = (ToolDef(list_sources),)


async def describe_source(app: App) -> SourceInfo:
    """One source's description and live status (version and role safety from one cached catalog query)."""
    src = app.source
    base: dict[str, Any] = {
        "name": app.source_name,
        "description": getattr(src, "description", "") or "",
        "default": bool(getattr(src, "default", True)),
        "via_ssh": getattr(src, "ssh", None) is not None,
        "replicas": len(app.settings.replica_dsns),
        "statement_timeout_ms": app.settings.statement_timeout_ms,
        "max_rows": app.settings.max_rows,
    }
    try:
        safety = await asyncio.wait_for(app.catalog.cached("role_safety", app.db.role_safety), CHECK_TIMEOUT_S)
    except (VfError, TimeoutError) as exc:
        error = exc.message if isinstance(exc, VfError) else f"no answer within {CHECK_TIMEOUT_S:.0f} s"
        return SourceInfo(**base, status="unavailable", pool_open=app.db.pool_stats()["size"] > 0, error=error)
    return SourceInfo(
        **base,
        status="ok",
        server_version=safety.server_version,
        role=safety.role,
        read_only_role=safety.is_read_only,
        safety_warning=safety.warning(),
        pool_open=app.db.pool_stats()["size"] > 0,
    )
