"""Resolution and execution for the analytics tools: tables from the catalog, typed rows from the statements.

Rows come back as small frozen dataclasses decoded by column name (never unpacked by position).
"""

from __future__ import annotations

from dataclasses import dataclass

from vf_mcp.db.builder import Statement, Table
from vf_mcp.db.catalog import Catalog, quote_ident
from vf_mcp.db.pool import Database
from vf_mcp.db.runner import fetch_converted
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


@dataclass(frozen=True)
class RankRow:
    rank: int
    entity: JSONValue
    label: JSONValue
    value: JSONValue
    percent_of_total: float | None
    total_entities: int


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
    return Table.from_detail(rel, await catalog.table_detail(rel))


async def fetch_records(db: Database, stmt: Statement) -> tuple[list[Record], float]:
    """Run a built statement; rows as {column: value} and the time it took (ms)."""
    cols, rows, ms = await fetch_converted(db, stmt.sql, stmt.params)
    names = [c.name for c in cols]
    return [dict(zip(names, r, strict=True)) for r in rows], ms


async def fetch_metrics(db: Database, query: MetricsQuery) -> MetricsRows:
    cols, rows, ms = await fetch_converted(db, query.statement.sql, query.statement.params)
    if not query.group_names:
        value = dict(zip([c.name for c in cols], rows[0], strict=True)) if rows else None
        total = as_int(value["records"]) if value else 0
        return MetricsRows(["value"], [[value["value"]]] if value else [], total, None, ms)
    names = [c.name for c in cols]
    first = dict(zip(names, rows[0], strict=True)) if rows else {}
    keep = len(names) - 2  # the totals are window aggregates, not output columns
    return MetricsRows(
        names[:keep],
        [[*r[:keep]] for r in rows],
        as_int(first.get("total_records")),
        as_int(first.get("total_groups")),
        ms,
    )


async def fetch_ranking(db: Database, stmt: Statement) -> tuple[list[RankRow], float]:
    records, ms = await fetch_records(db, stmt)
    ranking = [
        RankRow(
            rank=as_int(r["rank"]),
            entity=r["entity"],
            label=r["label"],
            value=r["value"],
            percent_of_total=None
            if r["percent_of_total"] is None
            else round(as_float(r["percent_of_total"]) or 0.0, 2),
            total_entities=as_int(r["total_entities"]),
        )
        for r in records
    ]
    return ranking, ms


async def fetch_value(db: Database, stmt: Statement) -> MetricValue:
    """The single row of a `value_statement` (no row: no value)."""
    records, _ = await fetch_records(db, stmt)
    row = records[0] if records else {}
    return MetricValue(row.get("value"), as_int(row.get("records")))


async def fetch_trend(db: Database, stmt: Statement) -> tuple[list[TrendPoint], float]:
    records, ms = await fetch_records(db, stmt)
    return [TrendPoint(r["g"], str(r["b"])[:10], as_float(r["v"])) for r in records], ms


async def entity_label(catalog: Catalog, table: Table, column: str) -> EntityLabel:
    """When `column` is a single-column foreign key, join the referenced table's name-like column as a label."""
    detail = await catalog.table_detail(table.rel)
    for c in detail.get("constraints") or []:
        if c["type"] != "f" or c["table"] != table.rel.qualified or c["columns"] != [column]:
            continue
        schema, _, name = str(c["ref_table"]).partition(".")
        ref = await catalog.resolve(f"{quote_ident(schema)}.{quote_ident(name)}")
        ref_detail = await catalog.table_detail(ref)
        texts = [x["name"] for x in ref_detail.get("columns") or [] if x.get("category") == "S"]
        label = next((n for want in LABEL_NAMES for n in texts if n.lower() == want), None)
        label = label or next((n for n in texts if "name" in n.lower()), None) or (texts[0] if texts else None)
        if label is None:
            return EntityLabel()
        return label_join(ref.sql_name, c["ref_columns"][0], label, f"{ref.qualified}.{label}")
    return EntityLabel()
