"""SQL identifiers: the one home for quoting names (pure: used by db/, compute/, export/ and the demo)."""

from __future__ import annotations

import re
from functools import cache

__all__ = ["ident", "quote_ident"]

_SIMPLE_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*$")


@cache
def _reserved() -> frozenset[str]:
    """PostgreSQL's reserved words (pglast loads on first use, not at start-up)."""
    from pglast import keywords

    return frozenset(keywords.RESERVED_KEYWORDS) | frozenset(keywords.TYPE_FUNC_NAME_KEYWORDS)


def quote_ident(name: str) -> str:
    """An always double-quoted identifier (valid for any name, including reserved words and odd characters)."""
    return '"' + name.replace('"', '""') + '"'


def ident(name: str) -> str:
    """An identifier as SQL: bare when PostgreSQL would read it back unchanged, else double-quoted."""
    if _SIMPLE_IDENT.match(name) and name not in _reserved():
        return name
    return quote_ident(name)
