"""API keys and the HTTP gateway (auth, /health, /metrics, /exports pass-through, lifespan, streaming)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import Context, MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from vf_mcp.ops.auth import Identity, KeyRing, hash_token
from vf_mcp.ops.http import GatewayMiddleware, identity_from_scope
from vf_mcp.ops.metrics import Metrics
from vf_mcp.settings import ApiKey

pytestmark = pytest.mark.anyio

ANALYST_TOKEN = "analyst-secret-token"
ADMIN_TOKEN = "admin-secret-token"
KEYS = (
    ApiKey(name="team", sha256=hash_token(ANALYST_TOKEN), role="analyst", unmask_pii=True),
    ApiKey(name="ops", sha256=hash_token(ADMIN_TOKEN), role="admin", requests_per_hour=7, unmask_pii=True),
)


def test_hash_token_is_hex_sha256() -> None:
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()


def test_keyring_lookup() -> None:
    ring = KeyRing(KEYS, default_per_hour=100)
    assert ring.enabled
    analyst = ring.lookup(f"Bearer {ANALYST_TOKEN}")
    assert analyst == Identity(name="team", role="analyst", requests_per_hour=100, unmask_pii=False)
    admin = ring.lookup(f"bearer   {ADMIN_TOKEN}  ")
    assert admin == Identity(name="ops", role="admin", requests_per_hour=7, unmask_pii=True)
    assert ring.lookup(f"BEARER {ADMIN_TOKEN}") == admin
    for bad in (
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Basic {ADMIN_TOKEN}",
        ADMIN_TOKEN,
        "Bearer nope",
        f"Bearer {ADMIN_TOKEN}x",
    ):
        assert ring.lookup(bad) is None, bad
    assert not KeyRing((), default_per_hour=100).enabled
    assert KeyRing((), default_per_hour=100).lookup(f"Bearer {ADMIN_TOKEN}") is None


def test_keyring_compares_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A match on the first key still compares against all the others (no early exit)."""
    calls: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr("vf_mcp.ops.auth.hmac.compare_digest", counting)
    ring = KeyRing(KEYS, default_per_hour=100)
    assert ring.lookup(f"Bearer {ANALYST_TOKEN}") is not None
    assert len(calls) == len(KEYS)
    calls.clear()
    assert ring.lookup("Bearer unknown") is None
    assert len(calls) == len(KEYS)


def test_local_identity() -> None:
    local = Identity.local()
    assert (local.name, local.role, local.requests_per_hour) == ("stdio", "local", None)
    assert local.is_admin
    assert not Identity("a", "analyst", 10, False).is_admin


# --- middleware -------------------------------------------------------------------------------------------


async def whoami(request: Request) -> PlainTextResponse:
    identity = getattr(request.state, "vf_identity", None)
    assert identity is identity_from_scope(request.scope)
    return PlainTextResponse(identity.name if identity else "<none>")


async def export_file(request: Request) -> PlainTextResponse:
    return PlainTextResponse("file:" + request.path_params["name"])


def inner_app(events: dict[str, Any] | None = None) -> Starlette:
    events = events if events is not None else {}

    async def stream(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            await events["release"].wait()
            yield b"second\n"

        return StreamingResponse(body(), media_type="text/plain")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events["started"] = True
        yield
        events["stopped"] = True

    return Starlette(
        routes=[
            Route("/mcp", whoami, methods=["GET", "POST"]),
            Route("/exports/{name}", export_file),
            Route("/stream", stream),
        ],
        lifespan=lifespan,
    )


class HealthProbe:
    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.seen: list[Identity | None] = []

    async def __call__(self, identity: Identity | None) -> tuple[int, dict[str, Any]]:
        self.seen.append(identity)
        if identity is not None and identity.is_admin:
            return self.status, {"status": "ok" if self.status == 200 else "down", "details": {"pool": 1}}
        return self.status, {"status": "ok" if self.status == 200 else "down"}


def gateway(keys: tuple[ApiKey, ...] = KEYS, health: HealthProbe | None = None) -> tuple[GatewayMiddleware, Metrics]:
    metrics = Metrics()
    metrics.observe_call("run_query", 0.02, True)
    app = GatewayMiddleware(
        inner_app(),
        keyring=KeyRing(keys, default_per_hour=100),
        health=health or HealthProbe(),
        metrics=metrics.render,
    )
    return app, metrics


def client(app: GatewayMiddleware) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_requires_token_with_empty_401() -> None:
    app, _ = gateway()
    async with client(app) as c:
        for headers in ({}, bearer("wrong"), {"Authorization": f"Basic {ADMIN_TOKEN}"}):
            r = await c.post("/mcp", headers=headers, json={"jsonrpc": "2.0"})
            assert r.status_code == 401
            assert r.content == b""
            assert r.headers["www-authenticate"] == "Bearer"
        r = await c.post("/mcp", headers=bearer(ANALYST_TOKEN))
        assert (r.status_code, r.text) == (200, "team")
        r = await c.get("/mcp", headers={"authorization": f"bearer {ADMIN_TOKEN}"})
        assert (r.status_code, r.text) == (200, "ops")


async def test_exports_pass_without_auth() -> None:
    app, _ = gateway()
    async with client(app) as c:
        r = await c.get("/exports/report.csv")
        assert (r.status_code, r.text) == (200, "file:report.csv")
        r = await c.get("/exports/../mcp")  # dot segments do not escape the prefix
        assert r.status_code == 401


async def test_metrics_admin_only() -> None:
    app, _ = gateway()
    async with client(app) as c:
        assert (await c.get("/metrics")).status_code == 401
        assert (await c.get("/metrics", headers=bearer(ANALYST_TOKEN))).status_code == 401
        r = await c.get("/metrics", headers=bearer(ADMIN_TOKEN))
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert 'vf_mcp_tool_calls_total{tool="run_query"} 1' in r.text
        assert (await c.post("/metrics", headers=bearer(ADMIN_TOKEN))).status_code == 405


async def test_health_shape_and_status() -> None:
    probe = HealthProbe()
    app, _ = gateway(health=probe)
    async with client(app) as c:
        r = await c.get("/health")
        assert (r.status_code, r.json()) == (200, {"status": "ok"})
        assert r.headers["content-type"] == "application/json"
        r = await c.get("/health", headers=bearer(ADMIN_TOKEN))
        assert r.json() == {"status": "ok", "details": {"pool": 1}}
        r = await c.get("/health", headers=bearer("wrong"))
        assert r.json() == {"status": "ok"}
        assert [i.name if i else None for i in probe.seen] == [None, "ops", None]
        assert (await c.post("/health")).status_code == 405
    probe.status = 503
    async with client(app) as c:
        r = await c.get("/health")
        assert (r.status_code, r.json()) == (503, {"status": "down"})


async def test_health_callback_failure_is_503() -> None:
    async def broken(identity: Identity | None) -> tuple[int, dict[str, Any]]:
        raise RuntimeError("boom")

    app = GatewayMiddleware(inner_app(), keyring=KeyRing(KEYS, 100), health=broken, metrics=lambda: "")
    async with client(app) as c:
        r = await c.get("/health")
        assert (r.status_code, r.json()) == (503, {"status": "error"})


async def test_no_keys_passes_through_without_identity() -> None:
    app, _ = gateway(keys=())
    async with client(app) as c:
        r = await c.post("/mcp")
        assert (r.status_code, r.text) == (200, "<none>")
        r = await c.post("/mcp", headers=bearer("anything"))
        assert (r.status_code, r.text) == (200, "<none>")
        assert (await c.get("/metrics")).status_code == 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_real_server_lifespan_and_streaming() -> None:
    """Through uvicorn: the lifespan reaches the inner app and a streamed response is not buffered."""
    events: dict[str, Any] = {"release": asyncio.Event()}
    app = GatewayMiddleware(inner_app(events), keyring=KeyRing(KEYS, 100), health=HealthProbe(), metrics=lambda: "")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        assert server.started and events.get("started")
        async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            assert (await c.get("/stream")).status_code == 401
            async with c.stream("GET", "/stream", headers=bearer(ANALYST_TOKEN)) as r:
                assert r.status_code == 200
                chunks = r.aiter_bytes()
                first = await asyncio.wait_for(chunks.__anext__(), 5)
                assert first == b"first\n"  # arrived while the generator still waits
                events["release"].set()
                rest = b"".join([c async for c in chunks])
                assert rest == b"second\n"
            r = await c.get("/mcp", headers=bearer(ADMIN_TOKEN))
            assert r.text == "ops"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
    assert events.get("stopped")


async def test_identity_reaches_an_mcp_tool() -> None:
    """Wrapped around a real MCPServer streamable-HTTP app, a tool sees the Identity via its request scope."""
    server_mcp = MCPServer("gateway-test")

    @server_mcp.tool()
    async def whoami_tool(ctx: Context) -> str:
        request = ctx.request_context.request
        identity = identity_from_scope(request.scope) if request is not None else None
        return identity.name if identity else "<none>"

    app = GatewayMiddleware(
        server_mcp.streamable_http_app(stateless_http=True, json_response=True),
        keyring=KeyRing(KEYS, 100),
        health=HealthProbe(),
        metrics=lambda: "",
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        async with (
            httpx2.AsyncClient(headers=bearer(ANALYST_TOKEN)) as http,
            Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as mcp_client,
        ):
            result = await mcp_client.call_tool("whoami_tool", {})
            assert not result.is_error
            assert result.content[0].text == "team"  # type: ignore[union-attr]
        async with httpx2.AsyncClient() as http:
            r = await http.post(f"http://127.0.0.1:{port}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert (r.status_code, r.content) == (401, b"")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
