"""PostgreSQL -> JSON conversion (vf_mcp.db.convert) against a real server.

Expected values are written by hand from the literals inserted (or computed by Python's own libraries
from those literals, e.g. base64); where a property is checked over many generated values, the oracle
is PostgreSQL itself (its text output, or reading our string back and comparing with the original).
"""

from __future__ import annotations

import base64
import json
import random
import struct
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple

import asyncpg
import pytest

from tests.conftest import PgCluster
from vf_mcp.db.convert import (
    JSONValue,
    convert_row,
    convert_rows,
    converter_for,
    converters_for,
    format_note,
    install_codecs,
    type_label,
)
from vf_mcp.errors import QueryError

pytestmark = pytest.mark.anyio

SETUP_SQL = r"""
CREATE TYPE drop_status AS ENUM ('planned', 'in progress', 'done');
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE TYPE address AS (street text, number integer, tags text[], geo point, moved date);

CREATE TABLE all_types (
    id integer PRIMARY KEY,
    c_smallint smallint,
    c_integer integer,
    c_bigint bigint,
    c_numeric_huge numeric,
    c_numeric_small numeric,
    c_numeric_special numeric,
    c_numeric_scaled numeric(10, 2),
    c_real real,
    c_double double precision,
    c_double_special double precision,
    c_money money,
    c_text text,
    c_varchar varchar(20),
    c_char char(5),
    c_boolean boolean,
    c_uuid uuid,
    c_inet inet,
    c_cidr cidr,
    c_macaddr macaddr,
    c_date date,
    c_date_edge date,
    c_timestamp timestamp,
    c_timestamptz timestamptz,
    c_time time,
    c_timetz timetz,
    c_interval interval,
    c_bytea bytea,
    c_int_2d integer[],
    c_text_arr text[],
    c_jsonb jsonb,
    c_json json,
    c_enum drop_status,
    c_domain positive_int,
    c_int4range int4range,
    c_tstzrange tstzrange,
    c_daterange daterange,
    c_int4multirange int4multirange,
    c_composite address,
    c_point point,
    c_bit bit(4),
    c_varbit varbit,
    c_tsvector tsvector,
    c_pg_lsn pg_lsn,
    c_oid oid,
    c_enum_arr drop_status[]
);

INSERT INTO all_types VALUES (
    1, -32768, 2147483647, 9223372036854775807,
    123456789012345678901234567890.123456789, 0.1, 'NaN', 1234.50,
    0.1, 3.141592653589793, 'NaN',
    1234.5, E'h\u00e9llo "w\u00f6rld"\n', 'abc', 'ab', true,
    'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '192.168.0.1/24', '10.0.0.0/8', '08:00:2B:01:02:03',
    '2024-02-29', 'infinity', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5+02',
    '13:14:15.000001', '13:14:15-03:30', '1 year 2 mons 3 days 04:05:06',
    '\xdeadbeef00ff', '{{1,NULL},{3,4}}', '{"a","b c",NULL,"d,e"}',
    '{"b": [1, 2.5, null, true], "a": "x"}', '[1, {"k": "v"}, 1.0e2]',
    'in progress', 42, '(1,10]', '[2024-01-01 00:00+00,2024-02-01 00:00+00)', '[2024-01-01,2024-12-31]',
    '{[1,3),[5,7)}', ROW('Main St', 12, '{a,b}', '(1.5,2)', '2020-05-17'),
    '(1.5,-2)', B'1010', B'10111', 'the quick brown fox', '16/B374D848', 4294967295, '{planned,done}'
), (
    2, 0, -1, -9223372036854775808,
    1e40, -0.000001, 'Infinity', -0.50,
    'Infinity', 1e308, '-Infinity',
    -0.01, '', 'x', '', false,
    '00000000-0000-0000-0000-000000000000', '::ffff:1.2.3.4', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff',
    '0044-03-15 BC', '-infinity', 'infinity', '-infinity',
    '24:00:00', '00:00:00+00', '-1 mons +2 days -03:00:00.25',
    '\x', '{}', '{NULL}',
    '"just a string"', '{"big": 123456789012345678901234567890, "f": 1e400}',
    'planned', 1, 'empty', '(,2024-01-01 12:00+05:30]', '[2024-01-01,infinity)',
    '{}', ROW(NULL, NULL, '{}', NULL, '10000-01-01'),
    '(1e20,-0)', B'0000', B'', 'a:1A b:2,3', 'FFFFFFFF/FFFFFFFF', 0, '{}'
), (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""

# Hand-written answers per column: (type label, row 1, row 2).  Row 3 is all NULL.
EXPECTED: dict[str, tuple[str, JSONValue, JSONValue]] = {
    "id": ("integer", 1, 2),
    "c_smallint": ("smallint", -32768, 0),
    "c_integer": ("integer", 2147483647, -1),
    "c_bigint": ("bigint", 9223372036854775807, -9223372036854775808),
    "c_numeric_huge": (
        "numeric",
        "123456789012345678901234567890.123456789",
        "10000000000000000000000000000000000000000",
    ),
    "c_numeric_small": ("numeric", 0.1, -0.000001),
    "c_numeric_special": ("numeric", "NaN", "Infinity"),
    "c_numeric_scaled": ("numeric", 1234.5, -0.5),
    "c_real": ("real", 0.1, "Infinity"),
    "c_double": ("double precision", 3.141592653589793, 1e308),
    "c_double_special": ("double precision", "NaN", "-Infinity"),
    "c_money": ("money", "$1,234.50", "-$0.01"),
    "c_text": ("text", 'h\u00e9llo "w\u00f6rld"\n', ""),
    "c_varchar": ("character varying", "abc", "x"),
    "c_char": ("character", "ab   ", "     "),
    "c_boolean": ("boolean", True, False),
    "c_uuid": ("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"),
    "c_inet": ("inet", "192.168.0.1/24", "::ffff:1.2.3.4"),
    "c_cidr": ("cidr", "10.0.0.0/8", "2001:db8::/32"),
    "c_macaddr": ("macaddr", "08:00:2b:01:02:03", "ff:ff:ff:ff:ff:ff"),
    "c_date": ("date", "2024-02-29", "0044-03-15 BC"),
    "c_date_edge": ("date", "infinity", "-infinity"),
    "c_timestamp": ("timestamp without time zone", "2024-01-02T03:04:05.123456", "infinity"),
    "c_timestamptz": ("timestamp with time zone", "2024-01-02T01:04:05.500000+00:00", "-infinity"),
    "c_time": ("time without time zone", "13:14:15.000001", "24:00:00"),
    "c_timetz": ("time with time zone", "13:14:15-03:30", "00:00:00+00:00"),
    "c_interval": ("interval", "P1Y2M3DT4H5M6S", "P-1M2DT-3H-0.25S"),
    "c_bytea": ("bytea", base64.b64encode(bytes.fromhex("deadbeef00ff")).decode(), ""),
    "c_int_2d": ("integer[]", [[1, None], [3, 4]], []),
    "c_text_arr": ("text[]", ["a", "b c", None, "d,e"], [None]),
    "c_jsonb": ("jsonb", {"a": "x", "b": [1, 2.5, None, True]}, "just a string"),
    "c_json": ("json", [1, {"k": "v"}, 100.0], {"big": 123456789012345678901234567890, "f": "1e400"}),
    "c_enum": ("public.drop_status", "in progress", "planned"),
    "c_domain": ("integer", 42, 1),  # asyncpg reports a domain as its base type
    "c_int4range": ("int4range", "[2,11)", "empty"),
    "c_tstzrange": (
        "tstzrange",
        "[2024-01-01T00:00:00+00:00,2024-02-01T00:00:00+00:00)",
        "(,2024-01-01T06:30:00+00:00]",
    ),
    "c_daterange": ("daterange", "[2024-01-01,2025-01-01)", "[2024-01-01,infinity)"),
    "c_int4multirange": ("int4multirange", ["[1,3)", "[5,7)"], []),
    "c_composite": (
        "public.address",
        {"street": "Main St", "number": 12, "tags": ["a", "b"], "geo": "(1.5,2)", "moved": "2020-05-17"},
        {"street": None, "number": None, "tags": [], "geo": None, "moved": "10000-01-01"},
    ),
    "c_point": ("point", "(1.5,-2)", "(1e+20,-0)"),
    "c_bit": ("bit", "1010", "0000"),
    "c_varbit": ("bit varying", "10111", ""),
    "c_tsvector": ("tsvector", "'brown' 'fox' 'quick' 'the'", "'a':1A 'b':2,3"),
    "c_pg_lsn": ("pg_lsn", "16/B374D848", "FFFFFFFF/FFFFFFFF"),
    "c_oid": ("oid", 4294967295, 0),
    "c_enum_arr": ("public.drop_status[]", ["planned", "done"], []),
}


@pytest.fixture(scope="module")
def convert_dsn(pg: PgCluster) -> str:
    return pg.create_database("convert_test", SETUP_SQL)


@asynccontextmanager
async def connect(dsn: str, *, codecs: bool = True, zone: str = "America/Sao_Paulo") -> AsyncIterator[Any]:
    """A connection with the codecs installed, in a non-UTC time zone and a fixed money locale."""
    conn = await asyncpg.connect(dsn)
    try:
        if codecs:
            await install_codecs(conn)
        await conn.execute(
            f"SET TimeZone = '{zone}'; SET lc_monetary = 'C'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 1"
        )
        yield conn
    finally:
        await conn.close()


class Fetched(NamedTuple):
    labels: list[str]
    names: list[str]
    rows: list[list[JSONValue]]


async def fetch_converted(conn: Any, sql: str, *args: Any) -> Fetched:
    stmt = await conn.prepare(sql)
    attrs = stmt.get_attributes()
    converters = converters_for(attrs)
    records = await stmt.fetch(*args)
    return Fetched(
        labels=[type_label(a) for a in attrs],
        names=[a.name for a in attrs],
        rows=[convert_row(r, converters) for r in records],
    )


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


# --------------------------------------------------------------------------------------------------
# Every type against hand-written answers.


async def test_every_type_matches_hand_written_values(convert_dsn: str) -> None:
    async with connect(convert_dsn) as conn:
        got = await fetch_converted(conn, "SELECT * FROM all_types ORDER BY id")
    assert got.names == list(EXPECTED)
    assert len(got.rows) == 3
    for position, name in enumerate(got.names):
        label, first, second = EXPECTED[name]
        assert got.labels[position] == label, name
        assert (name, got.rows[0][position]) == (name, first)
        assert (name, got.rows[1][position]) == (name, second)
        assert (name, got.rows[2][position]) == (name, None if name != "id" else 3)
    # Same values, same JSON types (1 is not 1.0, "1" is not 1): compare the serialised forms too.
    for row, index in ((got.rows[0], 1), (got.rows[1], 2)):
        for position, name in enumerate(got.names):
            assert dumps(row[position]) == dumps(EXPECTED[name][index]), name


async def test_rows_serialise_strictly_and_deterministically(convert_dsn: str) -> None:
    outputs = []
    for zone in ("America/Sao_Paulo", "Asia/Kolkata"):
        async with connect(convert_dsn, zone=zone) as conn:
            got = await fetch_converted(conn, "SELECT * FROM all_types ORDER BY id")
            again = await fetch_converted(conn, "SELECT * FROM all_types ORDER BY id")
        text = [dumps(r) for r in got.rows]  # allow_nan=False: no NaN/Infinity numbers anywhere
        assert text == [dumps(r) for r in again.rows]
        outputs.append(text)
    assert outputs[0] == outputs[1]  # the session time zone does not leak into the JSON


async def test_convert_rows_equals_convert_row(convert_dsn: str) -> None:
    async with connect(convert_dsn) as conn:
        stmt = await conn.prepare("SELECT * FROM all_types ORDER BY id")
        converters = converters_for(stmt.get_attributes())
        records = await stmt.fetch()
    expected = [convert_row(r, list(converters)) for r in records]  # plain list: one call per value
    assert convert_rows(records, converters) == expected
    assert [convert_row(r, converters) for r in records] == expected
    assert convert_rows(records, list(converters)) == expected
    with pytest.raises(ValueError):
        convert_row(records[0][:-1], converters)


async def test_xml_is_text(convert_dsn: str) -> None:
    async with connect(convert_dsn) as conn:
        try:
            await conn.fetchval("SELECT '<a/>'::xml")
        except asyncpg.FeatureNotSupportedError:
            pytest.skip("this PostgreSQL was built without libxml")
        got = await fetch_converted(conn, "SELECT '<a  x=\"1\">t</a>'::xml AS x, NULL::xml AS n")
    assert got.labels == ["xml", "xml"]
    assert got.rows == [['<a  x="1">t</a>', None]]


async def test_more_types(convert_dsn: str) -> None:
    sql = """
        SELECT 'x'::"char" AS ch, '\\351'::"char" AS ch_high, 'abc'::name AS nm,
               '08:00:2b:01:02:03:04:05'::macaddr8 AS mac8, 'a & b'::tsquery AS q,
               '(0,7)'::tid AS t, '10:20:10,14'::pg_snapshot AS snap, '1234'::xid AS x,
               '1 2'::int2vector AS v2, '1 2'::oidvector AS vo,
               '<(1,2),3>'::circle AS ci, '{1,2,3}'::line AS li, '[(1,2),(3,4)]'::lseg AS ls,
               '((0,0),(1,0),(1,1))'::polygon AS pg, '[(0,0),(1,0)]'::path AS pa,
               '((1,2),(3,4))'::box AS bx, '12.5'::real AS r, array[1.5, 'NaN']::float8[] AS fa,
               array['1 day'::interval, NULL] AS ia, array['infinity'::date, '2001-02-03'] AS da,
               ARRAY['{[1,2),[3,4)}'::int4multirange] AS mra, array[int4range(1, 2), NULL] AS ra,
               '[1.5,2.25)'::numrange AS nr, '[-9223372036854775808,0)'::int8range AS i8r,
               '["2020-01-01 00:00","2020-01-02 00:00"]'::tsrange AS tsr,
               array['{"a": 1}'::jsonb, '[2]'] AS ja, 'integer'::regtype AS rt,
               array['0'::money] AS ma, array['done'::drop_status] AS ea,
               array[ROW('s', 1, NULL, NULL, NULL)::address] AS ca,
               '{{1.5,NULL},{2,3}}'::numeric[] AS na2
    """
    async with connect(convert_dsn) as conn:
        got = await fetch_converted(conn, sql)
    expected: dict[str, tuple[str, JSONValue]] = {
        "ch": ('"char"', "x"),
        "ch_high": ('"char"', "\\351"),
        "nm": ("name", "abc"),
        "mac8": ("macaddr8", "08:00:2b:01:02:03:04:05"),
        "q": ("tsquery", "'a' & 'b'"),
        "t": ("tid", "(0,7)"),
        "snap": ("pg_snapshot", "10:20:10,14"),
        "x": ("xid", 1234),
        "v2": ("int2vector", [1, 2]),
        "vo": ("oidvector", [1, 2]),
        "ci": ("circle", "<(1,2),3>"),
        "li": ("line", "{1,2,3}"),
        "ls": ("lseg", "[(1,2),(3,4)]"),
        "pg": ("polygon", "((0,0),(1,0),(1,1))"),
        "pa": ("path", "[(0,0),(1,0)]"),
        "bx": ("box", "(3,4),(1,2)"),
        "r": ("real", 12.5),
        "fa": ("double precision[]", [1.5, "NaN"]),
        "ia": ("interval[]", ["P1D", None]),
        "da": ("date[]", ["infinity", "2001-02-03"]),
        "mra": ("int4multirange[]", [["[1,2)", "[3,4)"]]),
        "ra": ("int4range[]", ["[1,2)", None]),
        "nr": ("numrange", "[1.5,2.25)"),
        "i8r": ("int8range", "[-9223372036854775808,0)"),
        "tsr": ("tsrange", "[2020-01-01T00:00:00,2020-01-02T00:00:00]"),
        "ja": ("jsonb[]", [{"a": 1}, [2]]),
        "rt": ("regtype", "integer"),
        "ma": ("money[]", ["$0.00"]),
        "ea": ("public.drop_status[]", ["done"]),
        "ca": ("public.address[]", [{"street": "s", "number": 1, "tags": None, "geo": None, "moved": None}]),
        "na2": ("numeric[]", [[1.5, None], [2, 3]]),
    }
    for name, (label, value) in expected.items():
        position = got.names.index(name)
        assert (name, got.labels[position]) == (name, label)
        assert (name, got.rows[0][position]) == (name, value)
    for row in got.rows:
        dumps(row)


# --------------------------------------------------------------------------------------------------
# Generated values, with PostgreSQL as the oracle.

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def _intervals() -> list[tuple[int, int, int]]:
    rnd = random.Random(20240601)
    values = [
        (0, 0, 0),
        (1, 0, 0),
        (-1, 0, 0),
        (12, 0, 0),
        (-13, 0, 0),
        (0, 1, 0),
        (0, -1, 0),
        (0, 0, 1),
        (0, 0, -1),
        (0, 0, 500_000),
        (0, 0, -1_500_000),
        (0, 0, 3_600_000_000),
        (0, 0, -3_600_000_001),
        (14, -3, 14_706_500_000),
        (-1, 2, -10_800_250_000),
        (INT32_MAX - 1, INT32_MAX - 1, INT64_MAX - 1),
        (-INT32_MAX, -INT32_MAX, -INT64_MAX),
    ]
    for _ in range(400):
        scale = rnd.choice((10, 1000, 10**6, 10**9, 10**12))
        values.append(
            (
                rnd.randint(-1200, 1200),
                rnd.randint(-400, 400),
                rnd.randint(-scale, scale) * rnd.choice((1, 1_000_000)),
            )
        )
    return values


async def test_interval_is_postgres_iso_8601_output(convert_dsn: str) -> None:
    values = _intervals()
    async with connect(convert_dsn) as conn:
        await conn.execute("SET IntervalStyle = 'iso_8601'")
        # The tuple encoder installed by install_codecs takes (months, days, microseconds).
        rows = await conn.fetch(
            "SELECT v, v::text AS t, ($2::text[])[n]::interval = v AS same "
            "FROM unnest($1::interval[]) WITH ORDINALITY AS u(v, n) ORDER BY n",
            values,
            [None] * len(values),
        )
        converter = converter_for("interval", "scalar")
        converted = [converter(r["v"]) for r in rows]
        assert converted == [r["t"] for r in rows]
        # ... and PostgreSQL reads every string back as the same interval (months/days/time kept apart).
        same = await conn.fetchval(
            "SELECT bool_and(a = b::interval AND a::text = b::interval::text) "
            "FROM unnest($1::interval[], $2::text[]) AS u(a, b)",
            values,
            converted,
        )
    assert same is True
    assert converted[:3] == ["PT0S", "P1M", "P-1M"]
    for special in ("infinity", "-infinity"):
        async with connect(convert_dsn) as conn:
            got = await fetch_converted(conn, f"SELECT '{special}'::interval")
        assert got.rows == [[special]]


async def test_dates_and_timestamps_round_trip_over_the_whole_range(convert_dsn: str) -> None:
    rnd = random.Random(7)
    # Days from 2000-01-01: PostgreSQL's first and last dates, Python's limits, and random ones.
    first, last, last_timestamp_day = -2451545, 2145031948, 106_751_980
    days = [first, last, -730120, -730119, 2921939, 2921940, 0, -1, 59, 60]
    days += [rnd.randint(first, last) for _ in range(200)]
    days += [rnd.randint(-800_000, 3_000_000) for _ in range(200)]
    ts_days = [d for d in days if d <= last_timestamp_day] + [last_timestamp_day]
    micros = [rnd.randrange(86_400_000_000) for _ in ts_days]
    micros[:3] = [0, 1, 86_399_999_999]
    stamp = "'2000-01-01'::{t} + d * interval '1 day' + u * interval '1 microsecond'"
    async with connect(convert_dsn) as conn:
        dates = await fetch_converted(
            conn,
            "SELECT '2000-01-01'::date + d FROM unnest($1::int[]) WITH ORDINALITY u(d, n) ORDER BY n",
            days,
        )
        date_strings = [r[0] for r in dates.rows]
        assert date_strings[:6] == [
            "4714-11-24 BC",
            "5874897-12-31",
            "0001-12-31 BC",
            "0001-01-01",
            "9999-12-31",
            "10000-01-01",
        ]
        same = await conn.fetchval(
            "SELECT bool_and(s::date = '2000-01-01'::date + d) FROM unnest($1::int[], $2::text[]) AS u(d, s)",
            days,
            date_strings,
        )
        assert same is True
        for kind in ("timestamp", "timestamptz"):
            expr = stamp.format(t=kind)
            got = await fetch_converted(
                conn,
                f"SELECT {expr} FROM unnest($1::int[], $2::bigint[]) WITH ORDINALITY x(d, u, n) ORDER BY n",
                ts_days,
                micros,
            )
            strings = [r[0] for r in got.rows]
            assert all(isinstance(s, str) for s in strings)
            same = await conn.fetchval(
                f"SELECT bool_and(s::{kind} = {expr}) FROM unnest($1::int[], $2::bigint[], $3::text[]) AS x(d, u, s)",
                ts_days,
                micros,
                strings,
            )
            assert same is True, kind
            if kind == "timestamptz":
                assert all(str(s).endswith(("+00:00", "+00:00 BC")) for s in strings)
            else:
                assert all("+" not in str(s) for s in strings)


async def test_numeric_is_exact(convert_dsn: str) -> None:
    rnd = random.Random(11)
    literals = [
        "0",
        "-0.0",
        "1.50",
        "2.00",
        "0.1",
        "0.3",
        "1e-7",
        "123.456",
        "9007199254740991",
        "9007199254740992",
        "-9007199254740991",
        "12345678901234567890",
        "0.1000000000000000001",
        "3.141592653589793238",
        "1e300",
        "1.5e-300",
        "1e-400",
        "99999999999999999999.5",
        "NaN",
        "Infinity",
        "-Infinity",
    ]
    literals += [f"{rnd.randint(-(10**12), 10**12)}.{rnd.randint(0, 10**6):06d}" for _ in range(300)]
    literals += [str(rnd.random() * 10 ** rnd.randint(-20, 20)) for _ in range(300)]
    async with connect(convert_dsn) as conn:
        rows = await conn.fetch(
            "SELECT x::numeric AS v, x::numeric::text AS t FROM unnest($1::text[]) WITH ORDINALITY u(x, n) ORDER BY n",
            literals,
        )
    convert = converter_for("numeric", "scalar")
    for row in rows:
        got = convert(row["v"])
        text = row["t"]
        if isinstance(got, str):
            assert got == text
        else:
            assert isinstance(got, int | float) and not isinstance(got, bool)
            assert Decimal(repr(got)) == Decimal(text), text  # the JSON number is the stored value, exactly
            if isinstance(got, int):
                assert abs(got) <= 2**53 - 1
    by_text = {r["t"]: convert(r["v"]) for r in rows}
    assert by_text["1.50"] == 1.5 and by_text["2.00"] == 2 and isinstance(by_text["2.00"], int)
    assert by_text["9007199254740991"] == 9007199254740991
    assert by_text["9007199254740992"] == "9007199254740992"
    assert by_text["0.1000000000000000001"] == "0.1000000000000000001"
    assert by_text["NaN"] == "NaN" and by_text["-Infinity"] == "-Infinity"


def f4(value: float) -> bytes:
    return struct.pack("<f", value)


def digits(number_text: str) -> int:
    mantissa = number_text.lower().split("e")[0].lstrip("-").replace(".", "")
    return len(mantissa.strip("0")) or 1


async def test_floats_are_postgres_shortest_output(convert_dsn: str) -> None:
    rnd = random.Random(3)
    values = [
        0.1,
        1 / 3,
        16777217.0,
        3.4028234663852886e38,
        1.401298464324817e-45,
        2.5e-40,
        -0.0,
        1e-5,
        123456.7,
    ]
    values += [rnd.uniform(-1, 1) * 10 ** rnd.randint(-44, 38) for _ in range(1000)]
    async with connect(convert_dsn) as conn:
        for kind in ("real", "double precision"):
            usable = [v for v in values if kind != "real" or v == 0 or abs(v) >= 1e-44]  # no underflow
            rows = await conn.fetch(
                f"SELECT v::{kind} AS v, v::{kind}::text AS t FROM unnest($1::float8[]) AS u(v)", usable
            )
            convert = converter_for("float4" if kind == "real" else "float8", "scalar")
            for row in rows:
                got = convert(row["v"])
                assert isinstance(got, float)
                text = dumps(got)
                assert json.loads(text) == got
                if kind == "double precision":
                    assert got == float(row["t"]), row["t"]
                else:
                    # The same float4 as PostgreSQL's text, in at most as many significant digits (Ryu
                    # sometimes keeps one more digit than needed at an exact rounding boundary).
                    assert f4(got) == f4(float(row["t"])) == f4(row["v"]), row["t"]
                    assert digits(text) <= digits(row["t"]), (text, row["t"])


async def test_text_forms_match_postgres(convert_dsn: str) -> None:
    inets = [
        "::ffff:1.2.3.4",
        "::1.2.3.4",
        "::2",
        "::1",
        "::",
        "1:0:0:1::1",
        "1:0:1:1:1:1:1:1",
        "::ffff:0:1.2.3.4",
        "::0.0.1.0",
        "::ffff:0.0.0.0",
        "fe80::1",
        "2001:db8::5/64",
        "::ffff:1.2.3.4/120",
        "1.2.3.4",
        "1.2.3.4/32",
        "1.2.3.4/24",
        "0.0.0.0/0",
    ]
    points = [
        "(0,0)",
        "(1e15,-1e15)",
        "(1.5e16,0.1)",
        "(123456789012345.6,1e-05)",
        "(1e-5,-0.0001)",
        "(NaN,Infinity)",
        "(-Infinity,1e300)",
        "(0.30000000000000004,2.5)",
    ]
    async with connect(convert_dsn) as conn:
        cidrs = ["2001:db8::/32", "::ffff:1.2.3.0/120", "10.0.0.0/8", "1.2.3.4/32", "::/0"]
        for kind, values in (("inet", inets), ("cidr", cidrs)):
            rows = await conn.fetch(
                f"SELECT v::{kind} AS v, concat(v::{kind}) AS t FROM unnest($1::text[]) AS u(v)", values
            )
            convert = converter_for(kind, "scalar")
            assert [convert(r["v"]) for r in rows] == [r["t"] for r in rows]
        for kind in ("point", "box", "lseg", "circle", "path", "polygon", "line"):
            if kind == "point":
                literals = points
            elif kind == "circle":
                literals = [f"<{p},{abs(i) + 0.5}>" for i, p in enumerate(points[:5])]
            elif kind == "line":
                literals = ["{1,2,3}", "{1e20,-0.5,1e-10}", "{0.1,1,0}"]
            elif kind == "path":
                literals = [f"[{points[0]},{points[1]}]", f"({points[2]},{points[3]},{points[7]})"]
            else:
                literals = [f"({points[0]},{points[1]})", f"({points[3]},{points[7]})"]
                if kind == "lseg":
                    literals = [f"[{points[0]},{points[1]}]", f"[{points[3]},{points[7]}]"]
            rows = await conn.fetch(
                f"SELECT v::{kind} AS v, v::{kind}::text AS t FROM unnest($1::text[]) AS u(v)", literals
            )
            convert = converter_for(kind, "scalar")
            assert [convert(r["v"]) for r in rows] == [r["t"] for r in rows], kind
        for kind, literals in (
            ("int4range", ["[1,5)", "(,5]", "(1,)", "(,)", "empty", "[3,3)"]),
            ("int8range", ["[-9223372036854775807,9223372036854775806]"]),
            ("numrange", ["[1.50,2.25]", "(,0.1)", "[-1e30,1e-30)"]),
            ("daterange", ["[2020-01-01,2020-02-01)", "(,infinity]", "[-infinity,2000-01-01]"]),
        ):
            rows = await conn.fetch(
                f"SELECT v::{kind} AS v, v::{kind}::text AS t FROM unnest($1::text[]) AS u(v)", literals
            )
            convert = converter_for(kind, "range")
            assert [convert(r["v"]) for r in rows] == [r["t"] for r in rows], kind


async def test_timestamp_ranges_round_trip(convert_dsn: str) -> None:
    literals = {
        "tstzrange": [
            "[2024-01-01 00:00+05:30,2024-02-01 00:00-08)",
            "(,infinity)",
            "[-infinity,2024-01-01 00:00:00.5+00]",
            "[0044-03-15 12:00+00 BC,0001-01-01 00:00+00)",
            "empty",
        ],
        "tsrange": [
            "[2024-01-01 00:00,2024-02-01 00:00:00.000001)",
            "(10000-01-01 00:00,)",
            "[0044-03-15 BC,)",
        ],
    }
    async with connect(convert_dsn) as conn:
        for kind, values in literals.items():
            rows = await conn.fetch(
                f"SELECT v::{kind} AS v FROM unnest($1::text[]) WITH ORDINALITY u(v, n) ORDER BY n", values
            )
            convert = converter_for(kind, "range")
            strings = [convert(r["v"]) for r in rows]
            ok = await conn.fetchval(
                f"SELECT bool_and(a::{kind} = b::{kind}) FROM unnest($1::text[], $2::text[]) AS u(a, b)",
                values,
                strings,
            )
            assert ok is True, strings
    assert strings[1] == "(10000-01-01T00:00:00,)"
    assert strings[2] == '["0044-03-15T00:00:00 BC",)'


# --------------------------------------------------------------------------------------------------
# Records, odd corners, encoders.


async def test_records(convert_dsn: str) -> None:
    async with connect(convert_dsn) as conn:
        got = await fetch_converted(
            conn,
            "SELECT t AS whole_row, ROW(1, 'x', '2024-01-01'::date, NULL, ROW(2.5, 'NaN'::float8)) AS anon "
            "FROM (SELECT 1 AS a, 'b'::text AS b, '{\"k\": [1]}'::jsonb AS j, '1 mon'::interval AS i) t",
        )
        assert got.labels == ["record", "record"]
        assert got.rows == [[[1, "b", {"k": [1]}, "P1M"], [1, "x", "2024-01-01", None, [2.5, "NaN"]]]]
        # A field asyncpg can only read as text comes back as garbage inside ROW(...): refuse it.
        stmt = await conn.prepare("SELECT ROW('int4'::regtype, 1)")
        converters = converters_for(stmt.get_attributes())
        record = await stmt.fetchrow()
        with pytest.raises(QueryError, match="Cast that field to text"):
            convert_row(record, converters)
        ok = await fetch_converted(conn, "SELECT ROW('pg_class'::regclass::text, 1)")
        assert ok.rows == [[["pg_class", 1]]]


async def test_without_codecs_values_still_convert(convert_dsn: str) -> None:
    """The converters also take asyncpg's default decodings (the caller should still install the codecs)."""
    async with connect(convert_dsn, codecs=False) as conn:
        got = await fetch_converted(
            conn,
            "SELECT '2024-01-02'::date, '2024-01-02 03:04:05+01'::timestamptz, '3 days 04:00'::interval, "
            "'13:00'::time, '{\"a\": 1}'::jsonb",
        )
    assert got.rows == [["2024-01-02", "2024-01-02T02:04:05+00:00", "P3DT4H", "13:00:00", '{"a": 1}']]


async def test_encoders_accept_python_values(convert_dsn: str) -> None:
    async with connect(convert_dsn, zone="UTC") as conn:
        row = await conn.fetchrow(
            "SELECT $1::date::text, $2::date::text, $3::timestamp::text, $4::timestamptz::text, "
            "$5::time::text, $6::timetz::text, $7::interval::text, $8::interval::text, $9::jsonb::text, "
            "$10::json::text, $11::jsonb::text, $12::macaddr::text, $13::macaddr8::text, "
            "$14::timestamp::text",
            date(2024, 2, 29),
            "infinity",
            datetime(2024, 1, 2, 3, 4, 5, 6),
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            datetime(2024, 1, 2, 13, 14, 15).time(),
            datetime(2024, 1, 2, 13, 14, 15, tzinfo=timezone(timedelta(hours=-3, minutes=-30))).timetz(),
            timedelta(days=3, seconds=3600),
            (14, -3, 1_500_000),
            {"a": [1, 2.5]},
            '{"raw":  "text"}',
            '"just a string"',
            "08-00-2B-01-02-03",
            "08:00:2b:01:02:03",
            "-infinity",
        )
    assert list(row) == [
        "2024-02-29",
        "infinity",
        "2024-01-02 03:04:05.000006",
        "2024-01-02 01:04:05+00",
        "13:14:15",
        "13:14:15-03:30",
        "3 days 01:00:00",
        "1 year 2 mons -3 days +00:00:01.5",
        '{"a": [1, 2.5]}',
        '{"raw":  "text"}',
        '"just a string"',
        "08:00:2b:01:02:03",
        "08:00:2b:ff:fe:01:02:03",
        "-infinity",
    ]


async def test_install_codecs_is_cheap_and_works_as_pool_init(convert_dsn: str) -> None:
    conn = await asyncpg.connect(convert_dsn)
    try:
        started = time.perf_counter()
        for _ in range(50):
            await install_codecs(conn)
        per_call = (time.perf_counter() - started) / 50
        assert await conn.fetchval("SELECT 'infinity'::date") == "infinity"
    finally:
        await conn.close()
    assert per_call < 0.01  # no server round trip: ~0.1-0.3 ms in practice
    pool = await asyncpg.create_pool(convert_dsn, min_size=2, max_size=2, init=install_codecs)
    try:
        async with pool.acquire() as pooled:
            assert await pooled.fetchval("SELECT '1 mon'::interval") == "P1M"
            assert await pooled.fetchval("SELECT '{\"a\": 1}'::jsonb") == {"a": 1}
    finally:
        await pool.close()


async def test_conversion_speed(convert_dsn: str) -> None:
    """100,000 values of everyday types; the bound is loose (CI machines vary), the numbers are printed."""
    sql = """
        SELECT g AS id, g::bigint * 1000 AS big, 'name ' || g AS label, (g % 1000) / 7.0 AS amount,
               g * 0.5::float8 AS ratio, g % 2 = 0 AS flag, DATE '2024-01-01' + g % 365 AS day,
               TIMESTAMPTZ '2024-01-01 00:00+00' + g * interval '1 minute' AS at,
               jsonb_build_object('g', g) AS doc, ARRAY[g, g + 1] AS pair
        FROM generate_series(1, 10000) g
    """
    async with connect(convert_dsn) as conn:
        stmt = await conn.prepare(sql)
        converters = converters_for(stmt.get_attributes())
        records = await stmt.fetch()
    started = time.perf_counter()
    rows = [convert_row(r, converters) for r in records]
    per_row = time.perf_counter() - started
    started = time.perf_counter()
    batch = convert_rows(records, converters)
    per_batch = time.perf_counter() - started
    assert rows == batch
    print(f"\nconvert_row: {per_row * 1e3:.1f} ms, convert_rows: {per_batch * 1e3:.1f} ms per 100k values")
    assert per_row < 2.0


# --------------------------------------------------------------------------------------------------
# Without a database.


class _Type(NamedTuple):
    oid: int
    name: str
    kind: str
    schema: str


class _Attribute(NamedTuple):
    name: str
    type: _Type


def test_type_labels_and_notes() -> None:
    cases = {
        ("int4", "scalar", "pg_catalog"): "integer",
        ("timestamptz", "scalar", "pg_catalog"): "timestamp with time zone",
        ("text[]", "array", "pg_catalog"): "text[]",
        ("int4[]", "array", "pg_catalog"): "integer[]",
        ("drop_status", "scalar", "public"): "public.drop_status",
        ("drop_status[]", "array", "public"): "public.drop_status[]",
        ("My Type", "scalar", "Sales"): '"Sales"."My Type"',
        ("pg_lsn", "scalar", "pg_catalog"): "pg_lsn",
        ("char", "scalar", "pg_catalog"): '"char"',
    }
    for (name, kind, schema), label in cases.items():
        assert type_label(_Attribute("c", _Type(1, name, kind, schema))) == label
    assert format_note(_Attribute("c", _Type(17, "bytea", "scalar", "pg_catalog"))) == "base64"
    assert format_note(_Attribute("c", _Type(1186, "interval", "scalar", "pg_catalog"))) == "ISO 8601 duration"
    assert format_note(_Attribute("c", _Type(3904, "int4range", "range", "pg_catalog"))) == "range text"
    assert format_note(_Attribute("c", _Type(23, "int4", "scalar", "pg_catalog"))) is None


def test_converters_take_none_everywhere() -> None:
    names = [
        "bool",
        "int4",
        "float4",
        "float8",
        "numeric",
        "bytea",
        "char",
        "uuid",
        "inet",
        "date",
        "timestamp",
        "timestamptz",
        "time",
        "timetz",
        "interval",
        "bit",
        "pg_lsn",
        "tid",
        "pg_snapshot",
        "point",
        "record",
        "json",
        "money",
        "something_unknown",
    ]
    for name in names:
        assert converter_for(name, "scalar")(None) is None, name
    for kind in ("range", "multirange", "composite", "array"):
        assert converter_for("x[]" if kind == "array" else "x", kind, "public")(None) is None
    assert converter_for("int4[]", "array")([[1, None], [None, 4]]) == [[1, None], [None, 4]]
    assert converter_for("float8[]", "array")([[float("inf"), None]]) == [["Infinity", None]]
    assert converter_for("bytea[]", "array")([b"\x00\xff", None]) == [
        base64.b64encode(b"\x00\xff").decode(),
        None,
    ]
    assert converter_for("numeric", "scalar")(Decimal("-0.000001")) == -1e-06
    assert converter_for("float4", "scalar")(float("nan")) == "NaN"


def test_converting_is_fast_enough_per_value() -> None:
    convert = converter_for("numeric", "scalar")
    sample = [Decimal(f"{i}.{i % 100:02d}") for i in range(10_000)]
    started = time.perf_counter()
    for value in sample:
        convert(value)
    assert time.perf_counter() - started < 1.0
