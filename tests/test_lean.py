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
        assert '"description"' not in text and '"required"' not in text
