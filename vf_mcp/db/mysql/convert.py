"""MySQL/MariaDB result values to JSON values, deterministic and lossless, as the text protocol gives them.

* NULL -> null. TINYINT..BIGINT (signed or UNSIGNED, up to 18446744073709551615) -> integer.
* DECIMAL -> a JSON number only when it is exactly a double, else its exact decimal text; a column is
  one or the other over a result (`uniform_numerics`, as on PostgreSQL; the label then says so).
* FLOAT/DOUBLE -> number (as the server prints it).
* DATETIME -> "YYYY-MM-DDTHH:MM:SS[.ffffff]" (no zone: DATETIME has none). TIMESTAMP -> the instant (sessions
  run in UTC) in the `time_zone` setting with its offset, e.g. "2024-11-03T01:30:00-05:00" (exact in a DST fold).
  DATE -> "YYYY-MM-DD". Zero and partial dates ("0000-00-00", "2024-00-10") -> the server's text as is.
* TIME -> "[-]HHH:MM:SS[.ffffff]" (MySQL's range is -838:59:59..838:59:59). YEAR -> integer.
* BIT(n) -> "0101..." (n digits). BLOB/BINARY/VARBINARY -> base64. JSON -> the parsed value (MySQL's JSON
  type; MariaDB's JSON is LONGTEXT with a CHECK, so it comes back as text). ENUM/SET/text -> string.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, TypeAlias

from vf_mcp.jsontypes import JSONValue

Converter = Callable[[object], JSONValue]
MyField: TypeAlias = Any
"""asyncmy's column descriptor (type_code, flags, charsetnr, length, name); untyped in its stubs."""

# asyncmy FIELD_TYPE codes
DECIMAL, TINY, SHORT, LONG, FLOAT, DOUBLE, NULL, TIMESTAMP, LONGLONG, INT24 = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
DATE, TIME, DATETIME, YEAR, NEWDATE, VARCHAR, BIT = 10, 11, 12, 13, 14, 15, 16
JSON, NEWDECIMAL, ENUM, SET, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB, VAR_STRING, STRING, GEOMETRY = (
    245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255,
)  # fmt: skip
BINARY_CHARSET = 63
UNSIGNED_FLAG, ENUM_FLAG, SET_FLAG, BINARY_FLAG = 32, 256, 2048, 128
_MAX_SAFE_INT = 2**53 - 1

_NAMES = {
    DECIMAL: "decimal", NEWDECIMAL: "decimal", TINY: "tinyint", SHORT: "smallint", LONG: "int", INT24: "mediumint",
    LONGLONG: "bigint", FLOAT: "float", DOUBLE: "double", NULL: "null", TIMESTAMP: "timestamp", DATE: "date",
    NEWDATE: "date", TIME: "time", DATETIME: "datetime", YEAR: "year", VARCHAR: "varchar", BIT: "bit", JSON: "json",
    ENUM: "enum", SET: "set", GEOMETRY: "geometry", VAR_STRING: "varchar", STRING: "char",
    TINY_BLOB: "text", MEDIUM_BLOB: "text", LONG_BLOB: "text", BLOB: "text",
}  # fmt: skip
_INTEGERS = frozenset((TINY, SHORT, LONG, INT24, LONGLONG, YEAR))
_TEXTS = frozenset((VARCHAR, VAR_STRING, STRING, TINY_BLOB, MEDIUM_BLOB, LONG_BLOB, BLOB))


def type_name(type_code: int, flags: int, charset: int) -> str:
    """The column's type as a label ("bigint unsigned", "blob", "varbinary", "timestamp (with zone offset)")."""
    if type_code in _TEXTS and charset == BINARY_CHARSET:
        return "varbinary" if type_code in (VARCHAR, VAR_STRING) else "binary" if type_code == STRING else "blob"
    if type_code == STRING and flags & ENUM_FLAG:
        return "enum"
    if type_code == STRING and flags & SET_FLAG:
        return "set"
    name = _NAMES.get(type_code, f"type {type_code}")
    if type_code in _INTEGERS and type_code != YEAR and flags & UNSIGNED_FLAG:
        name += " unsigned"
    return name


def _decimal(value: object) -> JSONValue:
    if isinstance(value, str):  # the text protocol can leave it as text
        value = Decimal(value)
    assert isinstance(value, Decimal)
    if value == value.to_integral_value() and abs(value) <= _MAX_SAFE_INT:
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) == value:
        return as_float
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _stamp(zone: tzinfo | None) -> Converter:
    def convert(value: object) -> JSONValue:
        if isinstance(value, datetime):
            return (value.replace(tzinfo=UTC).astimezone(zone) if zone is not None else value).isoformat()
        if isinstance(value, date):
            return value.isoformat()
        return str(value)  # a zero or partial date, as the server printed it

    return convert


def _time(value: object) -> JSONValue:
    if not isinstance(value, timedelta):
        return str(value)
    micro = abs(value) // timedelta(microseconds=1)
    sign = "-" if value < timedelta(0) else ""
    seconds, us = divmod(micro, 1_000_000)
    hours, rest = divmod(seconds, 3600)
    text = f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return text + (f".{us:06d}" if us else "")


def _bits(width: int) -> Converter:
    def convert(value: object) -> JSONValue:
        raw = value if isinstance(value, bytes) else bytes(str(value), "latin-1")
        return format(int.from_bytes(raw, "big"), f"0{max(width, 1)}b")

    return convert


def _b64(value: object) -> JSONValue:
    raw = value if isinstance(value, (bytes, bytearray)) else str(value).encode()
    return base64.b64encode(bytes(raw)).decode("ascii")


def _json(value: object) -> JSONValue:
    text = value.decode() if isinstance(value, bytes) else str(value)
    try:
        parsed: JSONValue = json.loads(text)
    except ValueError:
        return text
    return parsed


def _text(value: object) -> JSONValue:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _int(value: object) -> JSONValue:
    return int(value)  # type: ignore[call-overload,no-any-return]


def _float(value: object) -> JSONValue:
    f = float(value)  # type: ignore[arg-type]
    return f if f == f and f not in (float("inf"), float("-inf")) else str(f)


def converter_for(type_code: int, flags: int, charset: int, length: int, zone: tzinfo) -> Converter:
    if type_code in _INTEGERS:
        conv: Converter = _int
    elif type_code in (DECIMAL, NEWDECIMAL):
        conv = _decimal
    elif type_code in (FLOAT, DOUBLE):
        conv = _float
    elif type_code == TIMESTAMP:
        conv = _stamp(zone)
    elif type_code in (DATETIME, DATE, NEWDATE):
        conv = _stamp(None)
    elif type_code == TIME:
        conv = _time
    elif type_code == BIT:
        conv = _bits(length)
    elif type_code == JSON:
        conv = _json
    elif type_code == GEOMETRY or (type_code in _TEXTS and charset == BINARY_CHARSET):
        conv = _b64
    else:
        conv = _text

    def null_safe(value: object) -> JSONValue:
        return None if value is None else conv(value)

    return null_safe


def convert_rows(rows: Sequence[Sequence[object]], converters: Sequence[Converter]) -> list[list[JSONValue]]:
    return [[c(v) for c, v in zip(converters, row, strict=True)] for row in rows]


def decimal_columns(type_codes: Sequence[int]) -> tuple[int, ...]:
    """Positions of the DECIMAL columns (numbers or exact strings: see vf_mcp.db.convert.uniform_numerics)."""
    return tuple(i for i, t in enumerate(type_codes) if t in (DECIMAL, NEWDECIMAL))
