"""The stdio transport on asyncio pipes: no worker thread per read or write, stoppable at once.

The SDK's stdio transport reads each line and writes each answer through anyio worker threads (three thread
hops per call) and two memory-stream tasks. This one reads stdin with `loop.connect_read_pipe` and writes
each JSON-RPC frame with one non-blocking write on `loop.connect_write_pipe`, feeding the SDK's own server
loop through the public stream protocols (`receive`/`send`). A signal ends the read side at once (`stop`),
so the server winds down as if the client had closed stdin. While serving, fd 0 points at the null device
and fd 1 at stderr (a child process or a stray print never touches the protocol), as the SDK does.

Where the pipes cannot be used (stdin or stdout a regular file, Windows), `open_stdio` raises
`PipesUnavailable` and the caller falls back to the SDK's transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

import anyio
import mcp_types
from mcp.server.mcpserver import MCPServer
from mcp.shared.message import SessionMessage

__all__ = ["PipesUnavailable", "StdioReader", "StdioWriter", "open_stdio", "serve_on"]

log = logging.getLogger("vf_mcp.stdio")

MAX_LINE_BYTES = 64 * 1024 * 1024
"""The longest JSON-RPC line read (a client's request); longer ones end the connection."""


class PipesUnavailable(Exception):
    """stdin or stdout cannot be served with asyncio pipes (a regular file, a closed descriptor, Windows)."""


class StdioReader:
    """The read side: JSON-RPC messages parsed from stdin lines (a bad line is passed on as the error)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self.last_context: contextvars.Context | None = None
        """The context each message is handled in (the SDK's dispatcher reads it)."""

    async def receive(self) -> SessionMessage | Exception:
        while True:
            try:
                line = await self._reader.readline()
            except (ValueError, asyncio.LimitOverrunError, OSError) as exc:  # a line over MAX_LINE_BYTES
                log.warning("stdin closed: %s", exc)
                raise anyio.EndOfStream from None
            if not line:
                raise anyio.EndOfStream
            if line.strip():
                break
        self.last_context = contextvars.copy_context()
        try:
            return SessionMessage(mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False))
        except Exception as exc:  # the SDK answers a malformed frame with a parse error
            return exc

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def stop(self) -> None:
        """End the current and every later read with end-of-file (call from the event loop)."""
        self._reader.feed_eof()

    async def aclose(self) -> None:
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class StdioWriter:
    """The write side: one frame per message, written at once (buffered by asyncio when the pipe is full)."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def send(self, message: SessionMessage, /) -> None:
        frame = message.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
        if self._writer.is_closing():
            raise anyio.ClosedResourceError
        self._writer.write(frame)
        if self._writer.transport.get_write_buffer_size() > 0:
            await self._writer.drain()  # the client reads slowly: wait instead of buffering without bound

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._writer.drain()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


@asynccontextmanager
async def open_stdio() -> AsyncIterator[tuple[StdioReader, StdioWriter]]:
    """Serve the process's stdin/stdout on asyncio pipes; PipesUnavailable when they are not pipes or ttys."""
    if sys.platform == "win32":
        raise PipesUnavailable("no asyncio pipes for the standard streams on Windows")
    loop = asyncio.get_running_loop()
    for fd in (0, 1):
        if not _pollable(fd):
            raise PipesUnavailable(f"fd {fd} is not a pipe, socket or terminal")
    try:
        read_fd, write_fd = os.dup(0), os.dup(1)
    except OSError as exc:
        raise PipesUnavailable(str(exc)) from None
    read_file, write_file = os.fdopen(read_fd, "rb", 0), os.fdopen(write_fd, "wb", 0)
    try:
        stream = asyncio.StreamReader(limit=MAX_LINE_BYTES)
        read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), read_file)
    except (ValueError, OSError) as exc:  # a regular file or a closed descriptor
        read_file.close()
        write_file.close()
        raise PipesUnavailable(str(exc)) from None
    try:
        write_transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()), write_file
        )
    except (ValueError, OSError) as exc:
        read_transport.close()
        write_file.close()
        raise PipesUnavailable(str(exc)) from None
    writer = asyncio.StreamWriter(write_transport, protocol, None, loop)
    saved_in, saved_out = _divert()
    try:
        yield StdioReader(stream), StdioWriter(writer)
    finally:
        _restore(saved_in, saved_out)
        read_transport.close()
        with contextlib.suppress(Exception):
            await writer.drain()
        write_transport.close()


def _pollable(fd: int) -> bool:
    """A pipe, socket or terminal (epoll refuses regular files and devices such as /dev/null)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or (stat.S_ISCHR(mode) and os.isatty(fd))


def _divert() -> tuple[int | None, int | None]:
    """Point fd 0 at the null device and fd 1 at stderr; return duplicates to restore them from."""
    saved: list[int | None] = []
    for fd, target in ((0, os.devnull), (1, None)):
        try:
            keep = os.dup(fd)
            replacement = os.open(target, os.O_RDONLY) if target is not None else os.dup(2)
            os.dup2(replacement, fd)
            os.close(replacement)
            saved.append(keep)
        except OSError:
            saved.append(None)
    return saved[0], saved[1]


def _restore(saved_in: int | None, saved_out: int | None) -> None:
    for fd, keep in ((0, saved_in), (1, saved_out)):
        if keep is not None:
            with contextlib.suppress(OSError):
                os.dup2(keep, fd)
                os.close(keep)


async def serve_on(server: MCPServer[Any], reader: StdioReader, writer: StdioWriter) -> None:
    """Run `server` (its lifespan, then the SDK's serving loop) on these streams until the client leaves."""
    low = _lowlevel(server)
    await low.run(reader, writer, low.create_initialization_options())


def _lowlevel(server: MCPServer[Any]) -> Any:
    """The SDK's low-level server, which runs the serving loop.

    MCPServer has no public accessor for it (its own run_stdio_async reads the attribute below). The public
    route, the session manager built with the streamable HTTP app, costs 10-20 ms of start-up (Starlette's
    routing and middleware, imported and built for nothing), so the attribute is read when it is there and the
    public route is the fallback (tests/test_stdio.py checks which one this SDK takes).
    """
    low = getattr(server, "_lowlevel_server", None)
    if low is not None and callable(getattr(low, "run", None)):
        return low
    server.streamable_http_app()
    return server.session_manager.app
