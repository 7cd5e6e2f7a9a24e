"""A real OpenSSH server on loopback for the tunnel tests: keys, known_hosts, config, process control."""

from __future__ import annotations

import getpass
import os
import select
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
SSH_KEYGEN = "ssh-keygen"
CLIENT_PASSPHRASE = "secret"


@dataclass
class SshServer:
    """A running sshd and the client-side files that reach it."""

    dir: Path
    port: int
    user: str
    proc: subprocess.Popen[bytes]
    client_key: Path  # encrypted with CLIENT_PASSPHRASE, in authorized_keys
    other_key: Path  # unencrypted, NOT in authorized_keys
    known_hosts: Path  # the host key line for [127.0.0.1]:port
    wrong_known_hosts: Path  # another key recorded for [127.0.0.1]:port
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def accepted_logins(self) -> int:
        """Successful public-key logins so far (sshd logs one line per SSH connection)."""
        return self.log().count("Accepted publickey for ")

    def wait_accepted(self, at_least: int, timeout_s: float = 5.0) -> int:
        deadline = time.monotonic() + timeout_s
        while (n := self.accepted_logins()) < at_least and time.monotonic() < deadline:
            time.sleep(0.05)
        return n

    def kill_connections(self) -> list[int]:
        """Kill every per-connection sshd process (the children of the listener and theirs): a server-side drop."""
        victims = _descendants(self.proc.pid)
        for pid in victims:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return victims


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])  # fields after "(comm)": state ppid ...
        children.setdefault(ppid, []).append(int(entry))
    return children


def _descendants(pid: int) -> list[int]:
    tree = _children_map()
    out: list[int] = []
    todo = list(tree.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(tree.get(child, []))
    return out


def _keygen(path: Path, passphrase: str, comment: str) -> None:
    subprocess.run(
        [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(d: Path, port: int) -> str:
    return "\n".join(
        [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {d / 'host_ed25519'}",
            f"AuthorizedKeysFile {d / 'authorized_keys'}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "AllowTcpForwarding yes",
            "AllowStreamLocalForwarding yes",
            "PermitRootLogin prohibit-password",
            "StrictModes no",
            "UsePAM no",
            f"PidFile {d / 'sshd.pid'}",
            "LogLevel INFO",
            "",
        ]
    )


@contextmanager
def running_sshd(d: Path, *, start_timeout_s: float = 15.0) -> Iterator[SshServer]:
    """Generate keys and config in `d`, run `sshd -D -e` on a free loopback port, stop it afterwards."""
    _keygen(d / "host_ed25519", "", "test-host")
    _keygen(d / "other_host_ed25519", "", "other-host")
    _keygen(d / "client_ed25519", CLIENT_PASSPHRASE, "test-client")
    _keygen(d / "other_client_ed25519", "", "other-client")
    (d / "authorized_keys").write_text((d / "client_ed25519.pub").read_text())
    Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)  # sshd's privilege-separation directory
    last_error = ""
    for _attempt in range(3):  # the free port may be taken between the probe and sshd's bind
        port = _free_port()
        host_pub = (d / "host_ed25519.pub").read_text().split()
        other_pub = (d / "other_host_ed25519.pub").read_text().split()
        (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        (d / "wrong_known_hosts").write_text(f"[127.0.0.1]:{port} {other_pub[0]} {other_pub[1]}\n")
        config = d / "sshd_config"
        config.write_text(_config(d, port))
        log_path = d / f"sshd-{port}.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        server = SshServer(
            dir=d,
            port=port,
            user=getpass.getuser(),
            proc=proc,
            client_key=d / "client_ed25519",
            other_key=d / "other_client_ed25519",
            known_hosts=d / "known_hosts",
            wrong_known_hosts=d / "wrong_known_hosts",
            log_path=log_path,
        )
        if _wait_listening(proc, port, start_timeout_s):
            break
        last_error = server.log()
        _stop(proc)
    else:
        raise RuntimeError(f"sshd did not start: {last_error}")
    try:
        yield server
    finally:
        for pid in _descendants(proc.pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _stop(proc)


def _wait_listening(proc: subprocess.Popen[bytes], port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def tcp_to_unix_relay(path: str) -> Iterator[int]:
    """A TCP port on 127.0.0.1 relaying to a Unix socket (the embedded PostgreSQL listens on a socket only)."""
    stop = threading.Event()

    class Relay(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with socket.socket(socket.AF_UNIX) as upstream:
                upstream.connect(path)
                _pump(self.request, upstream, stop)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        request_queue_size = 128  # the default backlog of 5 drops SYNs when many clients connect at once

    server = Server(("127.0.0.1", 0), Relay)
    thread = threading.Thread(target=server.serve_forever, name="tcp-unix-relay", daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def _pump(a: socket.socket, b: socket.socket, stop: threading.Event) -> None:
    while not stop.is_set():
        readable, _, _ = select.select([a, b], [], [], 0.5)
        for sock in readable:
            try:
                data = sock.recv(65536)
                if data:
                    (b if sock is a else a).sendall(data)
            except OSError:
                data = b""
            if not data:
                return
