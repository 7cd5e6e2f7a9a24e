"""SSH tunnels: a local port forward through a bastion to a PostgreSQL server, re-opened when it drops.

The tunnel opens lazily on the first ``local_address()`` call and only once even when many callers ask at
the same time. Host keys are checked against a known_hosts file unless ``check_host_key`` is off; an
unknown or changed host key is refused with a message saying how to add it, never accepted silently.
Error messages name files, hosts and settings but never contain a passphrase.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import asyncssh

from vf_mcp import settings as vf_settings
from vf_mcp.errors import ConfigError, DatabaseUnavailableError

log = logging.getLogger(__name__)

LOCAL_HOST = "127.0.0.1"
DEFAULT_PG_PORT = 5432
KEEPALIVE_INTERVAL_S = 15.0  # a silently dead bastion is noticed after about interval * count_max
KEEPALIVE_COUNT_MAX = 3
_CLOSE_WAIT_S = 5.0
_URL_SCHEMES = ("postgresql", "postgres")


class SshTunnel:
    """A local port forward through an SSH bastion to (remote_host, remote_port), re-opened when it drops.

    ``remote_host`` is resolved by the bastion; a path (``/var/run/postgresql``) means PostgreSQL's Unix
    socket in that directory on the bastion, as libpq reads it.
    ``close()`` shuts the current connection; a later ``local_address()`` opens a new one (idle sources
    close their tunnel and reopen it on the next call).
    """

    def __init__(self, cfg: vf_settings.SshTunnel, remote_host: str, remote_port: int) -> None:
        self.cfg = cfg
        self.remote_host = remote_host
        self.remote_port = remote_port
        # a host starting with "/" is a Unix-socket directory on the bastion (PostgreSQL running there), as in libpq
        self.remote_socket = (
            f"{remote_host.rstrip('/')}/.s.PGSQL.{remote_port}" if remote_host.startswith("/") else None
        )
        self.connections_opened = 0  # SSH connections made so far (for logs and tests)
        self.open_attempts = 0  # tries to open one, failed ones included
        self._conn: asyncssh.SSHClientConnection | None = None
        self._listener: asyncssh.SSHListener | None = None
        self._opening: asyncio.Task[None] | None = None  # the one open in progress, shared by all callers

    @property
    def bastion(self) -> str:
        """``user@host:port`` of the bastion, for messages."""
        return f"{self.cfg.user}@{_hostport(self.cfg.host, self.cfg.port)}"

    @property
    def is_open(self) -> bool:
        """Whether the SSH connection and the local listener are up (as far as this side knows)."""
        return self._conn is not None and self._listener is not None and not self._conn.is_closed()

    async def local_address(self) -> tuple[str, int]:
        """The local end of the tunnel, ``("127.0.0.1", port)``; opens (or re-opens) the SSH connection if needed.

        Single flight: callers arriving while the tunnel opens wait for that one attempt and share its
        outcome (its error too, so 20 callers against a dead bastion wait one connect timeout, not 20).
        A caller being cancelled does not cancel the attempt the others wait for.
        """
        for _ in range(3):
            if self.is_open:
                return self._address()
            task = self._opening
            if task is None:
                task = self._opening = asyncio.create_task(self._reopen(), name=f"ssh-tunnel {self.bastion}")
                task.add_done_callback(self._opened)
            await asyncio.shield(task)
        raise DatabaseUnavailableError(
            f"The SSH tunnel through {self.bastion} keeps closing as soon as it opens. Retry in a moment.",
            retryable=True,
        )

    async def close(self) -> None:
        """Close the listener and the SSH connection (a later local_address() opens a new one)."""
        task = self._opening
        if task is not None:
            await asyncio.wait([task])  # let an open in progress finish, then close what it opened
        if self._conn is not None:
            log.info("Closing SSH tunnel through %s", self.bastion)
        await self._shutdown()

    def _opened(self, task: asyncio.Task[None]) -> None:
        if self._opening is task:
            self._opening = None
        if not task.cancelled():
            task.exception()  # mark it retrieved: the waiting callers raise it themselves

    async def _reopen(self) -> None:
        if self._conn is not None:
            log.warning("SSH connection to %s dropped; reconnecting", self.bastion)
            await self._shutdown()
        self.open_attempts += 1
        await self._open()

    def _address(self) -> tuple[str, int]:
        assert self._listener is not None
        return LOCAL_HOST, self._listener.get_port()

    async def _shutdown(self) -> None:
        listener, conn = self._listener, self._conn
        self._listener = self._conn = None
        if listener is not None:
            listener.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.wait_closed(), _CLOSE_WAIT_S)
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), _CLOSE_WAIT_S)

    async def _open(self) -> None:
        cfg = self.cfg
        key = await asyncio.to_thread(load_private_key, cfg)
        known_hosts = known_hosts_path(cfg) if cfg.check_host_key else None
        if known_hosts is not None and not os.path.isfile(known_hosts):
            raise ConfigError(
                f"SSH known_hosts file {known_hosts} (ssh.known_hosts) does not exist, so the host key of "
                f"{_hostport(cfg.host, cfg.port)} cannot be checked: create it with "
                f"`{_keyscan_command(cfg, known_hosts)}` after verifying the fingerprint with the bastion's "
                "administrator."
            )
        try:
            conn = await asyncssh.connect(
                cfg.host,
                cfg.port,
                username=cfg.user,
                client_keys=[key],
                known_hosts=known_hosts,
                connect_timeout=cfg.connect_timeout_s,
                keepalive_interval=KEEPALIVE_INTERVAL_S,
                keepalive_count_max=KEEPALIVE_COUNT_MAX,
                config=None,  # only the settings given here: no ~/.ssh/config surprises
                agent_path=None,
                password_auth=False,
                kbdint_auth=False,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            assert known_hosts is not None
            raise ConfigError(await self._host_key_message(known_hosts)) from exc
        except asyncssh.PermissionDenied as exc:
            raise ConfigError(
                f"SSH bastion {self.bastion} refused the key {_expand(cfg.private_key_path)} "
                "(ssh.private_key_path): add its public key to the authorized_keys of that user on the bastion, "
                "or check ssh.user."
            ) from exc
        except TimeoutError as exc:
            raise DatabaseUnavailableError(
                f"SSH bastion {_hostport(cfg.host, cfg.port)} did not answer within {cfg.connect_timeout_s:g} s "
                "(ssh.connect_timeout_s): check ssh.host / ssh.port, firewalls, and that the bastion is up.",
                retryable=True,
            ) from exc
        except OSError as exc:
            raise DatabaseUnavailableError(
                f"Cannot reach SSH bastion {_hostport(cfg.host, cfg.port)}: {exc.strerror or exc}. "
                "Check ssh.host / ssh.port and that the bastion is up.",
                retryable=True,
            ) from exc
        except asyncssh.Error as exc:
            raise DatabaseUnavailableError(
                f"SSH connection to {self.bastion} failed: {exc.reason}. Retry in a moment.", retryable=True
            ) from exc
        except ValueError as exc:  # unreadable known_hosts entries and similar local problems
            raise ConfigError(f"SSH settings for {self.bastion} are not usable: {exc}") from exc
        try:
            if self.remote_socket is not None:
                listener = await conn.forward_local_port_to_path(LOCAL_HOST, 0, self.remote_socket)
            else:
                listener = await conn.forward_local_port(LOCAL_HOST, 0, self.remote_host, self.remote_port)
        except (OSError, asyncssh.Error) as exc:
            conn.close()
            raise DatabaseUnavailableError(
                f"Could not open a local port forward through {self.bastion}: {exc}", retryable=True
            ) from exc
        self._conn, self._listener = conn, listener
        self.connections_opened += 1
        log.info(
            "SSH tunnel through %s to %s open on %s:%d",
            self.bastion,
            self.remote_socket or _hostport(self.remote_host, self.remote_port),
            LOCAL_HOST,
            listener.get_port(),
        )

    async def _host_key_message(self, known_hosts: str) -> str:
        """Why the bastion's host key was refused, with the fingerprint it presented (best effort)."""
        cfg = self.cfg
        where = _hostport(cfg.host, cfg.port)
        recorded = False
        with contextlib.suppress(Exception):
            trusted = asyncssh.match_known_hosts(known_hosts, cfg.host, cfg.host, cfg.port)
            recorded = bool(trusted[0] or trusted[1])
        presented = ""
        with contextlib.suppress(Exception):
            key = await asyncio.wait_for(
                asyncssh.get_server_host_key(cfg.host, cfg.port, config=None), cfg.connect_timeout_s
            )
            if key is not None:
                presented = f" (it presents the {key.get_algorithm()} key {key.get_fingerprint()})"
        keyscan = _keyscan_command(cfg, known_hosts)
        if recorded:
            return (
                f"SSH host key of {where} does not match the key recorded in {known_hosts}: the bastion was "
                "re-keyed or someone is intercepting the connection, so it was refused. Only if the bastion's "
                f"administrator confirms the new fingerprint{presented}, replace the entry: "
                f"`ssh-keygen -R {_known_hosts_name(cfg)} -f {known_hosts}` then `{keyscan}`."
            )
        return (
            f"SSH host key of {where} is not in {known_hosts}, so the connection was refused: add it with "
            f"`{keyscan}` after verifying the fingerprint{presented} with the bastion's administrator."
        )


def load_private_key(cfg: vf_settings.SshTunnel) -> asyncssh.SSHKey:
    """Read (and decrypt) the client key named by the settings; ConfigError with no secret in it otherwise."""
    path = _expand(cfg.private_key_path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read the SSH private key {path} (ssh.private_key_path): {exc.strerror or exc}"
        ) from exc
    passphrase = _passphrase(cfg)
    try:
        return asyncssh.import_private_key(data, passphrase)
    except asyncssh.KeyEncryptionError as exc:
        if "bcrypt" in str(exc):  # OpenSSH-format encrypted keys need the optional bcrypt package
            raise ConfigError(
                f"Cannot decrypt the SSH private key {path}: the bcrypt package is missing "
                "(pip install 'asyncssh[bcrypt]')."
            ) from exc
        if "Incorrect passphrase" not in str(exc):
            raise ConfigError(f"Cannot decrypt the SSH private key {path}: {exc}") from exc
        raise ConfigError(
            f"Cannot decrypt the SSH private key {path}: wrong passphrase "
            "(check ssh.passphrase_env / ssh.passphrase_file)."
        ) from exc
    except asyncssh.KeyImportError as exc:
        if passphrase is None and "assphrase" in str(exc):
            raise ConfigError(
                f"The SSH private key {path} is encrypted: give its passphrase with ssh.passphrase_env "
                "(an environment variable) or ssh.passphrase_file."
            ) from exc
        raise ConfigError(f"{path} (ssh.private_key_path) is not a usable SSH private key: {exc}") from exc


def known_hosts_path(cfg: vf_settings.SshTunnel) -> str:
    """The known_hosts file checked for the bastion's host key (default ~/.ssh/known_hosts)."""
    return _expand(cfg.known_hosts or "~/.ssh/known_hosts")


def _passphrase(cfg: vf_settings.SshTunnel) -> str | None:
    if cfg.passphrase_env:
        value = os.environ.get(cfg.passphrase_env)
        if value is not None:
            return value.rstrip("\r\n")
        if not cfg.passphrase_file:
            raise ConfigError(
                f"Environment variable {cfg.passphrase_env} (ssh.passphrase_env) is not set: "
                "it must hold the passphrase of the SSH private key."
            )
    if cfg.passphrase_file:
        path = _expand(cfg.passphrase_file)
        try:
            return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(
                f"Cannot read the SSH key passphrase file {path} (ssh.passphrase_file): {reason}"
            ) from exc
    return None


def _expand(path: str) -> str:
    return os.path.expanduser(path)


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _known_hosts_name(cfg: vf_settings.SshTunnel) -> str:
    """How known_hosts names the bastion: ``host``, or ``[host]:port`` off port 22."""
    return cfg.host if cfg.port == 22 else f"'[{cfg.host}]:{cfg.port}'"


def _keyscan_command(cfg: vf_settings.SshTunnel, known_hosts: str) -> str:
    port = "" if cfg.port == 22 else f"-p {cfg.port} "
    return f"ssh-keyscan {port}{cfg.host} >> {known_hosts}"


# --- DSN helpers -----------------------------------------------------------------------------------------


def _split_url(dsn: str) -> tuple[str, str, str, list[tuple[str, str]]]:
    """(userinfo, host, port, query pairs) of a postgresql:// URL; ConfigError for anything a tunnel cannot use."""
    parts = urlsplit(dsn)
    if parts.scheme not in _URL_SCHEMES:
        raise ConfigError("An SSH tunnel needs the DSN as a postgresql:// URL (not key=value pairs).")
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if "," in hostport:
        raise ConfigError("An SSH tunnel reaches one PostgreSQL server: give a DSN with a single host.")
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
    else:
        host, port = hostport, ""
    query = parse_qsl(parts.query, keep_blank_values=True)
    for name, value in query:  # libpq lets query parameters override the URL's host and port
        if name == "host":
            host = value
        elif name == "port":
            port = value
    host = unquote(host)
    if "," in host or "," in port:
        raise ConfigError("An SSH tunnel reaches one PostgreSQL server: give a DSN with a single host.")
    return userinfo, host, port, query


def dsn_target(dsn: str) -> tuple[str, int]:
    """Host and port of a postgresql:// URL, as the bastion will resolve them.

    The port defaults to 5432 and the host to localhost; a host starting with "/" (in the URL or as a
    ``?host=`` parameter) is a Unix-socket directory, which SshTunnel forwards to as well.
    """
    _, host, port, _ = _split_url(dsn)
    try:
        number = int(port) if port else DEFAULT_PG_PORT
    except ValueError:
        raise ConfigError(f"The DSN's port {port!r} is not a number.") from None
    if not 1 <= number <= 65535:
        raise ConfigError(f"The DSN's port {number} is out of range.")
    return host or "localhost", number


def dsn_through(dsn: str, host: str, port: int) -> str:
    """The same postgresql:// URL (user, password, database, query kept) pointing at host:port instead."""
    userinfo, _, _, query = _split_url(dsn)
    parts = urlsplit(dsn)
    netloc = (f"{userinfo}@" if userinfo else "") + (f"[{host}]" if ":" in host else quote(host, safe=".-_~"))
    netloc += f":{port}"
    kept = [(k, v) for k, v in query if k not in ("host", "hostaddr", "port")]
    new_query = urlencode(kept, quote_via=quote) if len(kept) != len(query) else parts.query
    return urlunsplit((parts.scheme, netloc, parts.path, new_query, parts.fragment))
