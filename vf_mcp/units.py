"""Units shown to people: byte sizes in PostgreSQL's pg_size_pretty style."""

from __future__ import annotations

__all__ = ["human_bytes"]


def human_bytes(n: int | None) -> str | None:
    """1536 -> '1.5 kB' (powers of 1024, PostgreSQL's pg_size_pretty units)."""
    if n is None:
        return None
    size = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"
