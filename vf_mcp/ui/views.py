"""Which tool renders in which view, the `ui://` resources, and the gate that advertises them per client.

One self-contained HTML bundle holds every view; each `ui://vf-mcp/<view>.html` resource is that bundle with
its view's name in a `<meta name="vf-view">` tag. A tool that has a view carries `_meta.ui.resourceUri`;
`kpi_history` is a drill-down helper only views call (`_meta.ui.visibility = ["app"]`).

Clients that declared their capabilities without the extension (legacy `initialize`, or each request's
envelope under the 2026-07-28 protocol) see exactly the answers of a server without views: `tools/list` without
`_meta.ui` and without app-only tools, `resources/list` without `ui://` resources (see AppsGate for a request
whose client is unknown: legacy requests over stateless HTTP).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID, Apps, ResourceCsp, client_supports_apps
from mcp.server.extension import Extension
from mcp.server.mcpserver.resources import FunctionResource
from mcp.server.mcpserver.tools import Tool

VIEWS: dict[str, str] = {
    "analyze_trends": "trends",
    "calculate_metrics": "metrics",
    "compare_data": "compare",
    "rank_entities": "rank",
    "get_kpi_dashboard": "kpi",
    "kpi_history": "kpi",
    "get_table_relationships": "er",
    "explain_query": "explain",
    "check_data_quality": "quality",
    "run_query": "grid",
}
"""Tool name -> the view that renders its structured output."""

APP_ONLY = frozenset({"kpi_history"})
"""Drill-down helpers: called by views through the host, never offered to the model."""

URI_PREFIX = "ui://vf-mcp/"

__all__ = ["APP_MIME_TYPE", "EXTENSION_ID", "VIEWS", "AppsGate", "Installed", "install", "resource_uri", "view_html"]


def resource_uri(view: str) -> str:
    return f"{URI_PREFIX}{view}.html"


@cache
def bundle() -> str:
    """The built bundle shipped in the package (every byte of JS and CSS inline)."""
    return resources.files("vf_mcp.ui").joinpath("static/views.html").read_text(encoding="utf-8")


def view_html(view: str) -> str:
    """The bundle set to open `view`."""
    tag = f'<meta name="vf-view" content="{html.escape(view)}">'
    return bundle().replace("<head>", "<head>" + tag, 1)


def _reader(view: str) -> Callable[[], Awaitable[str]]:
    async def read() -> str:
        return view_html(view)

    return read


@dataclass(frozen=True)
class Installed:
    """What server.py passes to MCPServer: the extension and the middleware gate."""

    tools: list[Tool]
    extensions: list[Extension]
    middleware: list[Any]


def install(tools: Iterable[Tool], *, enabled: bool = True) -> Installed:
    """Stamp `_meta.ui` on the published tools that have a view and register their resources.

    With views off (`ui = false`) the app-only helpers are not published and nothing is stamped.
    """
    tools = list(tools)
    if not enabled:
        return Installed([t for t in tools if t.name not in APP_ONLY], [], [])
    apps = Apps()
    views: set[str] = set()
    app_only: set[str] = set()
    for tool in tools:
        view = VIEWS.get(tool.name)
        if view is None:
            continue
        ui: dict[str, Any] = {"resourceUri": resource_uri(view)}
        if tool.name in APP_ONLY:
            ui["visibility"] = ["app"]
            app_only.add(tool.name)
        tool.meta = {**(tool.meta or {}), "ui": ui}
        views.add(view)
    ui_meta = {
        "csp": ResourceCsp().model_dump(by_alias=True, exclude_none=True),  # no network: no connect/resource/frame
        "prefersBorder": False,
    }
    for view in sorted(views):  # the bundle (0.4 MB) is read on the first resources/read, not at start-up
        apps.add_resource(
            FunctionResource(
                uri=resource_uri(view),
                name=f"vf-mcp {view} view",
                title=f"vf-mcp: {view} view",
                description="Interactive view of the tool's structured result (MCP Apps)",
                mime_type=APP_MIME_TYPE,
                meta={"ui": dict(ui_meta)},
                fn=_reader(view),
            )
        )
    return Installed(tools, [apps], [AppsGate(frozenset(app_only))])


class AppsGate:
    """Server middleware: tools and resources as this client negotiated them.

    - The client advertised the extension: every view and the app-only helpers.
    - The client declared its capabilities without it (legacy `initialize`, or a 2026-07-28 envelope): the
      answers of a server without views (no `_meta.ui`, no `ui://` resources, app-only helpers unknown).
    - Nothing is known (a legacy request over stateless HTTP: `initialize` was another request): the views are
      advertised, as the SDK's own Apps extension always does (`_meta.ui` is inert for a client without Apps),
      but the app-only helpers are not listed (a view may still call them). `stateless_http = false` or the
      2026-07-28 protocol make the negotiation exact.
    """

    def __init__(self, app_only: frozenset[str]) -> None:
        self.app_only = app_only

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        method = ctx.method
        if method not in ("tools/list", "resources/list", "tools/call") or ctx.request_id is None:
            return await call_next(ctx)
        if client_supports_apps(ctx):
            return await call_next(ctx)
        unknown = ctx.session.client_capabilities is None
        if method == "tools/call":
            params = dict(ctx.params or {})
            name = params.get("name")
            if name not in self.app_only or unknown:
                return await call_next(ctx)
            # as for any tool this client was never offered: the SDK's own unknown-tool answer
            hidden = f"{name} (app only)"
            result = await call_next(replace(ctx, params={**params, "name": hidden}))
            for block in result.get("content", ()) if isinstance(result, dict) else ():
                if isinstance(block, dict) and isinstance(block.get("text"), str):
                    block["text"] = block["text"].replace(hidden, str(name))
            return result
        result = await call_next(ctx)
        if not isinstance(result, dict):  # the SDK hands middleware the wire form
            return result
        if method == "tools/list" and isinstance(result.get("tools"), list):
            listed = [t if unknown else _without_ui(t) for t in result["tools"] if t.get("name") not in self.app_only]
            return {**result, "tools": listed}
        if method == "resources/list" and isinstance(result.get("resources"), list) and not unknown:
            kept = [r for r in result["resources"] if not str(r.get("uri", "")).startswith(URI_PREFIX)]
            return {**result, "resources": kept}
        return result


def _without_ui(tool: dict[str, Any]) -> dict[str, Any]:
    meta = tool.get("_meta")
    if not isinstance(meta, dict) or "ui" not in meta:
        return tool
    rest = {k: v for k, v in meta.items() if k != "ui"}
    out = {k: v for k, v in tool.items() if k != "_meta"}
    return {**out, "_meta": rest} if rest else out
