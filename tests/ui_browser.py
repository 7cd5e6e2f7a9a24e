"""Browser fixtures for the MCP Apps views: the test host and the views on two loopback origins, headless Chromium.

The host page (tests/ui_host/host.html, its script built from the ext-apps package's AppBridge) is served on one
port; the views on another, under the MCP Apps default CSP, so the sandboxed iframe runs on a second origin
exactly as a host renders it. Chromium is the Debian package, driven by Playwright (no browser download).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST_DIR = Path(__file__).parent / "ui_host"
PACKAGE_STATIC = Path(__file__).parent.parent / "vf_mcp" / "ui" / "static"
CHROMIUM = os.environ.get("VF_MCP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_CSP = (  # the MCP Apps specification's default when a resource declares no allowance
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; media-src 'self' data:; connect-src 'none'"
)


def chromium_available() -> bool:
    return Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is not None


def _handler(routes: dict[str, tuple[str, bytes]], csp: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = routes.get(self.path.split("?")[0])
            if found is None:
                self.send_error(404)
                return
            kind, body = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            if csp:
                self.send_header("Content-Security-Policy", csp)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # quiet
            pass

    return Handler


@contextmanager
def serving(routes: dict[str, tuple[str, bytes]], csp: str | None = None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(routes, csp))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def two_origins() -> Iterator[tuple[str, str]]:
    """(host base URL, views base URL): the host page and the views on different loopback ports."""
    from vf_mcp.ui.views import VIEWS, view_html

    html = "text/html; charset=utf-8"
    host_routes = {
        "/host.html": (html, (HOST_DIR / "host.html").read_bytes()),
        "/host.js": ("text/javascript", (PACKAGE_STATIC / "host.js").read_bytes()),
    }
    view_routes = {f"/view/{v}.html": (html, view_html(v).encode()) for v in set(VIEWS.values())}
    with serving(host_routes) as host, serving(view_routes, DEFAULT_CSP) as views:
        yield host, views


@asynccontextmanager
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()
