"""Deterministic, lossless conversion of PostgreSQL result values to JSON values.

Values arrive as asyncpg decodes them. ``install_codecs`` (run once per pooled connection) replaces
the decoders whose default output is lossy or crashes, and ``converter_for`` picks, once per column,
a small function that turns one decoded value into a JSON value. Every converter accepts ``None``.

How each type comes out (the same answer every time for the same stored value):

* NULL -> null.  boolean -> true/false.  smallint/integer/bigint/oid/xid/xid8/cid -> integer.
* real / double precision -> number; NaN, Infinity, -Infinity -> the strings "NaN", "Infinity",
  "-Infinity".  A real becomes the shortest decimal that reads back as the same float4 (0.1, not
  0.10000000149011612), the value PostgreSQL itself prints.
* numeric -> a JSON number only when that number is exactly the stored value: integers with
  |v| <= 2**53 - 1, and fractions whose shortest float repr is exactly the decimal (0.1, 12.75).
  Anything else -> the PostgreSQL text form as a string ("12345678901234567890", "0.1000000000000000001",
  "NaN", "Infinity").  The display scale is not kept: 1.50 -> 1.5, 2.00 -> 2.
* money -> string exactly as PostgreSQL prints it ("$1,234.50", depends on lc_monetary).
* text, varchar, char(n) (padding kept), name, citext, tsvector, tsquery, xml, jsonpath, reg* -> string.
* "char" -> its one-character text (bytes >= 0x80 as PostgreSQL's octal escape "\\351").
* uuid -> "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".  inet/cidr -> PostgreSQL's spelling ("10.0.0.1",
  "10.0.0.0/8", "::ffff:1.2.3.4").  macaddr/macaddr8 -> "08:00:2b:01:02:03".
* bytea -> base64, standard alphabet with padding (see ``format_note``).
* date -> "YYYY-MM-DD".  timestamp -> "YYYY-MM-DDTHH:MM:SS[.ffffff]" (Python isoformat, no offset).
  timestamptz -> the same with the offset of the zone the codecs decode in (vf-mcp's pool: the `time_zone`
  setting, e.g. "2013-03-10T01:00:00-05:00"; install_codecs' default: UTC "+00:00"), whatever the session
  TimeZone.  time -> "HH:MM:SS[.ffffff]";
  timetz -> the same plus its own offset ("12:00:00-03:30").  infinity/-infinity -> "infinity"/"-infinity";
  years outside 1..9999 -> "10000-01-01", "0044-03-15T12:00:00 BC" (PostgreSQL accepts both back);
  time 24:00:00 -> "24:00:00".
* interval -> ISO 8601 duration exactly as PostgreSQL prints it with IntervalStyle = iso_8601
  ("P1Y2M3DT4H5M6S", "P-1M2DT-3H", "PT0.5S", "PT0S", "infinity").  Months, days and time are kept apart.
* json/jsonb -> the parsed JSON value (object/array/string/number/...), not a string.  Numbers with more
  precision than a double become the nearest double; numbers beyond the double range stay strings.
  A JSON null and an SQL NULL both become null; in json (not jsonb) a repeated key keeps its last value.
* arrays -> nested lists (multi-dimensional arrays nest), NULL elements -> null, each element converted
  as its type.  enums -> their label.  domains -> as their base type (asyncpg reports the base type).
* ranges -> PostgreSQL range text built from the converted bounds: "[1,5)", "(,10]", "empty",
  "[2024-01-01T00:00:00+00:00,2024-02-01T00:00:00+00:00)".  It is valid range input again.
  multiranges -> a list of such range strings (["[1,3)", "[5,7)"]; {} -> []).
* composite types (and whole-row references) -> an object {field: converted value}; anonymous records
  (ROW(...)) -> a list of converted values (asyncpg gives no field names for them).
* point, line, lseg, box, path, polygon, circle -> PostgreSQL text ("(1,2)", "<(1,2),3>").
  bit/varbit -> "1010".  pg_lsn -> "0/16B3748".  tid -> "(0,1)".  pg_snapshot -> "10:20:10,14".
* anything else (extension types: hstore, ltree, PostGIS, ...) -> PostgreSQL's text output (asyncpg's
  fallback for unknown types), or ``str(value)``.

asyncpg limitations that no converter can repair: a composite (named row type) with a field of a type
asyncpg reads only as text (money, tsvector, tsquery, reg*, extension types) fails to decode; the same
fields inside an anonymous ROW(...) decode as garbage, which ``convert_row`` refuses with a QueryError
telling the model to cast such fields to text.
"""

from __future__ import annotations

import binascii
import json
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
from typing import Protocol, TypeAlias, cast
from uuid import UUID

import asyncpg

from vf_mcp.db.codecs import install_codecs, interval_iso
from vf_mcp.errors import QueryError
from vf_mcp.identifiers import quote_ident
from vf_mcp.jsontypes import JSONValue

Converter: TypeAlias = Callable[[object], JSONValue]


class PgType(Protocol):
    """asyncpg's ``Type`` as the converters read it (``oid`` is read when present)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def schema(self) -> str: ...


class PgAttribute(Protocol):
    """asyncpg's ``Attribute``: one column of a prepared statement's result."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> PgType: ...


__all__ = [
    "Converter",
    "Converters",
    "JSONValue",
    "PgAttribute",
    "PgType",
    "convert_row",
    "convert_rows",
    "converter_for",
    "converters_for",
    "format_note",
    "install_codecs",
    "numeric_columns",
    "type_label",
    "uniform_numerics",
]

_MAX_SAFE_INT = 2**53 - 1
_US_PER_SEC = 1_000_000
_UTC = UTC


def _identity(value: object) -> JSONValue:
    return cast("JSONValue", value)


# --------------------------------------------------------------------------------------------------
# Scalar converters.  Each takes None and returns None.


def _float8(value: object) -> JSONValue:
    number = cast("float | None", value)
    if number is None or number - number == 0.0:  # finite (nan - nan and inf - inf are nan)
        return number
    if number != number:
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


_F32 = struct.Struct("<f")
_F4_MIN_NORMAL = 1.1754943508222875e-38
_F4_DIGITS = (6, 7, 8, 9)
_F4_DIGITS_SUBNORMAL = (1, 2, 3, 4, 5, 6, 7, 8, 9)


def _float4(value: object) -> JSONValue:
    """The shortest decimal that reads back as the same float4 (what PostgreSQL prints)."""
    if value is None:
        return None
    value = cast(float, value)
    if value - value != 0.0:
        return _float8(value)
    pack, unpack = _F32.pack, _F32.unpack
    # For a normal float4, a shortest form of <= 6 digits is exactly what %.6g prints; subnormals have
    # less precision, so their search starts at one digit.
    try:
        for digits in _F4_DIGITS if abs(value) >= _F4_MIN_NORMAL else _F4_DIGITS_SUBNORMAL:
            candidate = float(f"{value:.{digits}g}")
            if unpack(pack(candidate))[0] == value:
                return candidate
    except OverflowError:  # pragma: no cover - 9 digits always round-trip
        pass
    return value


def _numeric_exact(value: Decimal) -> JSONValue:
    if not value.is_finite():
        return str(value)  # "NaN", "Infinity", "-Infinity"
    if value.adjusted() < 16:
        if value == value.to_integral_value():
            number = int(value)
            if -_MAX_SAFE_INT <= number <= _MAX_SAFE_INT:
                return number
        else:
            approx = float(value)
            if Decimal(repr(approx)) == value:
                return approx
    return format(value, "f")  # PostgreSQL's text form: plain notation, scale kept


def _numeric(value: object) -> JSONValue:
    """Exact: a JSON number only when it is the stored value, else PostgreSQL's text form."""
    if value is None:
        return None
    value = cast(Decimal, value)
    text = str(value)
    if "E" in text or "N" in text or "I" in text:  # exponent, NaN, Infinity
        return _numeric_exact(value)
    if "." not in text:
        if len(text) - (text[0] == "-") <= 16:
            number = int(text)
            if -_MAX_SAFE_INT <= number <= _MAX_SAFE_INT:
                return number
        return text
    trimmed = text.rstrip("0")
    if trimmed[-1] == ".":  # integral with a scale: 2.00
        whole = trimmed[:-1]
        if len(whole) - (whole[0] == "-") <= 16:
            number = int(whole)
            if -_MAX_SAFE_INT <= number <= _MAX_SAFE_INT:
                return number
        return text
    if len(trimmed) - (trimmed[0] == "-") <= 16:
        # At most 15 digits: float() keeps them all (DBL_DIG), so repr() would give them back.
        return float(trimmed)
    significant = trimmed.lstrip("-0.")
    if len(significant) - ("." in significant) > 17:
        return text  # more digits than any double has
    approx = float(trimmed)
    shortest = repr(approx)
    if shortest == trimmed:  # both canonical fixed-point spellings: same digits, same value
        return approx
    # repr() uses an exponent below 1e-4: decide on the value; otherwise the digits differ (not exact).
    return _numeric_exact(value) if "e" in shortest else text


def _bytea(value: object) -> JSONValue:
    if value is None:
        return None
    return binascii.b2a_base64(cast(bytes, value), newline=False).decode("ascii")


def _pg_char(value: object) -> JSONValue:
    """PostgreSQL's "char" output: the byte, or a backslash and three octal digits above 0x7f."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if not value:
        return ""
    byte = cast(bytes, value)[0]
    return chr(byte) if byte < 0x80 else f"\\{byte:03o}"


def _to_str(value: object) -> JSONValue:
    return None if value is None else str(value)


def _ipv6_text(address: IPv6Address) -> str:
    """inet_net_ntop spelling: IPv4-mapped and IPv4-compatible addresses end in dotted quads."""
    packed = address.packed
    if packed[:10] == bytes(10) and (
        packed[10:12] == b"\xff\xff" or (packed[10:12] == b"\0\0" and packed[12:14] != b"\0\0")
    ):
        quad = ".".join(str(b) for b in packed[12:])
        return ("::ffff:" if packed[10] else "::") + quad
    return str(address)


def _inet(value: object) -> JSONValue:
    kind = type(value)
    if kind is IPv4Address or kind is IPv4Network or kind is IPv4Interface:
        return str(value)
    if kind is IPv6Address:
        return _ipv6_text(cast(IPv6Address, value))
    if kind is IPv6Interface:
        interface = cast(IPv6Interface, value)
        return f"{_ipv6_text(interface.ip)}/{interface.network.prefixlen}"
    if kind is IPv6Network:
        network = cast(IPv6Network, value)
        return f"{_ipv6_text(network.network_address)}/{network.prefixlen}"
    return _to_str(value)


def _date(value: object) -> JSONValue:
    return value.isoformat() if type(value) is date else cast("JSONValue", value)


def _datetime(value: object) -> JSONValue:
    if type(value) is datetime:
        return value.isoformat()  # an aware value keeps its offset: the codecs decode in the configured zone
    return cast("JSONValue", value)


def _time(value: object) -> JSONValue:
    return value.isoformat() if type(value) is time else cast("JSONValue", value)


def _timedelta_iso(value: timedelta) -> str:
    return interval_iso(0, value.days, value.seconds * _US_PER_SEC + value.microseconds)


def _interval(value: object) -> JSONValue:
    # With install_codecs the value is already the ISO 8601 string; a timedelta means the default codec.
    return _timedelta_iso(value) if type(value) is timedelta else cast("JSONValue", value)


def _bits(value: object) -> JSONValue:
    if value is None:
        return None
    text: str = cast(asyncpg.BitString, value).as_string()
    return text.replace(" ", "")  # as_string() groups by 4


def _pg_lsn(value: object) -> JSONValue:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    lsn = cast(int, value) & 0xFFFF_FFFF_FFFF_FFFF  # asyncpg decodes it as a signed int64
    return f"{lsn >> 32:X}/{lsn & 0xFFFF_FFFF:X}"


def _tid(value: object) -> JSONValue:
    if value is None:
        return None
    block, offset = cast("tuple[int, int]", value)
    return f"({block},{offset})"


def _snapshot(value: object) -> JSONValue:
    if value is None:
        return None
    xmin, xmax, xip = cast("tuple[int, int, Iterable[int]]", value)
    return f"{xmin}:{xmax}:" + ",".join(str(x) for x in xip)


# Geometric types: PostgreSQL's text output, floats printed as float8out does.


def _f8text(x: float) -> str:
    if x != x:
        return "NaN"
    if x - x != 0.0:
        return "Infinity" if x > 0 else "-Infinity"
    text = repr(x)
    if "e" in text:
        return text
    if text.endswith(".0"):
        text = text[:-2]
    if abs(x) < 1e15:
        return text
    # float8out switches to exponent notation from 1e15 on, Python's repr only from 1e16.
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    digits = (whole + fraction).rstrip("0")
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e+{len(whole) - 1:02d}"


def _pt(p: Sequence[float]) -> str:
    return f"({_f8text(p[0])},{_f8text(p[1])})"


def _geometry(value: object) -> JSONValue:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, asyncpg.Point):
        return _pt(value)
    if isinstance(value, asyncpg.Box):
        return f"{_pt(value[0])},{_pt(value[1])}"
    if isinstance(value, asyncpg.LineSegment):
        return f"[{_pt(value[0])},{_pt(value[1])}]"
    if isinstance(value, asyncpg.Line):
        return "{" + ",".join(_f8text(c) for c in value) + "}"
    if isinstance(value, asyncpg.Circle):
        return f"<{_pt(value[0])},{_f8text(value[1])}>"
    if isinstance(value, asyncpg.Path):  # Polygon is a Path subclass, always closed
        points = ",".join(_pt(p) for p in value.points)
        return f"({points})" if value.is_closed else f"[{points}]"
    return str(value)


# Ranges: PostgreSQL range text from the converted bounds.

_RANGE_QUOTE = re.compile(r'["\\()\[\],\s]')


def _bound_text(value: object) -> str:
    kind = type(value)
    if kind is str:
        text = cast(str, value)
    elif kind is int:
        text = str(value)
    elif kind is Decimal:
        text = format(value, "f")
    elif kind is float:
        text = _f8text(cast(float, value))
    else:
        converted = _generic(value)
        text = converted if isinstance(converted, str) else json.dumps(converted, separators=(",", ":"))
    if text and not _RANGE_QUOTE.search(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '""') + '"'


def _range(value: object) -> JSONValue:
    if value is None:
        return None
    bounds = cast(asyncpg.Range, value)
    if bounds.isempty:
        return "empty"
    lower = "(" if bounds.lower_inf else ("[" if bounds.lower_inc else "(") + _bound_text(bounds.lower)
    upper = ")" if bounds.upper_inf else _bound_text(bounds.upper) + ("]" if bounds.upper_inc else ")")
    return f"{lower},{upper}"


def _multirange(value: object) -> JSONValue:
    return None if value is None else [_range(r) for r in cast("Iterable[object]", value)]


# Composite values and anything whose column type does not say enough: dispatch on the Python type.


def _record(value: object) -> JSONValue:
    return {key: _generic(item) for key, item in cast("Mapping[str, object]", value).items()}


def _anonymous_record(value: object) -> JSONValue:
    if value is None:
        return None
    out: list[JSONValue] = []
    for position, item in enumerate(cast("Iterable[object]", value), 1):
        if type(item) is str and "\x00" in item:
            # asyncpg decoded a binary field with a text-only codec (money, tsvector, reg*, ...).
            raise QueryError(
                f"Field {position} of an anonymous ROW(...) value has a type the driver cannot read inside "
                "a record (money, tsvector, tsquery, regclass and similar). Cast that field to text inside "
                "the ROW(...), or select the fields as separate columns."
            )
        out.append(_generic(item))
    return out


def _sequence(value: object) -> JSONValue:
    return [_generic(item) for item in cast("Iterable[object]", value)]


_BY_PYTYPE: dict[type, Converter] = {
    type(None): _identity,
    bool: _identity,
    int: _identity,
    str: _identity,
    dict: _identity,  # parsed json
    float: _float8,
    Decimal: _numeric,
    bytes: _bytea,
    date: _date,
    datetime: _datetime,
    time: _time,
    timedelta: _interval,
    list: _sequence,
    tuple: _anonymous_record,
    UUID: _to_str,
    IPv4Address: _inet,
    IPv4Interface: _inet,
    IPv4Network: _inet,
    IPv6Address: _inet,
    IPv6Interface: _inet,
    IPv6Network: _inet,
    asyncpg.Record: _record,
    asyncpg.Range: _range,
    asyncpg.BitString: _bits,
    asyncpg.Point: _geometry,
    asyncpg.Box: _geometry,
    asyncpg.Line: _geometry,
    asyncpg.LineSegment: _geometry,
    asyncpg.Path: _geometry,
    asyncpg.Polygon: _geometry,
    asyncpg.Circle: _geometry,
}


def _generic(value: object) -> JSONValue:
    converter = _BY_PYTYPE.get(type(value))
    if converter is not None:
        return converter(value)
    for kind, conv in _BY_PYTYPE.items():  # subclasses (asyncpg's UUID, custom record classes, ...)
        if isinstance(value, kind):
            return conv(value)
    return str(value)


# --------------------------------------------------------------------------------------------------
# Choosing converters per column.

# Types whose decoded values are JSON already (strings, ints, bools; json/jsonb parsed by the codec).
_AS_IS = (
    "bool", "int2", "int4", "int8", "oid", "xid", "xid8", "cid", "text", "varchar", "bpchar", "name",
    "money", "tsvector", "tsquery", "xml", "jsonpath", "macaddr", "macaddr8", "json", "jsonb",
    "regclass", "regtype", "regproc", "regprocedure", "regoper", "regoperator", "regconfig",
    "regdictionary", "regnamespace", "regrole", "regcollation", "refcursor", "aclitem", "unknown",
    "pg_node_tree", "pg_ndistinct", "pg_dependencies", "pg_mcv_list", "gtsvector", "cstring",
)  # fmt: skip

_BY_PGTYPE: dict[str, Converter] = {
    **dict.fromkeys(_AS_IS, _identity),
    "float4": _float4,
    "float8": _float8,
    "numeric": _numeric,
    "bytea": _bytea,
    "char": _pg_char,
    "uuid": _to_str,
    "inet": _inet,
    "cidr": _inet,
    "date": _date,
    "timestamp": _datetime,
    "timestamptz": _datetime,
    "time": _time,
    "timetz": _time,
    "interval": _interval,
    "bit": _bits,
    "varbit": _bits,
    "pg_lsn": _pg_lsn,
    "tid": _tid,
    "txid_snapshot": _snapshot,
    "pg_snapshot": _snapshot,
    "record": _anonymous_record,
    **dict.fromkeys(("point", "line", "lseg", "box", "path", "polygon", "circle"), _geometry),
}

# An array of these is JSON as decoded: returned as it is, without visiting the elements.
_JSON_READY = frozenset(_AS_IS)


def _null_safe(converter: Converter) -> Converter:
    def convert(value: object) -> JSONValue:
        return None if value is None else converter(value)

    return convert


def _array_of(element: Converter) -> Converter:
    def convert(value: object) -> JSONValue:
        if value is None:
            return None
        return [convert(item) if type(item) is list else element(item) for item in cast("Iterable[object]", value)]

    return convert


def _json_ready_array(value: object) -> JSONValue:
    return cast("JSONValue", value)


def converter_for(type_name: str, type_kind: str, type_schema: str = "pg_catalog") -> Converter:
    """The converter for a column of asyncpg's ``Type(name, kind, schema)``; choose it once per column."""
    if type_kind == "array" or type_name.endswith("[]"):
        element = type_name[:-2] if type_name.endswith("[]") else type_name
        if type_schema == "pg_catalog" and element in _JSON_READY:
            return _json_ready_array
        if type_schema == "pg_catalog" and element.endswith("multirange"):
            return _array_of(_range)  # nested lists of range strings
        return _array_of(converter_for(element, "scalar", type_schema))
    if type_kind == "range":
        return _range
    if type_kind == "multirange":
        return _multirange
    if type_kind == "composite":
        return _null_safe(_record)
    if type_schema == "pg_catalog":
        converter = _BY_PGTYPE.get(type_name)
        if converter is not None:
            return converter
        if type_name.endswith("multirange"):
            return _multirange
        if type_name.endswith("range"):
            return _range
    return _generic


class Converters(list[Converter]):
    """The converters of a result's columns; also knows which columns need no call at all."""

    __slots__ = ("work",)

    def __init__(self, converters: Iterable[Converter]) -> None:
        super().__init__(converters)
        self.work: tuple[tuple[int, Converter], ...] = tuple(
            (i, c) for i, c in enumerate(self) if c is not _identity and c is not _json_ready_array
        )


def converters_for(attributes: Sequence[PgAttribute]) -> Converters:
    """One converter per column, from ``PreparedStatement.get_attributes()`` (don't mutate the list)."""
    return Converters(converter_for(a.type.name, a.type.kind, a.type.schema) for a in attributes)


def convert_row(row: Sequence[object], converters: Sequence[Converter]) -> list[JSONValue]:
    """One result row (an asyncpg Record or any sequence) as a list of JSON values."""
    if type(converters) is Converters:
        values: list[object] = list(row)
        if len(values) != len(converters):
            raise ValueError(f"row has {len(values)} values for {len(converters)} converters")
        for i, convert in converters.work:
            values[i] = convert(values[i])
        return cast("list[JSONValue]", values)  # the other columns are JSON as decoded
    return [convert(value) for convert, value in zip(converters, row, strict=True)]


def convert_rows(rows: Iterable[Sequence[object]], converters: Sequence[Converter]) -> list[list[JSONValue]]:
    """Many rows at once (the same as ``convert_row`` on each)."""
    if type(converters) is not Converters:
        converters = Converters(converters)
    return [convert_row(row, converters) for row in rows]


# --------------------------------------------------------------------------------------------------
# One JSON type per numeric column.

NUMERIC_AS_TEXT = " (exact decimal strings)"
"""Appended to the type label of a numeric column whose values all come back as strings (see uniform_numerics)."""


def numeric_columns(attributes: Sequence[PgAttribute]) -> tuple[int, ...]:
    """Positions of the scalar ``numeric`` columns (the only type whose values may be numbers or strings)."""
    return tuple(i for i, a in enumerate(attributes) if a.type.name == "numeric" and a.type.kind == "scalar")


_SPECIAL = frozenset({"NaN", "Infinity", "-Infinity"})


def _exact_text(value: JSONValue) -> JSONValue:
    """A number as converted from numeric, back to its exact decimal text (1.5 -> "1.5", 1e-05 -> "0.00001")."""
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return format(Decimal(repr(value)), "f")
    return value


def uniform_numerics(rows: list[list[JSONValue]], columns: Sequence[int]) -> tuple[int, ...]:
    """One JSON type per numeric column, decided over `rows`: JSON numbers when every finite value of the
    column is exactly a double (integers up to 2**53 - 1, decimals of at most 15-17 digits that read back the
    same), else exact decimal strings for every value of that column. "NaN", "Infinity" and "-Infinity" stay
    the strings they are either way, as in double precision columns. Changes `rows` in place; returns the
    columns turned into strings (their label gets NUMERIC_AS_TEXT). The display scale is not kept: 2.50 ->
    2.5 or "2.5"."""
    changed = tuple(j for j in columns if any(type(r[j]) is str and r[j] not in _SPECIAL for r in rows))
    for r in rows:
        for j in changed:
            r[j] = _exact_text(r[j])
    return changed


# --------------------------------------------------------------------------------------------------
# Labels and notes for columns.

_SQL_NAMES = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "bpchar": "character",
    "varchar": "character varying",
    "varbit": "bit varying",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
    "char": '"char"',
}

_PLAIN_IDENT = re.compile(r"[a-z_][a-z0-9_$]*")


def _quote_ident(name: str) -> str:
    return name if _PLAIN_IDENT.fullmatch(name) else quote_ident(name)


_VECTOR_TYPES = {22: "int2vector", 30: "oidvector"}  # asyncpg reports these as arrays named "...[]"


def type_label(attribute: PgAttribute) -> str:
    """The type to show users, spelled like format_type(): 'integer', 'text[]', 'public.drop_status'."""
    t = attribute.type
    special = _VECTOR_TYPES.get(getattr(t, "oid", None) or 0)
    if special is not None:
        return special
    name: str = t.name
    suffix = ""
    while name.endswith("[]"):
        name, suffix = name[:-2], suffix + "[]"
    if t.kind == "array" and not suffix:
        name = name[1:] if name.startswith("_") else name
        suffix = "[]"
    if t.schema == "pg_catalog":
        return _SQL_NAMES.get(name, name) + suffix
    return f"{_quote_ident(t.schema)}.{_quote_ident(name)}{suffix}"


_NOTES = {
    "bytea": "base64",
    "interval": "ISO 8601 duration",
    "timestamptz": "UTC",
    "timetz": "offset kept",
    "numeric": "exact: JSON numbers when every value of the column is exactly a double, else decimal strings",
}


def format_note(attribute: PgAttribute) -> str | None:
    """A short note on how a column's values are written in JSON, where that is not obvious."""
    t = attribute.type
    name: str = t.name.removesuffix("[]")
    if t.kind == "range":
        return "range text"
    if t.kind == "multirange" or (t.kind == "array" and name.endswith("multirange")):
        return "list of range texts"
    if t.kind == "array" and t.schema == "pg_catalog" and name.endswith("range"):
        return "range text"
    return _NOTES.get(name) if t.schema == "pg_catalog" else None
