"""Lean: what every conversation pays for (tools/list) and the `tools` setting that trims it."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from tests.helpers import settings_for
from vf_mcp.errors import ConfigError
from vf_mcp.server import TOOL_FAMILIES, build_server
from vf_mcp.settings import Settings

UNUSED_DSN = "postgresql://unused@127.0.0.1:1/unused"  # tools/list needs no database


async def _listed(settings: Settings) -> list[dict[str, object]]:
    async with Client(build_server(settings)) as client:
        tools = (await client.list_tools()).tools
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


@pytest.mark.anyio
async def test_tools_setting_publishes_only_chosen_families() -> None:
    everything = {t["name"] for t in await _listed(settings_for(UNUSED_DSN))}
    chosen = {t["name"] for t in await _listed(settings_for(UNUSED_DSN, tools=("core", "analytics")))}
    core = {t.fn.__name__ for t in TOOL_FAMILIES["core"].TOOLS}
    analytics = {t.fn.__name__ for t in TOOL_FAMILIES["analytics"].TOOLS}
    assert chosen == core | analytics
    assert chosen < everything and "run_query" in chosen and "explain_query" not in chosen


def test_tools_setting_from_the_environment_and_unknown_families(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VF_MCP_TOOLS", "Core, analytics")
    assert Settings(dsn=UNUSED_DSN).tools == ("core", "analytics")
    monkeypatch.setenv("VF_MCP_TOOLS", '["core"]')
    assert Settings(dsn=UNUSED_DSN).tools == ("core",)
    with pytest.raises(ConfigError) as err:
        build_server(settings_for(UNUSED_DSN, tools=("core", "charts")))
    assert "charts" in err.value.message and "analytics" in err.value.message  # names the valid families


@pytest.mark.anyio
async def test_source_argument_only_with_several_sources() -> None:
    one = await _listed(settings_for(UNUSED_DSN))
    optional = [t for t in one if "source" not in t["inputSchema"].get("required", [])]  # type: ignore[union-attr]
    assert not any("source" in t["inputSchema"].get("properties", {}) for t in optional)  # type: ignore[union-attr]
    two = await _listed(
        settings_for(
            UNUSED_DSN,
            sources=[{"name": "a", "dsn": UNUSED_DSN}, {"name": "b", "dsn": UNUSED_DSN}],
        )
    )
    with_source = [t["name"] for t in two if "source" in t["inputSchema"].get("properties", {})]  # type: ignore[union-attr]
    assert "run_query" in with_source and "calculate_metrics" in with_source


@pytest.mark.anyio
async def test_read_only_tools_are_published_compactly() -> None:
    for tool in await _listed(settings_for(UNUSED_DSN)):
        hints = tool["annotations"]
        assert hints["readOnlyHint"] is True and "destructiveHint" not in hints and "idempotentHint" not in hints  # type: ignore[index,operator]
        assert "\n    " not in str(tool["description"])  # docstrings are dedented
        text = json.dumps(tool.get("outputSchema") or {})
        assert '"required"' not in text and '"message"' not in text


@pytest.mark.anyio
async def test_http_workers_share_the_port_and_all_answer(demo_dsn: str) -> None:
    """`--workers 2`: two processes accept on one port (stateless HTTP); every call is answered correctly."""
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.helpers import call, clean_env, sql

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    command = [sys.executable, "-m", "vf_mcp.cli", "serve", "--dsn", demo_dsn, "--transport", "http"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "2"],
        env=clean_env(VF_MCP_AUDIT_LOG_PATH="off"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 1  # the parent serves too: two workers in all
        (want,) = await sql(demo_dsn, "SELECT count(*) AS n FROM drops")
        for _ in range(3):  # fresh clients: connections land on either worker
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                for _ in range(5):
                    out = await call(client, "run_query", {"sql": "SELECT count(*) AS n FROM drops"})
                    assert out["rows"] == [[want["n"]]]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 143, -15), err
    assert "each keeps its own rate limits" in err  # said at start-up without redis_url
    assert err.count("serving") <= 1 and "Traceback" not in err
