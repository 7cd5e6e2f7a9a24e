"""asyncmy cursors that do not fetch and log the server's warnings.

asyncmy's cursors run SHOW WARNINGS after every statement with warnings and log each message on the
`asyncmy` logger; the messages echo data values ("Truncated incorrect DOUBLE value: 'lerato@example.com'"),
so personal data would reach the server log, for one more round trip. vf-mcp's cursors skip both.
"""

from __future__ import annotations

from asyncmy.cursors import Cursor, SSCursor

__all__ = ["QuietCursor", "QuietSSCursor"]


class QuietCursor(Cursor):
    """A buffered cursor without SHOW WARNINGS (the connections' default cursor)."""

    async def _show_warnings(self, conn: object) -> None:
        return None


class QuietSSCursor(SSCursor):
    """An unbuffered cursor (exports) without SHOW WARNINGS."""

    async def _show_warnings(self, conn: object) -> None:
        return None
