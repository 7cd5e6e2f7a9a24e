"""The stdio transport reaches the SDK's low-level server without building the streamable HTTP app."""

from __future__ import annotations

from typing import Any

from mcp.server.lowlevel.server import Server
from mcp.server.mcpserver import MCPServer

from vf_mcp.stdio import _lowlevel


def test_the_low_level_server_is_the_one_the_sdk_serves_with() -> None:
    server: MCPServer[Any] = MCPServer("t")
    low = _lowlevel(server)
    assert isinstance(low, Server)
    server.streamable_http_app()  # the public route reaches the very same object
    assert server.session_manager.app is low


class _PublicOnly:
    """An MCPServer as an SDK without the private attribute would show it: the public route only."""

    def __init__(self, server: MCPServer[Any]) -> None:
        self._server = server

    def streamable_http_app(self) -> object:
        return self._server.streamable_http_app()

    @property
    def session_manager(self) -> Any:
        return self._server.session_manager


def test_without_the_attribute_the_public_route_is_taken() -> None:
    server: MCPServer[Any] = MCPServer("t")
    assert _lowlevel(_PublicOnly(server)) is _lowlevel(server)  # type: ignore[arg-type]
