"""MCP Apps protocol: `_meta.ui` and the ui:// views only for clients that negotiated the extension.

In-process clients, legacy (`initialize` capabilities) and 2026-07-28 (each request's envelope); the views'
behaviour in a real browser is tests/test_ui_browser.py.
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import mcp.client
import pytest
from mcp import Client

from tests.helpers import call, call_error, settings_for, sql
from vf_mcp.server import build_server
from vf_mcp.ui.views import APP_MIME_TYPE, EXTENSION_ID, VIEWS

UNUSED_DSN = "postgresql://unused@127.0.0.1:1/unused"  # listings need no database
MODES = ["legacy", "auto"]  # auto reaches 2026-07-28 in-process


def apps_client(server: Any, mode: str) -> Client:
    ext = mcp.client.advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    return Client(server, mode=mode, extensions=[ext])  # type: ignore[arg-type]


def dumped(tools: list[Any]) -> dict[str, dict[str, Any]]:
    return {t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_views_are_advertised_only_to_clients_that_negotiated_apps(mode: str) -> None:
    settings = settings_for(UNUSED_DSN)
    async with Client(build_server(settings), mode=mode) as plain:  # type: ignore[arg-type]
        without = dumped((await plain.list_tools()).tools)
        plain_resources = [str(r.uri) for r in (await plain.list_resources()).resources]
    async with apps_client(build_server(settings), mode) as apps:
        advertised = apps.server_capabilities.extensions or {}
        with_ui = dumped((await apps.list_tools()).tools)
        resources = {str(r.uri): r for r in (await apps.list_resources()).resources}
        reads = {uri: await apps.read_resource(uri) for uri in resources if uri.startswith("ui://")}
    async with Client(build_server(settings_for(UNUSED_DSN, ui=False)), mode=mode) as off:  # type: ignore[arg-type]
        today = dumped((await off.list_tools()).tools)
        off_resources = [str(r.uri) for r in (await off.list_resources()).resources]

    if mode == "auto":  # the server's side (2026-07-28; the SDK sieves the field from legacy initialize results)
        assert EXTENSION_ID in advertised

    # Without the extension: exactly the listing of a server without views.
    assert without == today and plain_resources == off_resources
    assert not any("ui" in t.get("_meta", {}) for t in without.values())
    assert not any(u.startswith("ui://") for u in plain_resources)
    assert "kpi_history" not in without

    # With it: every tool that has a view points at a ui:// resource (the stable nested key only).
    for name, view in VIEWS.items():
        meta = with_ui[name]["_meta"]
        assert meta["ui"]["resourceUri"] == f"ui://vf-mcp/{view}.html"
        assert "ui/resourceUri" not in meta
    assert with_ui["kpi_history"]["_meta"]["ui"]["visibility"] == ["app"]
    assert "visibility" not in with_ui["run_query"]["_meta"]["ui"]
    assert {k: v for k, v in with_ui.items() if k not in VIEWS} == {k: v for k, v in today.items() if k not in VIEWS}
    for name in VIEWS.keys() - {"kpi_history"}:  # the rest of each tool unchanged
        assert {k: v for k, v in with_ui[name].items() if k != "_meta"} == {
            k: v for k, v in today[name].items() if k != "_meta"
        }

    # Each view: exactly one HTML document, of the MCP Apps MIME type, fully inline, with no CSP allowance.
    assert set(reads) == {f"ui://vf-mcp/{v}.html" for v in set(VIEWS.values())}
    for uri, read in reads.items():
        assert len(read.contents) == 1
        content = read.contents[0]
        assert content.mime_type == APP_MIME_TYPE and str(content.uri) == uri
        assert (content.meta or {}).get("ui", {}).get("csp") == {}  # no network allowance: no domains at all
        html: str = content.text  # type: ignore[union-attr]
        assert html.lstrip().lower().startswith("<!doctype html>")
        view = uri.removeprefix("ui://vf-mcp/").removesuffix(".html")
        assert f'<meta name="vf-view" content="{view}">' in html
        assert "<script src" not in html and "<link " not in html and "http://" not in html.split("<body")[0]
        assert resources[uri].mime_type == APP_MIME_TYPE


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_app_only_helper_is_unknown_to_other_clients(mode: str, demo_dsn: str) -> None:
    args = {"name": "active_contractors", "timeframe": "month", "periods": 3, "as_of": "2026-06-15"}
    async with Client(build_server(settings_for(demo_dsn)), mode=mode) as plain:  # type: ignore[arg-type]
        result = await plain.call_tool("kpi_history", args)
        assert result.is_error and "Unknown tool: kpi_history" in result.content[0].text  # type: ignore[union-attr]
    async with apps_client(build_server(settings_for(demo_dsn)), mode) as apps:
        history = await call(apps, "kpi_history", args)
        snapshot = await call_error(apps, "kpi_history", {"name": "active_projects"})
        unknown = await call_error(apps, "kpi_history", {"name": "nope"})
    bounds = ["2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01", "2026-06-16"]
    expected = [
        (
            await sql(
                demo_dsn,
                "SELECT count(DISTINCT contractor_id) AS n FROM drops "
                "WHERE created_at >= $1::date::timestamp AT TIME ZONE 'UTC' "
                "AND created_at < $2::date::timestamp AT TIME ZONE 'UTC'",
                date.fromisoformat(start),
                date.fromisoformat(end),
            )
        )[0]["n"]
        for start, end in itertools.pairwise(bounds)
    ]
    assert [p["value"] for p in history["points"]] == expected
    assert [p["start"][:10] for p in history["points"]] == bounds[:-1]
    assert [p["partial"] for p in history["points"]] == [False, False, False, True]
    assert history["points"][-1]["end"].startswith("2026-06-16") and history["unit"] == "contractors"
    assert "snapshot" in snapshot and "No KPI 'nope'" in unknown


@pytest.mark.anyio
async def test_tool_answers_are_the_same_with_and_without_apps(demo_dsn: str) -> None:
    args = {"table_name": "drops", "metric": "count", "group_by": "status"}
    async with Client(build_server(settings_for(demo_dsn))) as plain:
        a = await plain.call_tool("calculate_metrics", args)
    async with apps_client(build_server(settings_for(demo_dsn)), "auto") as apps:
        b = await apps.call_tool("calculate_metrics", args)
    assert a.structured_content is not None and b.structured_content is not None
    assert a.structured_content["results"] == b.structured_content["results"]
    assert a.content[0].text.split("(")[0] == b.content[0].text.split("(")[0]  # type: ignore[union-attr]


def test_ui_setting_turns_the_http_page_off() -> None:
    from vf_mcp.server import build_http_app
    from vf_mcp.ui.page import UiPage

    on = build_http_app(settings_for(UNUSED_DSN, transport="http"), announce=False)
    off = build_http_app(settings_for(UNUSED_DSN, transport="http", ui=False), announce=False)
    assert isinstance(on, UiPage) and not isinstance(off, UiPage)
