"""check_data_quality's statements on MySQL/MariaDB, from the same plan as on PostgreSQL (db/quality.py).

Per table at most four statements, each on its own (a failing one is reported, the others run): the main pass
(NULLs, email/phone/negative/date rules, freshness, outliers against the mean and standard deviation from a
CTE, candidate-key distincts), duplicates, spellings of enum-like text (values compared byte for byte, grouped
here by their case/space/'_'/'-'-folded form), and orphans of inferred references. MySQL has no NOT VALID
constraints, so those checks never apply. Phone numbers are checked for 7-15 digits and, as on PostgreSQL,
national numbers for the column's usual length (the most common length among numbers without a country code
or with the column's usual one). A large table is read through a seeded Bernoulli sample (RAND(42)).
The decoding and the order of the statements are shared with PostgreSQL (vf_mcp.db.quality.run_plan).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from vf_mcp.compute import quality as cq
from vf_mcp.db.mysql.catalog import mysql_name, quote_mysql
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.quality import Column, Spelling, TablePlan, TableRaw, Values, as_int, as_text, run_plan
from vf_mcp.db.quality_fixes import mysql_literal as lit

_SEP = "\x1f"  # between GROUP_CONCAT'ed examples


def _q(c: Column) -> str:
    return f"s.{quote_mysql(c.name)}"


def source(plan: TablePlan) -> str:
    rel = mysql_name(plan.rel)
    if plan.sample_percent is not None:
        return f"(SELECT * FROM {rel} WHERE RAND(42) < {plan.sample_percent / 100.0:.8f}) s"
    if plan.sample_limit is not None:
        return f"(SELECT * FROM {rel} LIMIT {int(plan.sample_limit)}) s"
    return f"{rel} s"


def _examples(cond: str, q: str, alias: str) -> str:
    return f"SUBSTRING_INDEX(GROUP_CONCAT(CASE WHEN {cond} THEN CAST({q} AS CHAR) END ORDER BY {q} SEPARATOR {lit(_SEP)}), {lit(_SEP)}, 3) AS {alias}"  # noqa: E501


def _phone_parts(c: Column) -> tuple[str, str]:
    """A phone column's stripped text (inner), then its country code and national length (outer, from z)."""
    i = c.i
    inner = f"REGEXP_REPLACE(CAST({_q(c)} AS CHAR), {lit(cq.PHONE_STRIP)}, '') AS vfq_p{i}"
    z = f"z.vfq_p{i}"
    # the digits of the E.164 country code ('' or NULL when none: MariaDB and MySQL differ), like PostgreSQL's
    code = f"SUBSTRING(NULLIF(REGEXP_SUBSTR({z}, {lit(cq.COUNTRY_CODE_RE)}), ''), 2)"
    length = (
        f"CASE WHEN LEFT({z}, 1) = '+' THEN CHAR_LENGTH({z}) - 1 - COALESCE(CHAR_LENGTH({code}), 0) "
        f"WHEN LEFT({z}, 1) = '0' THEN CHAR_LENGTH({z}) - 1 ELSE CHAR_LENGTH({z}) END"
    )
    return inner, f"{code} AS vfq_c{i}, {length} AS vfq_l{i}"


def _mode(value: str, where: str, frm: str) -> str:
    """The most common non-NULL value (the smallest on a tie, as PostgreSQL's mode() picks)."""
    return (
        f"(SELECT {value} FROM {frm} WHERE {where} AND {value} IS NOT NULL "
        f"GROUP BY {value} ORDER BY COUNT(*) DESC, {value} LIMIT 1)"
    )


def main_sql(plan: TablePlan, *, sigma: float) -> str:
    """The one aggregate pass; CTEs hold the phone columns' parts (d), their usual country codes (m0) and
    lengths (m1), and the means and standard deviations (m): each of those is one row, cross joined."""
    ch = plan.checks
    consistency, completeness = "consistency" in ch, "completeness" in ch
    cap = "UTC_TIMESTAMP() + INTERVAL 1 DAY"
    sel = ["COUNT(*) AS n", "UTC_TIMESTAMP() AS now_"]
    stats: list[str] = []
    phones = [c for c in plan.columns if consistency and "phone" in c.roles]
    codes: list[str] = []
    lengths: list[str] = []
    for c in phones:
        i, q = c.i, _q(c)
        p, ln, cc = f"s.vfq_p{i}", f"s.vfq_l{i}", f"s.vfq_c{i}"
        ok, bad = f"{p} REGEXP {lit(cq.PHONE_RE)}", f"{p} NOT REGEXP {lit(cq.PHONE_RE)}"
        codes.append(f"{_mode(cc, ok, 'd s')} AS pc{i}")
        judged = f"{ok} AND ({cc} IS NULL OR {cc} <=> m0.pc{i})"
        lengths.append(f"{_mode(ln, judged, 'd s CROSS JOIN m0')} AS pm{i}")
        mode = f"m1.pm{i}"
        sel += [
            f"COALESCE(SUM({bad}), 0) AS pb{i}",
            f"COALESCE(SUM({judged}), 0) AS pj{i}",
            f"COALESCE(SUM({judged} AND {ln} = {mode}), 0) AS pa{i}",
            f"MAX({mode}) AS pm{i}",
            _examples(bad, q, f"pbx{i}"),
            _examples(f"{judged} AND {ln} <> {mode}", q, f"plx{i}"),
        ]
    for c in plan.columns:
        i, q, r = c.i, _q(c), c.roles
        if c.nullable and (completeness or consistency or "duplicates" in ch):
            sel.append(f"COUNT({q}) AS nn{i}")
        if consistency and "email" in r:
            bad = f"CAST({q} AS CHAR) NOT REGEXP {lit(cq.EMAIL_RE)}"
            sel += [f"COALESCE(SUM({bad}), 0) AS em{i}", _examples(bad, q, f"emx{i}")]
        if consistency and "nonneg" in r:
            sel.append(f"COALESCE(SUM({q} < 0), 0) AS ng{i}, CAST(MIN({q}) AS CHAR) AS ngm{i}")
        if consistency and "past" in r:
            sel.append(f"COALESCE(SUM({q} < '1900-01-01'), 0) AS dp{i}, CAST(MIN({q}) AS CHAR) AS dpm{i}")
        if consistency and "future" in r:
            sel.append(f"COALESCE(SUM({q} > {cap}), 0) AS df{i}, CAST(MAX({q}) AS CHAR) AS dfm{i}")
        if "freshness" in ch and "fresh" in r:
            sel.append(f"MAX(CASE WHEN {q} <= {cap} THEN {q} END) AS fr{i}")
        if "outliers" in ch and "outlier" in r:
            x = f"({q} + 0e0)"
            stats.append(f"AVG({x}) AS oa{i}, STDDEV_SAMP({x}) AS od{i}")
            a, sd = f"m.oa{i}", f"m.od{i}"
            cond = f"ABS({x} - {a}) > {float(sigma)!r} * {sd}"
            sel += [
                f"COALESCE(SUM({cond}), 0) AS ol{i}",
                f"MIN(CASE WHEN {cond} THEN {x} END) AS oln{i}, MAX(CASE WHEN {cond} THEN {x} END) AS olx{i}",
                f"MAX(ABS({x} - {a})) / NULLIF(MAX({sd}), 0) AS oz{i}, MAX({a}) AS oa{i}, MAX({sd}) AS od{i}",
            ]
        if "duplicates" in ch and "ckey" in r:
            sel.append(f"COUNT(DISTINCT {q}) AS nd{i}")
    src = source(plan)
    ctes: list[str] = []
    joins = ""
    if phones:
        inner, outer = zip(*(_phone_parts(c) for c in phones), strict=True)
        ctes.append(f"d AS (SELECT z.*, {', '.join(outer)} FROM (SELECT s.*, {', '.join(inner)} FROM {src}) z)")
        ctes += [f"m0 AS (SELECT {', '.join(codes)})", f"m1 AS (SELECT {', '.join(lengths)} FROM m0)"]
        src, joins = "d s", " CROSS JOIN m0 CROSS JOIN m1"
    if stats:
        ctes.append(f"m AS (SELECT {', '.join(stats)} FROM {src})")
        joins += " CROSS JOIN m"
    head = f"WITH {', '.join(ctes)} " if ctes else ""
    return f"{head}SELECT {', '.join(sel)} FROM {src}{joins}"


def duplicates_sql(plan: TablePlan) -> str | None:
    if not plan.dup_columns:
        return None
    keys = ", ".join(_q(c) for c in plan.dup_columns)
    return (
        "SELECT COUNT(*) AS `groups`, COALESCE(SUM(g.c - 1), 0) AS extra "
        f"FROM (SELECT COUNT(*) AS c FROM {source(plan)} GROUP BY {keys}) g WHERE g.c > 1"
    )


def spellings_sql(plan: TablePlan, *, max_values: int) -> str | None:
    cols = [c for c in plan.columns if "enum" in c.roles]
    if not cols:
        return None
    values = " UNION ALL ".join(
        f"SELECT {c.i} AS k, CAST({_q(c)} AS BINARY) AS v FROM {source(plan)}" for c in cols
    )  # bytes: a case-insensitive collation would merge the spellings this check is looking for
    return (
        f"WITH v AS (SELECT x.k, x.v, COUNT(*) AS n FROM ({values}) x WHERE x.v IS NOT NULL GROUP BY x.k, x.v), "
        f"e AS (SELECT k, SUM(n) AS total FROM v GROUP BY k HAVING COUNT(*) BETWEEN 2 AND {int(max_values)} "
        "AND COUNT(*) * 2 <= SUM(n)) SELECT v.k, e.total, v.v, v.n FROM v JOIN e ON e.k = v.k ORDER BY v.k"
    )


def orphans_sql(plan: TablePlan) -> str | None:
    if not plan.references:
        return None
    sel: list[str] = []
    joins: list[str] = []
    for j, ref in enumerate(plan.references):
        t = f"t{j}"
        pairs = zip(ref.columns, ref.ref_columns, strict=True)
        on = " AND ".join(f"{t}.{quote_mysql(rc)} = s.{quote_mysql(c)}" for c, rc in pairs)
        joins.append(f"LEFT JOIN {mysql_name(ref.target)} {t} ON {on}")
        cond = " AND ".join(f"s.{quote_mysql(c)} IS NOT NULL" for c in ref.columns)
        cond += f" AND {t}.{quote_mysql(ref.ref_columns[0])} IS NULL"
        key = (
            f"CAST(s.{quote_mysql(ref.columns[0])} AS CHAR)"
            if len(ref.columns) == 1
            else "CONCAT('(', CONCAT_WS(',', " + ", ".join(f"s.{quote_mysql(c)}" for c in ref.columns) + "), ')')"
        )
        sel += [
            f"COALESCE(SUM({cond}), 0) AS o{j}",
            f"COUNT(DISTINCT CASE WHEN {cond} THEN {key} END) AS od{j}",
            f"SUBSTRING_INDEX(GROUP_CONCAT(DISTINCT CASE WHEN {cond} THEN {key} END ORDER BY {key} "
            f"SEPARATOR {lit(_SEP)}), {lit(_SEP)}, 3) AS ox{j}",
        ]
    return f"SELECT {', '.join(sel)} FROM {source(plan)} {' '.join(joins)}"


# ---------- decoding into the PostgreSQL pass's typed results ----------


def _examples_of(v: object) -> tuple[str, ...]:
    text = as_text(v)
    return tuple(text.split(_SEP)[:3]) if text else ()


_FOLD = re.compile(r"[\s_-]+")


def spellings(rows: list[Values], plan: TablePlan) -> list[Spelling]:
    """Group each column's values by their folded form (lower case, trimmed, runs of space/'_'/'-' as one
    space); a group of two or more spellings is inconsistent. Ordered as PostgreSQL's pass orders them."""
    by_index = {c.i: c for c in plan.columns}
    per_col: dict[int, tuple[int, dict[str, list[tuple[str, int]]]]] = {}
    for r in rows:
        k, value, n = as_int(r["k"]), as_text(r["v"]) or "", as_int(r["n"])
        total, groups = per_col.setdefault(k, (as_int(r["total"]), defaultdict(list)))
        groups[_FOLD.sub(" ", value.strip(" ").lower())].append((value, n))
    out: list[Spelling] = []
    for k, (total, groups) in sorted(per_col.items()):
        mixed = [sorted(g, key=lambda x: (-x[1], x[0])) for g in groups.values() if len(g) > 1]
        if not mixed:
            continue
        mixed.sort(key=lambda g: -sum(n for _, n in g))
        stray = sum(sum(n for _, n in g) - g[0][1] for g in mixed)
        out.append(Spelling(column=by_index[k], total=total, stray=stray, groups=tuple(tuple(g) for g in mixed)))
    return out


@dataclass(frozen=True)
class MySqlSql:
    """The statements above; GROUP_CONCAT'ed examples, spellings grouped here, DATETIME in `zone`."""

    zone: tzinfo

    def main_sql(self, plan: TablePlan, *, sigma: float) -> str:
        return main_sql(plan, sigma=sigma)

    def duplicates_sql(self, plan: TablePlan) -> str | None:
        return duplicates_sql(plan)

    def spellings_sql(self, plan: TablePlan, *, max_values: int) -> str | None:
        return spellings_sql(plan, max_values=max_values)

    def orphans_sql(self, plan: TablePlan) -> str | None:
        return orphans_sql(plan)

    def examples(self, value: object) -> tuple[str, ...]:
        return _examples_of(value)

    def newest(self, value: object, column: Column) -> datetime | None:
        """TIMESTAMP is UTC (sessions run in UTC), DATETIME and DATE are in the configured zone."""
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC if column.base_type == "timestamptz" else self.zone)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=self.zone)
        return None

    def now(self, value: object) -> datetime:
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)

    def spellings(self, rows: list[Values], plan: TablePlan) -> list[Spelling]:
        return spellings(rows, plan)


async def run_checks(db: MySqlDatabase, plan: TablePlan, *, sigma: float, enum_max: int, zone: tzinfo) -> TableRaw:
    """The plan's statements on MySQL, decoded into the same TableRaw as PostgreSQL's pass."""

    async def fetch(sql: str) -> list[Values]:
        return list(await db.fetch_rows(sql))

    return await run_plan(MySqlSql(zone), fetch, plan, sigma=sigma, enum_max=enum_max)
