"""Audit log: one JSON line per tool call in a rotating file, optionally copied to a separate PostgreSQL database.

Secret-looking argument keys are redacted; a caller-supplied masker hides PII before anything is written.
Writing never blocks or fails a tool call: a record is only queued during the call; it is masked, encoded and
written to the file right after the answer has gone out (the next turn of the event loop, in one write for
every record of that turn, and at close), and the database sink is a bounded queue drained in batches by a
background task (records are dropped and counted when it is down or full).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

import platformdirs

from vf_mcp.errors import ConfigError
from vf_mcp.jsontypes import JSONValue
from vf_mcp.redaction import redact_text
from vf_mcp.settings import Settings, redact_dsn

if TYPE_CHECKING:
    import asyncpg
else:
    from vf_mcp.lazy import asyncpg  # imported on first use: not before the stdio handshake

log = logging.getLogger("vf_mcp.ops.audit")

REDACTED = "***"
MAX_FIELD_CHARS = 20_000  # longer strings (SQL, arguments, messages) are cut in the log

_SECRET_SUBSTR = re.compile(r"password|passwd|secret|passphrase|credential|dsn|token|apikey")
_SECRET_WORD = re.compile(r"(?:^|_)(?:key|pwd|auth)(?:_|$)")
_DSN_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]*@", re.IGNORECASE)

TABLE = "vf_mcp_audit"
_CREATE_SQL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    ts timestamptz NOT NULL,
    identity text NOT NULL,
    tool text NOT NULL,
    ok boolean NOT NULL,
    record jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS {TABLE}_ts_idx ON {TABLE} (ts);
"""
_INSERT_SQL = f"INSERT INTO {TABLE} (ts, identity, tool, ok, record) VALUES ($1, $2, $3, $4, $5::jsonb)"


@dataclass(frozen=True)
class AuditRecord:
    """One tool call as the caller saw it (arguments and SQL may still hold secrets; PII is masked by `masker`)."""

    identity: str
    tool: str
    arguments: Mapping[str, JSONValue] = field(default_factory=dict)
    sql: Sequence[str] = ()
    row_count: int | None = None
    duration_ms: float = 0.0
    ok: bool = True
    error_code: str | None = None
    error: str | None = None
    source: str | None = None
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))


def is_secret_key(key: str) -> bool:
    """Whether an argument name looks like it holds a secret (password, secret, token, key, dsn, passphrase...)."""
    k = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower().replace("-", "_")
    return bool(_SECRET_SUBSTR.search(k) or _SECRET_WORD.search(k))


def redact(value: object) -> JSONValue:
    """JSON-ready copy with secret-keyed values replaced by ***, DSN passwords hidden and long strings cut."""
    if isinstance(value, Mapping):
        return {str(k): REDACTED if is_secret_key(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _clean_str(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _clean_str(str(value))


def _clean_str(s: str) -> str:
    if "://" in s:
        s = _DSN_PASSWORD.sub(r"\1***@", s)
    s = redact_text(s)  # DSN passwords in any form, and the configured secrets
    if "\x00" in s:  # jsonb and text reject NUL
        s = s.replace("\x00", "\ufffd")
    if len(s) > MAX_FIELD_CHARS:
        s = f"{s[:MAX_FIELD_CHARS]}…[{len(s) - MAX_FIELD_CHARS} more chars]"
    return s


# --- is the audit database the target database? ---------------------------------------------------------

_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1", "0.0.0.0", "::"}
_KEYWORD = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")


def _endpoints(hosts: str, ports: str) -> set[tuple[str, int]]:
    host_list = hosts.split(",") if hosts else [""]
    port_list = ports.split(",") if ports else []
    out: set[tuple[str, int]] = set()
    for i, h in enumerate(host_list):
        p = port_list[i] if i < len(port_list) else (port_list[-1] if port_list else "")
        h = h.strip().strip("[]").lower()
        h = "local" if h in _LOCAL_HOSTS or h.startswith("/") or h.startswith("@") else h
        try:
            port = int(p) if p.strip() else int(os.environ.get("PGPORT", "5432"))
        except ValueError:
            port = 5432
        out.add((h, port))
    return out


def dsn_identity(dsn: str) -> tuple[set[tuple[str, int]], str]:
    """(set of (host, port), database) named by a libpq URL or keyword DSN; local hosts and sockets count as one."""
    params: dict[str, str] = {}
    hosts = ports = ""
    if re.match(r"^postgres(ql)?://", dsn, re.IGNORECASE):
        parts = urlsplit(dsn)
        netloc = parts.netloc.rpartition("@")[2]
        if "@" in parts.netloc:
            params["user"] = unquote(parts.netloc.rpartition("@")[0].partition(":")[0])
        host_items, port_items = [], []
        for item in netloc.split(","):
            m = re.match(r"^(\[[^\]]*\]|[^:]*)(?::(\d*))?$", item)
            host_items.append(unquote(m.group(1)) if m else item)
            port_items.append((m.group(2) or "") if m else "")
        hosts = ",".join(host_items)
        ports = ",".join(port_items) if any(port_items) else ""
        if parts.path.strip("/"):
            params["dbname"] = unquote(parts.path.lstrip("/"))
        for k, v in parse_qs(parts.query).items():
            params[k] = v[-1]
    else:
        for k, v in _KEYWORD.findall(dsn):
            params[k] = v[1:-1].replace("\\'", "'").replace("\\\\", "\\") if v.startswith("'") else v
    hosts = params.get("host", hosts) or os.environ.get("PGHOST", "")
    ports = params.get("port", ports) or ""
    user = params.get("user") or os.environ.get("PGUSER", "")
    database = params.get("dbname") or params.get("database") or os.environ.get("PGDATABASE", "") or user
    return _endpoints(hosts, ports), database


def same_database(a: str, b: str) -> bool:
    """True when two DSNs name the same database on a shared host:port (hostname aliases are not resolved)."""
    ends_a, db_a = dsn_identity(a)
    ends_b, db_b = dsn_identity(b)
    return db_a == db_b and bool(ends_a & ends_b)


# --- the log ----------------------------------------------------------------------------------------------


class _AuditFile:
    """Appends JSON lines to the audit file (owner-only permissions), rotating at `max_bytes` like
    logging's RotatingFileHandler (`backups` old files .1 ... .N; 0: never rotate), with one write() per
    batch of records and no per-record stat."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._fd: int | None = None
        self._size = 0

    def write_lines(self, lines: Sequence[str]) -> None:
        """Append `lines` (one write per file they go to), rotating where the next line would pass max_bytes."""
        if self._fd is None:
            self._open()
        rotates = self.max_bytes > 0 and self.backups > 0
        chunk: list[bytes] = []
        size = self._size
        for line in lines:
            data = (line + "\n").encode("utf-8")
            if rotates and size > 0 and size + len(data) > self.max_bytes:
                self._append(b"".join(chunk))
                chunk, size = [], 0
                self._rotate()
            chunk.append(data)
            size += len(data)
        self._append(b"".join(chunk))

    def _append(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:  # a regular file takes it whole; a short write (a full disk) is retried, or raises
            view = view[os.write(self._fd, view) :]
        self._size += len(data)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        self.close()
        for i in range(self.backups - 1, 0, -1):
            older = Path(f"{self.path}.{i}")
            if older.exists():
                os.replace(older, f"{self.path}.{i + 1}")
        if self.path.exists():
            os.replace(self.path, f"{self.path}.1")
        self._open()


def default_audit_path() -> Path:
    """platformdirs user_state_dir("vf-mcp")/audit.jsonl."""
    return Path(platformdirs.user_state_dir("vf-mcp")) / "audit.jsonl"


class AuditLog:
    """Writes AuditRecords to the file sink (audit_log_path) and the optional PostgreSQL sink (audit_dsn).

    `target_dsn` is the served database (or all of them: sources and replicas); an audit_dsn naming one of
    them is refused with ConfigError, because the audit log must not live in the database it audits.
    `masker` is applied to arguments and sql before anything is written.
    Call record() from the event loop thread; call start() once the loop runs and aclose() at shutdown.
    """

    def __init__(
        self,
        settings: Settings,
        target_dsn: str | Iterable[str],
        *,
        masker: Callable[[JSONValue], JSONValue] | None = None,
        queue_size: int = 10_000,
        batch_size: int = 500,
        connect_timeout_s: float = 10.0,
        flush_timeout_s: float = 5.0,
    ) -> None:
        self._masker = masker
        self._batch_size = max(1, batch_size)
        self._connect_timeout_s = connect_timeout_s
        self._flush_timeout_s = flush_timeout_s
        self.records = 0  # records accepted
        self.db_written = 0
        self.db_dropped = 0
        self.file_errors = 0

        self._dsn = settings.audit_dsn.get_secret_value() if settings.audit_dsn else None
        if self._dsn:
            targets = [target_dsn] if isinstance(target_dsn, str) else list(target_dsn)
            for target in targets:
                if target and same_database(self._dsn, target):
                    raise ConfigError(
                        f"audit_dsn ({redact_dsn(self._dsn)}) names the database vf-mcp serves "
                        f"({redact_dsn(target)}): point it at a separate, writable database."
                    )

        raw_path = settings.audit_log_path.strip()
        self.path: Path | None
        self._file: _AuditFile | None = None
        if raw_path.lower() == "off":
            self.path = None
        else:
            self.path = Path(raw_path).expanduser() if raw_path else default_audit_path()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(f"Cannot create the audit log directory {self.path.parent}: {exc}") from exc
            self._file = _AuditFile(self.path, settings.audit_max_bytes, settings.audit_backups)

        self._queue: asyncio.Queue[tuple[datetime, str, str, bool, str]] | None = (
            asyncio.Queue(maxsize=max(1, queue_size)) if self._dsn else None
        )
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._table_ready = False
        self._last_warn = float("-inf")
        self._sink_down = False
        self._closed = False
        self._pending: list[AuditRecord] = []  # recorded during this turn of the event loop, written after it

    @property
    def enabled(self) -> bool:
        """Whether any sink is configured."""
        return self.path is not None or self._dsn is not None

    def record(self, rec: AuditRecord) -> None:
        """Queue one record; it is written after the answer (see flush). Never raises, never blocks."""
        if not self.enabled or self._closed:
            return
        self.records += 1
        self._pending.append(rec)
        if len(self._pending) > 1:
            return  # a flush is already scheduled
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:  # no event loop (a synchronous caller): now
            self.flush()

    def flush(self) -> None:
        """Mask, encode and write every queued record: the file in one write, the database sink's queue."""
        pending, self._pending = self._pending, []
        lines: list[str] = []
        for rec in pending:
            try:
                doc = self._document(rec)
                line = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=str)
            except Exception:
                self.records -= 1
                log.exception("audit: could not serialise a record for tool %r", rec.tool)
                continue
            lines.append(line)
            if self._queue is not None:
                try:
                    self._queue.put_nowait((rec.ts, str(doc["identity"]), str(doc["tool"]), rec.ok, line))
                except asyncio.QueueFull:
                    self.db_dropped += 1
                    self._warn("audit database sink is behind or down: queue full, record dropped")
        if self._file is not None and lines:
            try:
                self._file.write_lines(lines)
            except Exception:
                self.file_errors += 1
                log.exception("audit: file write failed")

    async def start(self) -> None:
        """Start the database sink's background task (no-op without audit_dsn)."""
        if self._queue is not None and self._task is None:
            self._task = asyncio.create_task(self._drain(), name="vf-mcp-audit-sink")

    async def aclose(self) -> None:
        """Write the queued records, flush the database queue (up to flush_timeout_s), stop the sink, close."""
        self.flush()
        self._closed = True
        if self._task is not None and self._queue is not None:
            if not self._sink_down:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._queue.join(), self._flush_timeout_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._queue is not None:
            left = self._queue.qsize()
            if left:
                self.db_dropped += left
                log.warning("audit: %d records not written to the audit database at shutdown", left)
                while not self._queue.empty():
                    self._queue.get_nowait()
                    self._queue.task_done()
        await self._close_conn()
        if self._file is not None:
            self._file.close()
            self._file = None

    def stats(self) -> dict[str, float]:
        """Counters for a metrics gauge source."""
        return {
            "vf_mcp_audit_records_total": self.records,
            "vf_mcp_audit_db_written_total": self.db_written,
            "vf_mcp_audit_db_dropped_total": self.db_dropped,
            "vf_mcp_audit_db_queue": self._queue.qsize() if self._queue is not None else 0,
        }

    # -- internals ------------------------------------------------------------------------------------------

    def _document(self, rec: AuditRecord) -> dict[str, JSONValue]:
        arguments: JSONValue = dict(rec.arguments)
        sql: JSONValue = list(rec.sql)
        if self._masker is not None:
            try:
                arguments = self._masker(arguments)
                sql = self._masker(sql)
            except Exception:
                log.exception("audit: masker failed; arguments and SQL left out of the record")
                arguments, sql = "<masking failed>", ["<masking failed>"]
        ts = rec.ts if rec.ts.tzinfo else rec.ts.replace(tzinfo=UTC)
        return {
            "ts": ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "identity": _clean_str(rec.identity),
            "tool": _clean_str(rec.tool),
            "source": None if rec.source is None else _clean_str(rec.source),
            "arguments": redact(arguments),
            "sql": redact(sql),
            "row_count": rec.row_count,
            "duration_ms": round(float(rec.duration_ms), 3),
            "ok": bool(rec.ok),
            "error_code": rec.error_code,
            "error": None if rec.error is None else _clean_str(rec.error),
        }

    async def _drain(self) -> None:
        assert self._queue is not None
        backoff = 1.0
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                ok = await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if ok:
                backoff = 1.0
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _write(self, batch: list[tuple[datetime, str, str, bool, str]]) -> bool:
        """Insert a batch in one transaction (one retry on a fresh connection); False when dropped."""
        error: BaseException | None = None
        for _attempt in range(2):
            try:
                conn = await self._connection()
                async with conn.transaction():
                    await conn.executemany(_INSERT_SQL, batch)
            except Exception as exc:  # whatever the sink does, the tool call and this task carry on
                error = exc
                await self._close_conn()
                continue
            self.db_written += len(batch)
            if self._sink_down:
                log.info("audit database sink is writing again")
                self._sink_down = False
                self._last_warn = float("-inf")
            return True
        self.db_dropped += len(batch)
        self._sink_down = True
        self._warn(f"audit database sink failed ({type(error).__name__}: {error}); {len(batch)} records dropped")
        return False

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self._dsn,
                timeout=self._connect_timeout_s,
                server_settings={"application_name": "vf-mcp-audit"},
            )
        if not self._table_ready:
            if await self._conn.fetchval("SELECT to_regclass($1) IS NULL", TABLE):
                async with self._conn.transaction():
                    await self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('vf_mcp_audit'))")
                    await self._conn.execute(_CREATE_SQL)
            self._table_ready = True
        return self._conn

    async def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 2.0)
            except Exception:
                conn.terminate()

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warn >= 60.0:
            log.warning("%s (dropped so far: %d)", message, self.db_dropped)
            self._last_warn = now
