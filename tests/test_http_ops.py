"""Production HTTP: API keys (401), roles, rate limits, PII masking by role, /health, /metrics, Redis across
two instances, and a client that disconnects mid-call. Real vf-mcp subprocesses over real HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from conftest import PgCluster
from helpers import clean_env, sql, vf_mcp_http
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from test_ops_ratelimit import needs_redis, redis_url  # noqa: F401 (fixture)

from vf_mcp.ops.auth import hash_token

pytestmark = pytest.mark.anyio

TOKENS = {"analyst": "tok-analyst-123", "admin": "tok-admin-456", "tiny": "tok-tiny-789"}
PEOPLE = """
CREATE TABLE staff (id int PRIMARY KEY, full_name text, email text, phone text, team text);
INSERT INTO staff VALUES
  (1, 'Thandi Mokoena', 'thandi.mokoena@velocityfibre.co.za', '082 555 1234', 'north'),
  (2, 'Johan Botha', 'johan.botha@velocityfibre.co.za', '083 555 9876', 'south'),
  (3, 'Ayesha Khan', 'ayesha.khan@velocityfibre.co.za', '084 555 4567', 'north');
"""


@pytest.fixture(scope="module")
def people_dsn(pg: PgCluster) -> str:
    return pg.create_database("vf_http_ops", PEOPLE)


def write_config(path: Path, *, tiny_per_hour: int = 5, extra: str = "") -> Path:
    path.write_text(
        f"""{extra}
[[api_keys]]
name = "analyst-team"
sha256 = "{hash_token(TOKENS["analyst"])}"
role = "analyst"
requests_per_hour = 10000

[[api_keys]]
name = "ops-admin"
sha256 = "{hash_token(TOKENS["admin"])}"
role = "admin"
requests_per_hour = 10000
unmask_pii = true

[[api_keys]]
name = "tiny"
sha256 = "{hash_token(TOKENS["tiny"])}"
requests_per_hour = {tiny_per_hour}
"""
    )
    return path


@pytest.fixture
def server(people_dsn: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    config = write_config(tmp_path / "vf.toml")
    audit = tmp_path / "audit.jsonl"
    env = clean_env(VF_MCP_DSN=people_dsn, VF_MCP_AUDIT_LOG_PATH=str(audit))
    with vf_mcp_http(["serve", "--config", str(config)], env) as url:
        yield url, audit


def client_for(url: str, token: str | None) -> Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return Client(streamable_http_client(f"{url}/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=60)))


async def test_keys_are_required_and_401_says_nothing(server: tuple[str, Path]) -> None:
    url, _ = server
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with httpx2.AsyncClient() as http:
        for auth in (None, "Bearer wrong-token", "Basic dXNlcjpwYXNz", f"Bearer {TOKENS['analyst']}x"):
            h = dict(headers, Authorization=auth) if auth else headers
            r = await http.post(f"{url}/mcp", json=body, headers=h)
            assert r.status_code == 401 and r.content == b"", (auth, r.status_code, r.content)
        r = await http.get(f"{url}/health")
        assert r.status_code == 200 and r.json() == {"status": "ok"}  # no details without a key
        r = await http.get(f"{url}/metrics")
        assert r.status_code == 401
        r = await http.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKENS['analyst']}"})
        assert r.status_code == 401  # admins only
        # DNS-rebinding protection: a foreign Host header is refused even with a good key
        r = await http.post(
            f"{url}/mcp",
            json=body,
            headers=dict(headers, Host="evil.example.com", Authorization=f"Bearer {TOKENS['analyst']}"),
        )
        assert r.status_code in (400, 403, 421)


async def test_roles_pii_audit_health_metrics(server: tuple[str, Path], people_dsn: str) -> None:
    url, audit = server
    query = {"sql": "SELECT full_name, email, phone, team FROM staff ORDER BY id"}
    truth = [tuple(r) for r in await sql(people_dsn, query["sql"])]
    async with client_for(url, TOKENS["analyst"]) as analyst:
        masked = await analyst.call_tool("run_query", query)
        assert not masked.is_error
        rows = masked.structured_content["rows"]  # type: ignore[index]
        assert rows[0][1] == "t***@velocityfibre.co.za" and rows[0][2].endswith("1234") and "082" not in rows[0][2]
        assert [r[3] for r in rows] == [t[3] for t in truth]  # not personal: unchanged
        text = masked.content[0].text  # type: ignore[union-attr]
        assert "thandi.mokoena@" not in text and "Thandi Mokoena" not in text
        counted = await analyst.call_tool(
            "run_query", {"sql": "SELECT count(DISTINCT email) AS emails, count(*) AS n FROM staff"}
        )
        assert counted.structured_content["rows"] == [[3, 3]]  # type: ignore[index]  (aggregates survive)
    async with client_for(url, TOKENS["admin"]) as admin:
        raw = await admin.call_tool("run_query", query)
        assert [tuple(r) for r in raw.structured_content["rows"]] == truth  # type: ignore[index]
    async with httpx2.AsyncClient() as http:
        r = await http.get(f"{url}/health", headers={"Authorization": f"Bearer {TOKENS['admin']}"})
        report = r.json()
        assert r.status_code == 200 and report["status"] == "ok"
        assert report["database"]["status"] == "ok" and report["database"]["latency_ms"] > 0
        assert report["database"]["read_only_role"] is False  # the test DSN is a superuser
        assert report["memory"]["rss_bytes"] > 10_000_000 and report["uptime_s"] >= 0
        r = await http.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKENS['admin']}"})
        assert r.status_code == 200
        assert 'vf_mcp_tool_calls_total{tool="run_query"} 3' in r.text
        assert 'vf_mcp_tool_duration_seconds_count{tool="run_query"} 3' in r.text
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["identity"], r["tool"]) for r in records] == [
        ("analyst-team", "run_query"),
        ("analyst-team", "run_query"),
        ("ops-admin", "run_query"),
    ]
    assert records[0]["ok"] is True and records[0]["row_count"] == 3 and records[0]["sql"] == [query["sql"]]
    assert "@velocityfibre" not in audit.read_text().replace("***@velocityfibre", "")  # no clear emails


async def test_rate_limit_is_exact_under_a_burst(people_dsn: str, tmp_path: Path) -> None:
    config = write_config(tmp_path / "vf.toml", tiny_per_hour=5)
    env = clean_env(VF_MCP_DSN=people_dsn, VF_MCP_AUDIT_LOG_PATH="off")
    with vf_mcp_http(["serve", "--config", str(config)], env) as url:
        async with client_for(url, TOKENS["tiny"]) as tiny:
            results = await asyncio.gather(
                *(tiny.call_tool("run_query", {"sql": f"SELECT {i} AS i"}) for i in range(12))
            )
            ok = [r for r in results if not r.is_error]
            refused = [r.content[0].text for r in results if r.is_error]  # type: ignore[union-attr]
            assert len(ok) == 5 and len(refused) == 7
            assert all("Rate limit reached for API key 'tiny'" in t and "Retry after" in t for t in refused)
        async with client_for(url, TOKENS["analyst"]) as analyst:  # other keys are not affected
            assert not (await analyst.call_tool("run_query", {"sql": "SELECT 1"})).is_error


@needs_redis
async def test_two_instances_share_limits_and_cache_through_redis(
    people_dsn: str,
    tmp_path: Path,
    redis_url: str,  # noqa: F811
) -> None:
    config = write_config(tmp_path / "vf.toml", tiny_per_hour=6)
    env = clean_env(VF_MCP_DSN=people_dsn, VF_MCP_AUDIT_LOG_PATH="off", VF_MCP_REDIS_URL=redis_url)
    with (
        vf_mcp_http(["serve", "--config", str(config)], env) as a,
        vf_mcp_http(["serve", "--config", str(config)], env) as b,
    ):
        async with client_for(a, TOKENS["tiny"]) as ca, client_for(b, TOKENS["tiny"]) as cb:
            outcomes = []
            for i in range(10):  # alternate between the instances
                r = await (ca if i % 2 == 0 else cb).call_tool("run_query", {"sql": f"SELECT {i} AS i"})
                outcomes.append(not r.is_error)
            assert outcomes.count(True) == 6, outcomes  # one bucket across both instances
        async with client_for(a, TOKENS["analyst"]) as ca, client_for(b, TOKENS["analyst"]) as cb:
            first = await ca.call_tool(
                "run_query", {"sql": "SELECT team, count(*) FROM staff GROUP BY team ORDER BY team"}
            )
            second = await cb.call_tool(
                "run_query", {"sql": "SELECT team, count(*) FROM staff GROUP BY team ORDER BY team"}
            )
            assert first.structured_content["from_cache"] is False  # type: ignore[index]
            assert second.structured_content["from_cache"] is True  # type: ignore[index]  (B used A's answer)
            assert second.structured_content["rows"] == first.structured_content["rows"] == [["north", 2], ["south", 1]]  # type: ignore[index]


async def test_disconnect_cancels_the_running_query(people_dsn: str, tmp_path: Path) -> None:
    env = clean_env(VF_MCP_DSN=people_dsn, VF_MCP_AUDIT_LOG_PATH="off")
    with vf_mcp_http(["serve"], env) as url:

        async def running() -> int:
            rows = await sql(
                people_dsn,
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vf-mcp' "
                "AND query LIKE '%pg_sleep(30)%' AND state = 'active'",
            )
            return int(rows[0][0])

        async def call_then_hang_up() -> None:
            async with Client(f"{url}/mcp") as client:
                await client.call_tool("run_query", {"sql": "SELECT pg_sleep(30)"})

        task = asyncio.create_task(call_then_hang_up())
        deadline = time.monotonic() + 10
        while await running() == 0:
            assert time.monotonic() < deadline, "the query never started"
            await asyncio.sleep(0.1)
        task.cancel()  # the client goes away mid-call
        with pytest.raises((asyncio.CancelledError, Exception)):
            await task
        deadline = time.monotonic() + 5
        while await running() > 0:
            assert time.monotonic() < deadline, "the query kept running after the client left"
            await asyncio.sleep(0.1)


async def test_sse_needs_a_key_too(people_dsn: str, tmp_path: Path) -> None:
    from mcp.client.sse import sse_client

    config = write_config(tmp_path / "vf.toml")
    env = clean_env(VF_MCP_DSN=people_dsn, VF_MCP_AUDIT_LOG_PATH="off")
    with vf_mcp_http(["serve", "--config", str(config)], env, transport="sse") as url:
        async with httpx2.AsyncClient() as http:
            r = await http.get(f"{url}/sse")
            assert r.status_code == 401 and r.content == b""
        headers = {"Authorization": f"Bearer {TOKENS['analyst']}"}
        async with Client(sse_client(f"{url}/sse", headers=headers)) as client:
            out = await client.call_tool("run_query", {"sql": "SELECT count(*) FROM staff"})
            assert out.structured_content["rows"] == [[3]]  # type: ignore[index]


@pytest.mark.skipif(not shutil.which("openssl"), reason="openssl is not installed")
async def test_direct_tls(people_dsn: str, tmp_path: Path) -> None:
    """ssl_certfile/ssl_keyfile: uvicorn serves HTTPS itself; the client verifies the certificate."""
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    config = write_config(tmp_path / "vf.toml")
    env = clean_env(
        VF_MCP_DSN=people_dsn, VF_MCP_AUDIT_LOG_PATH="off", VF_MCP_SSL_CERTFILE=str(cert), VF_MCP_SSL_KEYFILE=str(key)
    )
    with vf_mcp_http(["serve", "--config", str(config)], env) as url:
        https = url.replace("http://", "https://")
        context = ssl.create_default_context(cafile=str(cert))
        async with httpx2.AsyncClient(verify=context) as http:
            r = await http.get(f"{https}/health")
            assert r.status_code == 200 and r.json() == {"status": "ok"}
        async with httpx2.AsyncClient() as http:
            with pytest.raises(httpx2.HTTPError):
                await http.get(f"{url}/health")  # plain HTTP is not served
        headers = {"Authorization": f"Bearer {TOKENS['analyst']}"}
        async with httpx2.AsyncClient(verify=context, headers=headers, timeout=30) as hc:
            async with Client(streamable_http_client(f"{https}/mcp", http_client=hc)) as client:
                out = await client.call_tool("run_query", {"sql": "SELECT count(*) FROM staff"})
            assert out.structured_content["rows"] == [[3]]  # type: ignore[index]


def test_check_and_hash_key_commands(people_dsn: str) -> None:
    env = clean_env(VF_MCP_DSN=people_dsn, VF_MCP_AUDIT_LOG_PATH="off")
    ok = subprocess.run(
        [sys.executable, "-m", "vf_mcp.cli", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["status"] == "ok" and report["database"]["status"] == "ok"
    assert report["database"]["server_version"] and report["pool"]["default"]["size"] >= 1
    assert set(report) >= {"version", "uptime_s", "pool", "cache", "memory"}
    down = clean_env(VF_MCP_DSN="postgresql://postgres@127.0.0.1:1/x", VF_MCP_AUDIT_LOG_PATH="off")
    bad = subprocess.run(
        [sys.executable, "-m", "vf_mcp.cli", "check"],
        env=down,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and json.loads(bad.stdout)["status"] == "unavailable"
    hashed = subprocess.run(
        [sys.executable, "-m", "vf_mcp.cli", "hash-key", "s3cret"], capture_output=True, text=True, timeout=30
    )
    assert hashed.stdout.strip() == "sha256: " + hashlib.sha256(b"s3cret").hexdigest()
    fresh = subprocess.run([sys.executable, "-m", "vf_mcp.cli", "hash-key"], capture_output=True, text=True, timeout=30)
    token_line, hash_line = fresh.stdout.splitlines()
    token = token_line.removeprefix("token: ")
    assert len(token) >= 32 and hash_line == "sha256: " + hashlib.sha256(token.encode()).hexdigest()
