"""Data validation (validate_migration): which tables and columns to compare, and how two chunks' rows differ.

Pure: no I/O. ``vf_mcp.db.migration_check`` computes the checksums and fetches the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vf_mcp.compute.snapshot import Column, Snapshot


@dataclass(frozen=True)
class ColumnPair:
    """A column compared between the databases (after renames); types as format_type() spells them."""

    source: str
    target: str
    source_type: str
    target_type: str
    source_collation: str | None = None  # effective collation (None: not collatable), for key ordering
    target_collation: str | None = None

    @property
    def retyped(self) -> bool:
        return self.source_type != self.target_type

    @property
    def same_order(self) -> bool:
        """Do both sides sort this column the same way (same type and collation)?"""
        return not self.retyped and self.source_collation == self.target_collation


@dataclass(frozen=True)
class TablePair:
    source: tuple[str, str] | None  # None: the table is only in the target
    target: tuple[str, str] | None  # None: only in the source
    key: tuple[ColumnPair, ...] = ()  # the primary key (both sides); () compares without a key
    columns: tuple[ColumnPair, ...] = ()  # compared columns, in source column order (key columns included)
    missing_in_target: tuple[str, ...] = ()  # source columns with no target column (not compared)
    missing_in_source: tuple[str, ...] = ()  # target columns with no source column (not compared)
    key_note: str | None = None  # why there is no key

    @property
    def name(self) -> str:
        side = self.source or self.target
        assert side is not None
        return f"{side[0]}.{side[1]}"

    @property
    def target_name(self) -> str | None:
        return None if self.target is None else f"{self.target[0]}.{self.target[1]}"


def pair_table(
    source: Snapshot,
    target: Snapshot,
    src: tuple[str, str],
    tgt: tuple[str, str],
    renames: Mapping[str, str],
    *,
    source_collation: str,
    target_collation: str,
) -> TablePair:
    """Match the columns of one table pair (renames: source column -> target column).

    `*_collation` is each database's default collation, so that a column using "default" on two servers
    with different defaults counts as sorting differently.
    """

    def effective(c: Column, default: str) -> str | None:
        if c.collation_name is None:
            return None
        return default if c.collation_name == "default" else c.collation_name

    s_cols = source.columns_of(src)
    t_cols = {c.name: c for c in target.columns_of(tgt)}
    pairs: list[ColumnPair] = []
    missing_in_target = []
    used = set()
    for c in s_cols:
        t = t_cols.get(renames.get(c.name, c.name))
        if t is None:
            missing_in_target.append(c.name)
            continue
        used.add(t.name)
        pairs.append(
            ColumnPair(
                c.name,
                t.name,
                c.type,
                t.type,
                effective(c, source_collation),
                effective(t, target_collation),
            )
        )
    missing_in_source = tuple(n for n in t_cols if n not in used)
    by_source = {p.source: p for p in pairs}
    s_key, t_key = source.primary_key(src), target.primary_key(tgt)
    note = None
    key: tuple[ColumnPair, ...] = ()
    if not s_key:
        note = "no primary key in the source"
    elif any(k not in by_source for k in s_key):
        note = f"primary key column(s) {', '.join(k for k in s_key if k not in by_source)} missing in the target"
    elif tuple(by_source[k].target for k in s_key) != t_key:
        note = (
            f"primary keys differ: ({', '.join(s_key)}) in the source, "
            f"({', '.join(t_key) if t_key else 'none'}) in the target"
        )
    else:
        key = tuple(by_source[k] for k in s_key)
    return TablePair(
        source=src,
        target=tgt,
        key=key,
        columns=tuple(pairs),
        missing_in_target=tuple(missing_in_target),
        missing_in_source=missing_in_source,
        key_note=note,
    )


def default_table_pairs(
    source: Snapshot, target: Snapshot, table_map: Mapping[tuple[str, str], tuple[str, str]]
) -> list[tuple[tuple[str, str] | None, tuple[str, str] | None]]:
    """(source, target) table pairs: mapped ones, then same-named ones; one-sided tables with None.

    Partitions are left out: their parent covers their rows.
    """
    s_tables = [t.key for t in source.tables if t.parent is None]
    t_tables = [t.key for t in target.tables if t.parent is None]
    t_set = set(t_tables)
    mapped_targets = set(table_map.values())
    out: list[tuple[tuple[str, str] | None, tuple[str, str] | None]] = []
    for s in s_tables:
        if s in table_map:
            t = table_map[s]
            out.append((s, t if t in t_set else None))
        elif s in t_set and s not in mapped_targets:
            out.append((s, s))
        else:
            out.append((s, None))
    paired = {t for _, t in out if t is not None}
    out += [(None, t) for t in t_tables if t not in paired and t not in mapped_targets]
    return out


@dataclass(frozen=True)
class RowDiff:
    """Keys (as text tuples) missing in the target, extra in the target, and present in both but changed."""

    missing: tuple[tuple[str, ...], ...]
    extra: tuple[tuple[str, ...], ...]
    changed: tuple[tuple[str, ...], ...]


def diff_rows(source: Mapping[tuple[str, ...], str], target: Mapping[tuple[str, ...], str]) -> RowDiff:
    """Compare {key: row hash} of the same key range on both sides (keys keep each side's order)."""
    missing = tuple(k for k in source if k not in target)
    extra = tuple(k for k in target if k not in source)
    changed = tuple(k for k, h in source.items() if k in target and target[k] != h)
    return RowDiff(missing, extra, changed)


def changed_columns(
    names: tuple[str, ...], before: tuple[str | None, ...], after: tuple[str | None, ...]
) -> dict[str, tuple[str | None, str | None]]:
    """{column: (source value, target value)} for the columns whose text differs."""
    return {n: (b, a) for n, b, a in zip(names, before, after, strict=True) if b != a}
