"""Wire codecs installed on every pooled connection: lossless asyncpg decoders (and matching encoders).

asyncpg's default decoders for a few types are lossy or crash (dates and timestamps outside Python's
range, infinity, intervals with months, json as text, macaddr8). ``install_codecs`` replaces them; what
each type then decodes to is listed in its docstring. ``vf_mcp.db.convert`` turns the decoded values into
JSON values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING

from vf_mcp.jsontypes import JSONValue

if TYPE_CHECKING:
    import asyncpg

__all__ = ["install_codecs", "interval_iso"]

_INT32_MAX = 2**31 - 1
_INT32_MIN = -(2**31)
_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63)
_US_PER_SEC = 1_000_000
_US_PER_MIN = 60 * _US_PER_SEC
_US_PER_HOUR = 60 * _US_PER_MIN
_US_PER_DAY = 24 * _US_PER_HOUR
_UTC = UTC

# PostgreSQL counts dates from 2000-01-01 and timestamps in microseconds from 2000-01-01 00:00:00.
_PG_EPOCH_ORDINAL = date(2000, 1, 1).toordinal()
_PG_EPOCH = datetime(2000, 1, 1)
_PG_EPOCH_UTC = datetime(2000, 1, 1, tzinfo=_UTC)
_DAYS_MIN = date.min.toordinal() - _PG_EPOCH_ORDINAL  # first day Python's date can hold
_DAYS_MAX = date.max.toordinal() - _PG_EPOCH_ORDINAL
_TS_US_MIN = _DAYS_MIN * _US_PER_DAY
_TS_US_MAX = (_DAYS_MAX + 1) * _US_PER_DAY - 1
_DAYS_1970_TO_2000 = 10957


# --------------------------------------------------------------------------------------------------
# Calendar arithmetic for values outside Python's date range (years < 1 or > 9999).


def _civil_from_days(days_since_2000: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day), astronomical year numbering (0 = 1 BC)."""
    z = days_since_2000 + _DAYS_1970_TO_2000 + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month, day


def _ymd_text(year: int, month: int, day: int) -> str:
    shown = year if year > 0 else 1 - year
    return f"{shown:04d}-{month:02d}-{day:02d}"


def _date_text(days: int) -> str:
    year, month, day = _civil_from_days(days)
    return _ymd_text(year, month, day) + ("" if year > 0 else " BC")


def _clock_text(us: int) -> str:
    secs, frac = divmod(us, _US_PER_SEC)
    minutes, sec = divmod(secs, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour:02d}:{minute:02d}:{sec:02d}"
    return f"{text}.{frac:06d}" if frac else text


def _timestamp_text(us: int, utc: bool) -> str:
    days, rest = divmod(us, _US_PER_DAY)
    year, month, day = _civil_from_days(days)
    text = f"{_ymd_text(year, month, day)}T{_clock_text(rest)}"
    if utc:
        text += "+00:00"
    return text if year > 0 else text + " BC"


def _offset_text(seconds_east: int) -> str:
    sign = "-" if seconds_east < 0 else "+"
    minutes, sec = divmod(abs(seconds_east), 60)
    hour, minute = divmod(minutes, 60)
    text = f"{sign}{hour:02d}:{minute:02d}"
    return f"{text}:{sec:02d}" if sec else text


# --------------------------------------------------------------------------------------------------
# Codecs installed on every connection (asyncpg 'tuple' / 'binary' exchange formats).


def _decode_date(t: tuple[int]) -> date | str:
    days = t[0]
    if _DAYS_MIN <= days <= _DAYS_MAX:
        return date.fromordinal(days + _PG_EPOCH_ORDINAL)
    if days == _INT32_MAX:
        return "infinity"
    if days == _INT32_MIN:
        return "-infinity"
    return _date_text(days)


def _encode_date(value: object) -> tuple[int]:
    if isinstance(value, date):
        return (value.toordinal() - _PG_EPOCH_ORDINAL,)
    if value == "infinity":
        return (_INT32_MAX,)
    if value == "-infinity":
        return (_INT32_MIN,)
    raise TypeError(f"expected datetime.date or 'infinity'/'-infinity' for a date, got {type(value).__name__}")


def _decode_timestamp(t: tuple[int]) -> datetime | str:
    us = t[0]
    if _TS_US_MIN <= us <= _TS_US_MAX:
        return _PG_EPOCH + timedelta(0, 0, us)
    if us == _INT64_MAX:
        return "infinity"
    if us == _INT64_MIN:
        return "-infinity"
    return _timestamp_text(us, utc=False)


def _decode_timestamptz(t: tuple[int]) -> datetime | str:
    us = t[0]
    if _TS_US_MIN <= us <= _TS_US_MAX:
        return _PG_EPOCH_UTC + timedelta(0, 0, us)
    if us == _INT64_MAX:
        return "infinity"
    if us == _INT64_MIN:
        return "-infinity"
    return _timestamp_text(us, utc=True)


def _us_between(later: datetime, earlier: datetime) -> int:
    delta = later - earlier
    return (delta.days * 86400 + delta.seconds) * _US_PER_SEC + delta.microseconds


def _encode_timestamp(value: object) -> tuple[int]:
    if isinstance(value, datetime):
        return (_us_between(value, _PG_EPOCH),)  # TypeError for aware values, like asyncpg
    if isinstance(value, date):
        return (_us_between(datetime(value.year, value.month, value.day), _PG_EPOCH),)
    if value == "infinity":
        return (_INT64_MAX,)
    if value == "-infinity":
        return (_INT64_MIN,)
    raise TypeError(f"expected datetime.datetime or 'infinity'/'-infinity', got {type(value).__name__}")


def _encode_timestamptz(value: object) -> tuple[int]:
    if isinstance(value, datetime):
        return (_us_between(value.astimezone(_UTC), _PG_EPOCH_UTC),)  # naive = local time, like asyncpg
    if isinstance(value, date):
        local = datetime(value.year, value.month, value.day).astimezone(_UTC)
        return (_us_between(local, _PG_EPOCH_UTC),)
    if value == "infinity":
        return (_INT64_MAX,)
    if value == "-infinity":
        return (_INT64_MIN,)
    raise TypeError(f"expected datetime.datetime or 'infinity'/'-infinity', got {type(value).__name__}")


def _decode_time(t: tuple[int]) -> time | str:
    us = t[0]
    if us >= _US_PER_DAY:
        return _clock_text(us)  # 24:00:00
    secs, frac = divmod(us, _US_PER_SEC)
    minutes, sec = divmod(secs, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, sec, frac)


def _time_us(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * _US_PER_SEC + value.microsecond


def _encode_time(value: object) -> tuple[int]:
    if isinstance(value, time):
        return (_time_us(value),)
    if value == "24:00:00":
        return (_US_PER_DAY,)
    raise TypeError(f"expected datetime.time, got {type(value).__name__}")


_ZONES: dict[int, timezone] = {}


def _zone(seconds_east: int) -> timezone:
    tz = _ZONES.get(seconds_east)
    if tz is None:
        tz = _UTC if seconds_east == 0 else timezone(timedelta(seconds=seconds_east))
        if len(_ZONES) < 4096:
            _ZONES[seconds_east] = tz
    return tz


def _decode_timetz(t: tuple[int, int]) -> time | str:
    us, seconds_west = t
    if us >= _US_PER_DAY:
        return _clock_text(us) + _offset_text(-seconds_west)
    secs, frac = divmod(us, _US_PER_SEC)
    minutes, sec = divmod(secs, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, sec, frac, _zone(-seconds_west))


def _encode_timetz(value: object) -> tuple[int, int]:
    if isinstance(value, time):
        offset = value.utcoffset()
        east = 0 if offset is None else offset.days * 86400 + offset.seconds
        return (_time_us(value), -east)
    raise TypeError(f"expected datetime.time, got {type(value).__name__}")


def _tdiv(a: int, b: int) -> int:
    """C-style integer division (truncates toward zero), as PostgreSQL computes."""
    q = abs(a) // b
    return -q if a < 0 else q


def interval_iso(months: int, days: int, us: int) -> str:
    """PostgreSQL's interval output with IntervalStyle = iso_8601 (EncodeInterval, INTSTYLE_ISO_8601)."""
    if months == _INT32_MAX and days == _INT32_MAX and us == _INT64_MAX:
        return "infinity"
    if months == _INT32_MIN and days == _INT32_MIN and us == _INT64_MIN:
        return "-infinity"
    if months == 0 and days == 0 and us == 0:
        return "PT0S"
    year = _tdiv(months, 12)
    month = months - year * 12
    hour = _tdiv(us, _US_PER_HOUR)
    us -= hour * _US_PER_HOUR
    minute = _tdiv(us, _US_PER_MIN)
    us -= minute * _US_PER_MIN
    sec = _tdiv(us, _US_PER_SEC)
    frac = us - sec * _US_PER_SEC
    parts = ["P"]
    if year:
        parts.append(f"{year}Y")
    if month:
        parts.append(f"{month}M")
    if days:
        parts.append(f"{days}D")
    if hour or minute or sec or frac:
        parts.append("T")
        if hour:
            parts.append(f"{hour}H")
        if minute:
            parts.append(f"{minute}M")
        if sec or frac:
            if sec < 0 or frac < 0:
                parts.append("-")
            parts.append(str(abs(sec)))
            if frac:
                parts.append("." + f"{abs(frac):06d}".rstrip("0"))
            parts.append("S")
    return "".join(parts)


def _decode_interval(t: tuple[int, int, int]) -> str:
    return interval_iso(t[0], t[1], t[2])


def _encode_interval(value: object) -> tuple[int, int, int]:
    if isinstance(value, timedelta):
        return (0, value.days, value.seconds * _US_PER_SEC + value.microseconds)
    if isinstance(value, tuple) and len(value) == 3 and all(isinstance(v, int) for v in value):
        return (value[0], value[1], value[2])
    raise TypeError(f"expected datetime.timedelta or (months, days, microseconds), got {type(value).__name__}")


def _json_float(text: str) -> float | str:
    number = float(text)
    return number if number - number == 0.0 else text  # beyond the double range: keep the digits


def _json_int(text: str) -> int | str:
    return int(text) if len(text) <= 4000 else text  # Python refuses to parse ints past 4300 digits


_JSON_DECODER = json.JSONDecoder(parse_float=_json_float)
_JSON_DECODER_SAFE = json.JSONDecoder(parse_float=_json_float, parse_int=_json_int)


# The C scanner itself, without decode()'s Python-level wrapping (about twice as fast on small values).
_JSON_SCAN: Callable[[str, int], tuple[JSONValue, int]] = _JSON_DECODER.scan_once  # type: ignore[attr-defined]


def _load_json(text: str) -> JSONValue:
    try:
        value, end = _JSON_SCAN(text, 0)
        if end == len(text):
            return value
    except StopIteration:  # leading whitespace (json keeps the input text), or invalid
        pass
    except ValueError:  # an integer of more than 4300 digits
        return _JSON_DECODER_SAFE.decode(text)  # type: ignore[no-any-return]
    try:
        return _JSON_DECODER.decode(text)  # type: ignore[no-any-return]
    except ValueError:
        return _JSON_DECODER_SAFE.decode(text)  # type: ignore[no-any-return]


def _decode_json(data: bytes) -> JSONValue:
    return _load_json(data.decode("utf-8"))


def _decode_jsonb(data: bytes) -> JSONValue:
    if data[:1] != b"\x01":
        raise ValueError(f"unsupported jsonb binary format version {data[:1]!r}")
    return _load_json(data[1:].decode("utf-8"))


def _json_text(value: object) -> bytes:
    # A str is JSON text already (asyncpg's default behaviour); anything else is serialised.
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8")


def _encode_jsonb(value: object) -> bytes:
    return b"\x01" + _json_text(value)


def _decode_macaddr(data: bytes) -> str:
    return data.hex(":")


def _mac_bytes(value: object, size: int) -> bytes:
    if isinstance(value, bytes | bytearray) and len(value) == size:
        return bytes(value)
    if isinstance(value, str):
        digits = re.sub(r"[:\-.\s]", "", value)
        if size == 8 and len(digits) == 12:  # PostgreSQL widens EUI-48 to EUI-64 with ff:fe
            digits = digits[:6] + "fffe" + digits[6:]
        raw = bytes.fromhex(digits)
        if len(raw) == size:
            return raw
    raise ValueError(f"not a {size * 8}-bit MAC address: {value!r}")


def _encode_macaddr(value: object) -> bytes:
    return _mac_bytes(value, 6)


def _encode_macaddr8(value: object) -> bytes:
    return _mac_bytes(value, 8)


# (type name, encoder, decoder, exchange format); all are pg_catalog types asyncpg resolves without
# a server round trip.
# Decoders take the exchange format's value (a tuple of ints, or bytes), so their parameter types differ.
_CODECS: tuple[tuple[str, Callable[[object], object], Callable[..., object], str], ...] = (
    ("date", _encode_date, _decode_date, "tuple"),
    ("timestamp", _encode_timestamp, _decode_timestamp, "tuple"),
    ("timestamptz", _encode_timestamptz, _decode_timestamptz, "tuple"),
    ("time", _encode_time, _decode_time, "tuple"),
    ("timetz", _encode_timetz, _decode_timetz, "tuple"),
    ("interval", _encode_interval, _decode_interval, "tuple"),
    ("json", _json_text, _decode_json, "binary"),
    ("jsonb", _encode_jsonb, _decode_jsonb, "binary"),
    ("macaddr", _encode_macaddr, _decode_macaddr, "binary"),
    ("macaddr8", _encode_macaddr8, _decode_macaddr, "binary"),
)


def _timestamptz_in(zone: tzinfo) -> Callable[[tuple[int]], datetime | str]:
    """The timestamptz decoder giving aware datetimes in `zone` (UTC where the zone's date would overflow)."""

    def decode(t: tuple[int]) -> datetime | str:
        value = _decode_timestamptz(t)
        if type(value) is datetime:
            try:
                return value.astimezone(zone)
            except OverflowError:
                return value
        return value

    return decode


def _encode_timestamptz_in(zone: tzinfo) -> Callable[[object], tuple[int]]:
    """The timestamptz encoder reading naive datetimes and dates as wall time in `zone` (not the host's zone)."""

    def encode(value: object) -> tuple[int]:
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        elif isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day, tzinfo=zone)
        return _encode_timestamptz(value)

    return encode


async def install_codecs(conn: asyncpg.Connection, zone: tzinfo | None = None) -> None:
    """Make `conn` decode values losslessly (use as the pool's ``init``; no server round trip).

    After this, on that connection:
      date -> datetime.date, or "infinity" / "-infinity" / PostgreSQL text for years outside 1..9999;
      timestamp -> naive datetime, timestamptz -> aware datetime in `zone` (default UTC; the pool passes the
      `time_zone` setting) (same exceptions as date, in UTC); with `zone`, a naive datetime or a date bound to
      a timestamptz parameter is wall time in `zone` (without: the host's local time, like asyncpg);
      time -> datetime.time or "24:00:00"; timetz -> aware datetime.time (or "24:00:00+hh:mm");
      interval -> ISO 8601 duration string (PostgreSQL's iso_8601 IntervalStyle), never a lossy timedelta;
      json/jsonb -> parsed Python values; macaddr/macaddr8 -> "08:00:2b:01:02:03" (also inside records).
    The encoders accept the same Python types as asyncpg's defaults, plus "infinity"/"-infinity".
    These codecs also apply inside arrays, ranges, multiranges and composite values.
    """
    for name, encoder, decoder, fmt in _CODECS:
        if name == "timestamptz" and zone is not None:
            encoder = _encode_timestamptz_in(zone)
            decoder = _timestamptz_in(zone) if zone is not _UTC else decoder
        await conn.set_type_codec(name, schema="pg_catalog", encoder=encoder, decoder=decoder, format=fmt)
