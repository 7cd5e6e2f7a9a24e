"""check_data_quality: per-table completeness, freshness, consistency, duplicates, outliers and orphans.

Each table costs at most four statements (see vf_mcp.db.quality), run in one READ ONLY transaction;
tables run concurrently, at most pool_max_size at a time, with a progress notification per table.
Scores are defined in vf_mcp.compute.quality.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from vf_mcp.app import App
from vf_mcp.compute import quality as cq
from vf_mcp.concurrency import gather_all
from vf_mcp.db import quality as dq
from vf_mcp.db.catalog import Relation, quote_ident
from vf_mcp.errors import VfError
from vf_mcp.models.quality import Finding, QualityReport, TableQuality
from vf_mcp.tools.common import SourceArg, app_of, as_int, respond, tool_errors
from vf_mcp.tools.core import READ_ONLY

CheckName = Literal["completeness", "freshness", "consistency", "duplicates", "outliers", "referential_integrity"]
CHECKS: tuple[str, ...] = (
    "completeness",
    "freshness",
    "consistency",
    "duplicates",
    "outliers",
    "referential_integrity",
)
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Config:
    null_warning: float
    null_critical: float
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


def register(server: MCPServer[App]) -> None:
    """Register check_data_quality on `server`."""

    @server.tool(annotations=READ_ONLY, structured_output=True)
    @tool_errors
    async def check_data_quality(
        ctx: Context[App],
        table_name: Annotated[str | None, Field(description="One table (default: all tables)")] = None,
        checks: Annotated[list[CheckName] | None, Field(description="Default: all")] = None,
        source: SourceArg = None,
    ) -> Annotated[CallToolResult, QualityReport]:
        """Find data-quality problems per table, with exact affected_rows and a fix for each.

        Checks NULLs, freshness, bad emails/phones, negative quantities, impossible dates, stray spellings,
        duplicate rows and keys, 3-sigma outliers and orphaned references. Scores 0-100 (see scoring).
        Large tables are sampled (exact=false).
        """
        app = app_of(ctx, source)
        report = await check_quality(app, ctx, table_name, tuple(checks or CHECKS))
        return respond(report, _body(report))


async def check_quality(
    app: App, ctx: Context[App] | None, table_name: str | None, checks: tuple[str, ...]
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
    keys = await dq.load_keys(app.db) if "referential_integrity" in wanted else []
    gate = asyncio.Semaphore(max(1, app.settings.pool_max_size))
    done = 0

    async def one(rel: Relation) -> tuple[TableQuality, int]:
        nonlocal done
        async with gate:
            try:
                result = await _check_table(app, cfg, rel, wanted, keys, by_name, rels)
            except VfError as exc:
                result = (_failed(rel, exc.message), 0)
        done += 1
        if ctx is not None:
            score = result[0].score
            await ctx.report_progress(done, len(targets), message=f"{rel.qualified}: score {_val(score)}")
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
        f"{len(tables)} table(s) checked in {elapsed / 1000:.1f} s: score {_val(overall)}; "
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


def _estimate(rel: Relation, rels: tuple[Relation, ...]) -> int | None:
    if rel.kind != "p":
        return rel.row_estimate
    return sum(c.row_estimate or 0 for c in rels if c.parent == rel.qualified)


async def _check_table(
    app: App,
    cfg: Config,
    rel: Relation,
    wanted: frozenset[str],
    keys: list[dq.Key],
    by_name: dict[str, Relation],
    rels: tuple[Relation, ...],
) -> tuple[TableQuality, int]:
    detail = await app.catalog.table_detail(rel)
    plan = dq.build_plan(
        rel,
        detail,
        wanted,
        estimate=_estimate(rel, rels),
        large_rows=app.settings.large_table_rows,
        sample_rows=app.settings.stats_sample_rows,
        keys=keys,
        relations=by_name,
    )
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


def _examples(values: Any) -> str:
    vals = [str(v) for v in values or []]
    return (", e.g. " + ", ".join(repr(v) for v in vals)) if vals else ""


def _num(v: Any) -> str:
    return f"{float(v):.6g}" if v is not None else "?"


class _Table:
    """Findings and scores of one table, read off its raw results."""

    def __init__(self, plan: dq.TablePlan, raw: dq.TableRaw, cfg: Config, main: dict[str, Any]) -> None:
        self.plan, self.raw, self.cfg, self.m = plan, raw, cfg, main
        self.t = plan.rel.sql_name
        self.n = as_int(main["n"])
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

    def nonnull(self, c: dq.Column) -> int:
        return as_int(self.m.get(f"nn{c.i}")) if c.nullable else self.n

    def completeness(self) -> float | None:
        null_cells = 0
        for c in self.plan.columns:
            nulls = self.n - self.nonnull(c) if c.nullable and f"nn{c.i}" in self.m else 0
            null_cells += nulls
            if not nulls or "completeness" not in self.plan.checks:
                continue
            share = nulls / self.n
            sev = cq.null_severity(share, self.cfg.null_warning, self.cfg.null_critical)
            fix = "expected if optional; else backfill from the source and add NOT NULL"
            self.add(
                "completeness",
                sev,
                c.name,
                f"{share:.1%} NULL",
                nulls,
                f"SELECT * FROM {self.t} WHERE {quote_ident(c.name)} IS NULL; {fix}",
            )
        return cq.completeness_score(null_cells, self.n, len(self.plan.columns))

    def freshness(self) -> tuple[float | None, str | None]:
        cols = [c for c in self.plan.columns if "fresh" in c.roles]
        got = [(ts, c) for c in cols if isinstance(ts := self.m.get(f"fr{c.i}"), datetime)]
        if not cols:
            self.add(
                "freshness",
                "info",
                None,
                "no created/updated-like timestamp column: freshness unknown",
                None,
                f"ALTER TABLE {self.t} ADD created_at timestamptz DEFAULT now() (and updated_at)",
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
        age = max((self.m["now_"] - ts).total_seconds() / 3600.0, 0.0)
        if age >= self.cfg.stale_hours:
            where = " in the sample" if self.plan.sampled and not col.indexed else ""
            self.add(
                "freshness",
                "warning",
                col.name,
                f"stale: newest row{where} is {cq.human_age(age)} old ({ts.isoformat()})",
                None,
                f"Check the job that loads it (SELECT max({quote_ident(col.name)}) FROM {self.t}); "
                "ignore for static reference data",
            )
        return cq.freshness_score(age, self.cfg.fresh_hours, self.cfg.stale_hours), ts.isoformat()

    def consistency(self) -> float:
        checked = invalid = 0
        m, t = self.m, self.t
        for c in self.plan.columns:
            q, i, r, nn = quote_ident(c.name), c.i, c.roles, self.nonnull(c)
            if "email" in r:
                k = as_int(m.get(f"em{i}"))
                checked, invalid = checked + nn, invalid + k
                if k:
                    self.add(
                        "consistency",
                        "warning",
                        c.name,
                        f"{self.est(k)} malformed email(s){_examples(m.get(f'emx{i}'))}",
                        k,
                        f"Correct or NULL them; SELECT {q} FROM {t} WHERE {q} !~ {dq.lit(cq.EMAIL_RE)}",
                    )
            if "phone" in r:
                pb, pj, pa = as_int(m.get(f"pb{i}")), as_int(m.get(f"pj{i}")), as_int(m.get(f"pa{i}"))
                by_length = pj > 0 and pa / pj >= cq.FORMAT_DOMINANCE
                k = pb + (pj - pa if by_length else 0)
                checked, invalid = checked + nn, invalid + k
                if k:
                    ex = list(m.get(f"pbx{i}") or []) + (list(m.get(f"plx{i}") or []) if by_length else [])
                    rule = "not 7-15 digits"
                    if by_length:
                        rule += f", or a national number not {m.get(f'pm{i}')} digits long like the others"
                    strip = f"regexp_replace({q}, {dq.lit(cq.PHONE_STRIP)}, '', 'g')"
                    self.add(
                        "consistency",
                        "warning",
                        c.name,
                        f"{self.est(k)} phone number(s) do not parse ({rule}){_examples(ex[:3])}",
                        k,
                        f"Store E.164 (+<country><number>), validate on input; SELECT {q} FROM {t} "
                        f"WHERE {strip} !~ {dq.lit(cq.PHONE_RE)}",
                    )
            if "nonneg" in r:
                k = as_int(m.get(f"ng{i}"))
                checked, invalid = checked + nn, invalid + k
                if k:
                    self.add(
                        "consistency",
                        "warning",
                        c.name,
                        f"{self.est(k)} negative value(s) (min {m.get(f'ngm{i}')})",
                        k,
                        f"SELECT * FROM {t} WHERE {q} < 0; correct them, then ALTER TABLE {t} ADD CHECK ({q} >= 0)",
                    )
            if "past" in r:
                dp, df = as_int(m.get(f"dp{i}")), as_int(m.get(f"df{i}"))
                checked, invalid = checked + nn, invalid + dp + df
                if dp:
                    self.add(
                        "consistency",
                        "warning",
                        c.name,
                        f"{self.est(dp)} date(s) before 1900 (min {m.get(f'dpm{i}')})",
                        dp,
                        f"Placeholder or typo: fix or NULL; SELECT * FROM {t} WHERE {q} < '1900-01-01'",
                    )
                if df:
                    self.add(
                        "consistency",
                        "warning",
                        c.name,
                        f"{self.est(df)} value(s) in the future (max {m.get(f'dfm{i}')})",
                        df,
                        f"Check clocks and time zones at the source; SELECT * FROM {t} WHERE {q} > now()",
                    )
        for j, chk in enumerate(self.plan.not_valid):
            k = as_int(m.get(f"cc{j}"))
            checked, invalid = checked + self.n, invalid + k
            if k:
                self.add(
                    "consistency",
                    "critical",
                    None,
                    f"{self.est(k)} row(s) violate NOT VALID constraint {chk.name}: CHECK ({chk.expr})",
                    k,
                    f"SELECT * FROM {t} WHERE NOT ({chk.expr}); fix them, then "
                    f"ALTER TABLE {t} VALIDATE CONSTRAINT {quote_ident(chk.name)}",
                )
        cols = {c.i: c for c in self.plan.columns}
        for row in self.raw.spellings:
            k, c = as_int(row["stray"]), cols[row["k"]]
            checked, invalid = checked + as_int(row["total"]), invalid + k
            if k:
                self._spelling(c, k, row["groups"] or [])
        return cq.consistency_score(checked, invalid) or 0.0

    def _spelling(self, c: dq.Column, k: int, groups: list[list[list[Any]]]) -> None:
        q = quote_ident(c.name)
        shown = "; ".join(" vs ".join(f"{v!r} ({cnt})" for v, cnt in g) for g in groups[:3])
        fixes = "; ".join(
            f"UPDATE {self.t} SET {q} = {dq.lit(str(g[0][0]))} "
            f"WHERE {q} IN ({', '.join(dq.lit(str(v)) for v, _ in g[1:])})"
            for g in groups[:2]
        )
        self.add(
            "consistency",
            "warning",
            c.name,
            f"{self.est(k)} row(s) use a stray spelling: {shown}",
            k,
            f"{fixes}; then add a CHECK constraint or a lookup table",
        )

    def duplicates(self) -> None:
        d, t = self.raw.duplicates, self.t
        if d and as_int(d["extra"]):
            k = as_int(d["extra"])
            cols = ", ".join(quote_ident(c.name) for c in self.plan.dup_columns or [])
            but = f" but {self.plan.surrogate}" if self.plan.surrogate else ""
            self.add(
                "duplicates",
                "warning",
                None,
                f"{self.est(k)} duplicate row(s) in {self.est(as_int(d['groups']))} group(s), "
                f"same in every column{but}",
                k,
                f"SELECT {cols}, count(*) FROM {t} GROUP BY {cols} HAVING count(*) > 1; delete the extra copies "
                "and add a UNIQUE key",
            )
        for c in self.plan.columns:
            if "ckey" not in c.roles or f"nd{c.i}" not in self.m:
                continue
            nn, nd = self.nonnull(c), as_int(self.m.get(f"nd{c.i}"))
            if nn and nd < nn and nd / nn >= cq.CANDIDATE_KEY_RATIO:
                q = quote_ident(c.name)
                self.add(
                    "duplicates",
                    "warning",
                    c.name,
                    f"{self.est(nn - nd)} row(s) repeat a value of this unique-looking column ({nd} distinct "
                    f"of {nn}; no unique constraint)",
                    nn - nd,
                    f"SELECT {q}, count(*) FROM {t} GROUP BY 1 HAVING count(*) > 1; dedupe, then "
                    f"ALTER TABLE {t} ADD UNIQUE ({q})",
                )

    def outliers(self) -> None:
        sigma = self.cfg.sigma
        for c in self.plan.columns:
            k = as_int(self.m.get(f"ol{c.i}"))
            if "outlier" not in c.roles or not k:
                continue
            a, sd = self.m.get(f"oa{c.i}"), self.m.get(f"od{c.i}")
            lo, hi = _num(self.m.get(f"oln{c.i}")), _num(self.m.get(f"olx{c.i}"))
            self.add(
                "outliers",
                cq.outlier_severity(self.m.get(f"oz{c.i}"), sigma),
                c.name,
                f"{self.est(k)} value(s) beyond {sigma:g} sd of the mean {_num(a)} (sd {_num(sd)}): {lo} to {hi}",
                k,
                f"Check for unit or entry errors; SELECT * FROM {self.t} "
                f"WHERE abs({quote_ident(c.name)} - {_num(a)}) > {_num(sigma * float(sd or 0))}",
            )

    def references(self) -> None:
        o, t = self.raw.orphans or {}, self.t
        for j, ref in enumerate(self.plan.references):
            k = as_int(o.get(f"o{j}"))
            if not k:
                continue
            cols = ", ".join(quote_ident(x) for x in ref.columns)
            refs = ", ".join(quote_ident(x) for x in ref.ref_columns)
            target = f"{ref.target.qualified}({', '.join(ref.ref_columns)})"
            on = " AND ".join(
                f"r.{quote_ident(rc)} = s.{quote_ident(cc)}"
                for cc, rc in zip(ref.columns, ref.ref_columns, strict=True)
            )
            inspect = f"SELECT s.* FROM {t} s WHERE NOT EXISTS (SELECT 1 FROM {ref.target.sql_name} r WHERE {on})"
            what = f"{self.est(k)} orphan row(s): no match in {target} ({self.est(as_int(o.get(f'od{j}')))} distinct"
            what += f"{_examples(o.get(f'ox{j}'))})"
            if ref.constraint:
                self.add(
                    "referential_integrity",
                    "critical",
                    ", ".join(ref.columns),
                    f"{what}; foreign key {ref.constraint} is NOT VALID",
                    k,
                    f"{inspect}; fix or NULL them, then ALTER TABLE {t} VALIDATE CONSTRAINT "
                    f"{quote_ident(ref.constraint)}",
                )
            else:
                self.add(
                    "referential_integrity",
                    "warning",
                    ", ".join(ref.columns),
                    f"{what}; inferred reference, no foreign key",
                    k,
                    f"{inspect}; fix or NULL them, then ALTER TABLE {t} ADD FOREIGN KEY ({cols}) "
                    f"REFERENCES {ref.target.sql_name} ({refs}) NOT VALID",
                )


def interpret(plan: dq.TablePlan, raw: dq.TableRaw, cfg: Config) -> TableQuality:
    """Turn the raw aggregate rows of one table into findings and scores."""
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
    tb = _Table(plan, raw, cfg, raw.main)
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


def _val(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def _body(report: QualityReport) -> str:
    """One line per table, then one line per finding."""
    lines = [f"overall {_val(report.score)}: {report.scoring}"]
    for tq in report.tables:
        how = "exact" if tq.exact else f"sampled {tq.sample_size}"
        newest = f", newest {tq.newest}" if tq.newest else ""
        lines.append(
            f"{tq.table}: score {_val(tq.score)} (completeness {_val(tq.completeness)}, freshness "
            f"{_val(tq.freshness)}, consistency {_val(tq.consistency)}); {tq.rows} rows, {how}{newest}"
        )
        for f in tq.findings:
            col = f".{f.column}" if f.column else ""
            rows = f" [{f.affected_rows} rows]" if f.affected_rows is not None else ""
            lines.append(f"  {f.severity} {f.type}{col}{rows}: {f.description} -> {f.recommendation}")
    return "\n".join(lines)
