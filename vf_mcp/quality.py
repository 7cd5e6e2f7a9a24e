"""The data-quality report behind check_data_quality and the KPI dashboard's data_health.

Each table costs at most four statements (see vf_mcp.db.quality), run in one READ ONLY transaction;
tables run concurrently, at most pool_max_size at a time, with a progress callback per table.
Scores are defined in vf_mcp.compute.quality. Shared by two tool families, so it lives outside tools/.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from vf_mcp.app import App
from vf_mcp.compute import quality as cq
from vf_mcp.compute.graph import Link
from vf_mcp.compute.severity import SEVERITY_ORDER
from vf_mcp.concurrency import gather_all
from vf_mcp.db import quality as dq
from vf_mcp.db.catalog import Relation, rows_with_partitions
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.quality_fixes import MYSQL, POSTGRES, Dialect, Fixes
from vf_mcp.db.relationships import graph_links, load_graph, root_table
from vf_mcp.errors import VfError
from vf_mcp.models.quality import Finding, QualityReport, TableQuality

Progress = Callable[[float, float, str], Awaitable[None]]
"""Called after each table: (tables done, tables in all, a one-line message)."""

CheckName = Literal["completeness", "freshness", "consistency", "duplicates", "outliers", "referential_integrity"]
CHECKS: tuple[str, ...] = (
    "completeness",
    "freshness",
    "consistency",
    "duplicates",
    "outliers",
    "referential_integrity",
)


@dataclass(frozen=True)
class Config:
    null_warning: float
    null_critical: float
    optional_null_severity: str
    fresh_hours: float
    stale_hours: float
    sigma: float
    enum_max: int
    weights: tuple[float, float, float]

    @classmethod
    def of(cls, app: App) -> Config:
        def get(name: str) -> float:
            return float(getattr(app.settings, name))

        return cls(
            null_warning=get("quality_null_warning"),
            null_critical=get("quality_null_critical"),
            optional_null_severity=str(app.settings.quality_optional_null_severity),
            fresh_hours=get("quality_fresh_hours"),
            stale_hours=get("quality_stale_hours"),
            sigma=get("quality_outlier_sigma"),
            enum_max=int(get("quality_enum_max_values")),
            weights=(
                get("quality_weight_completeness"),
                get("quality_weight_freshness"),
                get("quality_weight_consistency"),
            ),
        )

    def scoring(self) -> str:
        wc, wf, wk = self.weights
        return cq.SCORING.format(wc=wc, wf=wf, wk=wk, fresh=self.fresh_hours, stale=self.stale_hours)


async def check_quality(
    app: App, progress: Progress | None, table_name: str | None, checks: tuple[str, ...]
) -> QualityReport:
    started = time.perf_counter()
    cfg = Config.of(app)
    wanted = frozenset(checks)
    rels = await app.catalog.relations()
    by_name = {r.qualified: r for r in rels}
    if table_name:
        targets = [await app.catalog.resolve(table_name)]
    else:
        targets = [r for r in rels if r.kind in ("r", "p") and r.parent is None]
    inferred: list[Link] = []
    if "referential_integrity" in wanted:  # the inferred edges get_table_relationships reports, measured alike
        graph = await load_graph(app.catalog)
        roots = {root_table(r, rels).qualified for r in targets}
        focus = roots if table_name else None
        found = await graph_links(app.catalog, graph, focus)
        for _ in range(20):  # each call measures at most MAX_VERIFIED candidates: measure them all
            if not any(lk.checked is None and not lk.declared for lk in found.links):
                break
            again = await graph_links(app.catalog, graph, focus)
            if again.links == found.links:
                break  # the rest timed out: they stay unverified
            found = again
        inferred = [lk for lk in found.links if not lk.declared]
    gate = asyncio.Semaphore(max(1, app.settings.pool_max_size))
    done = 0

    async def one(rel: Relation) -> tuple[TableQuality, int]:
        nonlocal done
        async with gate:
            try:
                result = await _check_table(app, cfg, rel, wanted, inferred, by_name, rels)
            except VfError as exc:
                result = (_failed(rel, exc.message), 0)
        done += 1
        if progress is not None:
            score = result[0].score
            await progress(done, len(targets), f"{rel.qualified}: score {value_text(score)}")
        return result

    results = await gather_all(*(one(r) for r in targets))
    tables = [t for t, _ in results]
    statements = sum(n for _, n in results)
    comp = cq.mean(t.completeness for t in tables)
    fresh = cq.mean(t.freshness for t in tables)
    cons = cq.mean(t.consistency for t in tables)
    overall = cq.weighted_score(comp, fresh, cons, cfg.weights)
    counts = {s: sum(1 for t in tables for f in t.findings if f.severity == s) for s in SEVERITY_ORDER}
    elapsed = round((time.perf_counter() - started) * 1000.0, 1)
    sampled = [t.table for t in tables if not t.exact]
    msg = (
        f"{len(tables)} table(s) checked in {elapsed / 1000:.1f} s: score {value_text(overall)}; "
        f"{counts['critical']} critical, {counts['warning']} warning, {counts['info']} info finding(s)"
    )
    if sampled:
        msg += f"; sampled (exact=false): {', '.join(sampled)}"
    return QualityReport(
        score=overall,
        completeness=comp,
        freshness=fresh,
        consistency=cons,
        scoring=cfg.scoring(),
        tables=tables,
        statements=statements,
        calculation_time_ms=elapsed,
        message=msg,
    )


async def _check_table(
    app: App,
    cfg: Config,
    rel: Relation,
    wanted: frozenset[str],
    inferred: list[Link],
    by_name: dict[str, Relation],
    rels: tuple[Relation, ...],
) -> tuple[TableQuality, int]:
    detail = await app.catalog.table_info(rel)
    root = root_table(rel, rels).qualified
    plan = dq.build_plan(
        rel,
        detail,
        wanted,
        estimate=rows_with_partitions(rel, rels),
        large_rows=app.settings.large_table_rows,
        sample_rows=app.settings.stats_sample_rows,
        inferred=[lk for lk in inferred if lk.table == root],
        relations=by_name,
    )
    if isinstance(app.db, MySqlDatabase):  # the same plan in MySQL's SQL (vf_mcp/db/mysql/quality.py)
        from vf_mcp.compute.periods import zone_info
        from vf_mcp.db.mysql.quality import run_checks

        zone = zone_info(app.settings.time_zone)
        raw = await run_checks(app.db, plan, sigma=cfg.sigma, enum_max=cfg.enum_max, zone=zone)
        return interpret(plan, raw, cfg, MYSQL), raw.statements
    async with app.db.read_only() as conn:
        raw = await dq.run_checks(
            conn, plan, sigma=cfg.sigma, enum_max=cfg.enum_max, timeout_s=app.db.client_timeout_s(None)
        )
    return interpret(plan, raw, cfg), raw.statements


def _failed(rel: Relation, message: str) -> TableQuality:
    return TableQuality(
        table=rel.qualified,
        rows=rel.row_estimate or 0,
        exact=False,
        findings=[
            Finding(
                type="error",
                severity="warning",
                description=f"could not check this table: {message}",
                recommendation="Retry with table_name set, or raise statement_timeout_ms",
            )
        ],
    )


# ---------- raw results -> findings and scores ----------


def _examples(values: Sequence[str]) -> str:
    vals = [str(v) for v in values]
    return (", e.g. " + ", ".join(repr(v) for v in vals)) if vals else ""


def _num(v: float | None) -> str:
    return f"{float(v):.6g}" if v is not None else "?"


class _Table:
    """Findings and scores of one table, read off its typed results (see vf_mcp.db.quality)."""

    def __init__(self, plan: dq.TablePlan, raw: dq.TableRaw, cfg: Config, main: dq.MainPass, fix: Fixes) -> None:
        self.plan, self.raw, self.cfg, self.main, self.fix = plan, raw, cfg, main, fix
        self.n = main.rows
        self.exact = not plan.sampled or (plan.sample_limit is not None and self.n < plan.sample_limit)
        self.rows = self.n if self.exact else max(plan.estimate or self.n, self.n)
        self.scale = 1.0 if self.exact or not self.n else self.rows / self.n
        self.findings: list[Finding] = []

    def est(self, k: int) -> int:
        return k if self.exact else round(k * self.scale)

    def add(self, kind: str, sev: str, col: str | None, desc: str, k: int | None, rec: str) -> None:
        rows = None if k is None else self.est(k)
        self.findings.append(
            Finding(type=kind, severity=sev, column=col, description=desc, affected_rows=rows, recommendation=rec)
        )

    def nonnull(self, cc: dq.ColumnCheck) -> int:
        return (cc.non_null or 0) if cc.column.nullable else self.n

    def completeness(self) -> float | None:
        null_cells = 0
        for cc in self.main.columns:
            c = cc.column
            nulls = self.n - self.nonnull(cc) if c.nullable and cc.non_null is not None else 0
            null_cells += nulls
            if not nulls or "completeness" not in self.plan.checks:
                continue
            share = nulls / self.n
            sev = cq.null_severity(share, self.cfg.null_warning, self.cfg.null_critical)
            what = f"{share:.1%} NULL"
            if "key" not in c.roles:  # optional: nullable and not a key, so NULL is an allowed value
                sev = cq.capped(sev, self.cfg.optional_null_severity)
                what += f" (optional column: nullable, not a key; at most {self.cfg.optional_null_severity})"
            self.add(
                "completeness",
                sev,
                c.name,
                what,
                nulls,
                self.fix.nulls(c.name),
            )
        return cq.completeness_score(null_cells, self.n, len(self.plan.columns))

    def freshness(self) -> tuple[float | None, str | None]:
        cols = [c for c in self.plan.columns if "fresh" in c.roles]
        got = [(cc.newest, cc.column) for cc in self.main.columns if "fresh" in cc.column.roles and cc.newest]
        if not cols:
            self.add(
                "freshness",
                "info",
                None,
                "no created/updated-like timestamp column: freshness unknown",
                None,
                self.fix.no_timestamp(),
            )
            return None, None
        if not got:
            self.add(
                "freshness",
                "info",
                None,
                "no past timestamps: freshness unknown",
                None,
                "Fill the timestamp columns when rows are written",
            )
            return None, None
        ts, col = max(got, key=lambda p: p[0])
        age = max((self.main.now - ts).total_seconds() / 3600.0, 0.0)
        if age >= self.cfg.stale_hours:
            where = " in the sample" if self.plan.sampled and not col.indexed else ""
            self.add(
                "freshness",
                "warning",
                col.name,
                f"stale: newest row{where} is {cq.human_age(age)} old ({ts.isoformat()})",
                None,
                self.fix.stale(col.name),
            )
        return cq.freshness_score(age, self.cfg.fresh_hours, self.cfg.stale_hours), ts.isoformat()

    def consistency(self) -> float:
        checked = invalid = 0
        rules = (("email", self._emails), ("phone", self._phones), ("nonneg", self._negatives), ("past", self._dates))
        for cc in self.main.columns:
            nn = self.nonnull(cc)
            for role, rule in rules:
                if role in cc.column.roles:
                    checked, invalid = checked + nn, invalid + rule(cc)
        for chk, k in zip(self.plan.not_valid, self.main.not_valid, strict=True):
            checked, invalid = checked + self.n, invalid + k
            if k:
                self.add(
                    "consistency",
                    "critical",
                    None,
                    f"{self.est(k)} row(s) violate NOT VALID constraint {chk.name}: CHECK ({chk.expr})",
                    k,
                    self.fix.not_valid_check(chk.name, chk.expr),
                )
        for sp in self.raw.spellings:
            checked, invalid = checked + sp.total, invalid + sp.stray
            if sp.stray:
                self._spelling(sp)
        return cq.consistency_score(checked, invalid) or 0.0

    def _emails(self, cc: dq.ColumnCheck) -> int:
        k, name = cc.bad_emails, cc.column.name
        if k:
            self.add(
                "consistency",
                "warning",
                name,
                f"{self.est(k)} malformed email(s){_examples(cc.bad_email_examples)}",
                k,
                self.fix.emails(name),
            )
        return k

    def _phones(self, cc: dq.ColumnCheck) -> int:
        pb, pj, pa = cc.bad_phones, cc.phones_judged, cc.phones_usual_length
        by_length = pj > 0 and pa / pj >= cq.FORMAT_DOMINANCE
        k = pb + (pj - pa if by_length else 0)
        if k:
            ex = list(cc.bad_phone_examples) + (list(cc.odd_length_examples) if by_length else [])
            rule = "not 7-15 digits"
            if by_length:
                rule += f", or a national number not {cc.usual_phone_length} digits long like the others"
            self.add(
                "consistency",
                "warning",
                cc.column.name,
                f"{self.est(k)} phone number(s) do not parse ({rule}){_examples(ex[:3])}",
                k,
                self.fix.phones(cc.column.name),
            )
        return k

    def _negatives(self, cc: dq.ColumnCheck) -> int:
        k = cc.negatives
        if k:
            self.add(
                "consistency",
                "warning",
                cc.column.name,
                f"{self.est(k)} negative value(s) (min {cc.min_negative})",
                k,
                self.fix.negatives(cc.column.name),
            )
        return k

    def _dates(self, cc: dq.ColumnCheck) -> int:
        dp, df = cc.before_1900, cc.in_future
        if dp:
            self.add(
                "consistency",
                "warning",
                cc.column.name,
                f"{self.est(dp)} date(s) before 1900 (min {cc.min_date})",
                dp,
                self.fix.before_1900(cc.column.name),
            )
        if df:
            self.add(
                "consistency",
                "warning",
                cc.column.name,
                f"{self.est(df)} value(s) in the future (max {cc.max_date})",
                df,
                self.fix.in_future(cc.column.name),
            )
        return dp + df

    def _spelling(self, sp: dq.Spelling) -> None:
        groups, k = sp.groups, sp.stray
        shown = "; ".join(" vs ".join(f"{v!r} ({cnt})" for v, cnt in g) for g in groups[:3])
        self.add(
            "consistency",
            "warning",
            sp.column.name,
            f"{self.est(k)} row(s) use a stray spelling: {shown}",
            k,
            self.fix.spellings(sp.column.name, groups),
        )

    def duplicates(self) -> None:
        d = self.raw.duplicates
        if d and d.extra:
            k = d.extra
            but = f" but {self.plan.surrogate}" if self.plan.surrogate else ""
            self.add(
                "duplicates",
                "warning",
                None,
                f"{self.est(k)} duplicate row(s) in {self.est(d.groups)} group(s), same in every column{but}",
                k,
                self.fix.duplicate_rows([c.name for c in self.plan.dup_columns or []]),
            )
        for cc in self.main.columns:
            c = cc.column
            if "ckey" not in c.roles or cc.distinct is None:
                continue
            nn, nd = self.nonnull(cc), cc.distinct
            if nn and nd < nn and nd / nn >= cq.CANDIDATE_KEY_RATIO:
                self.add(
                    "duplicates",
                    "warning",
                    c.name,
                    f"{self.est(nn - nd)} row(s) repeat a value of this unique-looking column ({nd} distinct "
                    f"of {nn}; no unique constraint)",
                    nn - nd,
                    self.fix.repeated_key(c.name),
                )

    def outliers(self) -> None:
        sigma = self.cfg.sigma
        for cc in self.main.columns:
            c, k = cc.column, cc.outliers
            if "outlier" not in c.roles or not k:
                continue
            a, sd = cc.mean, cc.stddev
            lo, hi = _num(cc.outlier_min), _num(cc.outlier_max)
            self.add(
                "outliers",
                cq.outlier_severity(cc.outlier_max_sigmas, sigma),
                c.name,
                f"{self.est(k)} value(s) beyond {sigma:g} sd of the mean {_num(a)} (sd {_num(sd)}): {lo} to {hi}",
                k,
                self.fix.outliers(c.name, _num(a), _num(sigma * float(sd or 0))),
            )

    def references(self) -> None:
        for o in self.raw.orphans or []:
            ref, k = o.reference, o.rows
            if not k:
                continue
            target = f"{ref.target.qualified}({', '.join(ref.ref_columns)})"
            fix = self.fix.orphans(ref.columns, ref.target, ref.ref_columns, ref.constraint)
            what = f"{self.est(k)} orphan row(s): no match in {target} ({self.est(o.distinct)} distinct"
            what += f"{_examples(o.examples)})"
            if ref.constraint:
                self.add(
                    "referential_integrity",
                    "critical",
                    ", ".join(ref.columns),
                    f"{what}; foreign key {ref.constraint} is NOT VALID",
                    k,
                    fix,
                )
            else:
                conf = "not yet measured" if ref.confidence is None else f"confidence {ref.confidence}"
                self.add(
                    "referential_integrity",
                    "warning",
                    ", ".join(ref.columns),
                    f"{what}; inferred reference ({conf}, as get_table_relationships reports it), no foreign key",
                    k,
                    fix,
                )


def interpret(plan: dq.TablePlan, raw: dq.TableRaw, cfg: Config, dialect: Dialect = POSTGRES) -> TableQuality:
    """Turn the raw aggregate rows of one table into findings and scores (fixes in `dialect`'s SQL)."""
    errors = [
        Finding(
            type=label if label in CHECKS else "error",
            severity="warning",
            description=f"check failed: {message}",
            recommendation="Fix the cause shown; on a timeout check this table alone or raise statement_timeout_ms",
        )
        for label, message in raw.errors
    ]
    if raw.main is None:
        return TableQuality(table=plan.rel.qualified, rows=plan.estimate or 0, exact=False, findings=errors)
    tb = _Table(plan, raw, cfg, raw.main, Fixes(dialect, plan.rel))
    tb.findings += errors
    ch = plan.checks
    comp = fresh = cons = None
    newest = None
    if tb.n == 0:
        tb.add("completeness", "info", None, "table is empty", 0, "Nothing to check; load it, or drop it if unused")
    else:
        comp = tb.completeness() if "completeness" in ch else None
        if "freshness" in ch:
            fresh, newest = tb.freshness()
        cons = tb.consistency() if "consistency" in ch else None
        if "duplicates" in ch:
            tb.duplicates()
        if "outliers" in ch:
            tb.outliers()
        if "referential_integrity" in ch:
            tb.references()
    tb.findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), CHECKS.index(f.type) if f.type in CHECKS else 9))
    return TableQuality(
        table=plan.rel.qualified,
        rows=tb.rows,
        exact=tb.exact,
        sample_size=None if tb.exact else tb.n,
        newest=newest,
        completeness=comp,
        freshness=fresh,
        consistency=cons,
        score=cq.weighted_score(comp, fresh, cons, cfg.weights),
        findings=tb.findings,
    )


def value_text(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"
