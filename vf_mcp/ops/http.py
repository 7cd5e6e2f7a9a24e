"""ASGI gateway in front of the MCP app: bearer-token auth, /health and /metrics.

- GET /health: no auth; health(identity) decides how much to show (identity None: minimal).
- GET /metrics: admin key required when keys are configured (401 otherwise); Prometheus text.
- /exports/...: passed through without auth (signed, expiring links checked by the app).
- anything else: with keys configured, a valid `Authorization: Bearer <token>` is required (401, empty body);
  the Identity goes to scope["state"]["vf_identity"] (Starlette: request.state.vf_identity), and to
  scope["user"] as the SDK's AuthenticatedUser, which binds SSE sessions to the key that opened them.
Lifespan and other scopes pass through; responses are never buffered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from starlette.types import ASGIApp, Receive, Scope, Send

from vf_mcp.ops.auth import Identity, KeyRing
from vf_mcp.ops.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

log = logging.getLogger("vf_mcp.ops.http")

HealthCallback = Callable[[Identity | None], Awaitable[tuple[int, dict[str, object]]]]
STATE_KEY = "vf_identity"


def identity_from_scope(scope: Scope) -> Identity | None:
    """The Identity the gateway stored for this request, if any."""
    state = scope.get("state")
    value = state.get(STATE_KEY) if isinstance(state, dict) else None
    return value if isinstance(value, Identity) else None


class GatewayMiddleware:
    """Auth + /health + /metrics in front of an ASGI app (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keyring: KeyRing,
        health: HealthCallback,
        metrics: Callable[[], str],
        health_path: str = "/health",
        metrics_path: str = "/metrics",
        exports_prefix: str = "/exports/",
    ) -> None:
        self.app = app
        self.keyring = keyring
        self._health = health
        self._metrics = metrics
        self._health_path = health_path
        self._metrics_path = metrics_path
        self._exports_prefix = exports_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if kind == "http" and path == self._health_path:
            await self._serve_health(scope, send)
            return
        if kind == "http" and path == self._metrics_path:
            await self._serve_metrics(scope, send)
            return
        if path.startswith(self._exports_prefix) and not _has_dot_segments(path):
            await self.app(scope, receive, send)
            return
        if self.keyring.enabled:
            identity = self.keyring.lookup(_authorization(scope))
            if identity is None:
                await _unauthorized(scope, send)
                return
            state = scope.get("state")
            if not isinstance(state, dict):
                state = scope["state"] = {}
            state[STATE_KEY] = identity
            # The SDK binds an SSE (or stateful HTTP) session to the principal in scope["user"] that opened it:
            # a POST to /messages?session_id=... with another key then gets 404, as if the session did not exist.
            scope["user"] = _principal(identity)
        await self.app(scope, receive, send)

    async def _serve_health(self, scope: Scope, send: Send) -> None:
        if scope.get("method") not in ("GET", "HEAD"):
            await _respond(scope, send, 405, b"", [(b"allow", b"GET, HEAD")])
            return
        identity = self.keyring.lookup(_authorization(scope)) if self.keyring.enabled else None
        try:
            status, payload = await self._health(identity)
        except Exception:
            log.exception("health check failed")
            status, payload = 503, {"status": "error"}
        body = json.dumps(payload, default=str, separators=(",", ":")).encode("utf-8")
        await _respond(scope, send, status, body, [(b"content-type", b"application/json")])

    async def _serve_metrics(self, scope: Scope, send: Send) -> None:
        if scope.get("method") not in ("GET", "HEAD"):
            await _respond(scope, send, 405, b"", [(b"allow", b"GET, HEAD")])
            return
        if self.keyring.enabled:
            identity = self.keyring.lookup(_authorization(scope))
            if identity is None or not identity.is_admin:
                await _unauthorized(scope, send)
                return
        try:
            body = self._metrics().encode("utf-8")
        except Exception:
            log.exception("metrics rendering failed")
            await _respond(scope, send, 500, b"", [])
            return
        await _respond(scope, send, 200, body, [(b"content-type", METRICS_CONTENT_TYPE.encode("ascii"))])


def _principal(identity: Identity) -> AuthenticatedUser:
    """The identity as the SDK's authenticated user (client_id = the key's name; no token is kept)."""
    return AuthenticatedUser(AccessToken(token="", client_id=identity.name, scopes=[identity.role]))


def _authorization(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            return bytes(value).decode("latin-1")
    return None


def _has_dot_segments(path: str) -> bool:
    return any(seg in (".", "..") for seg in path.split("/"))


async def _unauthorized(scope: Scope, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await _respond(scope, send, 401, b"", [(b"www-authenticate", b"Bearer")])


async def _respond(scope: Scope, send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode("ascii")), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})
