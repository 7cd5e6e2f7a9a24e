"""The DBA digests on MySQL/MariaDB, pure: an EXPLAIN FORMAT=JSON plan, status variables, statement digests.

Same shapes as the PostgreSQL digests (PlanDigest, Issue), so explain_query and check_database_health render
them unchanged. Plans: every table access in the JSON (MySQL's and MariaDB's layouts alike) becomes a node,
"<access_type> on <table>", costed by MySQL's read_cost + eval_cost when the plan has them (MySQL 8), else by
the rows it reads (MariaDB); MariaDB's ANALYZE adds r_rows and r_total_time_ms per table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from vf_mcp.compute.dba.plan import Issue, NodeCost, PlanDigest

_FILESORT = (
    "The result is sorted by a filesort: an index in ORDER BY order (after the equality filters) lets MySQL read "
    "rows already sorted."
)
_TEMPORARY = (
    "A temporary table holds an intermediate result (GROUP BY/DISTINCT/UNION): an index on the grouping columns "
    "can avoid it."
)
FULL_SCAN_ROWS = 1_000
"""A full scan (access_type ALL) reading at least this many rows is reported."""


def _tables(node: object) -> Iterator[Mapping[str, object]]:
    if isinstance(node, Mapping):
        if "table_name" in node:
            yield node
        for value in node.values():
            yield from _tables(value)
    elif isinstance(node, list):
        for value in node:
            yield from _tables(value)


def _num(value: object) -> float | None:
    try:
        return None if value is None else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _has(node: object, *keys: str) -> bool:
    if isinstance(node, Mapping):
        return any(k in node and node[k] not in (False, None) for k in keys) or any(
            _has(v, *keys) for v in node.values()
        )
    return isinstance(node, list) and any(_has(v, *keys) for v in node)


def digest_plan(plan: Mapping[str, object], *, analyzed: bool) -> PlanDigest:
    """Top table accesses, full scans of large tables, filesorts and temporary tables, with fixes."""
    nodes: list[NodeCost] = []
    issues: list[Issue] = []
    lines: list[str] = []
    for t in _tables(plan):
        name, access = str(t.get("table_name")), str(t.get("access_type") or "?")
        rows = _num(t.get("rows")) or _num(t.get("rows_examined_per_scan")) or 0.0
        cost_info = t.get("cost_info")
        cost = None
        if isinstance(cost_info, Mapping):
            parts = [_num(cost_info.get(k)) for k in ("read_cost", "eval_cost")]
            cost = sum(p for p in parts if p is not None) if any(p is not None for p in parts) else None
        key = t.get("key")
        label = f"{access} on {name}" + (f" using {key}" if key else "")
        actual = _num(t.get("r_rows"))
        loops = _num(t.get("r_loops"))
        self_cost = cost if cost is not None else rows
        time_ms = _num(t.get("r_total_time_ms"))
        nodes.append(NodeCost(label, self_cost, time_ms, 0.0, rows, actual, None if loops is None else int(loops)))
        lines.append(f"{label}: ~{rows:,.0f} rows" + (f", {actual:,.0f} actual" if actual is not None else ""))
        condition = t.get("attached_condition")
        if access == "ALL" and max(rows, actual or 0.0) >= FULL_SCAN_ROWS:
            issues.append(
                Issue(
                    "full_table_scan",
                    "warning",
                    name,
                    {"rows": rows, "condition": condition, "possible_keys": t.get("possible_keys")},
                    f"{name} is read whole (~{rows:,.0f} rows): index the columns its filter or join uses"
                    + (f" ({condition})" if condition else "")
                    + " so MySQL can seek instead of scanning.",
                )
            )
    total = sum(n.self_cost for n in nodes) or 0.0
    block = plan.get("query_block")
    if isinstance(block, Mapping) and isinstance(block.get("cost_info"), Mapping):
        cost_info = block["cost_info"]
        assert isinstance(cost_info, Mapping)
        total = _num(cost_info.get("query_cost")) or total
    for n in nodes:
        n.share_pct = round(100.0 * n.self_cost / total, 1) if total else 0.0
    nodes.sort(key=lambda n: -n.self_cost)
    if _has(plan, "filesort", "using_filesort"):
        issues.append(Issue("filesort", "info", "query", {}, _FILESORT))
    if _has(plan, "temporary_table", "using_temporary_table"):
        issues.append(Issue("temporary_table", "info", "query", {}, _TEMPORARY))
    execution = _num(block.get("r_total_time_ms")) if isinstance(block, Mapping) else None
    suggestions = [i.recommendation for i in issues if i.severity != "info"]
    return PlanDigest(analyzed, round(total, 2), None, execution, nodes[:5], issues, suggestions, lines)


def health_findings(
    status: Mapping[str, str],
    variables: Mapping[str, str],
    long_running: Sequence[tuple[int, str, int, str]],
    without_pk: Sequence[str],
) -> tuple[list[Issue], dict[str, str]]:
    """Findings and per-check summaries from SHOW GLOBAL STATUS/VARIABLES, the process list (id, user, seconds,
    state) and the tables without a primary key."""
    issues: list[Issue] = []
    checks: dict[str, str] = {}

    def num(m: Mapping[str, str], k: str) -> float:
        return _num(m.get(k)) or 0.0

    used, limit = num(status, "Threads_connected"), num(variables, "max_connections")
    share = used / limit if limit else 0.0
    checks["connections"] = f"{used:.0f} of {limit:.0f} ({share:.0%})"
    if share >= 0.8:
        level = "critical" if share >= 0.95 else "warning"
        fix = "Connections are near max_connections: use a pool, or raise max_connections."
        issues.append(Issue("connections", level, "server", {"connected": used, "max_connections": limit}, fix))
    reads, requests = num(status, "Innodb_buffer_pool_reads"), num(status, "Innodb_buffer_pool_read_requests")
    checks["buffer_pool"] = "too few reads yet to judge"
    if requests >= 10_000:
        hit = 1.0 - reads / requests
        checks["buffer_pool"] = f"hit ratio {hit:.2%}"
        if hit < 0.95:
            fix = "InnoDB reads from disk often: raise innodb_buffer_pool_size toward the working set."
            issues.append(Issue("buffer_pool_hit_ratio", "warning", "server", {"hit_ratio": round(hit, 4)}, fix))
    aborted, connects = num(status, "Aborted_connects"), num(status, "Connections")
    checks["aborted_connects"] = f"{aborted:.0f} of {connects:.0f}"
    if connects >= 100 and aborted / connects > 0.05:
        fix = "Many connection attempts fail: check credentials, max_connect_errors and the network."
        issues.append(
            Issue("aborted_connects", "warning", "server", {"aborted": aborted, "connections": connects}, fix)
        )
    slow = num(status, "Slow_queries")
    checks["slow_queries"] = f"{slow:.0f} since start"
    if slow:
        fix = "Statements over long_query_time ran: see get_slow_queries (performance_schema digests)."
        issues.append(Issue("slow_queries", "info", "server", {"slow_queries": slow}, fix))
    checks["long_running"] = str(len(long_running)) if long_running else "ok"
    for pid, user, seconds, state in long_running:
        fix = f"Thread {pid} has run one statement for {seconds} s: check it, or KILL QUERY it."
        issues.append(
            Issue(
                "long_running_query",
                "warning",
                f"thread {pid}",
                {"user": user, "seconds": seconds, "state": state},
                fix,
            )
        )
    checks["primary_keys"] = str(len(without_pk)) if without_pk else "ok"
    for table in without_pk:
        fix = f"{table} has no primary key (InnoDB uses a hidden one; replication and tools need a real key): add one."
        issues.append(Issue("no_primary_key", "warning", table, {}, fix))
    checks["uptime"] = f"{num(status, 'Uptime') / 3600.0:,.1f} h"
    return issues, checks


def index_candidates(
    per_query: Sequence[Sequence[tuple[str, Sequence[str]]]], existing: Mapping[str, Sequence[Sequence[str]]]
) -> list[tuple[str, tuple[str, ...], list[int]]]:
    """(table, columns, queries helped) for each filter/join column list no existing index starts with."""
    out: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for i, preds in enumerate(per_query):
        for table, cols in preds:
            want = tuple(cols)
            if not want:
                continue
            have = [tuple(c.lower() for c in ix) for ix in existing.get(table, ())]
            lowered = tuple(c.lower() for c in want)
            if any(ix[: len(lowered)] == lowered or ix[:1] == lowered[:1] for ix in have):
                continue  # an index already leads with these columns
            out.setdefault((table, want), []).append(i)
    return [(t, cols, helps) for (t, cols), helps in out.items()]


# ---------- recommend_indexes' gain estimate (MySQL and MariaDB have no hypothetical indexes) ----------


@dataclass(frozen=True)
class KeyStats:
    """Column statistics of a candidate's equality columns, counted over the table."""

    rows: int  # COUNT(*)
    keyed: int  # rows with every column non-NULL (an equality never matches NULL)
    distinct: int  # COUNT(DISTINCT columns)


@dataclass(frozen=True)
class RowsEstimate:
    rows_before: float | None
    rows_after: float | None
    improvement_pct: float | None
    note: str


def rows_by_table(plan: Mapping[str, object], aliases: Mapping[str, str]) -> dict[str, float]:
    """Rows EXPLAIN FORMAT=JSON expects to read per access, summed per table (plan names are aliases)."""
    out: dict[str, float] = {}
    for t in _tables(plan):
        alias = str(t.get("table_name"))
        rows = _num(t.get("rows")) or _num(t.get("rows_examined_per_scan")) or 0.0
        table = aliases.get(alias.lower(), alias)
        out[table] = out.get(table, 0.0) + rows
    return out


def rows_estimate(
    before: float | None, stats: KeyStats | None, equality: Sequence[str], columns: Sequence[str]
) -> RowsEstimate:
    """Rows read today (EXPLAIN) versus rows per value of the equality columns, keyed rows / distinct values
    (an index lookup reads the rows sharing one value; a range column after them reads fewer still)."""
    method = "estimate from EXPLAIN's rows and column statistics, not a measured plan"
    if stats is None or not equality:
        return RowsEstimate(before, None, None, f"{method}: a range or join filter alone is not estimated")
    after = stats.keyed / stats.distinct if stats.distinct else 0.0
    note = (
        f"{method}: EXPLAIN reads ~{before or 0:,.0f} rows today; an index lookup on {', '.join(equality)} "
        f"reads keyed rows / distinct values = {stats.keyed:,} / {stats.distinct:,} = {after:,.1f} rows per value"
    )
    if len(columns) > len(equality):
        note += f" (at most: the join or range on {columns[len(equality)]} narrows it further)"
    pct = round(100.0 * (before - after) / before, 1) if before else None
    if pct is not None and pct <= 0:
        pct = 0.0
        note += "; no gain per access: the plan already reads no more rows from this table (another key)"
    return RowsEstimate(before, round(after, 1), pct, note)
