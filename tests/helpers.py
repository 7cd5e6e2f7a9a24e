"""Test helpers: an in-process MCP client on a fresh server, and direct (independent) SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from mcp import Client

from vf_mcp.server import build_server
from vf_mcp.settings import Settings


def settings_for(dsn: str, **overrides: Any) -> Settings:
    return Settings(dsn=dsn, **overrides)


@asynccontextmanager
async def mcp_client(dsn: str, **overrides: Any) -> AsyncIterator[Client]:
    """A real MCP client connected in-process to a freshly built server."""
    async with Client(build_server(settings_for(dsn, **overrides))) as client:
        yield client


async def call(client: Client, tool: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a tool that must succeed; return its structured content."""
    result = await client.call_tool(tool, args or {})
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    assert result.structured_content is not None
    return result.structured_content


async def call_error(client: Client, tool: str, args: dict[str, Any] | None = None) -> str:
    """Call a tool that must fail; return the error text the model sees."""
    result = await client.call_tool(tool, args or {})
    assert result.is_error, f"expected an error, got {result.structured_content}"
    text: str = result.content[0].text  # type: ignore[union-attr]
    return text


async def sql(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    """An independent answer: run `query` on a separate plain connection."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()
