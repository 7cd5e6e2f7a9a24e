"""Command line: vf-mcp serve | demo | call | check | hash-key | setup-role.

stdout carries the MCP protocol under stdio; everything else goes to stderr (results of `call` and the
SQL of `setup-role` are the exceptions: they are the command's output).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vf_mcp.db.embedded import EmbeddedPostgres
    from vf_mcp.jsontypes import JSONValue
    from vf_mcp.settings import Settings

log = logging.getLogger("vf_mcp")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML settings file (see config/vf-mcp.toml)")
    p.add_argument("--statement-timeout-ms", type=int, dest="statement_timeout_ms")
    p.add_argument("--max-rows", type=int, dest="max_rows")
    p.add_argument("--log-level", dest="log_level")
    p.add_argument(
        "--require-readonly-role",
        action="store_const",
        const=True,
        dest="require_readonly_role",
        help="refuse to start unless the role is least-privilege: no superuser, no writes, no catalog secrets",
    )


def _add_transport(p: argparse.ArgumentParser) -> None:
    p.add_argument("--transport", choices=["stdio", "sse", "http"])
    p.add_argument("--host")
    p.add_argument("--port", type=int)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vf-mcp", description="Read-only PostgreSQL MCP server.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve a PostgreSQL database over MCP")
    serve.add_argument("--dsn", help="postgresql://user:pass@host:port/db (or VF_MCP_DSN)")
    _add_transport(serve)
    _add_common(serve)

    demo = sub.add_parser("demo", help="serve the embedded VelocityFibre demo database")
    _add_transport(demo)
    _add_common(demo)
    demo.add_argument("--scale", type=int, default=1, help="multiply the big tables (100 = millions of rows)")
    demo.add_argument("--data-dir", type=Path, help="embedded cluster directory (default: user cache dir)")

    call = sub.add_parser("call", help="run one tool through the MCP code path and print its JSON result")
    call.add_argument("tool")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object of arguments")
    src = call.add_mutually_exclusive_group()
    src.add_argument("--dsn")
    src.add_argument("--demo", action="store_true", help="use the embedded demo database")
    call.add_argument("--scale", type=int, default=1)
    call.add_argument("--data-dir", type=Path)
    _add_common(call)

    check = sub.add_parser("check", help="health check: database, pool, cache, memory; exit 0 if healthy, 1 if not")
    check.add_argument("--dsn")
    _add_common(check)

    hk = sub.add_parser("hash-key", help="print the SHA-256 to put in [[api_keys]] for a bearer token")
    hk.add_argument("token", nargs="?", help="the token (default: generate a new one and print both)")

    role = sub.add_parser("setup-role", help="print (or apply) SQL creating a least-privilege read-only role")
    role.add_argument("--dsn", required=True, help="an admin connection to the target database")
    role.add_argument("--role", required=True)
    role.add_argument("--password", help="password for the new role (default: generated)")
    role.add_argument("--apply", action="store_true", help="run the SQL instead of printing it")
    role.add_argument(
        "--monitoring",
        action="store_true",
        help="also grant pg_monitor (other sessions' activity and query text), for the DBA tools",
    )
    return parser


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    from vf_mcp.settings import load_settings

    flags = {
        k: getattr(args, k, None)
        for k in (
            "dsn",
            "transport",
            "host",
            "port",
            "statement_timeout_ms",
            "max_rows",
            "log_level",
            "require_readonly_role",
        )
    }
    flags.update(extra)
    return load_settings(getattr(args, "config", None), **flags)


def _serve(settings: Settings) -> None:
    from vf_mcp.server import build_server, configure_logging
    from vf_mcp.settings import redact_dsn

    configure_logging(settings.log_level)
    where = ", ".join(s.name for s in settings.sources) if settings.sources else redact_dsn(settings.dsn_value())
    log.info("serving %s over %s", where, settings.transport)
    if settings.transport == "stdio":
        build_server(settings).run("stdio")
        return
    import uvicorn

    from vf_mcp.redaction import install_log_redaction
    from vf_mcp.server import build_http_app

    app = build_http_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        ssl_certfile=settings.ssl_certfile or None,
        ssl_keyfile=settings.ssl_keyfile or None,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        forwarded_allow_ips="127.0.0.1",
    )
    install_log_redaction()  # uvicorn's handlers exist now (Config configured them): they redact too
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        raise SystemExit(3)


def _demo_dsn(scale: int, data_dir: Path | None) -> tuple[EmbeddedPostgres, str]:
    from vf_mcp.db.embedded import EmbeddedPostgres, default_data_dir
    from vf_mcp.demo.setup import ensure_demo_database

    server = EmbeddedPostgres.start(data_dir or default_data_dir(), cleanup="stop")
    dsn = asyncio.run(ensure_demo_database(server, scale=scale))
    return server, dsn


async def _call(settings: Settings, tool: str, arguments: dict[str, JSONValue]) -> int:
    from mcp import Client

    from vf_mcp.server import build_server

    async with Client(build_server(settings)) as client:
        result = await client.call_tool(tool, arguments)
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        sys.stderr.write(text + "\n")
        return 1
    out = (
        result.structured_content
        if result.structured_content is not None
        else [getattr(c, "text", None) for c in result.content]
    )
    sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False, default=str) + "\n")
    return 0


async def _check(settings: Settings) -> int:
    """Open the server's sources as `serve` would, print the health report, exit 0 (healthy) or 1."""
    from mcp import Client

    from vf_mcp.health import health_report
    from vf_mcp.server import build_server_with_hubs

    server, hubs = build_server_with_hubs(settings)
    async with Client(server):  # runs the lifespan: the same sources, caches and pools as serving
        status, report = await health_report(hubs[-1], None, details=True)
    sys.stdout.write(json.dumps(report, indent=2, default=str) + "\n")
    return 0 if status == 200 else 1


def _exit_on_sigterm() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit (uvicorn re-raises the signal after its graceful shutdown)."""
    import signal

    def leave(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, leave)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from vf_mcp.errors import VfError

    try:
        if args.command == "serve":
            _serve(_settings(args))
            return 0
        if args.command == "demo":
            from vf_mcp.server import configure_logging

            configure_logging("INFO")
            server, dsn = _demo_dsn(args.scale, args.data_dir)
            _exit_on_sigterm()  # so the embedded PostgreSQL is stopped on `kill` too, not only on Ctrl-C
            try:
                _serve(_settings(args, dsn=dsn))
            finally:
                server.stop()
            return 0
        if args.command == "call":
            try:
                arguments = json.loads(args.arguments)
            except json.JSONDecodeError as exc:
                sys.stderr.write(f"arguments must be a JSON object: {exc}\n")
                return 2
            if args.demo:
                from vf_mcp.server import configure_logging

                configure_logging("WARNING")
                server, dsn = _demo_dsn(args.scale, args.data_dir)
                try:
                    return asyncio.run(_call(_settings(args, dsn=dsn), args.tool, arguments))
                finally:
                    server.stop()
            return asyncio.run(_call(_settings(args), args.tool, arguments))
        if args.command == "check":
            return asyncio.run(_check(_settings(args)))
        if args.command == "hash-key":
            from vf_mcp.ops.auth import hash_token

            token = args.token or secrets.token_urlsafe(32)
            if not args.token:
                sys.stdout.write(f"token: {token}\n")
            sys.stdout.write(f"sha256: {hash_token(token)}\n")
            return 0
        if args.command == "setup-role":
            from vf_mcp.db.roles import apply_role_sql, role_sql

            password = args.password or secrets.token_urlsafe(18)
            if args.apply:
                asyncio.run(apply_role_sql(args.dsn, args.role, password, monitoring=args.monitoring))
                sys.stderr.write(f"role {args.role} created; password: {password}\n")
            else:
                script = asyncio.run(role_sql(args.dsn, args.role, password, monitoring=args.monitoring))
                sys.stdout.write(script + "\n")
            return 0
    except VfError as exc:
        sys.stderr.write(f"vf-mcp: {exc.message}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
