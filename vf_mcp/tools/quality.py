"""check_data_quality: per-table completeness, freshness, consistency, duplicates, outliers and orphans.

The report itself is built by vf_mcp.quality (shared with the KPI dashboard's data_health).
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from vf_mcp.app import App
from vf_mcp.models.quality import QualityReport
from vf_mcp.quality import CHECKS, CheckName, check_quality, value_text
from vf_mcp.tools.common import SourceArg, ToolDef, app_of, respond, tool_errors


@tool_errors
async def check_data_quality(
    ctx: Context[App],
    table_name: Annotated[str | None, Field(description="One table (default: all tables)")] = None,
    checks: Annotated[list[CheckName] | None, Field(description="Default: all")] = None,
    source: SourceArg = None,
) -> Annotated[CallToolResult, QualityReport]:
    """Find data-quality problems per table (NULLs, freshness, formats, duplicates, outliers, orphans), with
    affected_rows and a fix for each; scores 0-100. Large tables are sampled (exact=false).
    """
    app = app_of(ctx, source)

    async def progress(done: float, total: float, message: str) -> None:
        await ctx.report_progress(done, total, message=message)

    report = await check_quality(app, progress, table_name, tuple(checks or CHECKS))
    return respond(report, _body(report))


TOOLS = (ToolDef(check_data_quality),)


def _body(report: QualityReport) -> str:
    """One line per table, then one line per finding."""
    lines = [f"overall {value_text(report.score)}: {report.scoring}"]
    for tq in report.tables:
        how = "exact" if tq.exact else f"sampled {tq.sample_size}"
        newest = f", newest {tq.newest}" if tq.newest else ""
        lines.append(
            f"{tq.table}: score {value_text(tq.score)} (completeness {value_text(tq.completeness)}, freshness "
            f"{value_text(tq.freshness)}, consistency {value_text(tq.consistency)}); {tq.rows} rows, {how}{newest}"
        )
        for f in tq.findings:
            col = f".{f.column}" if f.column else ""
            rows = f" [{f.affected_rows} rows]" if f.affected_rows is not None else ""
            lines.append(f"  {f.severity} {f.type}{col}{rows}: {f.description} -> {f.recommendation}")
    return "\n".join(lines)
