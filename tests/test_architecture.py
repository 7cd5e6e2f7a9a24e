"""The import rules of docs/architecture.md, checked on the source (no database needed)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "vf_mcp"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports (absolute names), at any depth of the file."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def files(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def offenders(layer: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for path in files(layer):
        for name in imports_of(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    return bad


def test_compute_is_pure() -> None:
    assert not offenders("compute", ("asyncpg", "mcp", "vf_mcp.db", "vf_mcp.tools", "vf_mcp.server", "httpx", "redis"))


def test_db_never_imports_mcp_or_tools() -> None:
    assert not offenders("db", ("mcp", "vf_mcp.tools", "vf_mcp.server"))


def test_tools_never_import_the_driver() -> None:
    assert not offenders("tools", ("asyncpg",))


def test_models_and_ops_stay_below_tools() -> None:
    assert not offenders("models", ("vf_mcp.db", "vf_mcp.tools", "vf_mcp.server"))
    assert not offenders("ops", ("vf_mcp.tools", "vf_mcp.server"))


def test_app_container_is_typed_and_outside_tools() -> None:
    app = (PACKAGE / "app.py").read_text(encoding="utf-8")
    assert "Any" not in app.split("__all__")[1]
    assert not [n for n in imports_of(PACKAGE / "app.py") if n.startswith(("vf_mcp.tools", "vf_mcp.server", "mcp"))]


def test_no_tool_module_imports_another() -> None:
    tool_modules = {f"vf_mcp.tools.{p.stem}" for p in files("tools")} - {"vf_mcp.tools.common", "vf_mcp.tools.__init__"}
    bad = []
    for path in files("tools"):
        me = f"vf_mcp.tools.{path.stem}"
        bad += [f"{me} imports {n}" for n in imports_of(path) if n in tool_modules and n != me]
    assert not bad


def test_server_uses_no_sdk_private_attribute() -> None:
    text = (PACKAGE / "server.py").read_text(encoding="utf-8")
    assert "setattr(server" not in text
    assert "._tool_manager" not in text and "._lowlevel_server" not in text


def test_no_module_uses_sdk_private_attributes() -> None:
    """The stdio transport and the manifest reach the SDK through its public API too."""
    bad = [
        str(path.relative_to(PACKAGE.parent))
        for path in sorted(PACKAGE.rglob("*.py"))
        if any(name in path.read_text(encoding="utf-8") for name in ("._tool_manager", "._lowlevel_server"))
    ]
    assert not bad


def test_ui_views_stay_out_of_tools_and_db() -> None:
    assert not offenders("ui", ("vf_mcp.tools", "vf_mcp.db", "asyncpg"))
