"""Promises about the project itself: documented settings, README commands, lint and types."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vf_mcp.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    from vf_mcp.settings import documented_toml

    text = (ROOT / "config" / "vf-mcp.toml").read_text()
    documented = set(re.findall(r"^# ([a-z_]+) = ", text, flags=re.MULTILINE))
    assert documented == set(Settings.model_fields)
    assert text.strip() == documented_toml().strip()
    readme = (ROOT / "README.md").read_text()
    for name in ("VF_MCP_DSN", "VF_MCP_STATEMENT_TIMEOUT_MS", "VF_MCP_MAX_ROWS", "VF_MCP_MAX_RESULT_BYTES"):
        assert name in readme


def test_flags_beat_env_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("max_rows = 11\nstatement_timeout_ms = 2222\nlock_timeout_ms = 333\n")
    monkeypatch.setenv("VF_MCP_MAX_ROWS", "22")
    monkeypatch.setenv("VF_MCP_STATEMENT_TIMEOUT_MS", "4444")
    s = load_settings(cfg, max_rows=33)
    assert (s.max_rows, s.statement_timeout_ms, s.lock_timeout_ms) == (33, 4444, 333)


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    test_cmd = [line for line in ci if line.startswith("python -m pytest")]
    assert test_cmd == ["python -m pytest -q"]
    readme = (ROOT / "README.md").read_text()
    assert "pip install -e '.[dev]' && python -m pytest -q" in readme
    assert "vf-mcp demo" in readme.split("## ")[0]


def test_mcp_json_is_a_client_config() -> None:
    import json

    cfg = json.loads((ROOT / "mcp.json").read_text())
    assert cfg["mcpServers"]["vf-mcp"]["command"] == "vf-mcp"
    assert cfg["mcpServers"]["vf-mcp-demo"]["args"] == ["demo"]


@pytest.mark.skipif(
    shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists(),
    reason="ruff not installed",
)
def test_ruff_clean() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    out = subprocess.run([ruff, "check", "vf_mcp", "tests", "bench"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_clean() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy", "vf_mcp"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_no_print_in_library_code() -> None:
    for path in (ROOT / "vf_mcp").rglob("*.py"):
        if path.name == "cli.py":
            continue
        assert not re.search(r"^\s*print\(", path.read_text(), flags=re.MULTILINE), path
