"""The real `vf-mcp` command: over stdio, over streamable HTTP, and `vf-mcp call`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import clean_env, sql, vf_mcp_http
from mcp import Client, StdioServerParameters

pytestmark = pytest.mark.anyio


def _env(dsn: str) -> dict[str, str]:
    return clean_env(VF_MCP_DSN=dsn)


async def test_stdio_serve(demo_dsn: str) -> None:
    count = (await sql(demo_dsn, "SELECT count(*) AS n FROM contractors"))[0]["n"]
    params = StdioServerParameters(command=sys.executable, args=["-m", "vf_mcp.cli", "serve"], env=_env(demo_dsn))
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {
            "run_query",
            "list_tables",
            "get_table_schema",
            "get_table_stats",
            "get_database_overview",
        } <= names
        result = await client.call_tool("run_query", {"sql": "SELECT count(*) AS n FROM contractors"})
        assert result.structured_content is not None
        assert result.structured_content["rows"] == [[count]]
        refused = await client.call_tool("run_query", {"sql": "DROP TABLE contractors"})
        assert refused.is_error
        resources = await client.list_resources()
        assert "schema://tables" in [r.uri for r in resources.resources]
        templates = await client.list_resource_templates()
        assert "schema://{schema}/{table}" in [t.uri_template for t in templates.resource_templates]


async def test_streamable_http_serve(demo_dsn: str) -> None:
    with vf_mcp_http(["serve"], _env(demo_dsn)) as url:
        async with Client(f"{url}/mcp") as client:
            result = await client.call_tool("list_tables", {"name_pattern": "%taff"})
            assert result.structured_content is not None
            assert [t["name"] for t in result.structured_content["tables"]] == ["staff"]


async def test_sse_serve(demo_dsn: str) -> None:
    """SSE, for older clients."""
    from mcp.client.sse import sse_client

    count = (await sql(demo_dsn, "SELECT count(*) AS n FROM staff"))[0]["n"]
    with vf_mcp_http(["serve"], _env(demo_dsn), transport="sse") as url:
        async with Client(sse_client(f"{url}/sse")) as client:
            result = await client.call_tool("run_query", {"sql": "SELECT count(*) AS n FROM staff"})
            assert result.structured_content is not None
            assert result.structured_content["rows"] == [[count]]


def test_cli_call_prints_json(demo_dsn: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vf_mcp.cli", "call", "run_query", '{"sql": "SELECT 40 + 2 AS answer"}'],
        env=_env(demo_dsn),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["rows"] == [[42]] and data["columns"] == [{"name": "answer", "type": "integer"}]


def test_cli_call_error_goes_to_stderr(demo_dsn: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vf_mcp.cli", "call", "get_table_schema", '{"table_name": "nope"}'],
        env=_env(demo_dsn),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and out.stdout == ""
    assert "not found" in out.stderr and "Traceback" not in out.stderr


def test_missing_dsn_is_a_clear_error() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VF_MCP_")}
    out = subprocess.run(
        [sys.executable, "-m", "vf_mcp.cli", "call", "list_tables"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "VF_MCP_DSN" in out.stderr and "Traceback" not in out.stderr


def test_password_never_printed(demo_dsn: str) -> None:
    bad = "postgresql://someone:Sup3rSecretPw@127.0.0.1:1/nowhere"
    out = subprocess.run(
        [sys.executable, "-m", "vf_mcp.cli", "call", "list_tables", "--dsn", bad],
        env=_env(demo_dsn),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "Sup3rSecretPw" not in out.stderr + out.stdout
    assert "Cannot connect" in out.stderr


async def test_demo_command_serves_and_stops_its_postgres(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The README's first command: `vf-mcp demo` loads the demo, serves it, and stops PostgreSQL on exit."""
    data_dir = tmp_path / "pgdata"
    with vf_mcp_http(["demo", "--data-dir", str(data_dir)], clean_env(), wait_s=90) as url:
        async with Client(f"{url}/mcp") as client:
            out = await client.call_tool("run_query", {"sql": "SELECT count(*) FROM onemap_properties"})
            assert out.structured_content is not None and out.structured_content["rows"] == [[32564]]
            overview = await client.call_tool("get_database_overview", {})
            assert overview.structured_content is not None
            assert overview.structured_content["role_safety"]["read_only"] is True  # served as a read-only role
        assert (data_dir / "postmaster.pid").exists()
    assert not (data_dir / "postmaster.pid").exists()  # the embedded server stopped with the command (SIGTERM)
