"""Test helpers: an in-process MCP client on a fresh server, and direct (independent) SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import asyncpg
from mcp import Client

from vf_mcp.server import build_server
from vf_mcp.settings import Settings


def settings_for(dsn: str, **overrides: Any) -> Settings:
    """Test settings: PII shown as stored (tests compare values with SQL), unless a test asks for masking."""
    overrides.setdefault("pii_mode", "allow")
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


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without VF_MCP_* settings, plus `extra`."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("VF_MCP_")}
    env.update(extra)
    return env


@contextmanager
def vf_mcp_http(
    args: list[str], env: dict[str, str], *, wait_s: float = 30.0, stop_signal: int = 15, transport: str = "http"
) -> Iterator[str]:
    """Run `vf-mcp <args> --transport http|sse --port N` as a subprocess; yield its base URL once it listens."""
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "vf_mcp.cli", *args, "--transport", transport, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(stop_signal)
        proc.wait(30)
