"""The /ui page of `vf-mcp serve --transport http`: the views for browsers whose client has no MCP Apps.

A real vf-mcp subprocess with API keys; headless Chromium types the key, picks a tool, fills its arguments and
sees the view; the calls went through /mcp under that key (audit log), and a wrong key gets nothing.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import clean_env, sql, vf_mcp_http
from tests.ui_browser import browser, chromium_available
from vf_mcp.ops.auth import hash_token

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason="the Debian package chromium is not installed"),
]

TOKEN = "tok-ui-page-123"


def get(url: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


async def test_ui_page_runs_a_tool_under_the_api_key(demo_dsn: str, tmp_path: Path) -> None:
    config = tmp_path / "vf.toml"
    config.write_text(f'[[api_keys]]\nname = "page-user"\nsha256 = "{hash_token(TOKEN)}"\nrole = "analyst"\n')
    audit = tmp_path / "audit.jsonl"
    env = clean_env(VF_MCP_DSN=demo_dsn, VF_MCP_AUDIT_LOG_PATH=str(audit))
    with vf_mcp_http(["serve", "--config", str(config)], env) as base:
        status, body, headers = get(f"{base}/ui/")
        assert (
            status == 200 and b"vf-mcp views" in body and "frame-ancestors 'none'" in headers["content-security-policy"]
        )
        status, body, headers = get(f"{base}/ui/view/rank.html")
        csp = headers["content-security-policy"]
        assert status == 200 and csp.startswith("default-src 'none'") and "connect-src 'none'" in csp
        assert "sandbox allow-scripts" in csp and "frame-ancestors 'self'" in csp
        assert b'<meta name="vf-view" content="rank">' in body
        assert get(f"{base}/ui/view/nope.html")[0] == 404
        assert get(f"{base}/mcp")[0] == 401  # the data stays behind the key

        async with browser() as b:
            page = await b.new_page(viewport={"width": 1000, "height": 1200})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{base}/ui/")
            await page.fill("#key", "wrong-key")
            await page.click("#load")
            await page.wait_for_selector("#err:has-text('401')")
            errors.clear()  # the browser logs the refused request itself

            await page.fill("#key", TOKEN)
            await page.click("#load")
            await page.wait_for_selector("#tool:not([disabled])")
            names = await page.locator("#tool option").all_inner_texts()
            assert "rank_entities" in names and "kpi_history" not in names and "list_tables" not in names
            await page.select_option("#tool", "rank_entities")
            await page.fill("#arg-table_name", "drops")
            await page.fill("#arg-entity_column", "contractor_id")
            await page.fill("#arg-rank_by", "id")
            await page.fill("#arg-limit", "5")
            await page.click("#run")
            frame = None
            for _ in range(200):
                frame = next((f for f in page.frames if f.url.endswith("/ui/view/rank.html")), None)
                if frame is not None and await frame.evaluate("document.documentElement.dataset.rendered || ''"):
                    break
                await page.wait_for_timeout(50)
            assert frame is not None
            values = await frame.locator(".bar-row").evaluate_all("rs => rs.map(r => Number(r.dataset.value))")
            expected = await sql(
                demo_dsn, "SELECT count(id) AS n FROM drops GROUP BY contractor_id ORDER BY 1 DESC LIMIT 5"
            )
            assert values == [r["n"] for r in expected]
            assert not errors, errors
    calls = [json.loads(line) for line in audit.read_text().splitlines()]
    ranked = [c for c in calls if c.get("tool") == "rank_entities"]
    assert ranked and all(c.get("identity") == "page-user" for c in ranked), ranked


@pytest.mark.parametrize("stateless", [True, False])
async def test_views_over_http_per_negotiation(demo_dsn: str, stateless: bool) -> None:
    """Over real HTTP: an Apps client gets the views; a client that declared other capabilities gets today's list.

    A legacy request over stateless HTTP carries no capabilities (initialize was another request): the views
    are advertised (inert `_meta` for a client without Apps) but the app-only helper is not listed.
    """
    import mcp.client
    from mcp import Client

    from vf_mcp.ui.views import APP_MIME_TYPE, EXTENSION_ID

    ext = mcp.client.advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    env = clean_env(VF_MCP_DSN=demo_dsn, VF_MCP_STATELESS_HTTP=str(stateless).lower())
    seen: dict[tuple[str, bool], dict[str, object]] = {}
    with vf_mcp_http(["serve"], env) as base:
        for mode in ("legacy", "auto"):
            for apps in (True, False):
                async with Client(f"{base}/mcp", mode=mode, extensions=[ext] if apps else []) as client:  # type: ignore[arg-type]
                    tools = {t.name: t for t in (await client.list_tools()).tools}
                    seen[(mode, apps)] = {
                        "ui": (tools["run_query"].meta or {}).get("ui"),
                        "helper": "kpi_history" in tools,
                    }
                    if apps:
                        history = await client.call_tool("kpi_history", {"name": "active_contractors", "periods": 2})
                        assert not history.is_error, history.content
    grid = {"resourceUri": "ui://vf-mcp/grid.html"}
    assert seen[("auto", True)] == {"ui": grid, "helper": True}
    assert seen[("auto", False)] == {"ui": None, "helper": False}
    assert seen[("legacy", False)] == ({"ui": grid, "helper": False} if stateless else {"ui": None, "helper": False})
    assert seen[("legacy", True)] == ({"ui": grid, "helper": False} if stateless else {"ui": grid, "helper": True})
