"""Schema snapshots, their differences, and the DDL that turns one database's schema into another's.

Pure: no I/O. ``vf_mcp.db.schema_snapshot`` fills a ``Snapshot`` from each database's catalog (with
``search_path = ''``, so every type, sequence and table name in a definition is schema-qualified), and
``plan_migration(desired, current)`` lists the differences and the ordered steps that make ``current``
look like ``desired``. The rollback of a migration is the same function with the arguments swapped.

Step order (drops in reverse dependency order first, then creations in dependency order):
views and materialized views that must go (removed, changed, or depending on a table whose columns are
dropped or retyped) -> indexes -> foreign keys -> other constraints -> columns -> tables -> schemas ->
enums, domains, sequences -> tables (partitioned parents before partitions) -> columns -> sequence
ownership -> primary keys, unique, exclusion and check constraints -> foreign keys -> indexes -> views in
dependency order (with the indexes of materialized views) -> dropped sequences, domains, enums -> schemas.
``ALTER TYPE ... ADD VALUE`` runs before the transaction (a new label is unusable until committed).
Nothing is dropped with CASCADE: an unexpected dependency makes the script fail instead of silently
dropping more.

The snapshot objects live in ``vf_mcp.compute.snapshot`` and the data validation of validate_migration in
``vf_mcp.compute.validation``; both are re-exported here.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from vf_mcp.compute.snapshot import (
    Column as Column,
)
from vf_mcp.compute.snapshot import (
    Constraint as Constraint,
)
from vf_mcp.compute.snapshot import (
    Domain as Domain,
)
from vf_mcp.compute.snapshot import (
    Enum as Enum,
)
from vf_mcp.compute.snapshot import (
    Index as Index,
)
from vf_mcp.compute.snapshot import (
    Sequence as Sequence,
)
from vf_mcp.compute.snapshot import (
    Snapshot as Snapshot,
)
from vf_mcp.compute.snapshot import (
    Table as Table,
)
from vf_mcp.compute.snapshot import (
    View as View,
)
from vf_mcp.compute.snapshot import (
    qualified_sql as qualified_sql,
)
from vf_mcp.compute.snapshot import (
    quote_ident as quote_ident,
)
from vf_mcp.compute.snapshot import (
    quote_literal as quote_literal,
)
from vf_mcp.compute.validation import (
    ColumnPair as ColumnPair,
)
from vf_mcp.compute.validation import (
    RowDiff as RowDiff,
)
from vf_mcp.compute.validation import (
    TablePair as TablePair,
)
from vf_mcp.compute.validation import (
    changed_columns as changed_columns,
)
from vf_mcp.compute.validation import (
    default_table_pairs as default_table_pairs,
)
from vf_mcp.compute.validation import (
    diff_rows as diff_rows,
)
from vf_mcp.compute.validation import (
    pair_table as pair_table,
)

# --------------------------------------------------------------------------------------------------
# Results

KINDS = (
    "schema",
    "enum",
    "domain",
    "sequence",
    "table",
    "column",
    "constraint",
    "index",
    "view",
    "materialized view",
)


@dataclass(frozen=True)
class Difference:
    kind: str  # one of KINDS
    name: str  # schema.object (columns and constraints: schema.table.name)
    change: str  # added: only in source (desired); removed: only in target (current); changed
    description: str
    destructive: bool = False  # the migration step loses data or may fail on existing data


@dataclass(frozen=True)
class Step:
    phase: int
    sql: str
    comment: str | None = None
    destructive: bool = False


@dataclass(frozen=True)
class MigrationPlan:
    differences: tuple[Difference, ...]
    steps: tuple[Step, ...]
    warnings: tuple[str, ...]

    def summary(self) -> dict[str, dict[str, int]]:
        """{kind: {added, removed, changed}} for every kind with a difference."""
        out: dict[str, dict[str, int]] = {}
        for d in self.differences:
            counts = out.setdefault(d.kind, {"added": 0, "removed": 0, "changed": 0})
            counts[d.change] += 1
        return {k: out[k] for k in KINDS if k in out}


# Phases (steps run in phase order; within a phase in the order generated)
P_ENUM_VALUE = 1  # outside the transaction
P_TRANSACTION = 5
P_DROP_VIEW = 10
P_DROP_INDEX = 20
P_DROP_FK = 30
P_DROP_CONSTRAINT = 31
P_DROP_COLUMN = 40
P_DROP_PARTITION = 41
P_DROP_TABLE = 42
P_CREATE_SCHEMA = 50
P_ENUM = 60
P_DOMAIN = 61
P_SEQUENCE = 62
P_CREATE_TABLE = 70
P_CREATE_PARTITION = 71
P_COLUMN = 80
P_SEQUENCE_OWNER = 85
P_ADD_CONSTRAINT = 90
P_ADD_FK = 91
P_INDEX = 100
P_CREATE_VIEW = 110
P_DROP_SEQUENCE = 120
P_DROP_DOMAIN = 121
P_DROP_ENUM = 122
P_DROP_SCHEMA = 130

_CONSTRAINT_ORDER = {"p": 0, "u": 1, "x": 2, "c": 3, "f": 4}
_CONSTRAINT_NAMES = {"p": "primary key", "u": "unique", "x": "exclusion", "c": "check", "f": "foreign key"}


# --------------------------------------------------------------------------------------------------
# Type changes


_INT_DIGITS = {"smallint": 5, "integer": 10, "bigint": 19}
_INT_RANK = {"smallint": 1, "integer": 2, "bigint": 3}
_NUMERIC = re.compile(r"^numeric(?:\((\d+)(?:,(-?\d+))?\))?$")
_VARCHAR = re.compile(r"^(character varying|character|bit varying|bit)(?:\((\d+)\))?$")
_TEXT_LIKE = ("text", "character varying", "character", "name", "citext")
_TIME_PREC = re.compile(r"^(timestamp|time)(?:\((\d)\))? (with|without) time zone$")


def type_change_risk(old: str, new: str) -> str | None:
    """None when every `old` value converts to `new` unchanged; else what may fail or be lost."""
    if old == new:
        return None
    if new == "text" or new == "character varying":
        return None
    o_num, n_num = _NUMERIC.match(old), _NUMERIC.match(new)
    o_chr, n_chr = _VARCHAR.match(old), _VARCHAR.match(new)
    if old in _INT_RANK and new in _INT_RANK:
        return None if _INT_RANK[new] >= _INT_RANK[old] else f"values outside the {new} range fail"
    if old in _INT_DIGITS and n_num:
        if n_num.group(1) is None:
            return None
        p, s = int(n_num.group(1)), int(n_num.group(2) or 0)
        if p - s >= _INT_DIGITS[old]:
            return None
        return f"values with more than {p - s} integer digits fail"
    if old in _INT_DIGITS and new in ("real", "double precision"):
        limit = 24 if new == "real" else 53
        return None if _INT_DIGITS[old] * 3.33 < limit else f"integers beyond 2^{limit} lose precision"
    if o_num and new in _INT_DIGITS:
        return "fractions are rounded and values outside the range fail"
    if o_num and n_num:
        if n_num.group(1) is None:
            return None
        if o_num.group(1) is None:
            return "values are rounded to the new scale and larger values fail"
        p, s = int(o_num.group(1)), int(o_num.group(2) or 0)
        p2, s2 = int(n_num.group(1)), int(n_num.group(2) or 0)
        risks = []
        if s2 < s:
            risks.append(f"values are rounded to {s2} decimal(s)")
        if p2 - s2 < p - s:
            risks.append(f"values with more than {p2 - s2} integer digits fail")
        return "; ".join(risks) or None
    if old == "real" and new == "double precision":
        return None
    if o_chr and n_chr and o_chr.group(1).startswith("bit") == n_chr.group(1).startswith("bit"):
        o_len = int(o_chr.group(2)) if o_chr.group(2) else None
        n_len = int(n_chr.group(2)) if n_chr.group(2) else None
        if n_len is None or (o_len is not None and n_len >= o_len):
            return None if n_chr.group(1) != "character" or o_chr.group(1) == "character" else "values are padded"
        return f"values longer than {n_len} characters fail"
    if (old == "text" or old.startswith(_TEXT_LIKE)) and n_chr:
        return f"values longer than {n_chr.group(2)} characters fail" if n_chr.group(2) else None
    o_t, n_t = _TIME_PREC.match(old), _TIME_PREC.match(new)
    if o_t and n_t and o_t.group(1) == n_t.group(1):
        if o_t.group(3) != n_t.group(3):
            return "values are reinterpreted in the session TimeZone"
        o_p, n_p = int(o_t.group(2) or 6), int(n_t.group(2) or 6)
        return None if n_p >= o_p else f"fractional seconds are rounded to {n_p} digit(s)"
    if old == "date" and n_t and n_t.group(1) == "timestamp":
        return None
    if o_t and o_t.group(1) == "timestamp" and new == "date":
        return "the time of day is dropped"
    if old in ("json", "jsonb") and new in ("json", "jsonb"):
        return None if new == "json" else "key order, duplicate keys and whitespace are normalised"
    return f"the conversion from {old} to {new} may fail or change values (check the USING cast)"


# --------------------------------------------------------------------------------------------------
# The plan


@dataclass
class _Builder:
    """Collects differences, steps and warnings while planning (lives only inside plan_migration)."""

    differences: list[Difference] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def diff(self, kind: str, name: str, change: str, description: str, *, destructive: bool = False) -> None:
        self.differences.append(Difference(kind, name, change, f"{kind} {name}: {description}", destructive))

    def step(self, phase: int, sql: str, *, comment: str | None = None, destructive: bool = False) -> None:
        self.steps.append(Step(phase, sql, comment, destructive))
        if destructive and comment:
            self.warnings.append(comment)

    def manual(self, phase: int, text: str) -> None:
        self.steps.append(Step(phase, "", f"MANUAL: {text}"))
        self.warnings.append(f"manual step needed: {text}")


def plan_migration(desired: Snapshot, current: Snapshot) -> MigrationPlan:
    """Differences between `desired` (the source) and `current` (the target), and the steps making current match."""
    b = _Builder()
    _schemas(b, desired, current)
    _enums(b, desired, current)
    _domains(b, desired, current)
    added_tables, removed_tables = _tables(b, desired, current)
    touched = _columns(b, desired, current, added_tables, removed_tables) | removed_tables
    _sequences(b, desired, current, removed_tables)
    _constraints(b, desired, current, added_tables, removed_tables)
    recreated_views = _views(b, desired, current, touched)
    _indexes(b, desired, current, added_tables, removed_tables, recreated_views)
    order = {k: i for i, k in enumerate(KINDS)}
    differences = sorted(b.differences, key=lambda d: (order[d.kind], d.name))
    steps = sorted(b.steps, key=lambda s: s.phase)  # stable: generation order within a phase
    return MigrationPlan(tuple(differences), tuple(steps), tuple(dict.fromkeys(b.warnings)))


def sql_comment(text: str) -> str:
    """A one-line `-- ` comment: line breaks in names (legal in quoted identifiers) cannot end it early."""
    return "-- " + re.sub(r"[\r\n\x0b\x0c\x85\u2028\u2029]+", " ", text)


def render_script(steps: Iterable[Step], title: str) -> str:
    """The SQL script: a header, enum label additions, then BEGIN; steps; COMMIT;."""
    steps = list(steps)
    runnable = [s for s in steps if s.sql]
    if not steps:
        return f"{sql_comment(title)}\n-- No differences: nothing to do.\n"
    lines = [
        sql_comment(title),
        f"-- {len(runnable)} statement(s); review before running. Steps marked DESTRUCTIVE lose data or may fail "
        "on existing data; MANUAL lines need a human.",
    ]
    opened = False
    for s in steps:
        if not opened and s.phase >= P_TRANSACTION:
            lines += ["", "BEGIN;"]
            opened = True
        if s.comment:
            prefix = "DESTRUCTIVE: " if s.destructive else ""
            lines.append(sql_comment(prefix + s.comment))
        if s.sql:
            lines.append(s.sql if s.sql.endswith(";") else s.sql + ";")
    if not opened:
        lines += ["", "BEGIN;"]
    lines += ["COMMIT;", ""]
    return "\n".join(lines)


def _schemas(b: _Builder, desired: Snapshot, current: Snapshot) -> None:
    want, have = set(desired.schemas), set(current.schemas)
    for s in sorted(want - have):
        b.diff("schema", s, "added", "missing in target")
        b.step(P_CREATE_SCHEMA, f"CREATE SCHEMA {quote_ident(s)}")
    for s in sorted(have - want):
        b.diff("schema", s, "removed", "only in target", destructive=True)
        b.step(P_DROP_SCHEMA, f"DROP SCHEMA {quote_ident(s)}", comment=f"drops schema {s}", destructive=True)


def _enums(b: _Builder, desired: Snapshot, current: Snapshot) -> None:
    want: Mapping[tuple[str, str], Enum] = {e.key: e for e in desired.enums}
    have: Mapping[tuple[str, str], Enum] = {e.key: e for e in current.enums}
    for key in sorted(want.keys() - have.keys()):
        e = want[key]
        labels = ", ".join(quote_literal(lb) for lb in e.labels)
        b.diff("enum", f"{e.schema}.{e.name}", "added", "missing in target")
        b.step(P_ENUM, f"CREATE TYPE {qualified_sql(*key)} AS ENUM ({labels})")
    for key in sorted(have.keys() - want.keys()):
        name = f"{key[0]}.{key[1]}"
        b.diff("enum", name, "removed", "only in target")
        b.step(P_DROP_ENUM, f"DROP TYPE {qualified_sql(*key)}")
    for key in sorted(want.keys() & have.keys()):
        new, old = want[key], have[key]
        if new.labels == old.labels:
            continue
        name = f"{key[0]}.{key[1]}"
        b.diff(
            "enum", name, "changed", f"labels [{', '.join(new.labels)}] in source, [{', '.join(old.labels)}] in target"
        )
        if _is_subsequence(old.labels, new.labels):
            have_labels = set(old.labels)
            for i, label in enumerate(new.labels):
                if label in have_labels:
                    continue
                after = next((lb for lb in reversed(new.labels[:i]) if lb in have_labels), None)
                before = next((lb for lb in new.labels[i + 1 :] if lb in have_labels), None)
                where = (
                    f" AFTER {quote_literal(after)}" if after else f" BEFORE {quote_literal(before)}" if before else ""
                )
                b.step(P_ENUM_VALUE, f"ALTER TYPE {qualified_sql(*key)} ADD VALUE {quote_literal(label)}{where}")
                have_labels.add(label)
        else:
            b.manual(
                P_ENUM,
                f"enum {name} loses or reorders labels ([{', '.join(old.labels)}] -> [{', '.join(new.labels)}]): "
                "PostgreSQL cannot remove enum labels; create a new type, convert the columns, drop the old type",
            )


def _is_subsequence(small: tuple[str, ...], big: tuple[str, ...]) -> bool:
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


def _domain_sql(d: Domain) -> str:
    parts = [f"CREATE DOMAIN {qualified_sql(d.schema, d.name)} AS {d.base_type}"]
    if d.default is not None:
        parts.append(f"DEFAULT {d.default}")
    if d.not_null:
        parts.append("NOT NULL")
    parts += [f"CONSTRAINT {quote_ident(n)} {definition}" for n, definition in d.constraints]
    return " ".join(parts)


def _domains(b: _Builder, desired: Snapshot, current: Snapshot) -> None:
    want: Mapping[tuple[str, str], Domain] = {d.key: d for d in desired.domains}
    have: Mapping[tuple[str, str], Domain] = {d.key: d for d in current.domains}
    for key in sorted(want.keys() - have.keys()):
        b.diff("domain", f"{key[0]}.{key[1]}", "added", "missing in target")
        b.step(P_DOMAIN, _domain_sql(want[key]))
    for key in sorted(have.keys() - want.keys()):
        b.diff("domain", f"{key[0]}.{key[1]}", "removed", "only in target")
        b.step(P_DROP_DOMAIN, f"DROP DOMAIN {qualified_sql(*key)}")
    for key in sorted(want.keys() & have.keys()):
        new, old = want[key], have[key]
        name, sql_name = f"{key[0]}.{key[1]}", qualified_sql(*key)
        parts = []
        if new.base_type != old.base_type:
            parts.append(f"base type {new.base_type} in source, {old.base_type} in target")
            b.manual(P_DOMAIN, f"domain {name} changes base type ({old.base_type} -> {new.base_type}): recreate it")
        if new.default != old.default:
            parts.append(f"default {new.default or 'none'} in source, {old.default or 'none'} in target")
            b.step(
                P_DOMAIN,
                f"ALTER DOMAIN {sql_name} SET DEFAULT {new.default}"
                if new.default is not None
                else f"ALTER DOMAIN {sql_name} DROP DEFAULT",
            )
        if new.not_null != old.not_null:
            parts.append(f"{'NOT NULL' if new.not_null else 'nullable'} in source")
            b.step(P_DOMAIN, f"ALTER DOMAIN {sql_name} {'SET' if new.not_null else 'DROP'} NOT NULL")
        new_c, old_c = dict(new.constraints), dict(old.constraints)
        for cname in sorted(
            old_c.keys() - new_c.keys() | {n for n in new_c.keys() & old_c.keys() if new_c[n] != old_c[n]}
        ):
            b.step(P_DOMAIN, f"ALTER DOMAIN {sql_name} DROP CONSTRAINT {quote_ident(cname)}")
        for cname in sorted(
            new_c.keys() - old_c.keys() | {n for n in new_c.keys() & old_c.keys() if new_c[n] != old_c[n]}
        ):
            b.step(P_DOMAIN, f"ALTER DOMAIN {sql_name} ADD CONSTRAINT {quote_ident(cname)} {new_c[cname]}")
        if new_c != old_c:
            parts.append("check constraints differ")
        if parts:
            b.diff("domain", name, "changed", "; ".join(parts))


def _sequence_options(s: Sequence) -> str:
    return (
        f"AS {s.data_type} INCREMENT BY {s.increment} MINVALUE {s.min_value} MAXVALUE {s.max_value} "
        f"START WITH {s.start} CACHE {s.cache} {'CYCLE' if s.cycle else 'NO CYCLE'}"
    )


def _owner_sql(s: Sequence) -> str:
    owner = "NONE" if s.owned_by is None else ".".join(quote_ident(p) for p in s.owned_by)
    return f"ALTER SEQUENCE {qualified_sql(s.schema, s.name)} OWNED BY {owner}"


def _sequences(b: _Builder, desired: Snapshot, current: Snapshot, removed_tables: set[tuple[str, str]]) -> None:
    want: Mapping[tuple[str, str], Sequence] = {s.key: s for s in desired.sequences}
    have: Mapping[tuple[str, str], Sequence] = {s.key: s for s in current.sequences}
    want_cols = {(c.schema, c.table, c.name) for c in desired.columns}
    for key in sorted(want.keys() - have.keys()):
        s = want[key]
        b.diff("sequence", f"{key[0]}.{key[1]}", "added", "missing in target")
        b.step(P_SEQUENCE, f"CREATE SEQUENCE {qualified_sql(*key)} {_sequence_options(s)}")
        if s.owned_by is not None:
            b.step(P_SEQUENCE_OWNER, _owner_sql(s))
    for key in sorted(have.keys() - want.keys()):
        s = have[key]
        b.diff("sequence", f"{key[0]}.{key[1]}", "removed", "only in target")
        owner_gone = s.owned_by is not None and (
            (s.owned_by[0], s.owned_by[1]) in removed_tables or s.owned_by not in want_cols
        )
        if not owner_gone:  # else dropped with its table or column
            b.step(P_DROP_SEQUENCE, f"DROP SEQUENCE {qualified_sql(*key)}")
    for key in sorted(want.keys() & have.keys()):
        new, old = want[key], have[key]
        parts = []
        options = []
        for label, attr, sql in (
            ("type", "data_type", "AS {}"),
            ("increment", "increment", "INCREMENT BY {}"),
            ("min", "min_value", "MINVALUE {}"),
            ("max", "max_value", "MAXVALUE {}"),
            ("start", "start", "START WITH {}"),
            ("cache", "cache", "CACHE {}"),
        ):
            nv, ov = getattr(new, attr), getattr(old, attr)
            if nv != ov:
                parts.append(f"{label} {nv} in source, {ov} in target")
                options.append(sql.format(nv))
        if new.cycle != old.cycle:
            parts.append(f"{'CYCLE' if new.cycle else 'NO CYCLE'} in source")
            options.append("CYCLE" if new.cycle else "NO CYCLE")
        if options:
            b.step(P_SEQUENCE, f"ALTER SEQUENCE {qualified_sql(*key)} {' '.join(options)}")
        if new.owned_by != old.owned_by:
            fmt = ".".join
            parts.append(
                f"owned by {fmt(new.owned_by) if new.owned_by else 'nothing'} in source, "
                f"{fmt(old.owned_by) if old.owned_by else 'nothing'} in target"
            )
            b.step(P_SEQUENCE_OWNER, _owner_sql(new))
        if parts:
            b.diff("sequence", f"{key[0]}.{key[1]}", "changed", "; ".join(parts))


def column_sql(c: Column) -> str:
    """A column definition for CREATE TABLE / ADD COLUMN."""
    parts = [quote_ident(c.name), c.full_type]
    if c.generated is not None:
        parts.append(f"GENERATED ALWAYS AS ({c.generated}) {(c.generated_kind or 'stored').upper()}")
    elif c.identity is not None:
        parts.append(f"GENERATED {c.identity.upper()} AS IDENTITY")
    elif c.default is not None:
        parts.append(f"DEFAULT {c.default}")
    if c.not_null:
        parts.append("NOT NULL")
    return " ".join(parts)


def _table_changes(new: Table, old: Table) -> list[str]:
    parts = []
    if new.kind != old.kind:
        kinds = {"r": "table", "p": "partitioned table"}
        parts.append(f"{kinds.get(new.kind, new.kind)} in source, {kinds.get(old.kind, old.kind)} in target")
    if new.partition_key != old.partition_key:
        parts.append(f"partition key {new.partition_key or 'none'} in source, {old.partition_key or 'none'} in target")
    if new.parent != old.parent or new.partition_bound != old.partition_bound:
        parts.append(f"partition of {_partition(new)} in source, {_partition(old)} in target")
    return parts


def _partition(t: Table) -> str:
    return "nothing" if t.parent is None else f"{t.parent[0]}.{t.parent[1]} {t.partition_bound}"


def _create_table_sql(t: Table, columns: list[Column]) -> str:
    if t.parent is not None:
        sql = f"CREATE TABLE {t.sql_name} PARTITION OF {qualified_sql(*t.parent)} {t.partition_bound}"
    else:
        cols = ",\n".join(f"  {column_sql(c)}" for c in columns if not c.inherited)
        sql = f"CREATE {'UNLOGGED ' if t.unlogged else ''}TABLE {t.sql_name} (\n{cols}\n)"
    if t.kind == "p" and t.partition_key:
        sql += f" PARTITION BY {t.partition_key}"
    return sql


def _tables(b: _Builder, desired: Snapshot, current: Snapshot) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    want = {t.key: t for t in desired.tables}
    have = {t.key: t for t in current.tables}
    added = set(want.keys() - have.keys())
    removed = set(have.keys() - want.keys())
    constraints = Counter((c.schema, c.table) for c in desired.constraints)
    indexes = Counter((i.schema, i.table) for i in desired.indexes)
    for key in sorted(added):
        t = want[key]
        cols = desired.columns_of(key)
        n_cons, n_idx = constraints[key], indexes[key]
        b.diff(
            "table",
            t.qualified,
            "added",
            f"missing in target ({len(cols)} column(s), {n_cons} constraint(s), {n_idx} index(es))",
        )
        b.step(P_CREATE_PARTITION if t.parent else P_CREATE_TABLE, _create_table_sql(t, cols))
    for key in sorted(removed):
        t = have[key]
        b.diff("table", t.qualified, "removed", "only in target", destructive=True)
        if t.parent is not None and t.parent in removed:
            continue  # goes with its parent
        b.step(
            P_DROP_PARTITION if t.parent else P_DROP_TABLE,
            f"DROP TABLE {t.sql_name}",
            comment=f"drops table {t.qualified} and its rows",
            destructive=True,
        )
    for key in sorted(want.keys() & have.keys()):
        new, old = want[key], have[key]
        parts = _table_changes(new, old)
        if parts:
            b.manual(P_CREATE_TABLE, f"table {new.qualified} must be recreated ({'; '.join(parts)})")
        if new.unlogged != old.unlogged:
            parts.append(f"{'unlogged' if new.unlogged else 'logged'} in source")
            b.step(P_COLUMN, f"ALTER TABLE {new.sql_name} SET {'UNLOGGED' if new.unlogged else 'LOGGED'}")
        if parts:
            b.diff("table", new.qualified, "changed", "; ".join(parts))
    return added, removed


def _columns(
    b: _Builder,
    desired: Snapshot,
    current: Snapshot,
    added_tables: set[tuple[str, str]],
    removed_tables: set[tuple[str, str]],
) -> set[tuple[str, str]]:
    """Column differences of tables in both; returns the tables whose columns are dropped or retyped."""
    touched: set[tuple[str, str]] = set()
    tables = {t.key: t for t in desired.tables}
    want: dict[tuple[str, str], dict[str, Column]] = {}
    have: dict[tuple[str, str], dict[str, Column]] = {}
    for c in desired.columns:
        want.setdefault((c.schema, c.table), {})[c.name] = c
    for c in current.columns:
        have.setdefault((c.schema, c.table), {})[c.name] = c
    for key in sorted(set(want) & set(have) - added_tables - removed_tables):
        table_sql = tables[key].sql_name
        new_cols, old_cols = want[key], have[key]
        for name in sorted(new_cols.keys() - old_cols.keys(), key=lambda n: new_cols[n].position):
            c = new_cols[name]
            if c.inherited:
                continue
            b.diff("column", c.qualified, "added", "missing in target")
            comment = None
            if c.not_null and c.default is None and c.identity is None and c.generated is None:
                comment = f"adding NOT NULL column {c.qualified} without a default fails if the table has rows"
                b.warnings.append(comment)
            b.step(P_COLUMN, f"ALTER TABLE {table_sql} ADD COLUMN {column_sql(c)}", comment=comment)
        for name in sorted(old_cols.keys() - new_cols.keys()):
            c = old_cols[name]
            if c.inherited:
                continue
            touched.add(key)
            b.diff("column", c.qualified, "removed", "only in target", destructive=True)
            b.step(
                P_DROP_COLUMN,
                f"ALTER TABLE {table_sql} DROP COLUMN {quote_ident(name)}",
                comment=f"drops column {c.qualified} and its data",
                destructive=True,
            )
        for name in sorted(new_cols.keys() & old_cols.keys(), key=lambda n: new_cols[n].position):
            new, old = new_cols[name], old_cols[name]
            if new.inherited and old.inherited:
                continue
            if _alter_column(b, table_sql, new, old):
                touched.add(key)
    return touched


def _alter_column(b: _Builder, table_sql: str, new: Column, old: Column) -> bool:
    """Steps for one column in both; True when its type changes or it is dropped and re-added."""
    col = quote_ident(new.name)
    alter = f"ALTER TABLE {table_sql} ALTER COLUMN {col}"
    parts: list[str] = []
    retyped = False
    destructive = False
    default_dropped = False
    if (new.generated is None) != (old.generated is None) and new.generated is not None:
        # a plain column becomes generated: PostgreSQL can only drop and re-add it
        parts.append(f"generated as ({new.generated}) in source, a plain column in target")
        b.step(
            P_COLUMN,
            f"ALTER TABLE {table_sql} DROP COLUMN {col}",
            comment=f"drops column {new.qualified} to re-add it as a generated column",
            destructive=True,
        )
        b.step(P_COLUMN, f"ALTER TABLE {table_sql} ADD COLUMN {column_sql(new)}")
        b.diff("column", new.qualified, "changed", "; ".join(parts), destructive=True)
        return True
    if new.full_type != old.full_type:
        retyped = True
        parts.append(f"type {new.full_type} in source, {old.full_type} in target")
        risk = type_change_risk(old.type, new.type)
        comment = None
        if risk:
            destructive = True
            comment = f"changes the type of {new.qualified} from {old.type} to {new.type}: {risk}"
        if old.default is not None and new.default != old.default:
            b.step(P_COLUMN, f"{alter} DROP DEFAULT")  # the old default may not cast to the new type
            default_dropped = True
        b.step(
            P_COLUMN,
            f"{alter} TYPE {new.full_type} USING {col}::{new.type}",
            comment=comment,
            destructive=bool(risk),
        )
    if new.generated is None and old.generated is not None:
        parts.append("a plain column in source, generated in target")
        b.step(P_COLUMN, f"{alter} DROP EXPRESSION")
    elif new.generated is not None and old.generated is not None and new.generated != old.generated:
        parts.append(f"generated as ({new.generated}) in source, ({old.generated}) in target")
        b.step(P_COLUMN, f"{alter} SET EXPRESSION AS ({new.generated})")
    if new.identity != old.identity:
        parts.append(f"identity {new.identity or 'none'} in source, {old.identity or 'none'} in target")
        if new.identity is None:
            b.step(P_COLUMN, f"{alter} DROP IDENTITY")
        elif old.identity is None:
            if old.default is not None and not default_dropped:
                b.step(P_COLUMN, f"{alter} DROP DEFAULT")
                default_dropped = True
            b.step(P_COLUMN, f"{alter} ADD GENERATED {new.identity.upper()} AS IDENTITY")
        else:
            b.step(P_COLUMN, f"{alter} SET GENERATED {new.identity.upper()}")
    if new.default != old.default and new.generated is None:
        parts.append(f"default {new.default or 'none'} in source, {old.default or 'none'} in target")
        if new.default is not None:
            b.step(P_COLUMN, f"{alter} SET DEFAULT {new.default}")
        elif not default_dropped and (new.identity is None or old.identity is not None):
            b.step(P_COLUMN, f"{alter} DROP DEFAULT")
    if new.not_null != old.not_null:
        nullability = {True: "NOT NULL", False: "nullable"}
        parts.append(f"{nullability[new.not_null]} in source, {nullability[old.not_null]} in target")
        comment = None
        if new.not_null:
            comment = f"SET NOT NULL on {new.qualified} fails if it holds NULLs"
            b.warnings.append(comment)
        b.step(P_COLUMN, f"{alter} {'SET' if new.not_null else 'DROP'} NOT NULL", comment=comment)
    if parts:
        b.diff("column", new.qualified, "changed", "; ".join(parts), destructive=destructive)
    return retyped


def _constraints(
    b: _Builder,
    desired: Snapshot,
    current: Snapshot,
    added_tables: set[tuple[str, str]],
    removed_tables: set[tuple[str, str]],
) -> None:
    want = {c.key: c for c in desired.constraints}
    have = {c.key: c for c in current.constraints}
    tables = {t.key: t for t in (*desired.tables, *current.tables)}

    def table_sql(c: Constraint) -> str:
        t = tables.get((c.schema, c.table))
        return t.sql_name if t else qualified_sql(c.schema, c.table)

    def add(c: Constraint) -> None:
        phase = P_ADD_FK if c.type == "f" else P_ADD_CONSTRAINT
        b.step(phase, f"ALTER TABLE {table_sql(c)} ADD CONSTRAINT {quote_ident(c.name)} {c.definition}")

    def drop(c: Constraint) -> None:
        phase = P_DROP_FK if c.type == "f" else P_DROP_CONSTRAINT
        b.step(phase, f"ALTER TABLE {table_sql(c)} DROP CONSTRAINT {quote_ident(c.name)}")

    order = sorted(want.keys() - have.keys(), key=lambda k: (_CONSTRAINT_ORDER.get(want[k].type, 9), k))
    for key in order:
        c = want[key]
        if (c.schema, c.table) not in added_tables:
            b.diff("constraint", c.qualified, "added", f"missing in target ({c.definition})")
        add(c)
    for key in sorted(have.keys() - want.keys(), key=lambda k: (-_CONSTRAINT_ORDER.get(have[k].type, 9), k)):
        c = have[key]
        if (c.schema, c.table) in removed_tables:
            if c.type == "f":
                drop(c)  # so that the tables drop in any order
            continue
        b.diff("constraint", c.qualified, "removed", f"only in target ({c.definition})")
        drop(c)
    for key in sorted(want.keys() & have.keys(), key=lambda k: (_CONSTRAINT_ORDER.get(want[k].type, 9), k)):
        new, old = want[key], have[key]
        if (new.type, new.definition) == (old.type, old.definition):
            continue
        b.diff("constraint", new.qualified, "changed", f"{new.definition} in source, {old.definition} in target")
        drop(old)
        add(new)


def _views(b: _Builder, desired: Snapshot, current: Snapshot, touched: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """View steps; returns the views (re)created, whose indexes must be (re)created after them."""
    want = {v.key: v for v in desired.views}
    have = {v.key: v for v in current.views}
    for key in sorted(want.keys() - have.keys()):
        b.diff(want[key].kind, want[key].qualified, "added", "missing in target")
    for key in sorted(have.keys() - want.keys()):
        b.diff(have[key].kind, have[key].qualified, "removed", "only in target")
    changed = set()
    for key in sorted(want.keys() & have.keys()):
        new, old = want[key], have[key]
        if new.materialized != old.materialized:
            b.diff(new.kind, new.qualified, "changed", f"a {new.kind} in source, a {old.kind} in target")
            changed.add(key)
        elif new.definition.strip() != old.definition.strip():
            b.diff(new.kind, new.qualified, "changed", "definition differs")
            changed.add(key)

    drop = (have.keys() - want.keys()) | changed
    collateral: dict[tuple[str, str], tuple[str, str]] = {}
    grew = True
    while grew:  # views depending on a dropped view or on a table whose columns change go too
        grew = False
        for key, v in have.items():
            if key in drop:
                continue
            cause = next((d for d in v.depends_on if d in drop or d in touched), None)
            if cause is not None:
                drop.add(key)
                collateral[key] = cause
                grew = True
    for key in _topological(have, drop, reverse=True):
        v = have[key]
        comment = None
        if key in collateral:
            cause = collateral[key]
            comment = f"{v.kind} {v.qualified} is recreated: it depends on {cause[0]}.{cause[1]}, which changes"
        b.step(P_DROP_VIEW, f"DROP {v.kind.upper()} {qualified_sql(*key)}", comment=comment)
    create = (want.keys() - have.keys()) | (drop & want.keys())
    for key in _topological(want, create, reverse=False):
        v = want[key]
        body = v.definition.strip().rstrip(";")
        b.step(P_CREATE_VIEW, f"CREATE {v.kind.upper()} {qualified_sql(*key)} AS\n{body}")
    return set(create)


def _topological(
    views: Mapping[tuple[str, str], View], subset: set[tuple[str, str]], *, reverse: bool
) -> list[tuple[str, str]]:
    """`subset` ordered so that a view comes after the views it reads (before them when reverse)."""
    done: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def visit(key: tuple[str, str], path: frozenset[tuple[str, str]]) -> None:
        if key in seen or key in path:
            return
        for dep in sorted(views[key].depends_on):
            if dep in subset and dep in views:
                visit(dep, path | {key})
        seen.add(key)
        done.append(key)

    for key in sorted(subset):
        visit(key, frozenset())
    return done[::-1] if reverse else done


def _indexes(
    b: _Builder,
    desired: Snapshot,
    current: Snapshot,
    added_tables: set[tuple[str, str]],
    removed_tables: set[tuple[str, str]],
    recreated_views: set[tuple[str, str]],
) -> None:
    want = {i.key: i for i in desired.indexes}
    have = {i.key: i for i in current.indexes}
    current_views = {v.key for v in current.views}

    def create(i: Index) -> None:
        on_view = (i.schema, i.table) in recreated_views
        b.step(P_CREATE_VIEW if on_view else P_INDEX, i.definition)

    for key in sorted(want.keys() - have.keys()):
        i = want[key]
        on = (i.schema, i.table)
        if on not in added_tables and on not in recreated_views - current_views:
            b.diff("index", i.qualified, "added", f"missing in target ({i.definition})")
        create(i)
    for key in sorted(have.keys() - want.keys()):
        i = have[key]
        on = (i.schema, i.table)
        if on in removed_tables or (on in current_views and on not in {v.key for v in desired.views}):
            continue  # goes with its table or materialized view
        b.diff("index", i.qualified, "removed", f"only in target ({i.definition})")
        if on not in recreated_views:
            b.step(P_DROP_INDEX, f"DROP INDEX {qualified_sql(*key)}")
    for key in sorted(want.keys() & have.keys()):
        new, old = want[key], have[key]
        changed = new.definition != old.definition
        if changed:
            b.diff("index", new.qualified, "changed", f"{new.definition} in source, {old.definition} in target")
        on = (new.schema, new.table)
        if on in recreated_views:
            create(new)  # the materialized view was dropped with its indexes
        elif changed:
            b.step(P_DROP_INDEX, f"DROP INDEX {qualified_sql(*key)}")
            create(new)
