"""Structured concurrency for fan-out: no query is left running when its call has already failed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def gather_all(*aws: Awaitable[T]) -> list[T]:
    """Like asyncio.gather, but when one fails (or the caller is cancelled) the others are cancelled and
    awaited before the first error is raised, so no orphaned query outlives its tool call."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
