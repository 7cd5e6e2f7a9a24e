"""The JSON value type shared by the converters, the result runner and the exporters, and reading numbers off it."""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
JSONObject: TypeAlias = dict[str, JSONValue]

__all__ = ["JSONObject", "JSONValue", "as_float", "as_int"]


def as_int(v: object) -> int:
    """A count from a converted value (NULL counts as 0)."""
    return int(v) if isinstance(v, (int, float, str, Decimal)) and v != "" else 0


def as_float(v: object) -> float | None:
    """A converted value as a float, or None when it is NULL or not numeric."""
    if not isinstance(v, (int, float, str, Decimal)):
        return None
    try:
        return float(v)
    except ValueError:
        return None
