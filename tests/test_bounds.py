"""Issue 13: no query runs away. Every bound attacked through a real MCP client and measured from outside.

Memory: peak RSS of this process (the in-process server) from /proc/self/status VmHWM, reset through
/proc/self/clear_refs before each attack. Connections, cancels and locks: pg_stat_activity,
pg_cancel_backend, pg_terminate_backend and ALTER TABLE on separate plain connections.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from helpers import call, call_error, mcp_client, sql

from tests.conftest import PgCluster

pytestmark = pytest.mark.anyio

MB = 1024 * 1024
HUGE = "SELECT repeat('x', 200000000) AS big, 1 AS n"
RSS_BOUND_MB = 150
"""Peak RSS growth allowed while 4 calls each produce a 200 MB value (unbounded, that is 800 MB+)."""

SETUP = """
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 20000) g;
CREATE TABLE odd (
    id int PRIMARY KEY, status text, d date, ts timestamp, created_at timestamptz, n numeric, f8 float8,
    f4 real, qty int
);
INSERT INTO odd VALUES
    (1, 'a', 'infinity', 'infinity', 'infinity', 'NaN', 'NaN', 'NaN', 1),
    (2, 'b', '-infinity', '-infinity', '-infinity', 'Infinity', 'Infinity', 'Infinity', 2),
    (3, 'a', '0044-03-15 BC', '0044-03-15 12:00 BC', '0044-03-15 12:00+00 BC', '-Infinity', '-Infinity',
        '-Infinity', 3),
    (4, 'b', '2024-06-01', '2024-06-01 10:00', '2024-06-01 10:00+00', 12.5, 2.5, 1.5, 4),
    (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
ANALYZE;
"""


@pytest.fixture(scope="module")
def dsn(pg: PgCluster) -> str:
    return pg.create_database("bounds_test", SETUP)


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


# --------------------------------------------------------------------------------------------------
# Memory: values and rows past the byte cap stay inside PostgreSQL.


async def test_huge_values_are_cut_inside_postgres_and_rss_stays_bounded(dsn: str) -> None:
    async with mcp_client(dsn) as client:
        await call(client, "run_query", {"sql": "SELECT 1 AS warm"})
        baseline = reset_peak_rss()
        outs = await asyncio.gather(*(call(client, "run_query", {"sql": HUGE, "refresh": True}) for _ in range(4)))
        growth = peak_growth_mb(baseline)
        print(f"peak RSS growth with 4 x 200 MB values: {growth:.1f} MB")
        assert growth < RSS_BOUND_MB
        for out in outs:
            (row,) = out["rows"]
            assert row[1] == 1  # other columns keep their types
            assert row[0].startswith("x" * 200) and row[0].endswith("… [value cut: 200,000,000 bytes]")
            assert out["cut_values"] == ["row 1, column big: 200,000,000 bytes"]
            assert "cut to a preview" in out["message"]
        # bytea, jsonb, arrays and anonymous records are cut the same way; small values keep their types
        out = await call(
            client,
            "run_query",
            {
                "sql": "SELECT decode(repeat('ab', 300000), 'hex') AS b, jsonb_build_object('k', repeat('q', 300000)) "
                "AS j, ARRAY(SELECT generate_series(1, 100000)) AS arr, ROW(repeat('r', 300000), 1) AS rec, "
                "'{\"small\": 1}'::jsonb AS small, ARRAY[1, 2] AS a2, 'ok' AS a2"
            },
        )
        row = out["rows"][0]
        assert all(isinstance(v, str) and "[value cut: " in v for v in row[:4])
        assert row[4:] == [{"small": 1}, [1, 2], "ok"]  # duplicate column names work
        assert len(out["cut_values"]) == 4


async def test_rows_past_the_cap_are_not_fetched(dsn: str) -> None:
    """1,000 rows of 100 kB: the cap (128 kB) is reached after one row; the other 99.9 MB never arrive."""
    query = "SELECT g, repeat('y', 100000) AS v FROM generate_series(1, 1000) g ORDER BY g"
    async with mcp_client(dsn) as client:
        await call(client, "run_query", {"sql": "SELECT 1 AS warm"})
        baseline = reset_peak_rss()
        out = await call(client, "run_query", {"sql": query})
        growth = peak_growth_mb(baseline)
        print(f"peak RSS growth fetching past the cap: {growth:.1f} MB")
        assert growth < 40
        assert out["row_count"] == 1 and out["truncated"] and out["next_offset"] == 1
        assert "max_result_bytes" in out["truncated_reason"]
        page = await call(client, "run_query", {"sql": query, "offset": 1})
        assert page["rows"][0][0] == 2 and page["next_offset"] == 2  # pages move on


async def test_one_row_over_the_cap_is_reported_and_pages_move_on(dsn: str) -> None:
    query = "SELECT g, repeat('y', 100000) AS v, repeat('z', 100000) AS w FROM generate_series(1, 5) g ORDER BY g"
    async with mcp_client(dsn) as client:
        out = await call(client, "run_query", {"sql": query, "offset": 2})
    assert out["row_count"] == 1 and out["rows"][0][0] == 3
    assert out["truncated_reason"].startswith("row 3 alone is 200,")
    assert "over the 131,072-byte cap (max_result_bytes)" in out["truncated_reason"]
    assert out["next_offset"] == 3  # never the offset asked for
    assert out["cut_values"] == ["row 3, column v: 100,002 bytes", "row 3, column w: 100,002 bytes"]


async def test_builtin_tools_cut_huge_group_values(pg: PgCluster) -> None:
    """fetch_converted (vf-mcp's own SQL): a 50 MB group key comes back cut, not whole."""
    dsn = await pg.acreate_database(
        "bounds_big",
        "CREATE TABLE docs (id int PRIMARY KEY, body text, qty int);"
        "INSERT INTO docs VALUES (1, repeat('d', 50000000), 2), (2, 'short', 3);",
    )
    async with mcp_client(dsn) as client:
        await call(client, "run_query", {"sql": "SELECT 1 AS warm"})
        baseline = reset_peak_rss()
        out = await call(
            client, "calculate_metrics", {"table_name": "docs", "metric": "sum", "column": "qty", "group_by": ["body"]}
        )
        growth = peak_growth_mb(baseline)
    print(f"peak RSS growth grouping by a 50 MB value: {growth:.1f} MB")
    assert growth < 60
    keys = sorted(str(r[0]) for r in out["results"])
    assert keys[1] == "short" and keys[0].endswith("… [value cut: 50,000,000 bytes]")


async def test_export_refuses_a_value_over_its_limit(dsn: str, tmp_path: Path) -> None:
    async with mcp_client(dsn, exports_dir=str(tmp_path), export_max_value_bytes=10 * MB) as client:
        await call(client, "run_query", {"sql": "SELECT 1 AS warm"})
        for fmt in ("csv", "json", "parquet"):
            baseline = reset_peak_rss()
            text = await call_error(
                client,
                "export_results",
                {"query": "SELECT id, repeat('x', 200000000) AS big FROM t WHERE id = 7", "format": fmt},
            )
            growth = peak_growth_mb(baseline)
            print(f"peak RSS growth exporting a 200 MB value as {fmt}: {growth:.1f} MB")
            assert growth < 60
            assert "Row 1 " in text and "200,000,0" in text and "export_max_value_bytes" in text
        ok = await call(client, "export_results", {"query": "SELECT id, v FROM t ORDER BY id", "format": "csv"})
    assert ok["row_count"] == 20000
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


# --------------------------------------------------------------------------------------------------
# CPU: parsing a 1 MB statement does not stall other clients.


@pytest.mark.parametrize("pii_mode", ["allow", "mask"])  # mask: the statement's lineage is computed too
async def test_parsing_a_huge_statement_does_not_stall_other_clients(dsn: str, pii_mode: str) -> None:
    huge = "SELECT 1 AS one WHERE " + " OR ".join(f"{i}={i}" for i in range(70000))
    assert 900_000 < len(huge) < 1_048_576
    async with mcp_client(dsn, pii_mode=pii_mode) as client:
        await call(client, "run_query", {"sql": "SELECT 1 AS warm"})
        big = asyncio.create_task(client.call_tool("run_query", {"sql": huge}))
        latencies = []
        while not big.done():
            started = time.perf_counter()
            await call(client, "run_query", {"sql": "SELECT 1 AS ping", "refresh": True})
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
        result = await big
    print(f"{len(latencies)} pings while the 1 MB statement ran; slowest {max(latencies) * 1000:.0f} ms")
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    assert len(latencies) >= 3 and max(latencies) < 1.0


# --------------------------------------------------------------------------------------------------
# Connections: acquiring one is bounded; exports never take them all.


async def test_pool_exhaustion_is_a_clear_busy_error(dsn: str) -> None:
    async with mcp_client(dsn, pool_max_size=2, pool_acquire_timeout_ms=500) as client:
        sleepers = [
            asyncio.create_task(call(client, "run_query", {"sql": f"SELECT pg_sleep(3), {i} AS i"})) for i in range(2)
        ]
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        text = await call_error(client, "run_query", {"sql": "SELECT 2 AS two"})
        waited = time.perf_counter() - started
        assert "Server busy: all 2 database connections are in use" in text
        assert waited < 2.0  # one acquire timeout, not retried
        await asyncio.gather(*sleepers)
    # a wait for a connection is not execution time
    async with mcp_client(dsn, pool_max_size=1, pool_acquire_timeout_ms=5000) as client:
        slow = asyncio.create_task(call(client, "run_query", {"sql": "SELECT pg_sleep(1), 3 AS a"}))
        await asyncio.sleep(0.2)
        started = time.perf_counter()
        out = await call(client, "run_query", {"sql": "SELECT 4 AS b"})
        assert time.perf_counter() - started > 0.5 and out["execution_time_ms"] < 300
        await slow


async def test_exports_leave_a_connection_for_interactive_tools(dsn: str, tmp_path: Path) -> None:
    slow_export = "SELECT id, v, pg_sleep(0.001) AS s FROM t ORDER BY id LIMIT 1500"
    async with mcp_client(
        dsn, exports_dir=str(tmp_path), pool_max_size=3, export_max_concurrent=5, pool_acquire_timeout_ms=300
    ) as client:
        exports = [
            asyncio.create_task(client.call_tool("export_results", {"query": slow_export, "format": "csv"}))
            for _ in range(3)
        ]
        await asyncio.sleep(0.5)
        admin = await asyncpg.connect(dsn)
        try:
            running = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vf-mcp' AND query LIKE '%pg_sleep%'"
            )
        finally:
            await admin.close()
        started = time.perf_counter()
        out = await call(client, "run_query", {"sql": "SELECT 5 AS five", "refresh": True})
        assert out["rows"] == [[5]] and time.perf_counter() - started < 1.0
        results = await asyncio.gather(*exports)
    assert running == 2  # min(export_max_concurrent, pool_max_size - 1)
    errors = [r.content[0].text for r in results if r.is_error]  # type: ignore[union-attr]
    assert len(errors) == 1 and "Server busy: 2 export(s) are already running" in errors[0]


# --------------------------------------------------------------------------------------------------
# Disk: temp files and the exports directory.


async def test_temp_file_limit(dsn: str, pg: PgCluster, caplog: pytest.LogCaptureFixture) -> None:
    spill = "SELECT g FROM generate_series(1, 3000000) g ORDER BY g DESC"
    async with mcp_client(dsn, temp_file_limit_kb=1024) as client:
        shown = await call(client, "run_query", {"sql": "SHOW temp_file_limit"})
        text = await call_error(client, "run_query", {"sql": spill})
    assert shown["rows"] == [["1MB"]]
    assert "temporary files" in text and "temp_file_limit" in text and "1024kB" in text
    # a role that may not set it: one warning, and the role's own setting applies
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute("DROP ROLE IF EXISTS vf_bounds_ro; CREATE ROLE vf_bounds_ro LOGIN")
        await admin.execute("GRANT SELECT ON t TO vf_bounds_ro")
        await admin.execute("ALTER ROLE vf_bounds_ro SET temp_file_limit = '2MB'")
    finally:
        await admin.close()
    ro_dsn = dsn.replace("postgres@", "vf_bounds_ro@", 1)
    assert ro_dsn != dsn
    caplog.set_level("WARNING")
    async with mcp_client(ro_dsn, temp_file_limit_kb=1024) as client:
        shown = await call(client, "run_query", {"sql": "SHOW temp_file_limit"})
        again = await call(client, "run_query", {"sql": "SELECT count(*) AS n FROM t"})
    assert shown["rows"] == [["2MB"]] and again["rows"] == [[20000]]
    warnings = [r for r in caplog.records if "temp_file_limit" in r.getMessage()]
    assert len(warnings) == 1


async def test_export_quota_is_enforced_while_writing(dsn: str, tmp_path: Path) -> None:
    """Four exports of ~3 MB each at once into a 4 MB directory: it never holds more than 4 MB + one chunk."""
    limit = 4 * MB
    query = "SELECT g, repeat('q', 300) AS pad FROM generate_series(1, 10000) g"
    peak = 0
    stop = False

    async def watch() -> None:
        nonlocal peak
        while not stop:
            total = sum(p.stat().st_size for p in tmp_path.iterdir() if p.is_file())
            peak = max(peak, total)
            await asyncio.sleep(0.005)

    async with mcp_client(
        dsn, exports_dir=str(tmp_path), export_max_total_bytes=limit, pool_max_size=5, export_max_concurrent=4
    ) as client:
        watcher = asyncio.create_task(watch())
        results = await asyncio.gather(
            *(client.call_tool("export_results", {"query": query, "format": "csv"}) for _ in range(4))
        )
        stop = True
        await watcher
    ok = [r for r in results if not r.is_error]
    failed = [r.content[0].text for r in results if r.is_error]  # type: ignore[union-attr]
    print(f"exports directory peak {peak / MB:.2f} MB (limit 4 MB); {len(ok)} done, {len(failed)} stopped")
    assert failed and all("export_max_total_bytes" in t for t in failed)
    assert peak <= limit + 4 * MB  # at most one chunk (TARGET_CHUNK_BYTES) over
    final = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert final <= limit
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]  # partial files deleted


async def test_export_runs_under_its_timeouts_and_yields_to_ddl(dsn: str, tmp_path: Path) -> None:
    settings_query = (
        "SELECT current_setting('lock_timeout') AS lt, current_setting('statement_timeout') AS st, "
        "current_setting('transaction_read_only') AS ro"
    )
    slow = "SELECT t.id, t.v, pg_sleep(0.0005) AS s FROM t CROSS JOIN generate_series(1, 20) g"
    async with mcp_client(
        dsn, exports_dir=str(tmp_path), lock_timeout_ms=500, export_statement_timeout_ms=120_000
    ) as client:
        shown = await call(client, "export_results", {"query": settings_query, "format": "json"})
        assert json.loads(Path(shown["file_path"]).read_text()) == [{"lt": "500ms", "st": "2min", "ro": "on"}]
        export = asyncio.create_task(client.call_tool("export_results", {"query": slow, "format": "csv"}))
        await asyncio.sleep(1.0)
        admin = await asyncpg.connect(dsn)
        try:
            started = time.perf_counter()
            await admin.execute("ALTER TABLE t ADD COLUMN extra int")
            blocked_s = time.perf_counter() - started
            await admin.execute("ALTER TABLE t DROP COLUMN extra")
        finally:
            await admin.close()
        result = await export
    print(f"ALTER TABLE waited {blocked_s:.2f} s for the export")
    assert blocked_s < 10.0  # not the export's 120 s
    assert result.is_error and "held a lock another session" in result.content[0].text  # type: ignore[union-attr]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


# --------------------------------------------------------------------------------------------------
# Cancelled or terminated by the DBA: reported as such, never retried.


async def _kill_when_running(dsn: str, marker: str, fn: str) -> None:
    """Cancel (or terminate) the session running `marker`'s query, as a DBA would: again if a cancel landed
    between two of its protocol steps (a cancel reaching an idle backend is ignored by PostgreSQL)."""
    admin = await asyncpg.connect(dsn)
    active = (
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'vf-mcp' AND state = 'active' "
        "AND query LIKE $1 AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
    )
    try:
        killed = 0
        for _ in range(100):
            pid = await admin.fetchval(active, f"%{marker}%")
            if pid:
                assert await admin.fetchval(f"SELECT {fn}($1)", pid) is True
                killed += 1
                await asyncio.sleep(0.3)
                if await admin.fetchval(active, f"%{marker}%") is None:
                    return
                continue
            if killed:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the query never showed up in pg_stat_activity")
    finally:
        await admin.close()


@pytest.mark.parametrize(
    ("fn", "words"),
    [("pg_cancel_backend", "cancelled by a database administrator"), ("pg_terminate_backend", "terminated by an")],
)
async def test_dba_cancel_and_terminate(dsn: str, tmp_path: Path, fn: str, words: str) -> None:
    audit = tmp_path / "audit.jsonl"
    marker = f"dba_{fn}"
    query = f"SELECT pg_sleep(20) AS {marker}"
    async with mcp_client(dsn, audit_log_path=str(audit), retry_attempts=3) as client:
        call_task = asyncio.create_task(client.call_tool("run_query", {"sql": query}))
        started = time.perf_counter()
        await _kill_when_running(dsn, marker, fn)
        result = await call_task
        elapsed = time.perf_counter() - started
        text = result.content[0].text  # type: ignore[union-attr]
        assert result.is_error and words in text and "timeout" not in text
        assert elapsed < 5.0
        after = await call(client, "run_query", {"sql": "SELECT 1 AS still_ok"})
        assert after["rows"] == [[1]]
    (rec,) = [json.loads(line) for line in audit.read_text().splitlines() if marker in line]
    assert rec["ok"] is False and rec["error_code"] == "cancelled"
    assert rec["sql"].count(query) == 1  # never retried


# --------------------------------------------------------------------------------------------------
# infinity, -infinity, BC dates, NaN and +-Infinity through every tool.


def _no_internal(result: Any) -> None:
    if result.is_error:
        text = result.content[0].text
        assert "Internal error" not in text and "Traceback" not in text, text


async def test_infinite_and_nan_values_in_every_tool(dsn: str, tmp_path: Path) -> None:
    async with mcp_client(dsn, exports_dir=str(tmp_path)) as client:
        out = await call(client, "run_query", {"sql": "SELECT d, ts, created_at, n, f8, f4 FROM odd ORDER BY id"})
        assert out["rows"][:4] == [
            ["infinity", "infinity", "infinity", "NaN", "NaN", "NaN"],
            ["-infinity", "-infinity", "-infinity", "Infinity", "Infinity", "Infinity"],
            [
                "0044-03-15 BC",
                "0044-03-15T12:00:00 BC",
                "0044-03-15T12:00:00+00:00 BC",
                "-Infinity",
                "-Infinity",
                "-Infinity",
            ],
            ["2024-06-01", "2024-06-01T10:00:00", "2024-06-01T10:00:00+00:00", 12.5, 2.5, 1.5],
        ]
        calls: list[tuple[str, dict[str, Any]]] = [
            ("get_database_overview", {}),
            ("list_tables", {}),
            ("get_table_schema", {"table_name": "odd"}),
            ("get_table_stats", {"table_name": "odd", "refresh": True}),
            ("check_data_quality", {"table_name": "odd"}),
            ("get_kpi_dashboard", {}),
            ("rank_entities", {"table_name": "odd", "entity_column": "status", "rank_by": "n", "aggregation": "sum"}),
            ("rank_entities", {"table_name": "odd", "entity_column": "d", "rank_by": "f8", "aggregation": "max"}),
        ]
        for col in ("n", "f8", "f4", "d", "ts", "created_at"):
            for metric in ("count", "sum", "avg", "min", "max", "distinct", "median", "p90", "stddev"):
                calls.append(("calculate_metrics", {"table_name": "odd", "metric": metric, "column": col}))
            calls.append(
                ("calculate_metrics", {"table_name": "odd", "metric": "count", "column": col, "group_by": [col]})
            )
        for tcol in ("d", "ts", "created_at"):
            calls.append(
                (
                    "calculate_metrics",
                    {
                        "table_name": "odd",
                        "metric": "sum",
                        "column": "n",
                        "group_by": [{"column": tcol, "period": "month"}],
                    },
                )
            )
            calls.append(
                (
                    "analyze_trends",
                    {
                        "table_name": "odd",
                        "metric": "sum",
                        "column": "n",
                        "period": "monthly",
                        "start_date": "2024-01-01",
                        "end_date": "2024-12-31",
                        "time_column": tcol,
                    },
                )
            )
            calls.append(
                (
                    "compare_data",
                    {
                        "table_name": "odd",
                        "metric": "avg",
                        "column": "f8",
                        "compare_by": "time",
                        "period": "year",
                        "time_column": tcol,
                        "as_of": "2024-07-01",
                    },
                )
            )
        calls.append(
            (
                "compare_data",
                {
                    "table_name": "odd",
                    "metric": "sum",
                    "column": "n",
                    "group1": {"label": "a", "filters": [{"column": "status", "op": "=", "value": "a"}]},
                    "group2": {"label": "b", "filters": [{"column": "status", "op": "=", "value": "b"}]},
                },
            )
        )
        failures = []
        for tool, args in calls:
            result = await client.call_tool(tool, args)
            # the only refusal expected: a numeric metric on a date/timestamp column
            if result.is_error and "needs a numeric column" not in result.content[0].text:  # type: ignore[union-attr]
                failures.append(f"{tool} {args}: {result.content[0].text}")  # type: ignore[union-attr]
        assert not failures, "\n".join(failures)
        stats = await call(client, "get_table_stats", {"table_name": "odd", "refresh": True})
        by = {c["name"]: c for c in stats["columns"]}
        assert by["d"]["min"] == "-infinity" and by["d"]["max"] == "infinity"
        for fmt in ("csv", "json", "jsonl", "excel", "parquet"):
            out = await call(client, "export_results", {"query": "SELECT * FROM odd ORDER BY id", "format": fmt})
            assert out["row_count"] == 5
        rows = json.loads(
            Path(
                (await call(client, "export_results", {"query": "SELECT d, n FROM odd ORDER BY id", "format": "json"}))[
                    "file_path"
                ]
            ).read_text()
        )
    assert rows[:3] == [
        {"d": "infinity", "n": "NaN"},
        {"d": "-infinity", "n": "Infinity"},
        {"d": "0044-03-15 BC", "n": "-Infinity"},
    ]
    truth = await sql(dsn, "SELECT count(*) FROM odd")
    assert truth[0][0] == 5
