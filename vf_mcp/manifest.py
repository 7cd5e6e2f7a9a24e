"""The published tools, from a manifest shipped with the package: a tool family's module loads on first use.

Building a tool from its function (pydantic argument and output models, schemas) and importing the tool
modules (their models, statements and math) is most of what vf-mcp adds to start-up. `tools.json` holds
what tools/list publishes for every tool, exactly as `VfTool.from_function` and the schema compaction
produce it; the server publishes `LazyTool`s from it, and a tool's module is imported, and the real tool
built, on its first call (or in the background shortly after start-up). `tests/test_manifest.py` keeps the
file equal to what the functions give; regenerate it with `python -m vf_mcp.manifest` after changing a
tool's signature, docstring or output model.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import PrivateAttr

from vf_mcp.models.base import compact_schema, compact_text, drop_free_form, shallow_output_schema

__all__ = ["FAMILIES", "MANIFEST_PATH", "Families", "LazyTool", "build_manifest", "import_families", "published"]

FAMILIES: dict[str, str] = {
    "core": "vf_mcp.tools.core",
    "quality": "vf_mcp.tools.quality",
    "relationships": "vf_mcp.tools.relationships",
    "analytics": "vf_mcp.tools.analytics",
    "kpi": "vf_mcp.tools.kpi",
    "dba": "vf_mcp.tools.dba",
    "export": "vf_mcp.tools.export",
    "migration": "vf_mcp.tools.migration",
    "sources": "vf_mcp.tools.sources",
}
"""Every tool family by the name the `tools` setting uses, and the module that publishes it as `TOOLS`."""

MANIFEST_PATH = Path(__file__).resolve().parent / "tools.json"


class Families(Mapping[str, ModuleType]):
    """FAMILIES with modules as values, each imported when first looked up (iterating imports nothing)."""

    def __getitem__(self, family: str) -> ModuleType:
        return importlib.import_module(FAMILIES[family])

    def __iter__(self) -> Iterator[str]:
        return iter(FAMILIES)

    def __len__(self) -> int:
        return len(FAMILIES)


def _compact(tool: Tool) -> None:
    compact_schema(tool.parameters, output=False)
    shallow_output_schema(tool.output_schema)
    compact_schema(tool.output_schema, output=True)
    drop_free_form(tool.output_schema)
    if tool.description:
        tool.description = compact_text(tool.description)
    hints = tool.annotations
    if hints is not None and hints.read_only_hint:
        # meaningful only when readOnlyHint is false (MCP specification): not repeated on every read-only tool
        hints.destructive_hint = hints.idempotent_hint = None


def _real_tool(module: ModuleType, name: str) -> Tool:
    """The tool `name` of `module`, built from its function as the SDK would, with compact schemas."""
    from vf_mcp.tools.common import VfTool

    for t in module.TOOLS:
        if t.fn.__name__ == name:
            tool = VfTool.from_function(t.fn, annotations=t.annotations, structured_output=True)
            _compact(tool)
            return tool
    raise LookupError(f"{module.__name__} publishes no tool {name!r}")


def build_manifest() -> list[dict[str, Any]]:
    """Every tool's published form, built from the functions (imports every tool module)."""
    out: list[dict[str, Any]] = []
    for family, module_name in FAMILIES.items():
        module = importlib.import_module(module_name)
        for t in module.TOOLS:
            tool = _real_tool(module, t.fn.__name__)
            hints = tool.annotations.model_dump(exclude_none=True) if tool.annotations else None
            out.append(
                {
                    "family": family,
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                    "output_schema": tool.output_schema,
                    "annotations": hints,
                }
            )
    return out


class LazyTool(Tool):
    """A published tool whose module is imported, and whose real tool is built, on its first call."""

    module_name: str
    published_output_schema: dict[str, Any] | None = None
    _real: Tool | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property  # the manifest's schema, not one derived from fn_metadata
    def output_schema(self) -> dict[str, Any] | None:
        return self.published_output_schema

    def real(self) -> Tool:
        """The tool built from its function (imports its module the first time)."""
        if self._real is None:
            with self._lock:  # a background import and a first call may race
                if self._real is None:
                    self._real = _real_tool(importlib.import_module(self.module_name), self.name)
        return self._real

    async def run(self, arguments: dict[str, Any], context: Context[Any, Any], convert_result: bool = False) -> Any:
        return await self.real().run(arguments, context, convert_result=convert_result)


def _not_loaded(*_: object, **__: object) -> None:
    raise RuntimeError("a LazyTool runs through its real tool")


def published(families: list[str], *, several_sources: bool) -> list[Tool]:
    """The tools of these families as tools/list shows them (without `source` for a one-database server)."""
    entries = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    chosen = set(families)
    tools: list[Tool] = []
    for entry in entries:
        if entry["family"] not in chosen:
            continue
        parameters = entry["parameters"]
        if not several_sources and entry["name"] != "list_sources":
            props = parameters.get("properties")
            if isinstance(props, dict) and "source" not in parameters.get("required", ()):
                props.pop("source", None)
        hints = entry["annotations"]
        tools.append(
            LazyTool.model_construct(
                fn=_not_loaded,
                name=entry["name"],
                title=None,
                description=entry["description"],
                parameters=parameters,
                fn_metadata=None,
                is_async=True,
                context_kwarg="ctx",
                resolved_params={},
                resolver_plans={},
                annotations=ToolAnnotations(**hints) if hints is not None else None,
                icons=None,
                meta=None,
                module_name=FAMILIES[entry["family"]],
                published_output_schema=entry["output_schema"],
            )
        )
    return tools


async def import_families(families: list[str]) -> None:
    """Import these families' modules in a worker thread, so a first call rarely waits for them."""

    def load() -> None:
        for family in families:
            importlib.import_module(FAMILIES[family])

    await asyncio.to_thread(load)


def main() -> None:
    """Write tools.json from the tool functions."""
    MANIFEST_PATH.write_text(json.dumps(build_manifest(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stderr.write(f"wrote {MANIFEST_PATH}\n")


if __name__ == "__main__":
    main()
