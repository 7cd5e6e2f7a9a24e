"""Modules loaded on first use: `from vf_mcp.lazy import asyncpg` reads like the module and imports it when one
of its attributes is first read.

The database driver is the one used so by the modules every start loads (errors, the pool, the audit log): the
stdio handshake is answered before anything reads from it, and the start-up check of the database, after the
handshake, is its first user. (The stdlib's LazyLoader does not serve here: any later `import asyncpg` reads
the module's __spec__, which loads it.) Type checkers see the real module (see each importer's TYPE_CHECKING
branch).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LazyModule", "asyncpg"]


class LazyModule:
    """A stand-in for a module: the first attribute read imports it; each attribute is then kept on the instance."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)  # the next read is a plain attribute lookup
        return value

    def __repr__(self) -> str:
        return f"<module {self._name!r}, loaded on first use>"


asyncpg = LazyModule("asyncpg")
