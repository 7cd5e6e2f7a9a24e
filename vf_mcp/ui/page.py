"""The views outside MCP clients: `vf-mcp serve --transport http` serves a page at /ui/.

A person picks a tool, fills its arguments and sees the same view an MCP Apps host would show. The page, its
script and the views are static files from the package (no data in them, so they are served without a key, like
/health); every tools/list and tools/call the page makes goes to the MCP endpoint with the API key the person
types in (`Authorization: Bearer`), so keys, rate limits, PII masking and the audit log apply unchanged. The
views run in a sandboxed iframe (scripts only, opaque origin) under the MCP Apps default CSP.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from starlette.types import ASGIApp, Receive, Scope, Send

from vf_mcp.ui.views import VIEWS, view_html

PREFIX = "/ui"
VIEW_CSP = (  # the MCP Apps default, an opaque origin even when opened directly, framed only by the page
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' data:; connect-src 'none'; sandbox allow-scripts; "
    "frame-ancestors 'self'"
)
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "frame-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def _static(name: str) -> bytes:
    return resources.files("vf_mcp.ui").joinpath(f"static/{name}").read_bytes()


def _route(path: str) -> tuple[bytes, bytes, str] | None:
    """(content type, body, CSP) of a page path, or None."""
    html = b"text/html; charset=utf-8"
    if path in (PREFIX, f"{PREFIX}/", f"{PREFIX}/index.html"):
        return html, _static("page.html"), PAGE_CSP
    if path == f"{PREFIX}/page.js":
        return b"text/javascript; charset=utf-8", _static("page.js"), PAGE_CSP
    if path == f"{PREFIX}/host.js":
        return b"text/javascript; charset=utf-8", _static("host.js"), PAGE_CSP
    if path.startswith(f"{PREFIX}/view/") and path.endswith(".html"):
        view = path.removeprefix(f"{PREFIX}/view/").removesuffix(".html")
        if view in set(VIEWS.values()):
            return html, view_html(view).encode("utf-8"), VIEW_CSP
    return None


class UiPage:
    """ASGI: GET /ui/... from the package; everything else goes to the gateway unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        found = _route(path)
        method = scope.get("method")
        status = 404 if found is None else 405 if method not in ("GET", "HEAD") else 200
        kind, body, csp = found if found is not None and status == 200 else (b"text/plain", b"", "default-src 'none'")
        headers = [
            (b"content-type", kind),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"content-security-policy", csp.encode("ascii")),
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
        ]
        if status == 405:
            headers.append((b"allow", b"GET, HEAD"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
