"""SQL for check_data_quality: a plan per table, then at most four statements per table.

  1. main       one aggregate pass: NULLs, email/phone/negative/date rules, NOT VALID CHECKs, freshness,
                outliers (mean/stddev and the phone length mode come from a CTE), candidate-key distincts
  2. duplicates GROUP BY every column but the surrogate key (skipped when a key makes duplicates impossible)
  3. spellings  enum-like text columns: spellings that differ only in case, spaces, '_' or '-'
  4. orphans    one LEFT JOIN per NOT VALID foreign key and per inferred reference (the inferred edges
                get_table_relationships reports, vf_mcp.db.relationships.graph_links)

Identifiers come from the catalog and are always quoted; the only literals are this module's constants.
Each statement runs in its own savepoint, so a failing check is reported and the others still run.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import asyncpg

from vf_mcp.compute import quality as cq
from vf_mcp.compute.graph import Link
from vf_mcp.db.catalog import Relation, TableDetail, quote_ident
from vf_mcp.db.pool import note_sql
from vf_mcp.errors import VfError, translate

NUMERIC_SKIP = {"money", "oid", "regclass", "regtype", "regproc", "regprocedure", "regoper", "regnamespace"}
INTEGER_TYPES = {"int2", "int4", "int8"}
TIME_TYPES = {"date", "timestamp", "timestamptz"}
GROUPABLE_U = {"uuid", "bytea", "jsonb", "tsvector", "tsquery"}
NO_EQUALITY = {"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}
_INDEX_COLS = re.compile(r"USING (\w+) \((.*)\)")
_CHECK = re.compile(r"^CHECK \((?P<expr>.*)\)(?: NO INHERIT)?(?: NOT VALID)?$", re.S)


def lit(text: str) -> str:
    """A SQL string literal of one of this module's constants (or of catalog/data text shown to users)."""
    return "'" + text.replace("'", "''") + "'"


# ---------- the plan ----------


@dataclass(frozen=True)
class Column:
    i: int
    name: str
    base_type: str
    category: str
    nullable: bool
    roles: frozenset[str]
    indexed: bool = False  # leading column of a btree index (exact max() even on sampled tables)

    @property
    def q(self) -> str:
        return f"s.{quote_ident(self.name)}"


@dataclass(frozen=True)
class Reference:
    """A NOT VALID foreign key (constraint set) or an inferred reference (constraint None)."""

    columns: tuple[str, ...]
    target: Relation
    ref_columns: tuple[str, ...]
    constraint: str | None
    confidence: float | None = None  # inferred: as get_table_relationships reports it (None: not yet measured)


@dataclass(frozen=True)
class NotValidCheck:
    name: str
    expr: str


@dataclass
class TablePlan:
    rel: Relation
    checks: frozenset[str]
    columns: list[Column]
    estimate: int | None
    sample_percent: float | None = None
    sample_limit: int | None = None
    surrogate: str | None = None
    dup_columns: list[Column] | None = None
    not_valid: list[NotValidCheck] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)

    @property
    def sampled(self) -> bool:
        return self.sample_percent is not None or self.sample_limit is not None

    @property
    def source(self) -> str:
        rel = self.rel.sql_name
        if self.sample_percent is not None:
            return f"(SELECT * FROM {rel} TABLESAMPLE SYSTEM ({self.sample_percent:.6f}) REPEATABLE (42)) s"
        if self.sample_limit is not None:
            return f"(SELECT * FROM {rel} LIMIT {int(self.sample_limit)}) s"
        return f"{rel} s"


def _index_columns(definition: str) -> tuple[str, list[str]] | None:
    m = _INDEX_COLS.search(definition)
    if not m:
        return None
    parts, depth, cur = [], 0, ""
    for ch in m.group(2):
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    parts.append(cur.strip())
    return m.group(1), parts


def _bare(part: str) -> str:
    """'"Odd Name" DESC' -> 'Odd Name'; 'col DESC' -> 'col' (expressions come back unchanged)."""
    m = re.match(r'^"((?:[^"]|"")*)"', part)
    if m:
        return m.group(1).replace('""', '"')
    return part.split(" ")[0]


def build_plan(
    rel: Relation,
    detail: TableDetail,
    checks: frozenset[str],
    *,
    estimate: int | None,
    large_rows: int,
    sample_rows: int,
    inferred: Sequence[Link],
    relations: dict[str, Relation],
) -> TablePlan:
    """Decide, from the catalog only, which rule applies to which column and what to sample.

    `inferred`: the inferred edges get_table_relationships reports from this table (or its partitioned root).
    """
    cols_raw = detail.columns
    own = [c for c in detail.constraints if c.table == rel.qualified]
    pk = next((tuple(c.columns or ()) for c in own if c.type == "p"), ())
    fk_cols = {n for c in own if c.type == "f" for n in c.columns or ()}
    unique_sets = [tuple(c.columns or ()) for c in own if c.type in ("p", "u")]
    indexed: set[str] = set()
    for ix in detail.indexes:
        parsed = _index_columns(ix.definition)
        if not parsed or not ix.valid:
            continue
        method, parts = parsed
        if method == "btree" and parts:
            indexed.add(_bare(parts[0]))
        if ix.unique and not ix.partial and len(parts) == 1:
            unique_sets.append((_bare(parts[0]),))
    single_unique = {s[0] for s in unique_sets if len(s) == 1}
    not_null = {c.name for c in cols_raw if not c.nullable}

    inferred_cols = {n for lk in inferred for n in lk.columns}
    times = [c.name for c in cols_raw if c.base_type in TIME_TYPES]
    fresh = set(cq.freshness_columns(times))
    columns: list[Column] = []
    for i, c in enumerate(cols_raw):
        name, base, cat = c.name, c.base_type, c.category
        text = cat == "S"
        numeric = cat == "N" and base not in NUMERIC_SKIP
        keyish = name in pk or name in fk_cols or cq.is_key_like(name)
        roles: set[str] = {"key"} if keyish or name in inferred_cols else set()
        if text and cq.is_email(name):
            roles.add("email")
        elif text and cq.is_phone(name):
            roles.add("phone")
        if numeric and not keyish and cq.is_non_negative(name):
            roles.add("nonneg")
        if base in TIME_TYPES:
            roles.add("past")
            if cq.is_event_time(name):
                roles.add("future")
            if name in fresh:
                roles.add("fresh")
        if numeric and not keyish:
            roles.add("outlier")
        ckey_type = text or base in INTEGER_TYPES or base == "uuid"
        if (
            ckey_type
            and cq.is_candidate_key(name)
            and name not in single_unique
            and name not in fk_cols
            and name not in pk
        ):
            roles.add("ckey")
        if text and not roles & {"email", "phone", "ckey"}:
            roles.add("enum")
        if cat in ("G", "X", "C", "P") or base in NO_EQUALITY or (cat == "U" and base not in GROUPABLE_U):
            roles.add("as_text")
        columns.append(Column(i, name, base, cat, c.nullable, frozenset(roles), indexed=name in indexed))

    plan = TablePlan(rel=rel, checks=checks, columns=columns, estimate=estimate)
    if rel.kind in ("v", "f"):
        plan.sample_limit = sample_rows
    elif estimate is not None and estimate > large_rows:
        plan.sample_percent = min(100.0, max(0.0001, 100.0 * sample_rows / estimate))

    # duplicates: ignore a surrogate key; skip when a NOT NULL key makes duplicate rows impossible
    by_name = {c.name: c for c in columns}
    if len(pk) == 1 and pk[0] in by_name:
        raw = next(c for c in cols_raw if c.name == pk[0])
        default = (raw.default or "").lower()
        if (
            by_name[pk[0]].base_type in INTEGER_TYPES | {"uuid", "numeric"}
            or raw.identity
            or "nextval(" in default
            or "uuid" in default
            or (by_name[pk[0]].category == "S" and (raw.default or cq.is_id_name(pk[0])))  # text ids: 'ord-0001'
        ):
            plan.surrogate = pk[0]
    natural = [s for s in unique_sets if s and s != ((plan.surrogate,) if plan.surrogate else ())]
    impossible = any(all(n in not_null for n in s) for s in natural)
    rest = [c for c in columns if c.name != plan.surrogate]
    if not impossible and rest and (not pk or plan.surrogate):
        plan.dup_columns = rest

    for k in own:
        if k.type == "c" and not k.validated:
            m = _CHECK.match(k.definition or "")
            if m:
                plan.not_valid.append(NotValidCheck(k.name, m.group("expr")))
        if k.type == "f" and not k.validated and k.ref_table is not None and k.ref_table in relations:
            plan.references.append(
                Reference(tuple(k.columns or ()), relations[k.ref_table], tuple(k.ref_columns or ()), k.name)
            )
    for lk in inferred:
        if lk.ref_table in relations and all(c in by_name for c in lk.columns):
            plan.references.append(
                Reference(lk.columns, relations[lk.ref_table], lk.ref_columns, None, confidence=lk.confidence)
            )
    return plan


# ---------- SQL ----------


def _time_cap() -> str:
    return "now() + interval '1 day'"


def main_sql(plan: TablePlan, *, sigma: float) -> str:
    """The one aggregate pass (plus a CTE for means, standard deviations and phone-length modes)."""
    ch = plan.checks
    consistency, completeness = "consistency" in ch, "completeness" in ch
    sel = ["count(*) AS n", "now() AS now_"]
    stats: list[str] = []
    codes: list[str] = []
    inner: list[str] = []
    outer: list[str] = []
    for c in plan.columns:
        i, q, r = c.i, c.q, c.roles
        if c.nullable and (completeness or consistency or "duplicates" in ch):
            sel.append(f"count({q}) AS nn{i}")
        if consistency and "email" in r:
            bad = f"{q}::text !~ {lit(cq.EMAIL_RE)}"
            sel.append(f"count(*) FILTER (WHERE {bad}) AS em{i}")
            sel.append(f"(array_agg({q}::text ORDER BY {q}::text) FILTER (WHERE {bad}))[1:3] AS emx{i}")
        if consistency and "phone" in r:
            p, ln, cc = f"d.vfq_p{i}", f"d.vfq_l{i}", f"d.vfq_c{i}"
            inner.append(f"regexp_replace({q}::text, {lit(cq.PHONE_STRIP)}, '', 'g') AS vfq_p{i}")
            z = f"z.vfq_p{i}"
            code = f"substring({z} FROM {lit(cq.COUNTRY_CODE_RE)})"
            outer.append(f"{code} AS vfq_c{i}")
            outer.append(
                f"CASE WHEN {z} ~ '^\\+' THEN length({z}) - 1 - coalesce(length({code}), 0) "
                f"WHEN {z} ~ '^0' THEN length({z}) - 1 ELSE length({z}) END AS vfq_l{i}"
            )
            ok, bad = f"{p} ~ {lit(cq.PHONE_RE)}", f"{p} !~ {lit(cq.PHONE_RE)}"
            # lengths are compared among national numbers and those with the column's usual country code
            codes.append(f"mode() WITHIN GROUP (ORDER BY {cc}) FILTER (WHERE {ok}) AS pc{i}")
            judged = f"{ok} AND ({cc} IS NULL OR {cc} IS NOT DISTINCT FROM (SELECT m0.pc{i} FROM m0))"
            stats.append(f"mode() WITHIN GROUP (ORDER BY {ln}) FILTER (WHERE {judged}) AS pm{i}")
            mode = f"(SELECT m.pm{i} FROM m)"
            sel += [
                f"count(*) FILTER (WHERE {bad}) AS pb{i}",
                f"count(*) FILTER (WHERE {judged}) AS pj{i}",
                f"count(*) FILTER (WHERE {judged} AND {ln} = {mode}) AS pa{i}",
                f"{mode} AS pm{i}",
                f"(array_agg({q}::text ORDER BY {q}::text) FILTER (WHERE {bad}))[1:3] AS pbx{i}",
                f"(array_agg({q}::text ORDER BY {q}::text) FILTER (WHERE {judged} AND {ln} <> {mode}))[1:3] AS plx{i}",
            ]
        if consistency and "nonneg" in r:
            sel.append(f"count(*) FILTER (WHERE {q} < 0) AS ng{i}, min({q})::text AS ngm{i}")
        if consistency and "past" in r:
            sel.append(f"count(*) FILTER (WHERE {q} < '1900-01-01') AS dp{i}, min({q})::text AS dpm{i}")
        if consistency and "future" in r:
            sel.append(f"count(*) FILTER (WHERE {q} > {_time_cap()}) AS df{i}, max({q})::text AS dfm{i}")
        if "freshness" in ch and "fresh" in r:
            if plan.sample_percent is not None and c.indexed:
                t = f"t.{quote_ident(c.name)}"
                sel.append(
                    f"(SELECT max({t}) FROM {plan.rel.sql_name} t WHERE {t} <= {_time_cap()})::timestamptz AS fr{i}"
                )
            else:
                sel.append(f"(max({q}) FILTER (WHERE {q} <= {_time_cap()}))::timestamptz AS fr{i}")
        if "outliers" in ch and "outlier" in r:
            x = f"{q}::float8"
            stats.append(f"avg({x}) AS oa{i}, stddev_samp({x}) AS od{i}")
            a, sd = f"(SELECT m.oa{i} FROM m)", f"(SELECT m.od{i} FROM m)"
            cond = f"abs({x} - {a}) > {float(sigma)!r} * {sd}"
            sel += [
                f"count(*) FILTER (WHERE {cond}) AS ol{i}",
                f"min({x}) FILTER (WHERE {cond}) AS oln{i}, max({x}) FILTER (WHERE {cond}) AS olx{i}",
                f"max(abs({x} - {a})) / nullif({sd}, 0) AS oz{i}, {a} AS oa{i}, {sd} AS od{i}",
            ]
        if "duplicates" in ch and "ckey" in r:
            sel.append(f"count(DISTINCT {q}) AS nd{i}")
    if consistency:
        for j, chk in enumerate(plan.not_valid):
            sel.append(f"count(*) FILTER (WHERE ({chk.expr}) IS FALSE) AS cc{j}")
    source = plan.source
    if inner:
        source += f" CROSS JOIN LATERAL (SELECT z.*, {', '.join(outer)} FROM (SELECT {', '.join(inner)}) z) d"
    ctes = [f"m0 AS (SELECT {', '.join(codes)} FROM {source})"] if codes else []
    ctes += [f"m AS (SELECT {', '.join(stats)} FROM {source})"] if stats else []
    head = f"WITH {', '.join(ctes)} " if ctes else ""
    return f"{head}SELECT {', '.join(sel)} FROM {source}"


def duplicates_sql(plan: TablePlan) -> str | None:
    cols = plan.dup_columns
    if not cols:
        return None
    keys = ", ".join(f"{c.q}::text" if "as_text" in c.roles else c.q for c in cols)
    return (
        "SELECT count(*) AS groups, coalesce(sum(g.c - 1), 0)::bigint AS extra "
        f"FROM (SELECT count(*) AS c FROM {plan.source} GROUP BY {keys}) g WHERE g.c > 1"
    )


def spellings_sql(plan: TablePlan, *, max_values: int) -> str | None:
    cols = [c for c in plan.columns if "enum" in c.roles]
    if not cols:
        return None
    values = ", ".join(f"({c.i}, {c.q}::text)" for c in cols)
    norm = "regexp_replace(lower(btrim(v.v)), '[[:space:]_-]+', ' ', 'g')"
    return (
        "WITH v AS (SELECT x.k, x.v, count(*) AS n "
        f"FROM {plan.source}, LATERAL (VALUES {values}) AS x(k, v) WHERE x.v IS NOT NULL GROUP BY 1, 2), "
        "e AS (SELECT k, sum(n)::bigint AS total FROM v GROUP BY k "
        f"HAVING count(*) BETWEEN 2 AND {int(max_values)} AND count(*) * 2 <= sum(n)), "
        f"g AS (SELECT v.k, {norm} AS norm, sum(v.n)::bigint AS total, max(v.n) AS top, count(*) AS spellings, "
        "json_agg(json_build_array(v.v, v.n) ORDER BY v.n DESC, v.v) AS vals FROM v JOIN e ON e.k = v.k "
        "GROUP BY 1, 2) "
        "SELECT e.k, e.total, coalesce(sum(g.total - g.top) FILTER (WHERE g.spellings > 1), 0)::bigint AS stray, "
        "json_agg(g.vals ORDER BY g.total DESC) FILTER (WHERE g.spellings > 1) AS groups "
        "FROM e JOIN g ON g.k = e.k GROUP BY e.k, e.total ORDER BY e.k"
    )


def orphans_sql(plan: TablePlan) -> str | None:
    if not plan.references:
        return None
    sel: list[str] = []
    joins: list[str] = []
    for j, ref in enumerate(plan.references):
        t = f"t{j}"
        on = " AND ".join(
            f"{t}.{quote_ident(rc)} = s.{quote_ident(c)}" for c, rc in zip(ref.columns, ref.ref_columns, strict=True)
        )
        joins.append(f"LEFT JOIN {ref.target.sql_name} {t} ON {on}")
        cond = " AND ".join(f"s.{quote_ident(c)} IS NOT NULL" for c in ref.columns)
        cond += f" AND {t}.{quote_ident(ref.ref_columns[0])} IS NULL"
        if len(ref.columns) == 1:
            key = f"s.{quote_ident(ref.columns[0])}::text"
        else:
            key = "ROW(" + ", ".join(f"s.{quote_ident(c)}" for c in ref.columns) + ")::text"
        sel += [
            f"count(*) FILTER (WHERE {cond}) AS o{j}",
            f"count(DISTINCT {key}) FILTER (WHERE {cond}) AS od{j}",
            f"(array_agg(DISTINCT {key}) FILTER (WHERE {cond}))[1:3] AS ox{j}",
        ]
    return f"SELECT {', '.join(sel)} FROM {plan.source} {' '.join(joins)}"


# ---------- execution: typed results, decoded from the column aliases above ----------


@dataclass(frozen=True)
class ColumnCheck:
    """What the main pass found in one column (zeros and Nones where a rule did not apply)."""

    column: Column
    non_null: int | None = None  # None: not counted (the column is NOT NULL, or no check needed it)
    bad_emails: int = 0
    bad_email_examples: tuple[str, ...] = ()
    bad_phones: int = 0  # not 7-15 digits
    phones_judged: int = 0  # parsable national numbers (or with the column's usual country code)
    phones_usual_length: int = 0  # ... of them with the usual length
    usual_phone_length: int | None = None
    bad_phone_examples: tuple[str, ...] = ()
    odd_length_examples: tuple[str, ...] = ()
    negatives: int = 0
    min_negative: str | None = None
    before_1900: int = 0
    min_date: str | None = None
    in_future: int = 0
    max_date: str | None = None
    newest: datetime | None = None  # newest value not in the future (freshness)
    outliers: int = 0
    outlier_min: float | None = None
    outlier_max: float | None = None
    outlier_max_sigmas: float | None = None  # the farthest value, in standard deviations
    mean: float | None = None
    stddev: float | None = None
    distinct: int | None = None  # None: not counted


@dataclass(frozen=True)
class MainPass:
    """The main aggregate pass of one table."""

    rows: int
    now: datetime
    columns: tuple[ColumnCheck, ...]  # in plan.columns order
    not_valid: tuple[int, ...]  # rows violating each of plan.not_valid


@dataclass(frozen=True)
class Duplicates:
    groups: int
    extra: int  # rows beyond the first of each group


@dataclass(frozen=True)
class Spelling:
    """An enum-like text column whose values differ only in case, spaces, '_' or '-'."""

    column: Column
    total: int
    stray: int  # rows using a spelling other than the most common of its group
    groups: tuple[tuple[tuple[str, int], ...], ...]  # per group: (value, count), most common first


@dataclass(frozen=True)
class Orphans:
    reference: Reference
    rows: int
    distinct: int
    examples: tuple[str, ...]


@dataclass
class TableRaw:
    """What PostgreSQL returned for one table (None: not run or failed; see errors)."""

    main: MainPass | None = None
    duplicates: Duplicates | None = None
    spellings: list[Spelling] = field(default_factory=list)
    orphans: list[Orphans] | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)
    statements: int = 0


Values = Mapping[str, object]
"""One result row by column alias, as the engine's driver decoded it."""
Fetch = Callable[[str], Awaitable[list[Values]]]
"""Runs one statement of the plan; a failure raises VfError (reported, the other statements still run)."""


class EngineSql(Protocol):
    """One engine's statements for a plan and the decoding of the values they return."""

    def main_sql(self, plan: TablePlan, *, sigma: float) -> str: ...

    def duplicates_sql(self, plan: TablePlan) -> str | None: ...

    def spellings_sql(self, plan: TablePlan, *, max_values: int) -> str | None: ...

    def orphans_sql(self, plan: TablePlan) -> str | None: ...

    def examples(self, value: object) -> tuple[str, ...]:
        """Up to three example values, as the statements aggregate them."""
        ...

    def newest(self, value: object, column: Column) -> datetime | None:
        """A freshness value as an aware datetime."""
        ...

    def now(self, value: object) -> datetime:
        """The server's clock, aware."""
        ...

    def spellings(self, rows: list[Values], plan: TablePlan) -> list[Spelling]:
        """The spellings statement's rows as findings, ordered by column, then by group size."""
        ...


def as_int(v: object) -> int:
    if isinstance(v, (int, float, Decimal, str)):
        return int(v)
    return 0


def as_float(v: object) -> float | None:
    if isinstance(v, (int, float, Decimal)):
        return float(v)
    try:
        return float(v) if isinstance(v, (str, bytes)) else None
    except ValueError:
        return None


def as_text(v: object) -> str | None:
    if v is None:
        return None
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else str(v)


def _count(row: Values, alias: str) -> int | None:
    v = row.get(alias)
    return None if v is None else as_int(v)


def _column_check(row: Values, c: Column, sql: EngineSql) -> ColumnCheck:
    i = c.i
    pm = row.get(f"pm{i}")
    return ColumnCheck(
        column=c,
        non_null=_count(row, f"nn{i}"),
        bad_emails=as_int(row.get(f"em{i}")),
        bad_email_examples=sql.examples(row.get(f"emx{i}")),
        bad_phones=as_int(row.get(f"pb{i}")),
        phones_judged=as_int(row.get(f"pj{i}")),
        phones_usual_length=as_int(row.get(f"pa{i}")),
        usual_phone_length=None if pm is None else as_int(pm),
        bad_phone_examples=sql.examples(row.get(f"pbx{i}")),
        odd_length_examples=sql.examples(row.get(f"plx{i}")),
        negatives=as_int(row.get(f"ng{i}")),
        min_negative=as_text(row.get(f"ngm{i}")),
        before_1900=as_int(row.get(f"dp{i}")),
        min_date=as_text(row.get(f"dpm{i}")),
        in_future=as_int(row.get(f"df{i}")),
        max_date=as_text(row.get(f"dfm{i}")),
        newest=sql.newest(row.get(f"fr{i}"), c),
        outliers=as_int(row.get(f"ol{i}")),
        outlier_min=as_float(row.get(f"oln{i}")),
        outlier_max=as_float(row.get(f"olx{i}")),
        outlier_max_sigmas=as_float(row.get(f"oz{i}")),
        mean=as_float(row.get(f"oa{i}")),
        stddev=as_float(row.get(f"od{i}")),
        distinct=_count(row, f"nd{i}"),
    )


def main_pass(row: Values, plan: TablePlan, sql: EngineSql) -> MainPass:
    return MainPass(
        rows=as_int(row["n"]),
        now=sql.now(row["now_"]),
        columns=tuple(_column_check(row, c, sql) for c in plan.columns),
        not_valid=tuple(as_int(row.get(f"cc{j}")) for j in range(len(plan.not_valid))),
    )


def _orphans(row: Values, plan: TablePlan, sql: EngineSql) -> list[Orphans]:
    return [
        Orphans(
            reference=ref,
            rows=as_int(row.get(f"o{j}")),
            distinct=as_int(row.get(f"od{j}")),
            examples=sql.examples(row.get(f"ox{j}")),
        )
        for j, ref in enumerate(plan.references)
    ]


async def run_plan(sql: EngineSql, fetch: Fetch, plan: TablePlan, *, sigma: float, enum_max: int) -> TableRaw:
    """Run the plan's statements through `fetch`, each on its own: a failing one is reported, the rest run."""
    raw = TableRaw()

    async def one(text: str, label: str) -> list[Values] | None:
        raw.statements += 1
        try:
            return await fetch(text)
        except VfError as exc:
            raw.errors.append((label, exc.message))
            return None

    ch = plan.checks
    rows = await one(sql.main_sql(plan, sigma=sigma), "main")
    if not rows:
        return raw  # the table cannot be read (e.g. an unpopulated materialized view): stop here
    raw.main = main_pass(rows[0], plan, sql)
    if not raw.main.rows:
        return raw  # empty table: nothing else to find
    if "duplicates" in ch and (text := sql.duplicates_sql(plan)) and (rows := await one(text, "duplicates")):
        raw.duplicates = Duplicates(groups=as_int(rows[0]["groups"]), extra=as_int(rows[0]["extra"]))
    if "consistency" in ch and (text := sql.spellings_sql(plan, max_values=enum_max)):
        found = await one(text, "consistency")
        if found is not None:
            raw.spellings = sql.spellings(found, plan)
    if (
        "referential_integrity" in ch
        and (text := sql.orphans_sql(plan))
        and (rows := await one(text, "referential_integrity"))
    ):
        raw.orphans = _orphans(rows[0], plan, sql)
    return raw


# ---------- PostgreSQL ----------


@dataclass(frozen=True)
class PostgresSql:
    """The statements above; arrays of examples, JSON spelling groups, timestamptz values."""

    def main_sql(self, plan: TablePlan, *, sigma: float) -> str:
        return main_sql(plan, sigma=sigma)

    def duplicates_sql(self, plan: TablePlan) -> str | None:
        return duplicates_sql(plan)

    def spellings_sql(self, plan: TablePlan, *, max_values: int) -> str | None:
        return spellings_sql(plan, max_values=max_values)

    def orphans_sql(self, plan: TablePlan) -> str | None:
        return orphans_sql(plan)

    def examples(self, value: object) -> tuple[str, ...]:
        return tuple(str(x) for x in value) if isinstance(value, (list, tuple)) else ()

    def newest(self, value: object, column: Column) -> datetime | None:
        return value if isinstance(value, datetime) else None

    def now(self, value: object) -> datetime:
        assert isinstance(value, datetime)
        return value

    def spellings(self, rows: list[Values], plan: TablePlan) -> list[Spelling]:
        by_index = {c.i: c for c in plan.columns}
        out = []
        for row in rows:
            groups = row["groups"]
            assert isinstance(groups, list) or groups is None
            out.append(
                Spelling(
                    column=by_index[as_int(row["k"])],
                    total=as_int(row["total"]),
                    stray=as_int(row["stray"]),
                    groups=tuple(tuple((str(v), int(n)) for v, n in g) for g in groups or []),
                )
            )
        return out


async def run_checks(
    conn: asyncpg.Connection, plan: TablePlan, *, sigma: float, enum_max: int, timeout_s: float
) -> TableRaw:
    """Run the plan's statements on `conn` (inside its READ ONLY transaction), each in its own savepoint."""

    async def fetch(sql: str) -> list[Values]:
        try:
            async with conn.transaction():  # a savepoint: a failed check leaves the others running
                note_sql(sql)
                rows: list[asyncpg.Record] = await conn.fetch(sql, timeout=timeout_s)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise translate(exc) from exc
        return [dict(r.items()) for r in rows]

    return await run_plan(PostgresSql(), fetch, plan, sigma=sigma, enum_max=enum_max)
