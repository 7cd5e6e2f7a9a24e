"""The floor for bench/run.py: an MCP server with one tool that does nothing, served over stdio.

It is launched exactly like `vf-mcp serve` (`python <this file>` over stdio) and uses the same MCPServer
class, so its round trip is what the SDK, JSON-RPC framing and the pipe cost on their own; its start-up
time is what importing `mcp` and starting the server cost before vf-mcp adds anything.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server: MCPServer = MCPServer("noop", version="0")


@server.tool()
async def noop() -> str:
    """Do nothing and answer 'ok' (async, like vf-mcp's tools: no worker thread)."""
    return "ok"


if __name__ == "__main__":
    server.run("stdio")
