"""export_results CSV written by COPY itself (vf_mcp/export/copyout.py), through a real MCP client.

The COPY path runs when nothing per value is needed: no parameters, no masked column and no value-pattern
net for the caller's policy (here pii_mode allow, or allow with per-column rules). Each test compares it
with the cursor path (the same statement with a bound parameter, which cannot go through COPY) and with
PostgreSQL's own COPY on an independent connection, and checks the limits it must keep: masking when the
policy asks for it, memory with a huge value, the statement timeout and the lock courtesy to DDL.
"""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from helpers import call, call_error, mcp_client

from tests.conftest import PgCluster
from tests.test_convert import SETUP_SQL

pytestmark = pytest.mark.anyio

MB = 1024 * 1024

AWKWARD = """
CREATE TABLE awkward (
    id int PRIMARY KEY, big bigint, amount numeric(12,2), ratio float8, label text, code varchar(10),
    fixed char(4), at timestamptz, day date, flag boolean, doc jsonb, tags text[], raw bytea, who text
);
INSERT INTO awkward VALUES
  (1, 9223372036854775807, 1234567890.12, 0.1, 'plain', 'a', 'ab', '2024-01-01 10:00+02', '2024-02-29', true,
   '{"a": [1, "x,y"]}', '{"one","two, three","quote \\"q\\""}', '\\xdeadbeef', 'ann@example.com'),
  (2, -1, -0.01, 'NaN', 'comma, inside', '', '', '1999-12-31 23:59:59.999999+00', '0001-01-01 BC', false,
   'null', '{}', '\\x', 'bob@example.com'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 0, 0, '-Infinity', E'line one\\nline two\\r\\nthree', 'q"uote', '"', 'infinity', 'infinity', true,
   '"string"', '{NULL,""}', '\\x00', E'tab\\there'),
  (5, 42, 99999999.99, 1e300, E'\\\\.', ' ', ' x ', '-infinity', '-infinity', false, '[]', '{{1,2},{3,4}}',
   '\\xff', 'é ü 漢字 emoji 🎉'),
  (6, 7, 1.5, 2.5, '"', ',', ',', '2024-06-01 00:00+00', '2024-06-01', NULL, '{"k": "v\\nw"}', '{"a,b"}',
   NULL, '');
CREATE TABLE big (id int PRIMARY KEY, v text);
INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, 20000) g;
CREATE TABLE contacts (id int PRIMARY KEY, full_name text, email text, city text);
INSERT INTO contacts VALUES (1, 'Lerato Dlamini', 'lerato@example.com', 'Pretoria'),
  (2, 'Pieter Nel', 'pieter@example.com', 'Durban, KZN');
ANALYZE;
"""


@pytest.fixture(scope="module")
def copy_dsn(pg: PgCluster) -> str:
    return pg.create_database("export_copy_test", SETUP_SQL + AWKWARD)


async def copy_csv(dsn: str, query: str) -> bytes:
    """PostgreSQL's own CSV for `query`, on an independent connection."""
    conn = await asyncpg.connect(dsn)
    try:
        buf = io.BytesIO()
        await conn.copy_from_query(query, output=buf, format="csv", header=True)
        return buf.getvalue()
    finally:
        await conn.close()


async def export_bytes(client: Any, query: str, **args: Any) -> tuple[bytes, dict[str, Any]]:
    out = await call(client, "export_results", {"query": query, "format": "csv", **args})
    return Path(out["file_path"]).read_bytes(), out


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def reset_peak_rss() -> int:
    """Reset VmHWM to the current RSS (Linux clear_refs 5); return the RSS in kB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def peak_growth_mb(baseline_kb: int) -> float:
    return (_status_kb("VmHWM") - baseline_kb) / 1024.0


async def _copy_of_export(dsn: str, marker: str) -> str | None:
    """The COPY a vf-mcp session is running for the export whose SQL holds `marker` (None: never seen)."""
    admin = await asyncpg.connect(dsn)
    try:
        for _ in range(200):
            found = await admin.fetchval(
                "SELECT query FROM pg_stat_activity WHERE application_name = 'vf-mcp' AND state = 'active' "
                "AND query LIKE 'COPY (%' AND query LIKE $1 AND pid <> pg_backend_pid()",
                f"%{marker}%",
            )
            if found:
                return str(found)
            await asyncio.sleep(0.05)
        return None
    finally:
        await admin.close()


@pytest.mark.parametrize(
    ("table", "column"), [("all_types", "c_text"), ("awkward", "label")]
)  # every type of tests/test_convert.py; quoting, NULL vs '', line breaks, \\., infinities, arrays, bytea
async def test_copy_path_equals_cursor_path_and_postgres_copy(
    copy_dsn: str, tmp_path: Path, table: str, column: str
) -> None:
    query = f"SELECT * FROM {table} ORDER BY id"
    async with mcp_client(copy_dsn, exports_dir=str(tmp_path), pii_mode="allow") as client:
        copied, out = await export_bytes(client, query)
        cursor, _ = await export_bytes(client, f"SELECT * FROM {table} WHERE id >= $1 ORDER BY id", params=[-1])
        single, _ = await export_bytes(client, f"SELECT {column} FROM {table} ORDER BY id")
        cursor_single, _ = await export_bytes(client, f"SELECT {column} FROM {table} WHERE id >= $1 ORDER BY id",
                                              params=[-1])  # fmt: skip
    truth = await copy_csv(copy_dsn, query)
    assert copied == truth == cursor
    rows = await _count(copy_dsn, table)
    assert out["row_count"] == rows and out["file_size_bytes"] == len(truth)
    assert single == cursor_single == await copy_csv(copy_dsn, f"SELECT {column} FROM {table} ORDER BY id")


async def _count(dsn: str, table: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def test_masking_still_applies_when_the_policy_requires_it(copy_dsn: str, tmp_path: Path) -> None:
    query = "SELECT * FROM contacts ORDER BY id"
    truth = (await copy_csv(copy_dsn, query)).decode()
    # allow for everyone, but the email column masked by configuration: that column is masked, the rest as COPY
    async with mcp_client(
        copy_dsn, exports_dir=str(tmp_path), pii_mode="allow", pii_columns={"contacts.email": "mask"}
    ) as client:
        configured, _ = await export_bytes(client, query)
        derived, _ = await export_bytes(client, "SELECT id, upper(email) AS e, city FROM contacts ORDER BY id")
    text = configured.decode()
    assert "lerato@example.com" not in text and "pieter@example.com" not in text
    assert text.splitlines()[1] == "1,Lerato Dlamini,l***@example.com,Pretoria"
    assert text.splitlines()[2] == '2,Pieter Nel,p***@example.com,"Durban, KZN"'
    assert truth.splitlines()[0] == text.splitlines()[0]
    assert "LERATO@EXAMPLE.COM" not in derived.decode() and "Pretoria" in derived.decode()  # by lineage
    # the product default (mask): names and the value-pattern net, as for run_query
    async with mcp_client(copy_dsn, exports_dir=str(tmp_path), pii_mode="mask") as client:
        masked, _ = await export_bytes(client, query)
        free, _ = await export_bytes(client, "SELECT id, who FROM awkward ORDER BY id")
    assert "lerato@" not in masked.decode() and "Lerato Dlamini" not in masked.decode()
    assert "Pretoria" in masked.decode()
    assert "ann@example.com" not in free.decode() and "a***@example.com" in free.decode()  # a pattern in text


async def test_memory_stays_bounded_with_a_huge_value_and_many_rows(copy_dsn: str, tmp_path: Path) -> None:
    async with mcp_client(
        copy_dsn, exports_dir=str(tmp_path), pii_mode="allow", export_max_value_bytes=10 * MB
    ) as client:
        await call(client, "run_query", {"sql": "SELECT 1 AS warm"})
        baseline = reset_peak_rss()
        text = await call_error(
            client,
            "export_results",
            {"query": "SELECT id, repeat('x', 200000000) AS v FROM big WHERE id = 7", "format": "csv"},
        )
        growth = peak_growth_mb(baseline)
        print(f"peak RSS growth exporting a 200 MB value through the COPY path: {growth:.1f} MB")
        assert growth < 60
        assert "Row 1 " in text and "200,000,0" in text and "export_max_value_bytes" in text
        # over the COPY path's share (10 MB / 8) but under the limit: redone through the cursor path, written
        mid = "SELECT id, repeat('y', 3000000) AS v FROM big WHERE id <= 2 ORDER BY id"
        data, out = await export_bytes(client, mid)
        assert data == await copy_csv(copy_dsn, mid) and out["row_count"] == 2
        baseline = reset_peak_rss()
        many = "SELECT g AS id, md5(g::text) AS h, g * 0.5 AS half FROM generate_series(1, 1000000) g"
        out = await call(client, "export_results", {"query": many, "format": "csv"})
        growth = peak_growth_mb(baseline)  # before the test reads the file
        data = Path(out["file_path"]).read_bytes()
        print(f"peak RSS growth exporting 1,000,000 rows ({len(data) / MB:.0f} MB) through COPY: {growth:.1f} MB")
        assert out["row_count"] == 1_000_000 and growth < 64
        assert data == await copy_csv(copy_dsn, many)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


async def test_statement_timeout_stops_a_long_copy(copy_dsn: str, tmp_path: Path) -> None:
    slow = "SELECT g AS copy_timeout_marker, pg_sleep(0.01) FROM generate_series(1, 100000) g"
    async with mcp_client(
        copy_dsn, exports_dir=str(tmp_path), pii_mode="allow", export_statement_timeout_ms=1500
    ) as client:
        started = time.perf_counter()
        running = asyncio.create_task(client.call_tool("export_results", {"query": slow, "format": "csv"}))
        seen = await _copy_of_export(copy_dsn, "copy_timeout_marker")
        result = await running
        elapsed = time.perf_counter() - started
    assert seen is not None and seen.startswith("COPY (")  # the COPY path ran
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "export_statement_timeout_ms" in text and "1500 ms" in text
    assert elapsed < 10
    left = await asyncpg.connect(copy_dsn)
    try:
        running_left = await left.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%copy_timeout_marker%' AND state = 'active' "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await left.close()
    assert running_left == 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


async def test_copy_yields_to_ddl_after_lock_timeout(copy_dsn: str, tmp_path: Path) -> None:
    slow = "SELECT b.id AS copy_lock_marker, b.v, pg_sleep(0.0005) AS s FROM big b CROSS JOIN generate_series(1, 20) g"
    async with mcp_client(
        copy_dsn,
        exports_dir=str(tmp_path),
        pii_mode="allow",
        lock_timeout_ms=500,
        export_statement_timeout_ms=120_000,
    ) as client:
        export = asyncio.create_task(client.call_tool("export_results", {"query": slow, "format": "csv"}))
        seen = await _copy_of_export(copy_dsn, "copy_lock_marker")
        admin = await asyncpg.connect(copy_dsn)
        try:
            started = time.perf_counter()
            await admin.execute("ALTER TABLE big ADD COLUMN extra int")
            blocked_s = time.perf_counter() - started
            await admin.execute("ALTER TABLE big DROP COLUMN extra")
        finally:
            await admin.close()
        result = await export
    print(f"ALTER TABLE waited {blocked_s:.2f} s for the COPY export")
    assert seen is not None and seen.startswith("COPY (")
    assert blocked_s < 10.0  # not the export's 120 s
    assert result.is_error and "held a lock another session" in result.content[0].text  # type: ignore[union-attr]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


async def test_statement_text_cannot_leave_the_copy(copy_dsn: str, tmp_path: Path) -> None:
    """Comments, a trailing semicolon and attempts to close COPY's parenthesis: the same bytes as COPY or the
    guard's refusal; nothing written to the database (checked from a separate connection)."""
    async with mcp_client(copy_dsn, exports_dir=str(tmp_path)) as client:
        commented, _ = await export_bytes(client, "/* head */ SELECT id, label FROM awkward ORDER BY id -- tail")
        semicolon, _ = await export_bytes(client, "SELECT id, label FROM awkward ORDER BY id; -- done")
        refused = [
            await call_error(client, "export_results", {"query": q, "format": "csv"})
            for q in (
                "SELECT 1) TO STDOUT (FORMAT csv); CREATE TABLE pwned (x int); COPY (SELECT 1",
                "SELECT 1 AS one) TO '/tmp/pwned.csv' --",
                "SELECT 1; CREATE TABLE pwned (x int)",
            )
        ]
    truth = await copy_csv(copy_dsn, "SELECT id, label FROM awkward ORDER BY id")
    assert commented == semicolon == truth
    assert all(text.startswith("Error executing tool export_results") for text in refused), refused
    conn = await asyncpg.connect(copy_dsn)
    try:
        assert await conn.fetchval("SELECT to_regclass('pwned')") is None
    finally:
        await conn.close()
    assert not Path("/tmp/pwned.csv").exists()


PATTERNS = """
CREATE TABLE patterns (
    c1 int4, c2 int8, c3 numeric, c4 numeric(20,2), c5 float8, c6 text, c7 timestamptz, c8 date, c9 uuid,
    c10 text[], c11 jsonb, c12 boolean, c13 time, c14 float4, c15 interval
);
INSERT INTO patterns VALUES
  (2125551234, 27825551234, 4111111111111111, 4111111111111111.00, 4111111111111111, 'call 082 555 9999',
   '2024-01-01 10:00:00.123456-05', '0001-01-01 BC', 'abcde012-3456-7890-abcd-ef0123456789',
   '{"a@b.co","x"}', '{"phone": "+27 82 555 1234"}', true, '23:59:59.999999', 1e13, '12345678 days'),
  (-2147483648, 4111111111111111, 8001015009087, -8001015009087.5, 123456789012345, 'card 4111 1111 1111 1111',
   '294276-12-31 23:59:59.999999+00', 'infinity', '00000000-0000-0000-0000-000000000000', '{}', '[]', false,
   '00:00', 0.5, '1 day 02:00:00'),
  (0, 8001015009087, 'NaN', 0.01, 'NaN', 'mail ann@example.com, ssn 123-45-6789', 'infinity', '2024-02-29',
   NULL, '{"12345678"}', '"0825551234"', NULL, NULL, 'Infinity', NULL),
  (7, 999999999999, 123456789012, 1e12, 1.5e300, 'ref 12345678 and 1234 5678 and (082) 555-1234', NULL,
   '2024-06-01', 'a1234567-8901-2345-b678-901234567890', NULL, '{"n": 4111111111111111}', true, '10:00',
   -1e13, '-5 years'),
  (NULL, NULL, NULL, NULL, NULL, 'plain, "quoted"', '1999-12-31 23:59:59+00', NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL),
  (1, 4111111111111111, NULL, NULL, NULL, 'only the bigint', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (2, NULL, 4111111111111111, NULL, NULL, 'only the numeric', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, NULL, NULL, NULL, 4111111111111111, 'only the float', '2024-01-01 10:00+00', '2024-01-01', NULL, NULL,
   NULL, true, '10:00', NULL, NULL);
"""


async def test_value_pattern_net_runs_only_where_a_pattern_can_be(copy_dsn: str, tmp_path: Path) -> None:
    """pii_mode mask: PostgreSQL flags the lines that may hold a value pattern and only those pass the net;
    the file equals every COPY line passed through the net (what every line went through before)."""
    from vf_mcp.pii import PiiPolicy

    admin = await asyncpg.connect(copy_dsn)
    try:
        await admin.execute("DROP TABLE IF EXISTS patterns;" + PATTERNS)
    finally:
        await admin.close()
    query = "SELECT * FROM patterns"
    policy = PiiPolicy(mode="mask")
    lines = (await copy_csv(copy_dsn, query)).decode().split("\n")  # no value here holds a line break
    expected = "\n".join([lines[0], *(policy.mask_text(line) if line else line for line in lines[1:])])
    async with mcp_client(copy_dsn, exports_dir=str(tmp_path), pii_mode="mask") as client:
        data, out = await export_bytes(client, query)
    text = data.decode()
    assert out["row_count"] == 8
    assert text == expected
    for secret in ("082 555 9999", "4111 1111 1111 1111", "ann@example.com", "123-45-6789", "a@b.co"):
        assert secret not in text, secret
    assert "plain" in text and "0001-01-01 BC" in text and "2125551234" in text  # what the net leaves alone
    masked_rows = [line for line in text.split("\n")[6:9]]
    assert all("4111111111111111" not in line for line in masked_rows[:2]), masked_rows  # bigint, numeric
