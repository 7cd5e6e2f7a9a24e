"""The `vf-mcp` command as a newcomer meets it: the installed command run as a subprocess (a pty where a terminal
matters). --version and --help, the start-up block, Ctrl-C/SIGTERM, clean refusals, quiet exits, mcp.json, and
the wheel installed into a fresh venv.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import pytest

from tests.conftest import PgCluster
from tests.helpers import clean_env

ROOT = Path(__file__).resolve().parent.parent
VF = Path(sys.executable).parent / "vf-mcp"
STOP_LIMIT_S = 2.0  # the behaviour itself: Ctrl-C and SIGTERM stop the server within 2 s
COMMANDS = ("serve", "demo", "call", "check", "hash-key", "setup-role")

pytestmark = pytest.mark.skipif(not VF.exists(), reason="vf-mcp is not installed in this environment")


# --- helpers ---------------------------------------------------------------------------------------------------


class Terminal:
    """`vf-mcp ARGS` on a pseudo-terminal (stdin stays open, as under a shell)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the command
            os.execve(str(VF), [str(VF), *args], env)
        self.out = b""
        self.status: int | None = None

    def read_until(self, pattern: str, timeout_s: float) -> str:
        """Everything printed so far, once `pattern` (a regex) appears; fails on timeout or exit."""
        deadline = time.monotonic() + timeout_s
        while not re.search(pattern, self.text()):
            assert time.monotonic() < deadline, f"no {pattern!r} within {timeout_s} s:\n{self.text()}"
            assert self.poll() is None, f"exited ({self.status}) before {pattern!r}:\n{self.text()}"
            self._pump(0.1)
        return self.text()

    def settle(self, quiet_s: float = 0.5) -> str:
        """Read until nothing more arrives for `quiet_s`."""
        before = -1
        while before != len(self.out):
            before = len(self.out)
            self._pump(quiet_s)
        return self.text()

    def text(self) -> str:
        return self.out.decode(errors="replace").replace("\r\n", "\n")

    def _pump(self, wait_s: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], wait_s)
        if ready:
            with contextlib.suppress(OSError):
                self.out += os.read(self.fd, 65536)

    def poll(self) -> int | None:
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def wait_exit(self, timeout_s: float) -> float:
        """Seconds until the process exited (fails after `timeout_s`)."""
        started = time.monotonic()
        while self.poll() is None:
            elapsed = time.monotonic() - started
            if elapsed > timeout_s:
                self.kill()
                pytest.fail(f"still running {timeout_s} s later:\n{self.text()}")
            self._pump(0.02)
        return time.monotonic() - started

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.status = -9

    def close(self) -> None:
        self.kill()
        os.close(self.fd)


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    started: list[Terminal] = []
    yield started
    for t in started:
        t.close()


def run(args: list[str], env: dict[str, str] | None = None, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VF), *args],
        env=env or clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=ROOT,
    )


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and line.strip() != "^C"]


def with_password(dsn: str) -> tuple[str, str | None]:
    """`dsn` with a password to be redacted: its own, or a dummy one where the server ignores it (socket, trust)."""
    parts = urlsplit(dsn)
    if parts.password:
        return dsn, parts.password
    if parts.hostname or not parse_qs(parts.query).get("host", [""])[0].startswith("/"):
        return dsn, None
    netloc = f"{parts.username}:never-printed-pw@{parts.netloc.split('@', 1)[1]}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), "never-printed-pw"


def replace_db(dsn: str, database: str, user: str | None = None) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if user is not None:
        netloc = f"{user}@{netloc.split('@', 1)[1]}" if "@" in netloc else f"{user}@{netloc}"
    return urlunsplit((parts.scheme, netloc, "/" + database, parts.query, parts.fragment))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cli_dsn(pg: PgCluster) -> str:
    """A small database reached as the superuser."""
    return pg.create_database("cli_test", "CREATE TABLE things (id int PRIMARY KEY, name text);")


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An XDG cache home whose default demo data directory holds the loaded demo (its PostgreSQL stopped)."""
    home = tmp_path_factory.mktemp("xdg-cache")
    out = run(["call", "list_tables", "--demo", "--data-dir", str(demo_dir(home))], timeout_s=900)
    assert out.returncode == 0, out.stderr
    return home


def demo_dir(home: Path) -> Path:
    return home / "vf-mcp" / "pgdata"  # platformdirs' user cache dir under XDG_CACHE_HOME


def postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


# --- --version and --help -------------------------------------------------------------------------------------


def test_version_is_the_installed_distributions() -> None:
    from importlib.metadata import version

    out = run(["--version"])
    assert out.returncode == 0
    assert out.stdout.strip() == f"vf-mcp {version('vf-mcp')}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_gives_every_options_meaning_and_default(command: str) -> None:
    out = run([command, "--help"], env={**clean_env(), "COLUMNS": "100"})
    assert out.returncode == 0, out.stderr
    blocks: list[list[str]] = []
    for line in out.stdout.splitlines():
        if re.match(r"^  \S", line):  # an option or argument starts a block; deeper lines continue it
            blocks.append([line.strip()])
        elif line.startswith("   ") and blocks:
            blocks[-1].append(line.strip())
    blocks = [b for b in blocks if not b[0].startswith("-h, --help")]
    assert blocks, out.stdout
    for block in blocks:
        text = " ".join(block)
        name = text.split()[0]
        meaning = re.sub(r"^\S+( [A-Z_{},|.\[\]-]+)*\s*", "", text)
        assert len(meaning) > 15, f"{command} {name}: no explanation in {text!r}"
        assert "default" in text or "required" in text, f"{command} {name}: no default in {text!r}"


# --- the start-up block and Ctrl-C ------------------------------------------------------------------------------


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_serve_says_what_it_serves_and_stops_at_once(cli_dsn: str, stop: str, terminal: list[Terminal]) -> None:
    dsn, password = with_password(cli_dsn)
    term = Terminal(["serve", "--dsn", dsn], clean_env())
    terminal.append(term)
    term.read_until(r"Role .* is not a least-privilege", 120)  # the block's last line: the role's verdict
    block = lines(term.settle())
    assert len(block) <= 4, block
    assert "Traceback" not in term.text() and " INFO " not in term.text()
    assert block[0].startswith("vf-mcp ") and "serving postgresql://" in block[0] and "/cli_test" in block[0]
    assert any("stdio" in line and "Ctrl-C" in line for line in block)
    if password:
        assert password not in term.text() and "***" in block[0]
    if stop == "ctrl-c":
        os.write(term.fd, b"\x03")
    else:
        os.kill(term.pid, signal.SIGTERM)
    elapsed = term.wait_exit(10)
    assert elapsed < STOP_LIMIT_S, f"stopped {elapsed:.2f} s after {stop}"
    assert term.status == (130 if stop == "ctrl-c" else 143)
    assert "Traceback" not in term.text()


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_demo_stops_with_its_postgres(demo_home: Path, stop: str, terminal: list[Terminal]) -> None:
    data_dir = demo_dir(demo_home)
    term = Terminal(["demo", "--data-dir", str(data_dir)], clean_env())
    terminal.append(term)
    term.read_until(r"role vf_demo_reader: read-only", 300)
    block = lines(term.settle())
    text = term.text()
    assert len(block) <= 5, block
    assert "pg_ctl" not in text and "initdb" not in text and "Traceback" not in text and " INFO " not in text
    assert any("serving postgresql://vf_demo_reader@" in line for line in block)
    postmaster = postmaster_pid(data_dir)
    assert postmaster is not None and alive(postmaster)
    if stop == "ctrl-c":
        os.write(term.fd, b"\x03")
    else:
        os.kill(term.pid, signal.SIGTERM)
    elapsed = term.wait_exit(30)
    assert elapsed < STOP_LIMIT_S, f"stopped {elapsed:.2f} s after {stop}"
    assert term.status == (130 if stop == "ctrl-c" else 143)
    assert not alive(postmaster) and postmaster_pid(data_dir) is None  # PostgreSQL stopped with it


@pytest.mark.slow
def test_demo_interrupted_while_starting_stops_its_postgres(tmp_path: Path, terminal: list[Terminal]) -> None:
    data_dir = tmp_path / "pgdata"
    term = Terminal(["demo", "--data-dir", str(data_dir)], clean_env())
    terminal.append(term)
    deadline = time.monotonic() + 300
    while (postmaster := postmaster_pid(data_dir)) is None:  # PostgreSQL runs; the demo is being loaded
        assert time.monotonic() < deadline and term.poll() is None, term.text()
        term.settle(0.05)
    os.write(term.fd, b"\x03")
    term.wait_exit(60)
    assert term.status == 130, term.text()
    assert "Traceback" not in term.text()
    deadline = time.monotonic() + 30
    while alive(postmaster):
        assert time.monotonic() < deadline, "the embedded PostgreSQL outlived the interrupted demo"
        time.sleep(0.2)


def test_http_start_block_names_the_mcp_url(cli_dsn: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(VF), "serve", "--dsn", cli_dsn, "--transport", "http", "--port", str(port)],
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(iter(proc.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any("least-privilege" in line for line in seen):
            assert time.monotonic() < deadline and proc.poll() is None, seen
            time.sleep(0.1)
        time.sleep(1.0)
        block = lines("".join(seen))
        assert len(block) <= 5, block
        assert any(f"http://127.0.0.1:{port}/mcp" in line for line in block), block
        assert not any("Uvicorn running" in line or " INFO " in line for line in block), block

        async def tools() -> list[str]:
            from mcp import Client

            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                return [t.name for t in (await client.list_tools()).tools]

        assert "run_query" in asyncio.run(tools())
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


# --- refusals: one or two lines, exit code 2 ----------------------------------------------------------------------


def _refusal(out: subprocess.CompletedProcess[str], *expected: str) -> str:
    said = lines(out.stderr)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr and 1 <= len(said) <= 2, out.stderr
    for text in expected:
        assert text in out.stderr, out.stderr
    return out.stderr


def test_require_readonly_role_refuses_a_superuser_in_one_line(cli_dsn: str) -> None:
    _refusal(run(["serve", "--dsn", cli_dsn, "--require-readonly-role"]), "--require-readonly-role", "superuser")
    port = str(free_port())
    http = run(["serve", "--dsn", cli_dsn, "--require-readonly-role", "--transport", "http", "--port", port])
    _refusal(http, "--require-readonly-role")


@pytest.mark.parametrize(
    ("args", "config", "expected"),
    [
        (["demo", "--scale", "0"], None, "--scale"),
        (["call", "list_tables", "not json"], None, "JSON object"),
        (["serve", "--config", "{missing}"], None, "Config file not found"),
        (["serve", "--config", "{config}"], "max_rows = = 3\n", "not valid TOML"),
        (["serve", "--config", "{config}"], "max_rowz = 3\n", "unknown setting 'max_rowz'"),
        (["serve", "--config", "{config}"], "max_rows = 0\n", "max_rows"),
        (["serve", "--port", "70000"], None, "port"),
        (["serve", "--dsn", "{missing_db}"], None, "database name"),
        (["serve", "--dsn", "{unknown_user}"], None, "user name"),
        (["serve", "--dsn", "postgresql://u:pw@no-such-host.invalid/db"], None, "host name"),
        (["call", "list_tables", "--dsn", "{missing_db}"], None, "database name"),
    ],
)
def test_startup_refusals_are_one_line_and_exit_2(
    cli_dsn: str, tmp_path: Path, args: list[str], config: str | None, expected: str
) -> None:
    path = tmp_path / "vf-mcp.toml"
    if config is not None:
        path.write_text(config)
    names = {
        "missing": str(tmp_path / "nowhere.toml"),
        "config": str(path),
        "missing_db": replace_db(cli_dsn, "no_such_database"),
        "unknown_user": replace_db(cli_dsn, "cli_test", user="no_such_role"),
    }
    args = [a.format(**names) for a in args]
    if args[0] == "serve" and "--dsn" not in args:
        args += ["--dsn", cli_dsn]
    _refusal(run(args), expected)


def test_a_wrong_setting_ends_the_stdio_server_while_the_client_keeps_stdin_open(cli_dsn: str) -> None:
    """stdio answers initialize while the start-up check runs (it does not wait for the database); a wrong
    database name found by that check still ends the server with the one-line refusal and exit 2."""

    started = time.monotonic()
    proc = subprocess.Popen(
        [str(VF), "serve", "--dsn", replace_db(cli_dsn, "no_such_database")],
        env=clean_env(),
        stdin=subprocess.PIPE,  # kept open: the server must end by itself
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        rc = proc.wait(timeout=60)
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
        assert proc.stdin is not None
        proc.stdin.close()
    assert rc == 2 and time.monotonic() - started < 60
    said = lines(stderr)
    assert len(said) == 1 and "database name" in said[0] and "Traceback" not in stderr, stderr


def test_port_in_use_says_so_before_starting(cli_dsn: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        said = _refusal(run(["serve", "--dsn", cli_dsn, "--transport", "http", "--port", port]), "--port", port)
    assert "in use" in said and "startup complete" not in said.lower() and "serving" not in said


@pytest.mark.anyio
async def test_wrong_password_is_not_retried(cli_dsn: str) -> None:
    """28P01 ends the start at the first attempt, in one line saying what to fix."""
    admin = await asyncpg.connect(cli_dsn)
    try:
        hba = Path(await admin.fetchval("SHOW hba_file"))
        log_dir = Path(await admin.fetchval("SHOW data_directory"))
        await admin.execute("DROP ROLE IF EXISTS vf_cli_pw; CREATE ROLE vf_cli_pw LOGIN PASSWORD 'right-pw'")
        await admin.execute("GRANT CONNECT ON DATABASE cli_test TO vf_cli_pw")
        original = hba.read_text() if hba.is_file() and os.access(hba, os.W_OK) else None
        if original is None:
            pytest.skip("the test server's pg_hba.conf is not writable from here")
        hba.write_text("local all vf_cli_pw scram-sha-256\nhost all vf_cli_pw all scram-sha-256\n" + original)
        await admin.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(0.5)
        try:
            dsn = replace_db(cli_dsn, "cli_test", user="vf_cli_pw:wrong-pw")
            log = log_dir / "log"
            before = log.read_text(errors="replace").count('password authentication failed for user "vf_cli_pw"')
            said = _refusal(await asyncio.to_thread(run, ["serve", "--dsn", dsn]), "password", "not retried")
            assert "wrong-pw" not in said
            after = log.read_text(errors="replace").count('password authentication failed for user "vf_cli_pw"')
            assert after - before == 1, f"{after - before} attempts"
        finally:
            hba.write_text(original)
            await admin.execute("SELECT pg_reload_conf()")
    finally:
        await admin.close()


# --- quiet exits, mcp.json ----------------------------------------------------------------------------------------


def test_call_prints_its_result_and_nothing_else(cli_dsn: str) -> None:
    for _ in range(3):  # the start-up warm-up is still running at exit: cancelled without a word
        out = run(["call", "run_query", '{"sql": "SELECT count(*) AS n FROM things"}', "--dsn", cli_dsn])
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["rows"] == [[0]]
        assert out.stderr == "", out.stderr


def _mcp_json() -> dict[str, dict[str, object]]:
    servers: dict[str, dict[str, object]] = json.loads((ROOT / "mcp.json").read_text())["mcpServers"]
    return servers


def test_mcp_json_own_database_entry_fails_in_one_line_until_filled_in() -> None:
    entry = _mcp_json()["vf-mcp"]
    assert entry["command"] == "vf-mcp"
    env = {**clean_env(), **entry.get("env", {})}  # type: ignore[dict-item]
    proc = subprocess.run(
        [str(VF), *entry["args"]],  # type: ignore[misc]
        env=env,
        stdin=subprocess.PIPE,  # open, as an MCP client leaves it
        capture_output=True,
        text=True,
        timeout=120,
    )
    _refusal(proc, "CHANGE_ME", "VF_MCP_DSN")


@pytest.mark.slow
def test_mcp_json_demo_entry_works_as_shipped(demo_home: Path) -> None:
    entry = _mcp_json()["vf-mcp-demo"]
    assert entry["command"] == "vf-mcp" and "env" not in entry  # nothing to fill in

    async def go() -> list[str]:
        from mcp import Client
        from mcp.client.stdio import StdioServerParameters

        params = StdioServerParameters(
            command=str(VF),
            args=list(entry["args"]),  # type: ignore[call-overload]
            env={**clean_env(), "XDG_CACHE_HOME": str(demo_home)},  # its default data directory
        )
        async with Client(params) as client:
            result = await client.call_tool("list_tables", {})
            assert not result.is_error
            return [t["name"] for t in (result.structured_content or {})["tables"]]

    assert "staff" in asyncio.run(go())


# --- the wheel --------------------------------------------------------------------------------------------------


def _copy_repository(target: Path) -> None:
    """The repository's files (not its local environment), so the build writes nothing into the checkout."""
    import shutil

    try:
        command = ["git", "ls-files", "-co", "--exclude-standard"]
        listed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        names = listed.stdout.splitlines() if listed.returncode == 0 else None
    except FileNotFoundError:  # no git
        names = None
    if names is None:  # not a git checkout (CI runs a plain copy)
        skip = shutil.ignore_patterns(".venv", "build", "*.egg-info", "__pycache__", ".*_cache", ".git")
        shutil.copytree(ROOT, target, ignore=skip)
        return
    for name in names:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes((ROOT / name).read_bytes())


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_serves_the_demo_kpis(demo_home: Path, tmp_path: Path) -> None:
    """`pip install .` (not editable) ships what the server reads at run time: the demo's KPI definitions."""
    import sysconfig

    source = tmp_path / "src"
    _copy_repository(source)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), "."],
        cwd=source,
        check=True,
        timeout=600,
    )
    wheel = next(wheels.glob("vf_mcp-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # the deps, not vf_mcp
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, timeout=300)
    alone = {k: v for k, v in clean_env().items() if k != "PYTHONPATH"}  # only what the venv itself holds
    where = subprocess.run(
        [str(python), "-c", "import vf_mcp; print(vf_mcp.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=alone,
    )
    assert where.stdout.startswith(site), where.stdout + where.stderr  # the wheel's copy, not the checkout
    out = subprocess.run(
        [
            str(venv / "bin" / "vf-mcp"),
            "call",
            "get_kpi_dashboard",
            "{}",
            "--demo",
            "--data-dir",
            str(demo_dir(demo_home)),
        ],
        env=alone,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    dashboard = json.loads(out.stdout)
    assert dashboard["source"] == "velocityfibre.toml", dashboard.get("message")
    assert "VelocityFibre" in dashboard["title"]
