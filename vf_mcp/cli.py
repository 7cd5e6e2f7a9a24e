"""Command line: vf-mcp serve | demo | call | check | hash-key | setup-role.

stdout carries the MCP protocol under stdio; everything else goes to stderr (results of `call` and the
SQL of `setup-role` are the exceptions: they are the command's output). `serve` and `demo` say in one short
block on stderr what is served, where, and how safe the role is. A start-up refusal (bad setting, wrong
password, unsafe role with --require-readonly-role) is one line on stderr and exit code 2, never a traceback.
Ctrl-C, SIGTERM and SIGHUP stop the server within about a second, the demo's embedded PostgreSQL with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    import socket

    from mcp.server.mcpserver import MCPServer

    from vf_mcp.jsontypes import JSONValue
    from vf_mcp.settings import Settings
    from vf_mcp.stdio import StdioReader

log = logging.getLogger("vf_mcp")

STOP_GRACE_S = 1.0
"""After Ctrl-C/SIGTERM, how long calls in flight may finish before they are cancelled."""
PLACEHOLDER = "CHANGE_ME"
"""The password placeholder of the shipped mcp.json: a DSN holding it was never filled in."""
EXIT_REFUSED = 2
"""Exit code of every start-up refusal (and of a command line argparse rejects)."""
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
"""Ctrl-C, `kill`, a closed terminal (no SIGHUP on Windows)."""


def version() -> str:
    """vf-mcp's version: `vf_mcp.__version__`, the one place it is written (pyproject reads it from there)."""
    from vf_mcp import __version__

    return __version__


# --- the command line -----------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (not the whole usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_REFUSED, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _setting_help(name: str, what: str | None = None) -> str:
    """The help of a flag that sets `name`: the setting's description, its default and its variable."""
    from vf_mcp.settings import Settings

    field = Settings.model_fields[name]
    default = field.get_default(call_default_factory=True)
    if isinstance(default, bool):
        shown = "on" if default else "off"
    elif default is None or default == "":
        shown = "none"
    else:
        shown = str(default)
    text = what or field.description or name
    return f"{text} (default: {shown}; env VF_MCP_{name.upper()})".replace("%", "%%")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value} (1 is the normal size)")
    return value


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML settings file, every setting documented in config/vf-mcp.toml"
        " (default: none; flags beat VF_MCP_* variables, which beat the file)",
    )
    p.add_argument("--statement-timeout-ms", type=int, metavar="MS", help=_setting_help("statement_timeout_ms"))
    p.add_argument("--max-rows", type=int, metavar="N", help=_setting_help("max_rows"))
    p.add_argument(
        "--log-level", type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"], help=_setting_help("log_level")
    )
    p.add_argument(
        "--require-readonly-role",
        action="store_const",
        const=True,
        help=_setting_help(
            "require_readonly_role",
            "refuse to start unless the role is least-privilege: no superuser, no writes, no catalog secrets",
        ),
    )


def _add_dsn(p: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    p.add_argument("--dsn", metavar="URL", help=_setting_help("dsn", "postgresql://user:password@host:port/database"))


def _add_transport(p: argparse.ArgumentParser) -> None:
    p.add_argument("--transport", choices=["stdio", "sse", "http"], help=_setting_help("transport"))
    p.add_argument("--host", help=_setting_help("host"))
    p.add_argument("--port", type=int, help=_setting_help("port"))
    p.add_argument("--workers", type=int, help=_setting_help("workers"))


def _add_demo(p: argparse.ArgumentParser, *, verb: str) -> None:
    from vf_mcp.db.embedded import default_data_dir

    p.add_argument(
        "--scale",
        type=_positive_int,
        default=1,
        metavar="N",
        help=f"size of the demo {verb}: N multiplies the big tables, 100 makes millions of rows (default: 1)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help=f"directory of the embedded PostgreSQL cluster, created on first use (default: {default_data_dir()})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="vf-mcp", description="Read-only analytical access to PostgreSQL for AI assistants, over MCP."
    )
    parser.add_argument("--version", action="version", version=f"vf-mcp {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    serve = sub.add_parser(
        "serve",
        help="serve a PostgreSQL database over MCP",
        description="Serve a PostgreSQL "
        "database over MCP (stdio for a client that launches it, or HTTP). Ctrl-C stops.",
    )
    _add_dsn(serve)
    _add_transport(serve)
    _add_common(serve)

    demo = sub.add_parser(
        "demo",
        help="serve the VelocityFibre demo database (embedded PostgreSQL, nothing to install)",
        description="Serve the VelocityFibre demo: an embedded PostgreSQL with a "
        "generated company database, as a least-privilege role. Ctrl-C stops both.",
    )
    _add_transport(demo)
    _add_common(demo)
    _add_demo(demo, verb="database")

    call = sub.add_parser(
        "call",
        help="run one tool through the MCP code path and print its JSON result",
        description="Run one tool through the MCP code path and print its JSON result on stdout.",
    )
    call.add_argument("tool", help="name of the tool to run, e.g. list_tables (required)")
    call.add_argument("arguments", nargs="?", default="{}", help="JSON object of the tool's arguments (default: {})")
    src = call.add_mutually_exclusive_group()
    _add_dsn(src)
    src.add_argument("--demo", action="store_true", help="use the embedded demo database (default: off)")
    _add_demo(call, verb="database (with --demo)")
    _add_common(call)

    check = sub.add_parser(
        "check",
        help="health check: database, pool, cache, memory; exit 0 if healthy, 1 if not",
        description="Open the database as `serve` would and print the health report.",
    )
    _add_dsn(check)
    _add_common(check)

    hk = sub.add_parser(
        "hash-key",
        help="print the SHA-256 to put in [[api_keys]] for a bearer token",
        description="Print the SHA-256 to put in [[api_keys]] for an HTTP bearer token.",
    )
    hk.add_argument("token", nargs="?", help="the token (default: generate a new one and print both)")

    role = sub.add_parser(
        "setup-role",
        help="print (or apply) SQL creating a least-privilege read-only role",
        description="Print (or apply) SQL creating a least-privilege read-only role.",
    )
    role.add_argument(
        "--dsn", required=True, metavar="URL", help="an admin connection to the target database (required)"
    )
    role.add_argument("--role", required=True, help="name of the role to create (required)")
    role.add_argument("--password", help="password for the new role (default: generated and printed)")
    role.add_argument("--apply", action="store_true", help="run the SQL instead of printing it (default: off)")
    role.add_argument(
        "--monitoring",
        action="store_true",
        help="also grant pg_monitor (other sessions' activity and query text), for the DBA tools (default: off)",
    )
    return parser


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    from vf_mcp.errors import ConfigError
    from vf_mcp.settings import load_settings

    names = (
        "dsn",
        "transport",
        "host",
        "port",
        "statement_timeout_ms",
        "max_rows",
        "log_level",
        "require_readonly_role",
        "workers",
    )
    flags = {k: getattr(args, k, None) for k in names}
    flags.update(extra)
    settings = load_settings(getattr(args, "config", None), **flags)
    dsns = [settings.dsn] + [s.dsn or s.password for s in settings.sources]
    if any(d is not None and PLACEHOLDER in d.get_secret_value() for d in dsns):
        raise ConfigError(
            f"the DSN still holds the {PLACEHOLDER} placeholder of mcp.json: set VF_MCP_DSN to your database's "
            "URL (a read-only role: vf-mcp setup-role), or use the vf-mcp-demo entry"
        )
    return settings


# --- serving ----------------------------------------------------------------------------------------------------


def _serve(settings: Settings) -> int:
    """Serve until stopped; the server says what it serves once started (vf_mcp.server._announce)."""
    from vf_mcp.server import configure_logging

    configure_logging(settings.log_level)
    if settings.transport == "stdio":
        return _serve_stdio(settings)
    sock = _listen(settings.host, settings.port)  # a port in use is refused before anything starts
    try:
        if settings.workers > 1:
            return _serve_workers(settings, sock)
        return _serve_http(settings, sock)
    finally:
        sock.close()


def _serve_workers(settings: Settings, sock: socket.socket) -> int:
    """`workers` processes, each accepting on its own socket bound to the port (forked before any loop starts).

    Streamable HTTP is served stateless, so any worker can answer any request. Rate limits and the result
    cache are shared through redis_url; without it each worker keeps its own (said at start-up).
    """
    import signal
    import socket

    if settings.transport == "sse":
        from vf_mcp.errors import ConfigError

        raise ConfigError("--workers needs --transport http: an SSE stream is tied to the process that opened it")
    settings = settings.model_copy(update={"stateless_http": True})
    if settings.redis_url is None:
        log.warning("%d workers without redis_url: each keeps its own rate limits and result cache", settings.workers)
    # `sock` (bound without SO_REUSEPORT) proved the port free; every worker now binds its own SO_REUSEPORT
    # socket, so the kernel balances connections. A second server's plain bind still finds the port in use.
    reuse = hasattr(socket, "SO_REUSEPORT")
    if reuse:
        sock.close()
    children: list[int] = []
    for _ in range(settings.workers - 1):
        pid = os.fork()
        if pid == 0:  # a worker: serve, then leave without running the parent's clean-up
            code = 1
            try:
                own = _listen(settings.host, settings.port, reuse_port=True) if reuse else sock
                code = _serve_http(settings, own, announce=False)
            finally:
                os._exit(code)
        children.append(pid)
    try:
        return _serve_http(settings, _listen(settings.host, settings.port, reuse_port=True) if reuse else sock)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _serve_stdio(settings: Settings) -> int:
    from vf_mcp.server import build_server

    readers: list[StdioReader] = []

    def stop() -> None:  # the start-up check found a setting that cannot work: end as if the client had left
        for reader in readers:
            reader.stop()

    server = build_server(settings, stop=stop)
    try:
        return asyncio.run(_run_stdio(server, readers))
    finally:
        _exit_on_signals()  # asyncio reset them: SIGTERM during the clean-up that follows still cleans up


async def _run_stdio(server: MCPServer[Any], readers: list[StdioReader]) -> int:
    """Serve until the client closes stdin or a signal asks to stop (then calls in flight get STOP_GRACE_S).

    stdin and stdout are served on asyncio pipes (vf_mcp/stdio.py): a signal ends the read at once and the
    server winds down as if the client had left. Where they are not pipes (a regular file), the SDK's own
    transport serves them.
    """
    from vf_mcp.stdio import PipesUnavailable, open_stdio, serve_on

    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        for reader in readers:
            reader.stop()  # the server winds down as if the client had left
        if len(received) == 1:
            loop.call_later(STOP_GRACE_S, main.cancel)
        else:
            main.cancel()  # a second Ctrl-C: now

    signals = _STOP_SIGNALS
    for sig in signals:
        loop.add_signal_handler(sig, stop, sig)
    try:
        try:
            async with open_stdio() as (reader, writer):
                readers.append(reader)
                await serve_on(server, reader, writer)
        except PipesUnavailable:
            await server.run_stdio_async()
    except asyncio.CancelledError:
        if not received:
            raise
        main.uncancel()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    return 128 + received[0] if received else 0


def _listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A socket bound for uvicorn, or a one-line ConfigError (port in use, address not available).

    With `reuse_port`, each worker binds its own socket to the port (SO_REUSEPORT): the kernel spreads new
    connections across the workers instead of the first one to wake taking them all.
    """
    import errno
    import socket

    from vf_mcp.errors import ConfigError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror}); fix --host") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)  # uvicorn listens once the server has started (connections wait for it)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another vf-mcp?): stop it or choose another with --port"
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; check --host and --port") from None
    sock.set_inheritable(True)
    return sock


class _LifespanErrors:
    """ASGI wrapper keeping a failed start-up's error for the command line (uvicorn would log a traceback)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.error: BaseException | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def quiet_send(message: Any) -> None:
            if message.get("type") == "lifespan.startup.failed":
                message = {**message, "message": ""}
            await send(message)

        try:
            await self.app(scope, receive, quiet_send)
        except BaseException as exc:
            self.error = exc
            raise


def _serve_http(settings: Settings, sock: socket.socket, *, announce: bool = True) -> int:
    import uvicorn

    from vf_mcp.redaction import install_log_redaction
    from vf_mcp.server import build_http_app

    app = _LifespanErrors(build_http_app(settings, announce=announce))
    level = settings.log_level.lower()
    if level != "debug" and logging.getLevelName(level.upper()) < logging.WARNING:
        level = "warning"  # the start-up block says where it listens; uvicorn's own lines would repeat it
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=level,
        ssl_certfile=settings.ssl_certfile or None,
        ssl_keyfile=settings.ssl_keyfile or None,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        forwarded_allow_ips="127.0.0.1",
    )
    install_log_redaction()  # uvicorn's handlers exist now (Config configured them): they redact too
    server = uvicorn.Server(config)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
    except SystemExit:  # uvicorn's exit when the start-up failed
        if app.error is None:
            raise
    if app.error is not None:
        raise app.error
    return 0 if server.started else 3


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP until the block ends (stopping PostgreSQL must not be cut short)."""
    got: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        got.append(signum)

    signals = _STOP_SIGNALS
    before = {sig: signal.signal(sig, hold) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        if got:
            signal.raise_signal(got[0])


@contextlib.contextmanager
def _demo_database(scale: int, data_dir: Path | None) -> Iterator[tuple[str, Path]]:
    """The demo's DSN and data directory; the embedded PostgreSQL stops when the block ends, however it ends."""
    from vf_mcp.db.embedded import EmbeddedPostgres, default_data_dir
    from vf_mcp.demo.setup import ensure_demo_database

    server: EmbeddedPostgres | None = None
    try:  # an interrupted start cleans up after itself (and a watchdog stops a cluster nobody holds)
        server = EmbeddedPostgres.start(data_dir or default_data_dir(), cleanup="stop")
        dsn = asyncio.run(ensure_demo_database(server, scale=scale))
        yield dsn, server.data_dir
    finally:
        if server is not None:
            with _signals_deferred():
                server.stop()


def _exit_on_signals() -> None:
    """SIGTERM/SIGHUP raise SystemExit (so `finally` clauses stop the demo's PostgreSQL on `kill` too)."""

    def leave(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    for sig in _STOP_SIGNALS[1:]:
        signal.signal(sig, leave)


# --- the other commands -------------------------------------------------------------------------------------------


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


def _run_call(args: argparse.Namespace) -> int:
    from vf_mcp.server import configure_logging

    try:
        arguments = json.loads(args.arguments)
    except json.JSONDecodeError as exc:
        sys.stderr.write(f"vf-mcp: the arguments must be a JSON object: {exc}\n")
        return EXIT_REFUSED
    if not isinstance(arguments, dict):
        sys.stderr.write(f"vf-mcp: the arguments must be a JSON object, like '{{}}', not {args.arguments!r}\n")
        return EXIT_REFUSED
    configure_logging("WARNING")
    logging.getLogger("vf_mcp.startup").setLevel(logging.ERROR)  # the result says it all (errors included)
    if args.demo:
        with _demo_database(args.scale, args.data_dir) as (dsn, _):
            return asyncio.run(_call(_settings(args, dsn=dsn), args.tool, arguments))
    return asyncio.run(_call(_settings(args), args.tool, arguments))


def _run_setup_role(args: argparse.Namespace) -> int:
    from vf_mcp.db.mysql.pool import is_mysql_dsn
    from vf_mcp.db.roles import apply_role_sql, role_sql
    from vf_mcp.errors import db_errors

    if is_mysql_dsn(args.dsn):  # a SELECT-only MySQL/MariaDB user (vf_mcp/db/mysql/roles.py)
        from vf_mcp.db.mysql import roles as mysql_roles

        apply_role_sql, role_sql = mysql_roles.apply_role_sql, mysql_roles.role_sql

    password = args.password or secrets.token_urlsafe(18)
    with db_errors():
        if args.apply:
            asyncio.run(apply_role_sql(args.dsn, args.role, password, monitoring=args.monitoring))
            sys.stderr.write(f"role {args.role} created; password: {password}\n")
        else:
            script = asyncio.run(role_sql(args.dsn, args.role, password, monitoring=args.monitoring))
            sys.stdout.write(script + "\n")
    return 0


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(_settings(args))
    if args.command == "demo":
        from vf_mcp.server import configure_logging

        settings = _settings(args, dsn="postgresql://demo")  # the flags and file are checked before starting
        configure_logging(settings.log_level)
        with _demo_database(args.scale, args.data_dir) as (dsn, _):
            return _serve(_settings(args, dsn=dsn))
    if args.command == "call":
        return _run_call(args)
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
        return _run_setup_role(args)
    return EXIT_REFUSED


def _refusal(exc: BaseException) -> str | None:
    """The one line a failure should end in (a refusal: settings, connection, role), or None for a bug."""
    import tomllib

    from pydantic import ValidationError

    from vf_mcp.errors import VfError

    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, VfError):
            return e.message
        if isinstance(e, ValidationError):
            return _settings_problems(e)
        if isinstance(e, tomllib.TOMLDecodeError):
            return f"the config file is not valid TOML: {e}"
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        if e.__cause__ is not None:
            todo.append(e.__cause__)
    return None


def _settings_problems(exc: Any) -> str:
    """A settings ValidationError in one line: each problem with the setting's name, never a secret's value."""
    problems = []
    for err in exc.errors()[:3]:
        name = ".".join(str(p) for p in err["loc"]) or "settings"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown setting {name!r} (the settings are listed in config/vf-mcp.toml)")
            continue
        given = err.get("input")
        secret = any(w in name for w in ("dsn", "password", "secret", "url", "sha256"))
        shown = f" (got {given!r})" if isinstance(given, str | int | float) and not secret else ""
        problems.append(f"{name}: {err['msg']}{shown}")
    more = exc.error_count() - len(problems)
    return "invalid settings: " + "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")  # platformdirs, inside pgserver
    _exit_on_signals()
    try:
        return _dispatch(build_parser().parse_args(argv))
    except KeyboardInterrupt:
        return 130
    except SystemExit:
        raise
    except BaseException as exc:
        if isinstance(exc, BaseExceptionGroup) and exc.subgroup(KeyboardInterrupt) is not None:
            return 130
        reason = _refusal(exc)
        if reason is None:
            raise
        sys.stderr.write(f"vf-mcp: {reason}\n")
        return EXIT_REFUSED


def entry() -> NoReturn:
    """The `vf-mcp` command: main(), then leave at once.

    Everything is closed by then (pools, the demo's PostgreSQL, log handlers are flushed here); the interpreter's
    own teardown of a large heap would add up to a second between Ctrl-C and the exit.
    """
    code = main()
    if sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(code)  # a profiler or coverage writes its results at interpreter exit
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
