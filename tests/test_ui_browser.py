"""MCP Apps views in a real browser: headless Chromium, the ext-apps AppBridge as host, real results.

Each view is the committed bundle (vf_mcp/ui/static/views.html) in a sandboxed iframe on a second origin under
the spec's default CSP; the host delivers a real tool result obtained through an MCP client from the demo
database, and forwards the view's tools/call back through that client. Checked: the handshake, no console
errors or blocked loads, the number of marks and the values (against hand-written SQL), drill-down calls,
downloads, widths 320-900, light and dark. Screenshots go to a tmp dir, or to VF_MCP_SCREENSHOTS (e.g.
docs/screenshots) when set; render times are printed (no timing assertion).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

import mcp.client
import pytest
from mcp import Client

from tests.helpers import settings_for, sql
from tests.ui_browser import browser, chromium_available, two_origins
from vf_mcp.server import build_server
from vf_mcp.ui.views import APP_MIME_TYPE, EXTENSION_ID, VIEWS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason="the Debian package chromium is not installed"),
]

MOUNT = """async (o) => {
  await window.vfHost.mount({container: document.getElementById('host'), viewUrl: o.url, toolName: o.tool,
    input: o.input, result: o.result, theme: o.theme, width: o.width, callTool: (n, a) => window.pyCallTool(n, a)});
}"""


@dataclass
class Mounted:
    page: Any
    frame: Any
    errors: list[str]
    result: dict[str, Any]

    async def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = await self.page.evaluate("window.vfHost.record.calls")
        return calls

    async def marks(self, selector: str) -> int:
        return int(await self.frame.locator(selector).count())

    async def rendered(self, n: int) -> None:
        """Wait for the n-th render (polled from here: the view's CSP forbids the eval a page-side wait needs)."""
        for _ in range(200):
            if int(await self.frame.evaluate("Number(document.documentElement.dataset.rendered || 0)")) >= n:
                return
            await self.page.wait_for_timeout(50)
        raise AssertionError(f"render {n} did not happen: {self.errors}")


@asynccontextmanager
async def session(demo_dsn: str, mode: str = "auto") -> AsyncIterator[tuple[Any, str, str, Client]]:
    ext = mcp.client.advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    server = build_server(settings_for(demo_dsn))
    with two_origins() as (host, views):
        async with Client(server, mode=mode, extensions=[ext]) as client, browser() as b:  # type: ignore[arg-type]
            assert client.protocol_version == ("2026-07-28" if mode == "auto" else "2025-11-25")
            yield b, host, views, client


def wire(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return out


async def mount(
    b: Any, host: str, views: str, client: Client, tool: str, args: dict[str, Any], *, width: int = 640
) -> Mounted:
    result = await client.call_tool(tool, args)
    assert not result.is_error, result.content
    page = await b.new_page(viewport={"width": max(width + 40, 700), "height": 1000})
    errors: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: errors.append(f"blocked or failed load: {r.url}"))

    async def py_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        return wire(await client.call_tool(name, arguments))

    await page.expose_function("pyCallTool", py_call)
    await page.goto(f"{host}/host.html")
    url = f"{views}/view/{VIEWS[tool]}.html"
    await page.evaluate(
        MOUNT, {"url": url, "tool": tool, "input": args, "result": wire(result), "theme": "light", "width": width}
    )
    frame = next(f for f in page.frames if f.url == url)
    mounted = Mounted(page, frame, errors, result.structured_content or {})
    await mounted.rendered(1)
    return mounted


async def finish(m: Mounted, name: str, shots: Path) -> float:
    """Handshake state, widths 320-900 without overflow, light and dark screenshots, no errors; the render time."""
    assert await m.page.evaluate("window.vfHost.record.initialized") == 1
    assert await m.frame.evaluate("document.documentElement.dataset.connected") == "true"
    sizes = await m.page.evaluate("window.vfHost.record.sizes")
    assert sizes and sizes[-1]["height"] > 50  # ui/notifications/size-changed reached the host
    ms = float(await m.frame.evaluate("document.documentElement.dataset.renderMs"))
    for width in (320, 900):
        await m.page.evaluate(f"window.vfHost.current.iframe.style.width = '{width}px'")
        await m.page.wait_for_timeout(150)
        overflow = await m.frame.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{name} overflows at {width}px by {overflow}px"
    await m.page.evaluate("window.vfHost.current.iframe.style.width = '640px'")
    await m.page.wait_for_timeout(150)
    await m.page.locator("#host iframe").screenshot(path=str(shots / f"{name}.png"))
    rendered = int(await m.frame.evaluate("document.documentElement.dataset.rendered"))
    await m.page.evaluate("window.vfHost.setTheme('dark')")
    await m.rendered(rendered + 1)
    assert await m.frame.evaluate("document.documentElement.dataset.theme") == "dark"
    background = await m.frame.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)"
    await m.page.locator("#host iframe").screenshot(path=str(shots / f"{name}-dark.png"))
    assert not m.errors, m.errors
    print(f"view {name}: rendered in {ms:.1f} ms")
    await m.page.close()
    return ms


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    where = os.environ.get("VF_MCP_SCREENSHOTS")
    path = Path(where) if where else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def shown(m: Mounted) -> Any:
    return m.frame.evaluate("document.querySelector('#root').innerText")


async def uplot_data(m: Mounted, selector: str = ".line-chart") -> list[list[Any]]:
    data: list[list[Any]] = await m.frame.evaluate(f"document.querySelector('{selector}')._uplot.data")
    return data


async def test_trends_view(demo_dsn: str, shots: Path) -> None:
    args = {
        "table_name": "drops",
        "metric": "count",
        "period": "monthly",
        "start_date": "2025-01-01",
        "time_column": "created_at",
    }
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "analyze_trends", args)
        series = m.result["series"][0]
        expected = await sql(
            demo_dsn,
            "SELECT date_trunc('month', created_at AT TIME ZONE 'UTC')::date AS m, count(*) FROM drops "
            "WHERE created_at >= '2025-01-01' AND created_at < current_date + 1 GROUP BY 1 ORDER BY 1",
        )
        assert len(series["values"]) == len(expected)
        data = await uplot_data(m)
        observed = data[1][: len(expected)]
        assert observed == [float(r["count"]) for r in expected]
        assert data[0][0] == 1735689600  # 2025-01-01 UTC
        assert int(await m.frame.get_attribute(".trend-chart", "data-marks")) == len(expected)
        # hover: the legend shows the exact value under the cursor
        over = m.frame.locator(".trend-chart .u-over")
        box = await over.bounding_box()
        await over.hover(position={"x": 2, "y": box["height"] / 2})
        legend = await m.frame.locator(".trend-chart .u-legend .u-value").all_inner_texts()
        assert legend[0] == "2025-01-01" and legend[1] == str(expected[0]["count"])
        assert int(await m.frame.get_attribute(".trend-chart", "data-forecast")) == len(series["forecast"])
        assert int(await m.frame.get_attribute(".trend-chart", "data-partial")) == sum(series["partial"])
        text = await shown(m)
        assert (
            "Time zone: UTC" in text
            and "Partial period" in text
            and "created_at (monthly, UTC)"
            in await m.frame.evaluate("[...document.querySelectorAll('.u-label')].map(e => e.textContent).join('|')")
        )
        await m.frame.locator("button.download[data-format=csv]").click()
        await m.page.wait_for_function("window.vfHost.record.downloads.length === 1")
        (call,) = [c for c in await m.calls() if c["name"] == "export_results"]
        assert call["arguments"]["query"] == m.result["sql"] and call["arguments"]["format"] == "csv"
        download = (await m.page.evaluate("window.vfHost.record.downloads"))[0]["contents"][0]
        assert download["type"] == "resource_link" and download["uri"].startswith("export://")
        await finish(m, "analyze_trends", shots)


async def test_metrics_view_and_drill_down(demo_dsn: str, shots: Path) -> None:
    args = {"table_name": "drops", "metric": "count", "group_by": ["status"]}
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "calculate_metrics", args)
        expected = {
            r["status"]: r["count"] for r in await sql(demo_dsn, "SELECT status, count(*) FROM drops GROUP BY 1")
        }
        rows = m.frame.locator(".bar-row")
        assert await rows.count() == len(expected)
        labels = await m.frame.locator(".bar-label").all_inner_texts()
        values = [int(v) for v in await m.frame.locator(".bar-row").evaluate_all("rs => rs.map(r => r.dataset.value)")]
        assert dict(zip(labels, values, strict=True)) == expected
        # hover: the exact value
        first = rows.nth(labels.index("completed"))
        await first.hover()
        tip = await m.frame.locator(".tip").inner_text()
        assert f"count(*): {expected['completed']:,}" in tip
        # table toggle
        await m.frame.locator("button.toggle").click()
        assert await m.frame.locator("table.grid tbody tr").count() == len(expected)
        await m.frame.locator("button.toggle").click()
        # click the bar: calculate_metrics filtered to it
        await first.click()
        await m.rendered(2)
        call = (await m.calls())[-1]
        assert call == {
            "name": "calculate_metrics",
            "arguments": {
                "table_name": "drops",
                "metric": "count",
                "filters": [{"column": "status", "operator": "=", "value": "completed"}],
            },
        }
        assert (await m.frame.locator(".big-number").inner_text()).replace(",", "") == str(expected["completed"])
        await m.frame.locator("button.back").click()
        await m.rendered(3)
        assert await m.frame.locator(".bar-row").count() == len(expected)
        await finish(m, "calculate_metrics", shots)


async def test_metrics_view_time_buckets_draw_a_line(demo_dsn: str) -> None:
    args = {"table_name": "drops", "metric": "count", "group_by": [{"column": "created_at", "period": "month"}]}
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "calculate_metrics", args)
        expected = await sql(
            demo_dsn,
            "SELECT date_trunc('month', created_at AT TIME ZONE 'UTC') AS m, count(*) FROM drops GROUP BY 1 ORDER BY 1",
        )
        assert int(await m.frame.get_attribute(".line-chart", "data-marks")) == len(expected)
        data = await uplot_data(m)
        assert data[1] == [r["count"] for r in expected]
        assert data[0][0] == expected[0]["m"].replace(tzinfo=UTC).timestamp()
        assert not m.errors, m.errors


async def test_rank_view(demo_dsn: str, shots: Path) -> None:
    args = {"table_name": "drops", "entity_column": "contractor_id", "rank_by": "id", "limit": 10}
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "rank_entities", args)
        expected = await sql(
            demo_dsn,
            "SELECT c.name, count(d.id) AS n, round(100.0 * count(d.id) / sum(count(d.id)) OVER (), 1) AS share "
            "FROM drops d JOIN contractors c ON c.id = d.contractor_id "
            "GROUP BY c.id, c.name ORDER BY 2 DESC, 1 LIMIT 10",
        )
        assert await m.marks(".bar-row") == 10
        labels = await m.frame.locator(".bar-label").all_inner_texts()
        values = [int(v) for v in await m.frame.locator(".bar-row").evaluate_all("rs => rs.map(r => r.dataset.value)")]
        assert values == [r["n"] for r in expected]
        assert labels[0] == f"1. {expected[0]['name']}"
        assert f"{float(expected[0]['share']):g}%" in await m.frame.locator(".bar-value").first.inner_text()
        await finish(m, "rank_entities", shots)


async def test_kpi_view_tile_opens_its_trend(demo_dsn: str, shots: Path) -> None:
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "get_kpi_dashboard", {"timeframe": "month"})
        kpis = m.result["kpis"]
        assert await m.marks(".tile") == len(kpis)
        active = (await sql(demo_dsn, "SELECT count(*) FROM projects WHERE status = 'active'"))[0]["count"]
        tile = m.frame.locator(".tile[data-kpi=active_projects] .tile-value")
        assert (await tile.inner_text()).split()[0] == str(active)
        windowed = next(k for k in kpis if k.get("trend"))
        assert await m.frame.locator(f".tile[data-kpi={windowed['name']}] svg.spark").count() == 1
        await m.frame.locator(f".tile[data-kpi={windowed['name']}]").click()
        await m.rendered(2)
        call = (await m.calls())[-1]
        assert call == {"name": "kpi_history", "arguments": {"name": windowed["name"], "timeframe": "month"}}
        assert int(await m.frame.get_attribute(".line-chart", "data-points")) == 13
        data = await uplot_data(m)
        assert data[1][-1] == windowed["value"]  # the period to date is the dashboard's current value
        await m.frame.locator("button.back").click()
        await m.rendered(3)
        await finish(m, "get_kpi_dashboard", shots)


ER_NODES = """() => {
  const svg = document.querySelector('svg.er').getBoundingClientRect();
  return [...document.querySelectorAll('g.node')].map((g) => {
    const r = g.querySelector('rect').getBoundingClientRect();
    const t = g.querySelector('text');
    return {table: g.dataset.table, left: r.left, top: r.top, right: r.right, bottom: r.bottom,
      px: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a,
      inside: r.left >= svg.left - 0.5 && r.right <= svg.right + 0.5 && r.top >= svg.top - 0.5
        && r.bottom <= svg.bottom + 0.5,
      classes: g.getAttribute('class').split(' '), opacity: Number(getComputedStyle(g).opacity)};
  });
}"""

ER_EDGES = """() => [...document.querySelectorAll('line.edge')].map((l) => {
  const end = (name, x, y) => {  // how far (diagram units) a point is outside the table's box (<= 0: inside)
    const g = document.querySelector(`g.node[data-table="${CSS.escape(name)}"]`);
    const m = g.transform.baseVal.consolidate().matrix;
    const r = g.querySelector('rect');
    return Math.max(Math.abs(x - m.e) - r.width.baseVal.value / 2, Math.abs(y - m.f) - r.height.baseVal.value / 2);
  };
  const v = (a) => l[a].baseVal.value;
  const style = getComputedStyle(l);
  return {table: l.dataset.table, ref: l.dataset.ref, kind: l.classList.contains('inferred') ? 'inferred' : 'declared',
    start: end(l.dataset.table, v('x1'), v('y1')), end: end(l.dataset.ref, v('x2'), v('y2')),
    marker: style.markerEnd, dashed: style.strokeDasharray !== 'none', hot: l.classList.contains('hot')};
})"""


async def er_nodes(m: Mounted) -> dict[str, dict[str, Any]]:
    nodes: list[dict[str, Any]] = await m.frame.evaluate(ER_NODES)
    return {n["table"]: n for n in nodes}


async def test_er_view_table_opens_its_schema(demo_dsn: str, shots: Path) -> None:
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "get_table_relationships", {})
        edges = m.result["edges"]
        tables = {e["table"] for e in edges} | {e["ref_table"] for e in edges} | set(m.result.get("isolated") or [])
        assert await m.marks("g.node") == len(tables)
        assert await m.marks("line.edge") == len(edges)
        declared = await sql(
            demo_dsn,
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE c.contype = 'f' AND n.nspname NOT IN ('pg_catalog', 'information_schema')",
        )
        assert sum(1 for e in edges if e["kind"] == "declared") == declared[0]["count"]

        # it opens on the best-connected table, its neighbours around it, every label on screen at >= 11 px
        related: dict[str, set[str]] = {t: set() for t in tables}
        for e in edges:
            if e["table"] != e["ref_table"]:
                related[e["table"]].add(e["ref_table"])
                related[e["ref_table"]].add(e["table"])
        hub = max(sorted(related), key=lambda t: len(related[t]))
        assert await m.frame.get_attribute(".er-wrap", "data-hub") == hub
        by_sql = await sql(  # the hub's neighbours through declared keys, from the catalogue
            demo_dsn,
            "SELECT DISTINCT ns.nspname || '.' || o.relname AS t FROM pg_constraint c "
            "JOIN pg_class o ON o.oid IN (c.conrelid, c.confrelid) JOIN pg_namespace ns ON ns.oid = o.relnamespace "
            "WHERE c.contype = 'f' AND $1::regclass IN (c.conrelid, c.confrelid) AND o.oid <> $1::regclass",
            hub,
        )
        inferred_near = {
            e["table"] if e["ref_table"] == hub else e["ref_table"]
            for e in edges
            if hub in (e["table"], e["ref_table"]) and e["kind"] != "declared"
        }
        assert {r["t"] for r in by_sql} | inferred_near == related[hub]
        assert f"Opens on {hub} ({len(related[hub])} related tables)" in await shown(m)
        assert "Fit for all" in await shown(m)
        nodes = await er_nodes(m)
        assert nodes[hub]["inside"] and nodes[hub]["px"] >= 11
        on_screen = [t for t, n in nodes.items() if n["inside"]]
        assert all(nodes[t]["px"] >= 11 for t in on_screen)
        assert sum(1 for t in related[hub] if nodes[t]["inside"]) >= len(related[hub]) / 2, on_screen

        # no two table boxes overlap
        boxes = sorted(nodes.values(), key=lambda n: n["left"])
        for i, p in enumerate(boxes):
            for q in boxes[i + 1 :]:
                if q["left"] >= p["right"]:
                    break
                assert q["top"] >= p["bottom"] or p["top"] >= q["bottom"], (p["table"], q["table"])

        # every key goes from the referencing table's box to the referenced one's, an arrow head there; inferred dashed
        drawn = await m.frame.evaluate(ER_EDGES)
        assert sorted((d["table"], d["ref"], d["kind"]) for d in drawn) == sorted(
            (e["table"], e["ref_table"], e["kind"]) for e in edges
        )
        for d in drawn:
            if d["table"] != d["ref"]:
                assert -0.5 <= d["start"] <= 0.5 and 0 <= d["end"] <= 2, d
                assert "er-arrow" in d["marker"], d
            assert d["dashed"] == (d["kind"] == "inferred"), d

        # hovering a table lights its keys and neighbours; the rest fades
        await m.frame.locator(f"g.node[data-table='{hub}']").hover()
        nodes = await er_nodes(m)
        assert {t for t, n in nodes.items() if "near" in n["classes"]} == related[hub] | {hub}
        assert all(n["opacity"] < 0.5 for t, n in nodes.items() if t not in related[hub] | {hub})
        drawn = await m.frame.evaluate(ER_EDGES)
        assert sum(1 for d in drawn if d["hot"]) == sum(1 for e in edges if hub in (e["table"], e["ref_table"]))
        await m.page.mouse.move(0, 0)

        before = await m.frame.get_attribute("svg.er", "viewBox")
        await m.frame.locator("button[aria-label='zoom in']").click()
        zoomed = await m.frame.get_attribute("svg.er", "viewBox")
        assert float(zoomed.split()[2]) < float(before.split()[2])
        await m.frame.locator("button", has_text="Fit").click()
        assert all(n["inside"] for n in (await er_nodes(m)).values())  # Fit shows every table

        # search: the matches are marked, the best one brought to the middle at a readable size
        search = m.frame.locator("input.er-search")
        await search.fill("payout")
        payouts = sorted(t for t in tables if "payout" in t)
        nodes = await er_nodes(m)
        assert payouts and sorted(t for t, n in nodes.items() if "match" in n["classes"]) == payouts
        first = (await m.frame.locator(".er-found").inner_text()).split(": ", 1)[1]
        assert first in payouts and f"1 of {len(payouts)}: {first}" in await shown(m)
        assert nodes[first]["inside"] and nodes[first]["px"] >= 11
        await search.fill("drops")
        nodes = await er_nodes(m)
        assert sorted(t for t, n in nodes.items() if "match" in n["classes"]) == sorted(
            t for t in tables if "drops" in t
        )
        assert nodes["public.drops"]["inside"] and nodes["public.drops"]["px"] >= 11  # the exact name comes first
        await search.fill("no such table")
        assert "no table matches" in await shown(m)
        await search.fill("drops")

        await m.frame.locator("g.node[data-table='public.drops']").click()
        await m.frame.wait_for_selector(".schema[data-table='public.drops']")
        assert (await m.calls())[-1] == {"name": "get_table_schema", "arguments": {"table_name": "public.drops"}}
        columns = [
            r["column_name"]
            for r in await sql(
                demo_dsn,
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = 'drops' ORDER BY ordinal_position",
            )
        ]
        shown_cols = await m.frame.locator(".schema tbody tr td:first-child").all_inner_texts()
        assert shown_cols == columns
        await finish(m, "get_table_relationships", shots)


async def test_explain_view(demo_dsn: str, shots: Path) -> None:
    query = "SELECT p.name, count(*) FROM drops d JOIN projects p ON p.id = d.project_id GROUP BY 1 ORDER BY 2 DESC"
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "explain_query", {"sql": query, "analyze": True})

        def count(node: dict[str, Any]) -> int:
            return 1 + sum(count(c) for c in node.get("Plans", []))

        assert await m.marks(".plan-node") == count(m.result["plan"][0]["Plan"])
        assert await m.marks(".plan-node.hot") >= 1
        labels = await m.frame.locator(".plan-label").all_inner_texts()
        assert any(label.startswith("Seq Scan on drops") for label in labels)
        await finish(m, "explain_query", shots)


async def test_quality_view(demo_dsn: str, shots: Path) -> None:
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "check_data_quality", {})
        tables = m.result["tables"]
        assert await m.marks(".card") == len(tables)
        rows = (await sql(demo_dsn, "SELECT count(*) FROM drops"))[0]["count"]
        card = m.frame.locator(".card[data-table='public.drops']")
        assert f"{rows:,} rows" in await card.inner_text()
        findings = sum(len(t["findings"]) for t in tables)
        assert await m.frame.locator(".findings li").count() == findings
        await card.click()
        await m.rendered(2)
        assert (await m.calls())[-1] == {"name": "check_data_quality", "arguments": {"table_name": "public.drops"}}
        assert await m.marks(".card") == 1
        await m.frame.locator("button.back").click()
        await m.rendered(3)
        await finish(m, "check_data_quality", shots)


async def test_compare_view(demo_dsn: str, shots: Path) -> None:
    args = {
        "table_name": "drops",
        "metric": "count",
        "compare_by": "time",
        "period": "year",
        "time_column": "created_at",
        "as_of": "2026-06-30",
    }
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "compare_data", args)
        this_year = (
            await sql(
                demo_dsn, "SELECT count(*) FROM drops WHERE created_at >= '2026-01-01' AND created_at < '2026-07-01'"
            )
        )[0]["count"]
        values = [int(v) for v in await m.frame.locator(".bar-row").evaluate_all("rs => rs.map(r => r.dataset.value)")]
        assert values[0] == this_year and len(values) == 2
        assert (await m.frame.locator(".change .pct").inner_text()).startswith(("+", "-"))
        await finish(m, "compare_data", shots)


async def test_run_query_view_grid_and_suggested_chart(demo_dsn: str, shots: Path) -> None:
    query = "SELECT date_trunc('month', created_at)::date AS month, count(*) AS drops FROM drops GROUP BY 1 ORDER BY 1"
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "run_query", {"sql": query})
        expected = await sql(demo_dsn, query)
        assert await m.frame.get_attribute(".line-chart", "data-suggested") == "line"
        assert int(await m.frame.get_attribute(".line-chart", "data-marks")) == len(expected)
        assert await m.marks("table.sortable tbody tr") == len(expected)
        await m.frame.locator("table.sortable th", has_text="drops").click()
        await m.frame.locator("table.sortable th", has_text="drops").click()  # descending
        top = await m.frame.locator("table.sortable tbody tr").first.locator("td").all_inner_texts()
        best = max(expected, key=lambda r: r["drops"])
        assert top == [best["month"].isoformat(), f"{best['drops']:,}"]
        await m.frame.locator("button.download[data-format=excel]").click()
        await m.page.wait_for_function("window.vfHost.record.downloads.length === 1")
        call = (await m.calls())[-1]
        assert call["name"] == "export_results" and call["arguments"] == {
            "query": query,
            "format": "excel",
            "params": [],
        }
        await finish(m, "run_query", shots)


async def test_database_values_render_as_text(demo_dsn: str) -> None:
    """A value holding markup is shown literally: no element is created from it, no script runs."""
    query = (
        "SELECT '<img src=x onerror=\"document.title=1\"><b>bold</b>' AS label, 1 AS n "
        "UNION ALL SELECT '<script>x</script>', 2"
    )
    async with session(demo_dsn) as (b, host, views, client):
        m = await mount(b, host, views, client, "run_query", {"sql": query})
        assert await m.frame.locator("#root img, #root b, #root script").count() == 0
        assert "<b>bold</b>" in await shown(m)
        assert await m.marks(".bar-row") == 2  # category + number: bars
        assert not m.errors, m.errors
        # a column name with markup becomes the line chart's legend label, as text
        named = (
            'SELECT d::date AS "<img src=x onerror=alert(1)>", 1 AS n '
            "FROM generate_series('2026-01-01'::date, '2026-01-05', '1 day') d"
        )
        m = await mount(b, host, views, client, "run_query", {"sql": named})
        assert await m.frame.locator("#root img").count() == 0
        assert "<img src=x onerror=alert(1)>" in await shown(m)
        assert int(await m.frame.get_attribute(".line-chart", "data-marks")) == 5
        assert not m.errors, m.errors


@pytest.mark.parametrize("mode", ["legacy"])
async def test_views_with_a_legacy_client(demo_dsn: str, mode: str, shots: Path) -> None:
    """The same view, results delivered by a client that negotiated the extension in initialize."""
    async with session(demo_dsn, mode) as (b, host, views, client):
        m = await mount(
            b,
            host,
            views,
            client,
            "rank_entities",
            {"table_name": "drops", "entity_column": "contractor_id", "rank_by": "id"},
        )
        assert await m.marks(".bar-row") == 10
        assert not m.errors, m.errors


async def test_render_time_for_1000_points(demo_dsn: str) -> None:
    """1,000 daily points, 1,000 grid rows, 1,000 category bars: measured and reported (no timing assertion)."""
    today = date.today()
    cases = [
        (
            "analyze_trends",
            {
                "table_name": "drops",
                "metric": "count",
                "period": "daily",
                "start_date": (today - timedelta(days=999)).isoformat(),
                "time_column": "created_at",
                "partial_periods": "include",
            },
            ".trend-chart",
        ),
        ("run_query", {"sql": "SELECT created_at, id FROM drops ORDER BY id"}, ".line-chart"),
        (
            "calculate_metrics",
            {"table_name": "drops", "metric": "sum", "column": "id", "group_by": ["id"], "limit": 1000},
            ".bar-chart",
        ),
        (
            "rank_entities",
            {"table_name": "drops", "entity_column": "id", "rank_by": "id", "metric": "sum", "limit": 1000},
            ".bar-chart",
        ),
    ]
    times = {}
    async with session(demo_dsn) as (b, host, views, client):
        for tool, args, selector in cases:
            m = await mount(b, host, views, client, tool, args, width=900)
            marks = int(await m.frame.get_attribute(selector, "data-marks"))
            assert marks >= 990, (tool, marks)
            times[tool] = float(await m.frame.evaluate("document.documentElement.dataset.renderMs"))
            assert not m.errors, m.errors
            await m.page.close()
    print("render ms for 1,000 points:", json.dumps(times))
