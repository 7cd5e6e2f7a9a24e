"""Pure functions: optimisation hints from an EXPLAIN (FORMAT JSON) plan and what the run observed."""

from __future__ import annotations

import re
from collections.abc import Iterator

from vf_mcp.compute.dba.aliases import PlanDict
from vf_mcp.compute.dba.plan import node_label, plan_root, walk_plan

LARGE_SCAN_ROWS = 10_000
SELECTIVE = 0.1
_COL = re.compile(r"\(?\(?([A-Za-z_][A-Za-z0-9_]*)\)?\s*(?:=|<|>|<=|>=|~~|~~\*|IS NULL|= ANY)")


def walk(node: PlanDict) -> Iterator[PlanDict]:
    yield node
    for child in node.get("Plans", ()) or ():
        yield from walk(child)


def plan_hints(
    plan: object,
    *,
    row_estimates: dict[str, int],
    returned_rows: int,
    truncated: bool,
    has_limit: bool,
    max_rows: int,
) -> list[str]:
    """Hints a DBA would give: seq scans with selective filters, sorts of large inputs, estimates far off.

    `row_estimates` maps relation name -> planner row estimate of the whole table.
    """
    hints: list[str] = []
    root = plan[0]["Plan"] if isinstance(plan, list) and plan and "Plan" in plan[0] else None
    if root is not None:
        for node in walk(root):
            ntype = node.get("Node Type")
            rel = node.get("Relation Name")
            if ntype == "Seq Scan" and rel:
                table_rows = row_estimates.get(rel, 0)
                out_rows = node.get("Plan Rows", 0)
                flt = node.get("Filter")
                if table_rows >= LARGE_SCAN_ROWS and flt and out_rows <= SELECTIVE * table_rows:
                    cols = sorted(set(_COL.findall(flt)))
                    where = f" on ({', '.join(cols)})" if cols else ""
                    hints.append(
                        f"Sequential scan of {rel} (~{table_rows:,} rows) keeps only ~{out_rows:,} rows with "
                        f"filter {flt}: an index{where} would avoid reading the whole table."
                    )
            if ntype == "Sort" and node.get("Plan Rows", 0) >= 100_000:
                keys = ", ".join(node.get("Sort Key", []))
                hints.append(
                    f"Sorting ~{node.get('Plan Rows'):,} rows by {keys}: an index matching the ORDER BY, or a "
                    "LIMIT, would avoid the sort."
                )
        est = root.get("Plan Rows")
        pair = (est + 1, returned_rows + 1) if est is not None else (1, 1)
        if not truncated and max(pair) > 10 * min(pair):
            hints.append(
                f"The planner expected ~{est:,} rows but the query returned {returned_rows}: statistics may "
                "be stale; ANALYZE the tables involved."
            )
    if truncated and not has_limit:
        hints.append(
            f"No LIMIT and more than {max_rows} rows: aggregate in SQL (GROUP BY), add a LIMIT, page with "
            "offset, or use export_results for the full result."
        )
    return hints


def plan_outline(plan: object, *, max_lines: int = 15) -> list[str]:
    """The plan tree as indented lines `Node on table (cost=…, rows=…) filter: …`, for the text of a result."""
    root = plan_root(plan)
    if root is None:
        return []
    lines: list[str] = []
    nodes = list(walk_plan(root))
    for node, depth in nodes[:max_lines]:
        cost = node.get("Total Cost")
        rows = node.get("Plan Rows")
        line = f"{'  ' * depth}{node_label(node)} (cost={cost}, rows={rows})"
        for key in ("Index Cond", "Hash Cond", "Filter", "Sort Key", "Group Key"):
            if node.get(key):
                value = node[key]
                line += f" {key.lower()}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
        lines.append(line)
    if len(nodes) > max_lines:
        lines.append(f"... {len(nodes) - max_lines} more node(s) in query_plan")
    return lines
