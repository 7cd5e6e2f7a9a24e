"""Run CPU-heavy parsing of client text (pglast on a large statement) in a worker process.

pglast's parser and the JSON decode of its tree hold the GIL for hundreds of milliseconds on a 1 MB
statement, so a worker *thread* still stalls every other client; a worker process does not. The pool is
created on first use (spawn: the server has threads) and rebuilt if a worker dies.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from vf_mcp.errors import RefusedError

T = TypeVar("T")

OFF_LOOP_CHARS = 16 * 1024
"""Statements longer than this are parsed in a worker process."""

_POOL: ProcessPoolExecutor | None = None


def _pool() -> ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        workers = max(1, min(2, (os.cpu_count() or 1)))
        _POOL = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    return _POOL


async def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in a worker process (fn and its arguments must pickle); exceptions propagate."""
    global _POOL
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_pool(), functools.partial(fn, *args, **kwargs))
    except BrokenProcessPool:
        _POOL = None
        raise RefusedError(
            "Refused: the statement could not be checked (the parser process failed on it). "
            "Send a shorter or simpler statement."
        ) from None
