"""get_kpi_dashboard on the demo data for a fixed as_of date, against hand-written SQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import call, mcp_client, sql

pytestmark = pytest.mark.anyio

AS_OF = "2026-11-15"
# timeframe=month, as_of 2026-11-15: current = [2026-11-01, 2026-11-16), previous = [2026-10-01, 2026-10-16), UTC
CUR = "d.completed_at >= '2026-11-01 00:00+00' AND d.completed_at < '2026-11-16 00:00+00'"
PREV = "d.completed_at >= '2026-10-01 00:00+00' AND d.completed_at < '2026-10-16 00:00+00'"


async def test_velocityfibre_kpis(demo_dsn: str) -> None:
    async def one(q: str) -> object:
        return (await sql(demo_dsn, q))[0][0]

    installs = "SELECT count(*) FROM drops d WHERE d.status = 'completed' AND {}"
    avg_time = "SELECT avg(completion_hours)::float8 FROM drops d WHERE d.status = 'completed' AND {}"
    top = (
        "SELECT c.name, count(*) AS n FROM drops d JOIN contractors c ON c.id = d.contractor_id "
        f"WHERE d.status = 'completed' AND {CUR} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    )
    created = CUR.replace("completed_at", "created_at")
    created_prev = PREV.replace("completed_at", "created_at")
    expected = {
        "active_projects": await one("SELECT count(*) FROM projects WHERE status = 'active'"),
        "active_staff": await one("SELECT count(*) FROM staff WHERE employment_status = 'active'"),
        "equipment_count": await one("SELECT count(*) FROM equipment WHERE status = 'in_service'"),
        "total_installations": await one(installs.format(CUR)),
        "active_contractors": await one(f"SELECT count(DISTINCT contractor_id) FROM drops d WHERE {created}"),
    }
    previous = {
        "total_installations": await one(installs.format(PREV)),
        "active_contractors": await one(f"SELECT count(DISTINCT contractor_id) FROM drops d WHERE {created_prev}"),
    }
    top_row = (await sql(demo_dsn, top))[0]
    avg_now = await one(avg_time.format(CUR))
    async with mcp_client(demo_dsn) as client:
        out = await call(client, "get_kpi_dashboard", {"timeframe": "month", "as_of": AS_OF})
    kpis = {k["name"]: k for k in out["kpis"]}
    assert out["source"] == "velocityfibre.toml" and len(kpis) == 10
    for name, want in expected.items():
        assert kpis[name]["value"] == want, name
    for name, want in previous.items():
        assert kpis[name]["previous_value"] == want, name
        cur = expected[name]
        if want:
            assert kpis[name]["percent_change"] == pytest.approx(100 * (cur - want) / want, abs=1e-3)  # type: ignore[operator]
    assert (kpis["top_contractor"]["detail"], kpis["top_contractor"]["value"]) == (top_row["name"], top_row["n"])
    assert float(kpis["avg_installation_time"]["value"]) == pytest.approx(avg_now)
    ait = kpis["avg_installation_time"]
    if ait["trend"] in ("up", "down"):
        assert ait["good"] is (ait["trend"] == "down")  # lower is better
    assert kpis["active_projects"]["previous_value"] is None  # a snapshot KPI has no history
    assert out["current_period"].startswith("2026-11-01..2026-11-16")


async def test_no_previous_and_last_year(demo_dsn: str) -> None:
    last_year = "d.completed_at >= '2025-11-01 00:00+00' AND d.completed_at < '2025-11-16 00:00+00'"
    want = (await sql(demo_dsn, f"SELECT count(*) FROM drops d WHERE d.status = 'completed' AND {last_year}"))[0][0]
    async with mcp_client(demo_dsn) as client:
        none = await call(client, "get_kpi_dashboard", {"timeframe": "month", "as_of": AS_OF, "compare_with": "none"})
        ly = await call(
            client, "get_kpi_dashboard", {"timeframe": "month", "as_of": AS_OF, "compare_with": "last_year"}
        )
    assert all(k["previous_value"] is None for k in none["kpis"])
    assert next(k for k in ly["kpis"] if k["name"] == "total_installations")["previous_value"] == want


async def test_default_dashboard_without_kpi_file(chinook_dsn: str) -> None:
    want = (
        await sql(
            chinook_dsn,
            "SELECT count(*) FROM invoice WHERE invoice_date >= '2025-01-01' AND invoice_date < '2025-04-01'",
        )
    )[0][0]
    async with mcp_client(chinook_dsn) as client:
        out = await call(client, "get_kpi_dashboard", {"timeframe": "quarter", "as_of": "2025-03-31"})
    assert out["source"] == "default" and "config/kpis" in out["message"]
    invoices = next(k for k in out["kpis"] if k["name"] == "new_invoice")
    assert invoices["value"] == want


async def test_invalid_kpi_file_is_a_clear_error(demo_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('database = "*"\n[[kpi]]\nname = "x"\n')
    async with mcp_client(demo_dsn, kpi_dir=str(tmp_path)) as client:
        result = await client.call_tool("get_kpi_dashboard", {})
    assert result.is_error and "exactly one of sql, metric or builtin" in result.content[0].text  # type: ignore[union-attr]


async def test_kpi_sql_goes_through_the_guard(demo_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "evil.toml").write_text(
        'database = "*"\n[[kpi]]\nname = "evil"\nsql = "DELETE FROM staff"\n'
        '[[kpi]]\nname = "ok"\nsql = "SELECT count(*) FROM staff"\n'
    )
    before = (await sql(demo_dsn, "SELECT count(*) FROM staff"))[0][0]
    async with mcp_client(demo_dsn, kpi_dir=str(tmp_path)) as client:
        out = await call(client, "get_kpi_dashboard", {})
    kpis = {k["name"]: k for k in out["kpis"]}
    assert "Refused" in kpis["evil"]["error"] and kpis["ok"]["value"] == before
    assert (await sql(demo_dsn, "SELECT count(*) FROM staff"))[0][0] == before
