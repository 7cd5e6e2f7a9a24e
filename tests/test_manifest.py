"""The tool manifest: equal to what the tool functions give, and start-up imports no tool family module."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from mcp import Client

from tests.helpers import call, settings_for
from vf_mcp.manifest import FAMILIES, MANIFEST_PATH, build_manifest
from vf_mcp.server import build_server

pytestmark = pytest.mark.anyio


def test_the_manifest_is_what_the_functions_publish() -> None:
    shipped = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    built = build_manifest()
    assert [t["name"] for t in shipped] == [t["name"] for t in built], "run: python -m vf_mcp.manifest"
    for have, want in zip(shipped, built, strict=True):
        assert have == want, f"{want['name']} changed: run `python -m vf_mcp.manifest` and commit vf_mcp/tools.json"


HEAVY = (
    "sqlglot",
    "asyncmy",
    "playwright",
    "polars",
    "pyarrow",
    "xlsxwriter",
    "redis",
    "asyncssh",
    "pglast",
    "asyncpg",
)
"""Libraries a PostgreSQL server over stdio loads only on first use (MySQL sources, exports, tunnels, Redis; the
driver itself with the start-up check of the database, which runs after the handshake)."""


def test_start_up_imports_no_tool_family() -> None:
    code = (
        "import asyncio, sys\n"
        "from mcp import Client\n"
        "from vf_mcp.server import build_server\n"
        "from vf_mcp.settings import Settings\n"
        f"HEAVY = {HEAVY!r}\n"
        "async def main():\n"
        "    server = build_server(Settings(dsn='postgresql://nobody@127.0.0.1:9/none'))\n"
        "    names = [t.name for t in (await server.list_tools())]\n"
        "    heavy = sorted(m for m in sys.modules if m.split('.')[0] in HEAVY)\n"
        "    assert not heavy, heavy\n"
        "    print(len(names), sorted(m for m in sys.modules if m.startswith('vf_mcp.tools.')))\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    count, loaded = out.stdout.split(" ", 1)
    assert int(count) == len(json.loads(MANIFEST_PATH.read_text(encoding="utf-8")))
    families = set(FAMILIES.values())  # export:// is served by vf_mcp.tools.export_files, not the tool module
    assert not families & set(eval(loaded)), loaded


async def test_a_lazy_tool_answers_like_the_function(demo_dsn: str) -> None:
    async with Client(build_server(settings_for(demo_dsn))) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        assert (
            listed["run_query"].output_schema is not None
            and "source" not in listed["run_query"].input_schema["properties"]
        )
        out = await call(client, "run_query", {"sql": "SELECT 41 + 1 AS answer"})
        assert out["rows"] == [[42]]
