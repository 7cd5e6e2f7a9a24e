"""check_data_quality's statements on MySQL/MariaDB, from the same plan as on PostgreSQL (db/quality.py).

Per table at most four statements, each on its own (a failing one is reported, the others run): the main pass
(NULLs, email/phone/negative/date rules, freshness, outliers against the mean and standard deviation from a
CTE, candidate-key distincts), duplicates, spellings of enum-like text (values compared byte for byte, grouped
here by their case/space/'_'/'-'-folded form), and orphans of inferred references. MySQL has no NOT VALID
constraints, so those checks never apply. Phone numbers are checked for 7-15 digits (the usual-length rule
of PostgreSQL's pass is not computed). A large table is read through a seeded Bernoulli sample (RAND(42)).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, tzinfo

from vf_mcp.compute import quality as cq
from vf_mcp.db.mysql.catalog import mysql_name, quote_mysql
from vf_mcp.db.mysql.pool import MySqlDatabase, Row
from vf_mcp.db.quality import (
    Column,
    ColumnCheck,
    Duplicates,
    MainPass,
    Orphans,
    Spelling,
    TablePlan,
    TableRaw,
)
from vf_mcp.errors import VfError

_SEP = "\x1f"  # between GROUP_CONCAT'ed examples


def lit(text: str) -> str:
    """A MySQL string literal of a constant (backslashes doubled: sessions keep backslash escapes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


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


def main_sql(plan: TablePlan, *, sigma: float) -> str:
    ch = plan.checks
    consistency, completeness = "consistency" in ch, "completeness" in ch
    cap = "UTC_TIMESTAMP() + INTERVAL 1 DAY"
    sel = ["COUNT(*) AS n", "UTC_TIMESTAMP() AS now_"]
    stats: list[str] = []
    for c in plan.columns:
        i, q, r = c.i, _q(c), c.roles
        if c.nullable and (completeness or consistency or "duplicates" in ch):
            sel.append(f"COUNT({q}) AS nn{i}")
        if consistency and "email" in r:
            bad = f"CAST({q} AS CHAR) NOT REGEXP {lit(cq.EMAIL_RE)}"
            sel += [f"COALESCE(SUM({bad}), 0) AS em{i}", _examples(bad, q, f"emx{i}")]
        if consistency and "phone" in r:
            bad = f"REGEXP_REPLACE(CAST({q} AS CHAR), {lit(cq.PHONE_STRIP)}, '') NOT REGEXP {lit(cq.PHONE_RE)}"
            sel += [f"COALESCE(SUM({bad}), 0) AS pb{i}", _examples(bad, q, f"pbx{i}")]
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
    if stats:
        return f"WITH m AS (SELECT {', '.join(stats)} FROM {src}) SELECT {', '.join(sel)} FROM {src} CROSS JOIN m"
    return f"SELECT {', '.join(sel)} FROM {src}"


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


def _int(v: object) -> int:
    return int(v) if isinstance(v, (int, float, str)) or hasattr(v, "as_integer_ratio") else 0  # type: ignore[call-overload]


def _float(v: object) -> float | None:
    return None if v is None else float(v)  # type: ignore[arg-type]


def _text(v: object) -> str | None:
    if v is None:
        return None
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)


def _examples_of(v: object) -> tuple[str, ...]:
    text = _text(v)
    return tuple(text.split(_SEP)[:3]) if text else ()


def _stamp(v: object, c: Column, zone: tzinfo) -> datetime | None:
    """A freshness value as an aware datetime: TIMESTAMP is UTC (sessions run in UTC), DATETIME local."""
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if c.base_type == "timestamptz" else v.replace(tzinfo=zone)
    if v is not None and hasattr(v, "isoformat"):  # a DATE
        return datetime.fromisoformat(v.isoformat()).replace(tzinfo=zone)
    return None


def _main(row: Row, plan: TablePlan, zone: tzinfo) -> MainPass:
    cols = []
    for c in plan.columns:
        i = c.i
        cols.append(
            ColumnCheck(
                column=c,
                non_null=None if row.get(f"nn{i}") is None else _int(row[f"nn{i}"]),
                bad_emails=_int(row.get(f"em{i}")),
                bad_email_examples=_examples_of(row.get(f"emx{i}")),
                bad_phones=_int(row.get(f"pb{i}")),
                bad_phone_examples=_examples_of(row.get(f"pbx{i}")),
                negatives=_int(row.get(f"ng{i}")),
                min_negative=_text(row.get(f"ngm{i}")),
                before_1900=_int(row.get(f"dp{i}")),
                min_date=_text(row.get(f"dpm{i}")),
                in_future=_int(row.get(f"df{i}")),
                max_date=_text(row.get(f"dfm{i}")),
                newest=_stamp(row.get(f"fr{i}"), c, zone),
                outliers=_int(row.get(f"ol{i}")),
                outlier_min=_float(row.get(f"oln{i}")),
                outlier_max=_float(row.get(f"olx{i}")),
                outlier_max_sigmas=_float(row.get(f"oz{i}")),
                mean=_float(row.get(f"oa{i}")),
                stddev=_float(row.get(f"od{i}")),
                distinct=None if row.get(f"nd{i}") is None else _int(row[f"nd{i}"]),
            )
        )
    now = row["now_"]
    assert isinstance(now, datetime)
    return MainPass(rows=_int(row["n"]), now=now.replace(tzinfo=UTC), columns=tuple(cols), not_valid=())


_FOLD = re.compile(r"[\s_-]+")


def spellings(rows: list[Row], plan: TablePlan) -> list[Spelling]:
    """Group each column's values by their folded form (lower case, trimmed, runs of space/'_'/'-' as one
    space); a group of two or more spellings is inconsistent. Ordered as PostgreSQL's pass orders them."""
    by_index = {c.i: c for c in plan.columns}
    per_col: dict[int, tuple[int, dict[str, list[tuple[str, int]]]]] = {}
    for r in rows:
        k, value, n = int(r["k"]), _text(r["v"]) or "", int(r["n"])
        total, groups = per_col.setdefault(k, (int(r["total"]), defaultdict(list)))
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


async def _fetch(db: MySqlDatabase, sql: str, raw: TableRaw, label: str) -> list[Row] | None:
    raw.statements += 1
    try:
        return await db.fetch_rows(sql)
    except VfError as exc:
        raw.errors.append((label, exc.message))
        return None


async def run_checks(db: MySqlDatabase, plan: TablePlan, *, sigma: float, enum_max: int, zone: tzinfo) -> TableRaw:
    """The plan's statements on MySQL, decoded into the same TableRaw as PostgreSQL's pass."""
    raw = TableRaw()
    ch = plan.checks
    rows = await _fetch(db, main_sql(plan, sigma=sigma), raw, "main")
    if not rows:
        return raw
    raw.main = _main(rows[0], plan, zone)
    if not raw.main.rows:
        return raw
    if "duplicates" in ch and (sql := duplicates_sql(plan)) and (rows := await _fetch(db, sql, raw, "duplicates")):
        raw.duplicates = Duplicates(groups=_int(rows[0]["groups"]), extra=_int(rows[0]["extra"]))
    if "consistency" in ch and (sql := spellings_sql(plan, max_values=enum_max)):
        found = await _fetch(db, sql, raw, "consistency")
        if found is not None:
            raw.spellings = spellings(found, plan)
    if "referential_integrity" in ch and (sql := orphans_sql(plan)):
        found = await _fetch(db, sql, raw, "referential_integrity")
        if found:
            raw.orphans = [
                Orphans(ref, _int(found[0].get(f"o{j}")), _int(found[0].get(f"od{j}")),
                        _examples_of(found[0].get(f"ox{j}")))
                for j, ref in enumerate(plan.references)
            ]  # fmt: skip
    return raw
