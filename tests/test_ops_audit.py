"""Audit log: JSON lines with redaction and masking, rotation, the PostgreSQL sink, and the target-DSN refusal."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from vf_mcp.errors import ConfigError
from vf_mcp.ops.audit import AuditLog, AuditRecord, default_audit_path, is_secret_key, same_database
from vf_mcp.settings import Settings

pytestmark = pytest.mark.anyio

FIELDS = {
    "ts",
    "identity",
    "tool",
    "source",
    "arguments",
    "sql",
    "row_count",
    "duration_ms",
    "ok",
    "error_code",
    "error",
}


def settings(**kw: Any) -> Settings:
    return Settings(**kw)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def sample_record(i: int = 0, **kw: Any) -> AuditRecord:
    base: dict[str, Any] = {
        "identity": "team",
        "tool": "run_query",
        "arguments": {"sql": f"SELECT {i}", "limit": 10},
        "sql": [f"SELECT {i}"],
        "row_count": 1,
        "duration_ms": 12.5,
    }
    base.update(kw)
    return AuditRecord(**base)


async def test_json_lines_fields_redaction_and_masking(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    masked: list[Any] = []

    def masker(value: Any) -> Any:
        masked.append(value)
        return json.loads(json.dumps(value).replace("alice@example.com", "a***@example.com"))

    log = AuditLog(settings(audit_log_path=str(path)), "postgresql://h/db", masker=masker)
    log.record(
        sample_record(
            arguments={
                "sql": "SELECT * FROM staff WHERE email = 'alice@example.com'",
                "password": "hunter2",
                "apiKey": "k-123",
                "options": {"access_token": "t", "secret": {"nested": 1}, "depth": 3},
                "dsn_list": ["postgresql://u:pw@h/db"],
                "note": "connect with postgresql://user:topsecret@db.internal/x please",
                "primary_key": "id",
            },
            sql=["SELECT * FROM staff WHERE email = 'alice@example.com'"],
            source="main",
        )
    )
    log.record(
        sample_record(
            1, ok=False, error_code="timeout", error="Query cancelled", row_count=None, ts=datetime(2024, 5, 1, 12)
        )
    )
    await log.aclose()

    first, second = lines(path)
    assert set(first) == FIELDS == set(second)
    assert first["ts"].endswith("Z") and datetime.fromisoformat(first["ts"]).tzinfo is not None
    assert abs(datetime.fromisoformat(first["ts"]).timestamp() - time.time()) < 60
    args = first["arguments"]
    assert args["password"] == args["apiKey"] == args["dsn_list"] == args["primary_key"] == "***"
    assert args["options"] == {"access_token": "***", "secret": "***", "depth": 3}
    assert "topsecret" not in json.dumps(first) and "postgresql://user:***@db.internal/x" in args["note"]
    assert "alice@example.com" not in path.read_text() and "a***@example.com" in args["sql"]
    assert first["sql"] == ["SELECT * FROM staff WHERE email = 'a***@example.com'"]
    assert (first["identity"], first["tool"], first["source"], first["ok"]) == ("team", "run_query", "main", True)
    assert (first["row_count"], first["duration_ms"], first["error_code"]) == (1, 12.5, None)
    assert len(masked) == 4  # arguments and sql of each record
    assert second["ts"] == "2024-05-01T12:00:00.000Z"
    assert (second["ok"], second["error_code"], second["error"], second["row_count"]) == (
        False,
        "timeout",
        "Query cancelled",
        None,
    )
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_secret_key_names() -> None:
    for key in (
        "password",
        "db_password",
        "secret",
        "token",
        "access_token",
        "apiKey",
        "api_key",
        "key",
        "dsn",
        "audit_dsn",
        "passphrase",
        "ssh-passphrase",
        "PASSWORD",
    ):
        assert is_secret_key(key), key
    for key in ("sql", "table", "limit", "schema", "columns", "monkeys"):
        assert not is_secret_key(key), key


async def test_masker_failure_drops_arguments(tmp_path: Path) -> None:
    def broken(value: Any) -> Any:
        raise ValueError("bad")

    path = tmp_path / "audit.jsonl"
    log = AuditLog(settings(audit_log_path=str(path)), "", masker=broken)
    log.record(sample_record(arguments={"sql": "SELECT 'pii'"}))
    await log.aclose()
    (rec,) = lines(path)
    assert rec["arguments"] == "<masking failed>" and "pii" not in path.read_text()


async def test_rotation_at_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(settings(audit_log_path=str(path), audit_max_bytes=1024, audit_backups=2), "")
    for i in range(60):
        log.record(sample_record(i, arguments={"sql": f"SELECT {i}", "pad": "x" * 100}))
    await log.aclose()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    for p in tmp_path.iterdir():
        assert p.stat().st_size <= 1024
        assert all(set(r) == FIELDS for r in lines(p))
    newest = lines(path)[-1]
    assert newest["arguments"]["sql"] == "SELECT 59"


async def test_off_and_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    off = AuditLog(settings(audit_log_path="off"), "")
    assert not off.enabled and off.path is None
    off.record(sample_record())
    await off.aclose()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_audit_path() == tmp_path / "state" / "vf-mcp" / "audit.jsonl"
    log = AuditLog(settings(), "")
    assert log.path == default_audit_path()
    log.record(sample_record())
    await log.aclose()
    assert len(lines(default_audit_path())) == 1


def test_same_database() -> None:
    assert same_database("postgresql://a:x@db.internal:5432/sales", "postgres://b@db.internal/sales")
    assert same_database("postgresql://localhost/sales", "postgresql://127.0.0.1:5432/sales?sslmode=require")
    assert same_database("host=db.internal port=5432 dbname=sales user=a", "postgresql://db.internal/sales")
    assert same_database("postgresql://h1,db.internal:5433/sales", "postgresql://db.internal:5433/sales")
    assert same_database("postgresql:///sales?host=/var/run/postgresql", "postgresql://localhost/sales")
    assert not same_database("postgresql://db.internal/sales", "postgresql://db.internal/audit")
    assert not same_database("postgresql://db.internal/sales", "postgresql://db.internal:5433/sales")
    assert not same_database("postgresql://db1/sales", "postgresql://db2/sales")


def test_refuses_audit_dsn_equal_to_target(tmp_path: Path) -> None:
    target = "postgresql://reader:pw@db.internal:5432/sales"
    s = settings(audit_log_path="off", audit_dsn="postgresql://writer:other@db.internal/sales")
    with pytest.raises(ConfigError) as err:
        AuditLog(s, target)
    assert "pw" not in err.value.message and "other" not in err.value.message
    with pytest.raises(ConfigError):
        AuditLog(s, ["postgresql://db.internal/other", target])  # any served database counts
    ok = AuditLog(settings(audit_log_path="off", audit_dsn="postgresql://writer@db.internal/audit"), target)
    assert ok.enabled


async def test_postgres_sink_writes_rows(pg: Any, tmp_path: Path) -> None:
    audit_dsn = await pg.acreate_database("vf_audit_test")
    path = tmp_path / "audit.jsonl"
    s = settings(audit_log_path=str(path), audit_dsn=audit_dsn)
    log = AuditLog(s, pg.dsn("velocityfibre_test"), batch_size=100)
    await log.start()
    for i in range(1200):
        log.record(sample_record(i, ok=i % 10 != 0, arguments={"sql": f"SELECT {i}", "token": "t", "nul": "a\x00b"}))
    await log.aclose()
    assert (log.db_written, log.db_dropped) == (1200, 0)
    assert len(lines(path)) == 1200

    conn = await asyncpg.connect(audit_dsn)
    try:
        rows = await conn.fetch("SELECT ts, identity, tool, ok, record FROM vf_mcp_audit ORDER BY id")
        assert len(rows) == 1200
        assert sum(not r["ok"] for r in rows) == 120
        first = json.loads(rows[0]["record"])
        assert set(first) == FIELDS
        assert first["arguments"] == {"sql": "SELECT 0", "token": "***", "nul": "a\ufffdb"}
        assert (rows[0]["identity"], rows[0]["tool"]) == ("team", "run_query")
        assert rows[0]["ts"].tzinfo is not None and abs(rows[0]["ts"].timestamp() - time.time()) < 120
    finally:
        await conn.close()

    # A second AuditLog (a restart) reuses the table.
    again = AuditLog(s, pg.dsn("velocityfibre_test"))
    await again.start()
    again.record(sample_record(5000))
    await again.aclose()
    conn = await asyncpg.connect(audit_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM vf_mcp_audit") == 1201
    finally:
        await conn.close()


async def test_sink_down_never_blocks(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "audit.jsonl"
    s = settings(audit_log_path=str(path), audit_dsn=f"postgresql://u:p@127.0.0.1:{port}/audit")
    log = AuditLog(s, "postgresql://127.0.0.1/target", queue_size=10, connect_timeout_s=1)
    for i in range(25):  # before start(): the bounded queue keeps 10
        log.record(sample_record(i))
    await asyncio.sleep(0)  # records are written after the turn of the event loop that made them
    assert log.db_dropped == 15
    await log.start()
    started = time.monotonic()
    for i in range(5):
        log.record(sample_record(i))
    assert time.monotonic() - started < 0.1
    await log.aclose()
    assert time.monotonic() - started < 8
    assert log.db_written == 0 and log.db_dropped == 30
    assert len(lines(path)) == 30  # the file sink has everything
    assert log.stats()["vf_mcp_audit_db_dropped_total"] == 30
