"""Resolution and execution for the analytics tools: tables from the catalog, typed rows from the statements.

Rows come back as small frozen dataclasses decoded by column name (never unpacked by position).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from vf_mcp.db.builder import Statement, Table
from vf_mcp.db.catalog import Catalog, TableDetail, leaf_partitions, quote_ident
from vf_mcp.db.engine import engine_of
from vf_mcp.db.pool import Database
from vf_mcp.db.relationships import graph_links, load_graph, root_table
from vf_mcp.db.statements.analytics import EntityLabel, MetricsQuery, label_join
from vf_mcp.jsontypes import JSONValue, as_float, as_int

LABEL_NAMES = ("name", "full_name", "display_name", "title", "label", "company_name", "company", "description")

Record = dict[str, JSONValue]


@dataclass(frozen=True)
class MetricsRows:
    """calculate_metrics' answer: the output columns and rows, and the totals over every group."""

    columns: list[str]
    results: list[list[object]]
    total_records: int
    total_groups: int | None
    ms: float
    tied: list[int] = field(default_factory=list)  # ordered results: groups sharing each row's value


@dataclass(frozen=True)
class RankRow:
    rank: int
    entity: JSONValue
    label: JSONValue
    value: JSONValue
    percent_of_total: float | None
    total_entities: int
    tied: int = 1  # entities sharing this rank
    records: int = 0  # rows of this entity


@dataclass(frozen=True)
class Ranking:
    """rank_entities' rows (non-NULL entities), the rows whose entity is NULL (None: none), and the time taken."""

    rows: list[RankRow]
    null_group: RankRow | None
    ms: float


@dataclass(frozen=True)
class MetricValue:
    """One metric and the number of rows it covers."""

    value: JSONValue
    records: int


@dataclass(frozen=True)
class TrendPoint:
    group: JSONValue
    period_start: str  # YYYY-MM-DD
    value: float | None


async def load_table(catalog: Catalog, table_name: str) -> Table:
    """The relation `table_name` names, with its columns."""
    rel = await catalog.resolve(table_name)
    return Table.from_detail(rel, await catalog.table_info(rel))


async def fetch_records(db: Database, stmt: Statement) -> tuple[list[Record], float]:
    """Run a built statement; rows as {column: value} and the time it took (ms)."""
    cols, rows, ms = await engine_of(db).fetch_statement(db, stmt)
    names = [c.name for c in cols]
    return [dict(zip(names, r, strict=True)) for r in rows], ms


async def fetch_metrics(db: Database, query: MetricsQuery) -> MetricsRows:
    cols, rows, ms = await engine_of(db).fetch_statement(db, query.statement)
    if not query.group_names:
        value = dict(zip([c.name for c in cols], rows[0], strict=True)) if rows else None
        total = as_int(value["records"]) if value else 0
        return MetricsRows(["value"], [[value["value"]]] if value else [], total, None, ms)
    names = [c.name for c in cols]
    first = dict(zip(names, rows[0], strict=True)) if rows else {}
    windows = 3 if names[-1] == "tied" else 2  # the totals (and ties) are window aggregates, not output columns
    keep = len(names) - windows
    return MetricsRows(
        names[:keep],
        [[*r[:keep]] for r in rows],
        as_int(first.get("total_records")),
        as_int(first.get("total_groups")),
        ms,
        tied=[as_int(r[-1]) for r in rows] if windows == 3 else [],
    )


async def fetch_ranking(db: Database, stmt: Statement) -> Ranking:
    records, ms = await fetch_records(db, stmt)
    rows: list[RankRow] = []
    null_group = None
    for r in records:
        share = r["percent_of_total"]
        row = RankRow(
            rank=as_int(r["rank"]),
            entity=r["entity"],
            label=r["label"],
            value=r["value"],
            percent_of_total=None if share is None else round(as_float(share) or 0.0, 2),
            total_entities=as_int(r["total_entities"]),
            tied=as_int(r.get("tied")) or 1,
            records=as_int(r.get("records")),
        )
        if r["rank"] is None:
            null_group = row
        else:
            rows.append(row)
    rows.sort(key=lambda x: x.rank)  # the NULL group's row may come first (UNION ALL)
    return Ranking(rows, null_group, ms)


async def fetch_value(db: Database, stmt: Statement) -> MetricValue:
    """The single row of a `value_statement` (no row: no value)."""
    records, _ = await fetch_records(db, stmt)
    row = records[0] if records else {}
    return MetricValue(row.get("value"), as_int(row.get("records")))


async def fetch_trend(db: Database, stmt: Statement) -> tuple[list[TrendPoint], float]:
    records, ms = await fetch_records(db, stmt)
    return [TrendPoint(r["g"], str(r["b"])[:10], as_float(r["v"])) for r in records], ms


async def entity_label(catalog: Catalog, table: Table, column: str) -> EntityLabel:
    """When `column` is a single-column key to another table, join that table's name-like column as a label.

    Keys, in order: declared on the table itself; declared on its partitioned parent (or on its partitions);
    inferred, as get_table_relationships reports them (labelled as inferred, with their confidence).
    """
    rel = table.rel
    rels = await catalog.relations()
    found = _declared(await catalog.table_info(rel), rel.qualified, column)
    if found is None and rel.kind == "p":
        leaves = leaf_partitions(rel, rels)
        if leaves:
            found = _declared(await catalog.table_info(leaves[0]), leaves[0].qualified, column, " (on a partition)")
    if found is None:
        root = root_table(rel, rels)
        graph = await load_graph(catalog)
        links = await graph_links(catalog, graph, {root.qualified})
        for lk in links.links:
            if lk.table == root.qualified and lk.columns == (column,):
                if lk.declared:
                    found = (lk.ref_table, lk.ref_columns[0], f"declared foreign key {lk.name} on {root.qualified}")
                else:
                    conf = (
                        "unverified" if lk.confidence is None or lk.checked is None else f"confidence {lk.confidence}"
                    )
                    found = (lk.ref_table, lk.ref_columns[0], f"inferred key ({conf}; see get_table_relationships)")
                break
    if found is None:
        return EntityLabel()
    ref_table, ref_key, how = found
    schema, _, name = ref_table.partition(".")
    ref = await catalog.resolve(f"{quote_ident(schema)}.{quote_ident(name)}")
    texts = [c.name for c in (await catalog.table_info(ref)).columns if c.category == "S"]
    lower = {n.lower(): n for n in texts}
    for first, last in (("first_name", "last_name"), ("firstname", "lastname")):
        if first in lower and last in lower:  # a person: both names
            pair = f"concat_ws(' ', lbl.{quote_ident(lower[first])}, lbl.{quote_ident(lower[last])})"
            column = f"{ref.qualified}.{lower[first]} + {lower[last]}"
            return replace(label_join(ref.sql_name, ref_key, lower[first], column, how), expr=pair)
    label = next((n for want in LABEL_NAMES for n in texts if n.lower() == want), None)
    label = label or next((n for n in texts if "name" in n.lower()), None) or (texts[0] if texts else None)
    if label is None:
        return EntityLabel()
    return label_join(ref.sql_name, ref_key, label, f"{ref.qualified}.{label}", how)


def _declared(detail: TableDetail, qualified: str, column: str, where: str = "") -> tuple[str, str, str] | None:
    """(referenced table, its key column, how) of a declared one-column foreign key on `column`."""
    for c in detail.constraints:
        if c.type == "f" and c.table == qualified and c.columns == (column,) and c.ref_table and c.ref_columns:
            return c.ref_table, c.ref_columns[0], f"declared foreign key {c.name}{where}"
    return None
