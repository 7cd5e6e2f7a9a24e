"""Plan digest: costliest nodes, misestimates, spills and slow patterns in an EXPLAIN (FORMAT JSON) plan, with fixes."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from vf_mcp.compute.dba.aliases import Evidence, EvidenceView, PlanDict
from vf_mcp.compute.dba.candidates import Candidate, covering_index, shape_candidates
from vf_mcp.compute.dba.facts import (
    ESTIMATE_ERROR_RATIO,
    ESTIMATE_MIN_ROWS,
    LARGE_TABLE_ROWS,
    MAX_INDEX_COLUMNS,
    NESTED_LOOP_OUTER_ROWS,
    NESTED_LOOP_SEQ_OUTER_ROWS,
    SELECTIVE_FRACTION,
    TableFacts,
    ident,
    index_name,
)
from vf_mcp.compute.dba.shape import QueryShape, expression_predicates
from vf_mcp.compute.severity import SEVERITY_ORDER

# --------------------------------------------------------------------------------------------------
# Plan digest
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    check: str
    severity: str
    object: str
    evidence: EvidenceView
    recommendation: str


@dataclass
class NodeCost:
    label: str
    self_cost: float
    self_time_ms: float | None
    share_pct: float
    rows_estimated: float
    rows_actual: float | None
    loops: int | None


@dataclass
class PlanDigest:
    analyzed: bool
    total_cost: float
    planning_ms: float | None
    execution_ms: float | None
    top_nodes: list[NodeCost]
    issues: list[Issue]
    suggestions: list[str]
    lines: list[str]


def plan_root(plan: object) -> PlanDict | None:
    if isinstance(plan, list) and plan and isinstance(plan[0], dict) and "Plan" in plan[0]:
        root: PlanDict = plan[0]["Plan"]
        return root
    return None


def walk_plan(node: PlanDict, depth: int = 0) -> Iterator[tuple[PlanDict, int]]:
    yield node, depth
    for child in node.get("Plans", ()) or ():
        yield from walk_plan(child, depth + 1)


def node_label(n: PlanDict) -> str:
    label = str(n.get("Node Type", "?"))
    if n.get("Strategy") in ("Hashed", "Sorted", "Mixed") and label == "Aggregate":
        label = f"{'Hash' if n['Strategy'] == 'Hashed' else 'Group'}Aggregate"
    if n.get("Parallel Aware"):
        label = "Parallel " + label
    if n.get("Index Name"):
        label += f" using {n['Index Name']}"
    rel = n.get("Relation Name")
    if rel:
        schema = n.get("Schema")
        label += f" on {schema + '.' if schema else ''}{rel}"
        alias = n.get("Alias")
        if alias and alias != rel:
            label += f" {alias}"
    elif n.get("CTE Name"):
        label += f" on {n['CTE Name']}"
    return label


def _inclusive_time(n: PlanDict) -> float | None:
    t = n.get("Actual Total Time")
    if t is None:
        return None
    return float(t) * max(1, int(n.get("Actual Loops") or 0))


def _fmt(n: float) -> str:
    return f"{n:,.0f}"


def _mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB" if kb >= 1024 else f"{kb:.0f} kB"


def digest_plan(
    plan: object,
    *,
    tables: Mapping[str, TableFacts],
    shape: QueryShape | None = None,
    bound: Mapping[str, TableFacts] | None = None,
    work_mem_kb: int = 4096,
    max_lines: int = 60,
) -> PlanDigest:
    """Digest of an EXPLAIN (FORMAT JSON) plan: costliest nodes, issues with evidence, concrete suggestions.

    `tables` maps plan relation names (and aliases) to catalog facts; `shape`/`bound` come from the query
    text and give the index columns for a scan (equality columns first, then a range column).
    """
    root = plan_root(plan)
    if root is None:
        return PlanDigest(False, 0.0, None, None, [], [], [], [])
    assert isinstance(plan, list)  # plan_root found its root in plan[0]
    top: PlanDict = plan[0]
    analyzed = "Actual Total Time" in root
    total_cost = float(root.get("Total Cost") or 0.0)
    total_time = _inclusive_time(root) if analyzed else None
    nodes = list(walk_plan(root))
    costs: list[NodeCost] = []
    lines: list[str] = []
    for n, depth in nodes:
        kids = n.get("Plans", ()) or ()
        self_cost = max(0.0, float(n.get("Total Cost") or 0.0) - sum(float(k.get("Total Cost") or 0) for k in kids))
        self_time = None
        if analyzed and n.get("Actual Loops"):
            incl = _inclusive_time(n) or 0.0
            self_time = max(0.0, incl - sum(_inclusive_time(k) or 0.0 for k in kids if k.get("Actual Loops")))
        if total_time:
            share = 100.0 * (self_time or 0.0) / total_time
        else:
            share = 100.0 * self_cost / total_cost if total_cost else 0.0
        actual = n.get("Actual Rows")
        loops = n.get("Actual Loops")
        costs.append(
            NodeCost(
                node_label(n),
                round(self_cost, 2),
                None if self_time is None else round(self_time, 3),
                round(share, 1),
                float(n.get("Plan Rows") or 0),
                None if actual is None else float(actual),
                None if loops is None else int(loops),
            )
        )
        if len(lines) < max_lines:
            extra = (
                f" actual={float(actual or 0):,.0f}x{loops} time={_inclusive_time(n) or 0:.1f}ms"
                if analyzed and loops
                else ""
            )
            if analyzed and loops == 0:
                extra = " never executed"
            lines.append(
                f"{'  ' * depth}{node_label(n)} cost={float(n.get('Total Cost') or 0):,.0f} "
                f"rows={float(n.get('Plan Rows') or 0):,.0f}{extra}"
            )
    if len(nodes) > max_lines:
        lines.append(f"... {len(nodes) - max_lines} more nodes in the plan")
    top_nodes = sorted(costs, key=lambda c: (c.self_time_ms if analyzed else c.self_cost) or 0.0, reverse=True)[:5]

    ctx = _DigestContext(tables, shape, bound or {}, work_mem_kb, analyzed)
    for n, _ in nodes:
        ctx.check_node(n)
    ctx.check_estimates(root)
    issues = sorted(ctx.issues, key=lambda i: SEVERITY_ORDER.get(i.severity, 9))
    return PlanDigest(
        analyzed=analyzed,
        total_cost=total_cost,
        planning_ms=_opt_float(top.get("Planning Time")),
        execution_ms=_opt_float(top.get("Execution Time")),
        top_nodes=top_nodes,
        issues=issues,
        suggestions=list(dict.fromkeys(ctx.suggestions)),
        lines=lines,
    )


def _opt_float(v: float | str | None) -> float | None:
    return None if v is None else round(float(v), 3)


def _rows_out(n: PlanDict, analyzed: bool) -> float:
    """Rows a node produced in total (all loops) when analyzed, else its estimate."""
    if analyzed and n.get("Actual Loops") is not None:
        return float(n.get("Actual Rows") or 0) * int(n.get("Actual Loops") or 0)
    return float(n.get("Plan Rows") or 0)


class _DigestContext:
    def __init__(
        self,
        tables: Mapping[str, TableFacts],
        shape: QueryShape | None,
        bound: Mapping[str, TableFacts],
        work_mem_kb: int,
        analyzed: bool,
    ) -> None:
        self.tables = tables
        self.shape = shape
        self.bound = bound
        self.work_mem_kb = work_mem_kb
        self.analyzed = analyzed
        self.issues: list[Issue] = []
        self.suggestions: list[str] = []

    def table_of(self, n: PlanDict) -> TableFacts | None:
        alias, rel = n.get("Alias"), n.get("Relation Name")
        for key in (alias, rel):
            if key and key in self.bound:
                return self.bound[key]
        return self.tables.get(str(rel)) if rel else None

    # -- index columns for a scan -----------------------------------------------------------------

    def index_columns(self, t: TableFacts, exprs: Sequence[str]) -> tuple[tuple[str, ...], int]:
        if self.shape is not None:
            mine = [c for c in shape_candidates(self.shape, self.bound, min_rows=0) if c.table.oid == t.oid]
            for kind in ("sort", "filter"):  # ORDER BY ... LIMIT after the equality columns serves both
                for c in mine:
                    if c.kind == kind:
                        return c.columns, c.eq_count
        eq: list[str] = []
        rng: list[str] = []
        for text in exprs:
            preds, _ = expression_predicates(text)
            for p in preds:
                if p.ref.column not in t.columns:
                    continue
                target = eq if p.kind in ("eq", "in", "null") else rng
                if p.ref.column not in eq + rng:
                    target.append(p.ref.column)
        eq.sort(key=lambda c: -(t.distinct(c) or 0.0))
        cols = (eq + rng[:1])[:MAX_INDEX_COLUMNS]
        return tuple(cols), min(len(eq), len(cols))

    def suggest_index(self, t: TableFacts, cols: Sequence[str], eq_count: int, why: str) -> str:
        existing = covering_index(t, cols, eq_count)
        if existing is not None:
            return (
                f"index {existing.name} already covers ({', '.join(cols)}) but was not used: the filter is not "
                f"selective enough for the planner, the column types differ from the compared values, or "
                f"statistics are stale (ANALYZE {t.sql_name})"
            )
        cand = Candidate(t, tuple(cols), eq_count, "filter", why)
        stmt = cand.statement()
        self.suggestions.append(f"{stmt} -- {why}")
        return stmt.rstrip(";")

    # -- per-node rules ---------------------------------------------------------------------------

    def check_node(self, n: PlanDict) -> None:
        ntype = n.get("Node Type")
        if ntype == "Seq Scan":
            self.seq_scan(n)
        elif ntype in ("Index Scan", "Index Only Scan", "Bitmap Heap Scan"):
            self.index_filter(n)
        elif ntype == "Nested Loop":
            self.nested_loop(n)
        self.spills(n)

    def seq_scan(self, n: PlanDict) -> None:
        t = self.table_of(n)
        if t is None or t.rows < LARGE_TABLE_ROWS:
            return
        flt = n.get("Filter")
        # parallel workers each count as a loop; only a scan repeated by a nested loop is "looped"
        loops = int(n.get("Actual Loops") or 1) if self.analyzed and not n.get("Parallel Aware") else 1
        if self.analyzed:
            kept = float(n.get("Actual Rows") or 0)
            scanned = kept + float(n.get("Rows Removed by Filter") or 0)
        else:
            kept = float(n.get("Plan Rows") or 0)
            scanned = t.rows
        label = node_label(n)
        if flt and scanned > 0 and kept <= SELECTIVE_FRACTION * scanned:
            cols, eq_count = self.index_columns(t, [flt])
            evidence: Evidence = {
                "table_rows": round(t.rows),
                "rows_scanned": round(scanned),
                "rows_kept": round(kept),
                "filter": flt,
                "loops": loops,
            }
            if cols:
                why = f"Seq Scan reads ~{_fmt(scanned)} rows of {t.display} to keep ~{_fmt(kept)}"
                advice = self.suggest_index(t, cols, eq_count, why)
                advice = f"{advice}: lets PostgreSQL read only the matching rows"
            else:
                advice = (
                    f"the filter {flt} keeps {100 * kept / scanned:.2g}% of the rows but is not on plain columns: "
                    "an expression index on the filtered expression would let PostgreSQL skip the scan"
                )
            sev = "critical" if t.rows >= 1_000_000 or loops > 1 else "warning"
            self.issues.append(Issue("seq_scan", sev, label, evidence, advice))
        elif not flt and t.rows >= 100_000 and loops == 1:
            self.issues.append(
                Issue(
                    "seq_scan",
                    "info",
                    label,
                    {"table_rows": round(t.rows)},
                    f"reads all ~{_fmt(t.rows)} rows of {t.display}: expected for a full aggregate or export; if "
                    "it runs often, filter it, or pre-aggregate into a materialized view",
                )
            )

    def index_filter(self, n: PlanDict) -> None:
        if not self.analyzed or not n.get("Filter"):
            return
        t = self.table_of(n)
        kept = float(n.get("Actual Rows") or 0) * int(n.get("Actual Loops") or 1)
        removed = float(n.get("Rows Removed by Filter") or 0) * int(n.get("Actual Loops") or 1)
        if t is None or removed < LARGE_TABLE_ROWS or removed < 10 * max(kept, 1):
            return
        cols, eq_count = self.index_columns(
            t, [str(n.get(k)) for k in ("Index Cond", "Recheck Cond", "Filter") if n.get(k)]
        )
        advice = (
            f"the index finds ~{_fmt(kept + removed)} rows and the filter {n['Filter']} then discards ~{_fmt(removed)}"
        )
        if cols:
            advice += "; " + self.suggest_index(
                t, cols, eq_count, f"{node_label(n)} discards ~{_fmt(removed)} rows after the index lookup"
            )
        self.issues.append(
            Issue(
                "index_filter",
                "warning",
                node_label(n),
                {"rows_kept": round(kept), "rows_removed": round(removed), "filter": n["Filter"]},
                advice,
            )
        )

    def nested_loop(self, n: PlanDict) -> None:
        kids: list[PlanDict] = list(n.get("Plans", ()) or ())
        if len(kids) < 2:
            return
        outer, inner = kids[0], kids[1]
        outer_rows = _rows_out(outer, self.analyzed)
        scan = inner
        while scan.get("Node Type") in ("Materialize", "Memoize") and scan.get("Plans"):
            scan = scan["Plans"][0]
        label = node_label(n)
        evidence: Evidence = {"outer_rows": round(outer_rows), "outer_rows_estimated": outer.get("Plan Rows")}
        if scan.get("Node Type") == "Seq Scan" and outer_rows >= NESTED_LOOP_SEQ_OUTER_ROWS:
            t = self.table_of(scan)
            inner_rows = t.rows if t is not None else float(scan.get("Plan Rows") or 0)
            if inner_rows < 1_000:
                return
            total = outer_rows * inner_rows
            evidence.update(
                {"inner": node_label(scan), "inner_table_rows": round(inner_rows), "rows_compared": round(total)}
            )
            advice = f"the inner {node_label(scan)} runs once per outer row (~{_fmt(outer_rows)} times)"
            if t is not None:
                cols = self.join_columns(n, scan, t)
                if cols:
                    advice += "; " + self.suggest_index(
                        t, cols, len(cols), f"nested loop scans {t.display} once per outer row"
                    )
                else:
                    advice += "; an index on its join columns would turn each scan into a lookup"
            if inner.get("Node Type") == "Materialize":
                advice += " (it is materialized, but every row is still compared)"
            sev = "critical" if total >= 10_000_000 else "warning"
            self.issues.append(Issue("nested_loop", sev, label, evidence, advice))
        elif outer_rows >= NESTED_LOOP_OUTER_ROWS:
            sev = "warning" if outer_rows >= 10 * NESTED_LOOP_OUTER_ROWS else "info"
            est = float(outer.get("Plan Rows") or 0)
            hint = ""
            if self.analyzed and outer_rows > ESTIMATE_ERROR_RATIO * max(est, 1):
                hint = f" The planner expected only ~{_fmt(est)} outer rows: fix that estimate first (ANALYZE)."
            self.issues.append(
                Issue(
                    "nested_loop",
                    sev,
                    label,
                    evidence,
                    f"nested loop over ~{_fmt(outer_rows)} outer rows runs {node_label(inner)} that many times; "
                    f"a hash or merge join reads each side once.{hint}",
                )
            )

    def join_columns(self, nl: PlanDict, scan: PlanDict, t: TableFacts) -> tuple[str, ...]:
        alias = scan.get("Alias") or scan.get("Relation Name")
        cols: list[str] = []
        for text in (nl.get("Join Filter"), scan.get("Filter")):
            if not text:
                continue
            preds, joins = expression_predicates(str(text))
            for a, b in joins:
                for ref in (a, b):
                    if ref.qualifier == alias and ref.column in t.columns and ref.column not in cols:
                        cols.append(ref.column)
            for p in preds:
                if p.param is not None and p.ref.column in t.columns and p.ref.column not in cols:
                    cols.append(p.ref.column)
        return tuple(cols[:MAX_INDEX_COLUMNS])

    def spills(self, n: PlanDict) -> None:
        label = node_label(n)
        wm = _mb(self.work_mem_kb)
        if not self.analyzed:
            if n.get("Node Type") == "Sort":
                need_kb = float(n.get("Plan Rows") or 0) * float(n.get("Plan Width") or 0) * 1.5 / 1024
                if need_kb > self.work_mem_kb * 2:
                    self.issues.append(
                        Issue(
                            "disk_spill",
                            "info",
                            label,
                            {"estimated_sort_kb": round(need_kb), "work_mem_kb": self.work_mem_kb},
                            f"sorting ~{_fmt(float(n.get('Plan Rows') or 0))} rows (~{_mb(need_kb)}) is likely to "
                            f"spill to disk with work_mem {wm}; run with analyze=true to confirm",
                        )
                    )
            return
        if n.get("Sort Space Type") == "Disk":
            used = float(n.get("Sort Space Used") or 0)
            need = _work_mem_for(used * 2)
            keys = ", ".join(str(k) for k in n.get("Sort Key", ()) or ())
            self.issues.append(
                Issue(
                    "disk_spill",
                    "warning",
                    label,
                    {
                        "sort_method": n.get("Sort Method"),
                        "disk_kb": used,
                        "work_mem_kb": self.work_mem_kb,
                        "rows": n.get("Actual Rows"),
                    },
                    f"the sort wrote {_mb(used)} to disk (work_mem {wm}): SET work_mem = '{need}' for this "
                    f"query or role, or avoid the sort with an index matching ORDER BY ({keys})",
                )
            )
            self.suggestions.append(
                f"SET work_mem = '{need}';  -- session or ALTER ROLE ... SET: {label} spilled {_mb(used)} to disk"
            )
            return
        batches = int(n.get("Hash Batches") or n.get("HashAgg Batches") or 0)
        disk = float(n.get("Disk Usage") or 0)
        if batches > 1 or disk > 0:
            peak = float(n.get("Peak Memory Usage") or 0)
            need = _work_mem_for(max(peak * max(batches, 1), disk) * 1.2)
            self.issues.append(
                Issue(
                    "disk_spill",
                    "warning",
                    label,
                    {
                        "batches": batches,
                        "original_batches": n.get("Original Hash Batches"),
                        "peak_memory_kb": peak,
                        "disk_kb": disk or None,
                        "work_mem_kb": self.work_mem_kb,
                    },
                    f"the hash table did not fit in work_mem ({wm}) and was split into {batches} batches on "
                    f"disk: SET work_mem = '{need}' (hash_mem_multiplier applies on top) for this query or role",
                )
            )
            self.suggestions.append(f"SET work_mem = '{need}';  -- {label} used {batches} batches on disk")
            return
        written = int(n.get("Temp Written Blocks") or 0)
        kids_written = sum(int(k.get("Temp Written Blocks") or 0) for k in n.get("Plans", ()) or ())
        if written - kids_written > 0 and n.get("Node Type") not in ("Sort", "Hash", "Aggregate"):
            kb = (written - kids_written) * 8.0
            self.issues.append(
                Issue(
                    "disk_spill",
                    "info",
                    label,
                    {"temp_written_kb": kb, "work_mem_kb": self.work_mem_kb},
                    f"wrote {_mb(kb)} of temporary files (work_mem {wm})",
                )
            )

    # -- estimate errors ----------------------------------------------------------------------------

    def check_estimates(self, root: PlanDict) -> None:
        if not self.analyzed:
            return
        found: list[Issue] = []

        def off(n: PlanDict) -> tuple[float, float, float] | None:
            loops = int(n.get("Actual Loops") or 0)
            if loops == 0 or n.get("Actual Rows") is None:
                return None
            est, act = float(n.get("Plan Rows") or 0), float(n.get("Actual Rows") or 0)
            ratio = max(est, act) / max(min(est, act), 1.0)
            if ratio > ESTIMATE_ERROR_RATIO and max(est, act) * loops >= ESTIMATE_MIN_ROWS:
                return est, act, ratio
            return None

        bitmap_inner = ("Bitmap Index Scan", "BitmapAnd", "BitmapOr")

        def visit(n: PlanDict, stopped_early: bool = False) -> bool:
            # under a Limit (or the inner side of a semi/anti join) a node stops early: fewer rows than
            # estimated is expected there, not an estimate error
            below = stopped_early or n.get("Node Type") == "Limit"
            kids: list[tuple[PlanDict, bool]] = []
            for pos, k in enumerate(n.get("Plans", ()) or ()):
                inner_of_semi = pos == 1 and n.get("Join Type") in ("Semi", "Anti")
                kids.append((k, visit(k, below or inner_of_semi)))
            # a bitmap index scan's error is reported on its heap scan (which names the table)
            inherited = any(b for k, b in kids if k.get("Node Type") not in bitmap_inner)
            bad = off(n)
            if bad is not None and stopped_early and bad[1] < bad[0]:
                bad = None
            if bad is None:
                return any(b for _, b in kids)
            if n.get("Node Type") not in bitmap_inner and not inherited:  # the origin of the error
                found.append(self.estimate_issue(n, *bad))
            return True

        visit(root)
        self.issues.extend(found[:5])

    def estimate_issue(self, n: PlanDict, est: float, act: float, ratio: float) -> Issue:
        label = node_label(n)
        evidence: Evidence = {
            "rows_estimated": est,
            "rows_actual": act,
            "ratio": round(ratio, 1),
            "loops": n.get("Actual Loops"),
        }
        t = self.table_of(n) if n.get("Relation Name") else None
        direction = "under" if act > est else "over"
        if t is not None:
            texts = [str(n.get(k)) for k in ("Filter", "Index Cond", "Recheck Cond") if n.get(k)]
            cols: list[str] = []
            for text in texts:
                for p in expression_predicates(text)[0]:
                    if p.ref.column in t.columns and p.ref.column not in cols:
                        cols.append(p.ref.column)
            evidence["last_analyzed"] = t.last_analyzed.isoformat() if t.last_analyzed else None
            evidence["rows_modified_since_analyze"] = t.mod_since_analyze
            if t.stats_stale():
                advice = f"statistics of {t.display} are stale: ANALYZE {t.sql_name};"
                self.suggestions.append(
                    f"ANALYZE {t.sql_name};  -- {label}: estimated {_fmt(est)} rows, got {_fmt(act)}"
                )
            elif len(cols) >= 2:
                name = index_name(t.name, cols, "stats")
                stmt = (
                    f"CREATE STATISTICS {ident(name)} (dependencies, ndistinct, mcv) ON "
                    f"{', '.join(ident(c) for c in cols)} FROM {t.sql_name}; ANALYZE {t.sql_name};"
                )
                advice = (
                    f"the planner multiplies the selectivities of {', '.join(cols)} as if independent; they are "
                    f"correlated: {stmt}"
                )
                self.suggestions.append(f"{stmt}  -- {label}: {direction}estimated {ratio:,.0f}x")
            elif cols:
                stmt = (
                    f"ALTER TABLE {t.sql_name} ALTER COLUMN {ident(cols[0])} SET STATISTICS 1000; ANALYZE {t.sql_name};"
                )
                advice = f"the value distribution of {cols[0]} is skewed beyond the sampled statistics: {stmt}"
                self.suggestions.append(f"{stmt}  -- {label}: {direction}estimated {ratio:,.0f}x")
            else:
                advice = f"ANALYZE {t.sql_name}; if it persists, the condition is not estimable (functions, casts)"
        elif n.get("Node Type") in ("Hash Join", "Merge Join", "Nested Loop"):
            advice = (
                "join size misestimated: ANALYZE the joined tables; if the join columns are correlated with the "
                "filters, CREATE STATISTICS on them"
            )
        elif n.get("Node Type") == "Aggregate":
            advice = "number of groups misestimated: CREATE STATISTICS (ndistinct) on the GROUP BY columns"
        else:
            advice = "estimate off: ANALYZE the tables involved"
        sev = "warning"
        return Issue("row_estimate", sev, label, evidence, f"{direction}estimated {ratio:,.0f}x: {advice}")


def _work_mem_for(kb: float) -> str:
    mb = max(8, 2 ** math.ceil(math.log2(max(kb, 1.0) / 1024.0)))
    return f"{mb}MB" if mb < 1024 else f"{mb // 1024}GB"
