"""Schema differences between databases of different engines (PostgreSQL <-> MySQL/MariaDB, MySQL <-> MySQL).

Pure: no I/O. Both snapshots come from each engine's catalog; what is compared is what means the same on
both: tables and views by name, columns (type family through ``vf_mcp.compute.type_map``, nullability,
auto-increment, literal defaults), primary keys, unique constraints and foreign keys by their columns and
referenced table, and indexes by their columns. Constraint and index *names* are not compared (each engine
names them its own way), nor are schemas: a table is matched by its name in whichever schema holds it (MySQL's
database, PostgreSQL's schemas compared). Names match case-insensitively, as MySQL's column names always do
(its table names do with lower_case_table_names = 1 or on Windows/macOS): two names that differ only by case
are the same object here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vf_mcp.compute.schema_diff import KINDS, Column, Difference, Snapshot
from vf_mcp.compute.type_map import TypeFamily, family, type_difference
from vf_mcp.compute.validation import ColumnPair, TablePair


@dataclass(frozen=True)
class Side:
    """One database's snapshot and its engine ('postgresql' or 'mysql')."""

    snapshot: Snapshot
    engine: str

    def tables(self) -> dict[str, tuple[str, str]]:
        """{lower-case name: (schema, name)}; a name in several schemas: 'public' (else the first) wins."""
        out: dict[str, tuple[str, str]] = {}
        for t in self.snapshot.tables:
            if t.parent is not None:
                continue
            low = t.name.lower()
            if low not in out or t.schema == "public":
                out[low] = t.key
        return out

    def family(self, c: Column) -> TypeFamily:
        labels: tuple[str, ...] = ()
        if self.engine == "postgresql":
            enums = {f"{e.schema}.{e.name}": e.labels for e in self.snapshot.enums}
            enums.update({e.name: e.labels for e in self.snapshot.enums if e.schema == "public"})
            labels = enums.get(c.type.replace('"', ""), ())
        return family(self.engine, c.type, labels)


def cross_differences(source: Side, target: Side) -> list[Difference]:
    """The differences between `source` (desired) and `target` (current); change as in plan_migration."""
    out: list[Difference] = []
    s_tables, t_tables = source.tables(), target.tables()
    for low in sorted(s_tables.keys() - t_tables.keys()):
        out.append(_diff("table", _name(s_tables[low]), "added", "missing in target"))
    for low in sorted(t_tables.keys() - s_tables.keys()):
        out.append(_diff("table", _name(t_tables[low]), "removed", "only in target", destructive=True))
    for low in sorted(s_tables.keys() & t_tables.keys()):
        out += _table(source, target, s_tables[low], t_tables[low])
    s_views = {v.name.lower(): v for v in source.snapshot.views}
    t_views = {v.name.lower(): v for v in target.snapshot.views}
    out += [
        _diff("view", s_views[n].qualified, "added", "missing in target")
        for n in sorted(s_views.keys() - t_views.keys())
    ]
    out += [
        _diff("view", t_views[n].qualified, "removed", "only in target")
        for n in sorted(t_views.keys() - s_views.keys())
    ]
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(out, key=lambda d: (order[d.kind], d.name))


def _diff(kind: str, name: str, change: str, description: str, *, destructive: bool = False) -> Difference:
    return Difference(kind, name, change, f"{kind} {name}: {description}", destructive)


def _name(key: tuple[str, str]) -> str:
    return f"{key[0]}.{key[1]}"


def _table(source: Side, target: Side, s_key: tuple[str, str], t_key: tuple[str, str]) -> list[Difference]:
    out: list[Difference] = []
    s_cols = {c.name.lower(): c for c in source.snapshot.columns_of(s_key)}
    t_cols = {c.name.lower(): c for c in target.snapshot.columns_of(t_key)}
    for low in sorted(s_cols.keys() - t_cols.keys(), key=lambda n: s_cols[n].position):
        out.append(_diff("column", s_cols[low].qualified, "added", f"missing in target ({s_cols[low].type})"))
    for low in sorted(t_cols.keys() - s_cols.keys(), key=lambda n: t_cols[n].position):
        out.append(_diff("column", t_cols[low].qualified, "removed", "only in target", destructive=True))
    for low in sorted(s_cols.keys() & t_cols.keys(), key=lambda n: s_cols[n].position):
        out += _column(source, target, s_cols[low], t_cols[low])
    out += _constraints(source, target, s_key, t_key)
    s_idx, t_idx = _index_columns(source.snapshot, s_key), _index_columns(target.snapshot, t_key)
    table = _name(s_key)
    for cols in sorted(s_idx.keys() - t_idx.keys()):
        out.append(_diff("index", f"{table}.{s_idx[cols]}", "added", f"missing in target (on {', '.join(cols)})"))
    for cols in sorted(t_idx.keys() - s_idx.keys()):
        out.append(_diff("index", f"{_name(t_key)}.{t_idx[cols]}", "removed", f"only in target (on {', '.join(cols)})"))
    return out


def _column(source: Side, target: Side, s: Column, t: Column) -> list[Difference]:
    parts: list[str] = []
    destructive = False
    s_fam, t_fam = source.family(s), target.family(t)
    what = type_difference(s_fam, t_fam)
    if what:
        parts.append(f"{s.type} vs {t.type}: {what}")
        destructive = "narrowed" in what or " in source, " in what
    if s.not_null != t.not_null:
        null = {True: "NOT NULL", False: "nullable"}
        parts.append(f"{null[s.not_null]} in source, {null[t.not_null]} in target")
    s_auto, t_auto = _auto(s), _auto(t)
    if s_auto != t_auto:
        parts.append(f"auto-increment {'in source only' if s_auto else 'in target only'}")
    elif not s_auto and _default(s.default) != _default(t.default):
        parts.append(f"default {s.default or 'none'} in source, {t.default or 'none'} in target")
    if not parts:
        return []
    return [_diff("column", s.qualified, "changed", "; ".join(parts), destructive=destructive)]


def _auto(c: Column) -> bool:
    return c.identity is not None or (c.default or "").startswith("nextval(")


def _default(text: str | None) -> str | None:
    """A default's value without its spelling: quotes, ::casts, now()/CURRENT_TIMESTAMP, case of keywords."""
    if text is None:
        return None
    t = re.sub(r"::[\w\s.\"\[\]()]+$", "", text.strip())
    t = t.strip("()")
    if len(t) >= 2 and t[0] == t[-1] == "'":
        return t[1:-1].replace("''", "'")
    low = t.lower()
    if low in ("now", "current_timestamp", "current_timestamp()", "localtimestamp"):
        return "current_timestamp"
    if low in ("true", "false"):
        return "1" if low == "true" else "0"
    return low


def _constraints(source: Side, target: Side, s_key: tuple[str, str], t_key: tuple[str, str]) -> list[Difference]:
    out: list[Difference] = []
    s_con, t_con = _constraint_set(source.snapshot, s_key), _constraint_set(target.snapshot, t_key)
    labels = {"p": "primary key", "u": "unique", "f": "foreign key"}
    for sig in sorted(s_con.keys() - t_con.keys()):
        out.append(
            _diff(
                "constraint", f"{_name(s_key)}.{s_con[sig]}", "added", f"missing in target ({_sig_text(sig, labels)})"
            )
        )
    for sig in sorted(t_con.keys() - s_con.keys()):
        out.append(
            _diff("constraint", f"{_name(t_key)}.{t_con[sig]}", "removed", f"only in target ({_sig_text(sig, labels)})")
        )
    return out


def _sig_text(sig: tuple[str, tuple[str, ...], str], labels: dict[str, str]) -> str:
    kind, cols, ref = sig
    return f"{labels[kind]} ({', '.join(cols)})" + (f" references {ref}" if ref else "")


def _constraint_set(snap: Snapshot, key: tuple[str, str]) -> dict[tuple[str, tuple[str, ...], str], str]:
    """{(type, lower-case columns, referenced table): constraint name} of a table's p/u/f constraints."""
    out: dict[tuple[str, tuple[str, ...], str], str] = {}
    for c in snap.constraints:
        if (c.schema, c.table) != key or c.type not in ("p", "u", "f"):
            continue
        ref = c.ref_table[1].lower() if c.ref_table else ""
        out[(c.type, tuple(x.lower() for x in c.columns), ref)] = c.name
    return out


_INDEX_COLS = re.compile(r"\(([^()]*)\)\s*(?:WHERE .*|INCLUDE .*)?$", re.S)


def _index_columns(snap: Snapshot, key: tuple[str, str]) -> dict[tuple[str, ...], str]:
    """{lower-case column list: index name} of a table's plain (non-constraint) indexes."""
    out: dict[tuple[str, ...], str] = {}
    for i in snap.indexes:
        if (i.schema, i.table) != key:
            continue
        m = _INDEX_COLS.search(i.definition)
        cols = m.group(1) if m else i.definition
        parts: Iterable[str] = (p.strip().strip('"`').lower() for p in cols.split(","))
        unique = " UNIQUE " in i.definition.upper()[:20]
        out[(("unique",) if unique else ()) + tuple(parts)] = i.name
    return out


def cross_pairs(
    source: Side,
    target: Side,
    table_map: Mapping[str, str],
    renames: Mapping[str, Mapping[str, str]],
) -> list[TablePair]:
    """Table pairs for validate_migration across engines, matched by case-insensitive name.

    table_map: lower-case source table name -> target table name; renames: lower-case source table name ->
    {source column: target column}. Columns keep the source order; types stay each engine's spelling.
    """
    s_tables, t_tables = source.tables(), target.tables()
    mapped = {v.lower() for v in table_map.values()}
    out: list[TablePair] = []
    paired: set[str] = set()
    for low, s_key in s_tables.items():
        t_low = table_map.get(low, low).lower()
        if t_low not in t_tables or (low not in table_map and t_low in mapped):
            out.append(TablePair(source=s_key, target=None))
            continue
        paired.add(t_low)
        out.append(_pair(source, target, s_key, t_tables[t_low], renames.get(low, {})))
    out += [TablePair(source=None, target=t_tables[n]) for n in sorted(t_tables.keys() - paired)]
    return out


def _pair(
    source: Side, target: Side, s_key: tuple[str, str], t_key: tuple[str, str], renames: Mapping[str, str]
) -> TablePair:
    lowered = {k.lower(): v.lower() for k, v in renames.items()}
    t_cols = {c.name.lower(): c for c in target.snapshot.columns_of(t_key)}
    pairs: list[ColumnPair] = []
    missing: list[str] = []
    used: set[str] = set()
    for c in source.snapshot.columns_of(s_key):
        t = t_cols.get(lowered.get(c.name.lower(), c.name.lower()))
        if t is None:
            missing.append(c.name)
            continue
        used.add(t.name.lower())
        pairs.append(ColumnPair(c.name, t.name, c.type, t.type))
    by_source = {p.source.lower(): p for p in pairs}
    s_pk = [k.lower() for k in source.snapshot.primary_key(s_key)]
    t_pk = tuple(k.lower() for k in target.snapshot.primary_key(t_key))
    key: tuple[ColumnPair, ...] = ()
    note = None
    if not s_pk:
        note = "no primary key in the source"
    elif any(k not in by_source for k in s_pk):
        note = "primary key column(s) missing in the target"
    elif tuple(by_source[k].target.lower() for k in s_pk) != t_pk:
        note = "primary keys differ between source and target"
    else:
        key = tuple(by_source[k] for k in s_pk)
    return TablePair(
        source=s_key,
        target=t_key,
        key=key,
        columns=tuple(pairs),
        missing_in_target=tuple(missing),
        missing_in_source=tuple(c.name for n, c in t_cols.items() if n not in used),
        key_note=note,
    )


def retyped_columns(source: Side, target: Side, pair: TablePair) -> list[str]:
    """'col: numeric(12,2) in source, decimal(10,2) in target (precision narrowed)' for real type changes."""
    out = []
    for p in pair.columns:
        what = type_difference(family(source.engine, p.source_type), family(target.engine, p.target_type))
        if what:
            out.append(
                f"{p.source}: {p.source_type} in source, {p.target_type} in target ({what}; compared as canonical text)"
            )
    return out
