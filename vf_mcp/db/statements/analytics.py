"""The statements of calculate_metrics, rank_entities, compare_data, analyze_trends and metric KPIs.

Pure functions of catalog-resolved tables and validated arguments (testable without a database): each returns
one `Statement` whose identifiers are quoted from the catalog and whose values are bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from vf_mcp.compute.periods import PERIOD_UNITS, TrendPeriod
from vf_mcp.db.builder import Col, Params, Statement, Table, bucket_sql, filter_sql, metric_sql, range_sql, where
from vf_mcp.db.catalog import quote_ident
from vf_mcp.errors import InvalidArgumentError
from vf_mcp.models.analytics import Filter, Metric, RankAggregation, TimeBucket

EMPTY_IS_ZERO: tuple[Metric, ...] = ("count", "sum", "distinct")  # a bucket without rows: 0, else NULL


@dataclass(frozen=True)
class MetricsQuery:
    """calculate_metrics' statement, the names of its group columns, and the time column bucketed (if any)."""

    statement: Statement
    group_names: tuple[str, ...]
    time_column: str | None


@dataclass(frozen=True)
class EntityLabel:
    """A label joined onto ranked entities: `join` (a LEFT JOIN clause on r.entity) and the label expression."""

    join: str = ""
    column: str | None = None  # schema.table.column shown to the user
    expr: str = "NULL"


def metrics_statement(
    table: Table,
    metric: Metric,
    col: Col | None,
    group_by: Sequence[str | TimeBucket],
    filters: Sequence[Filter],
    order_by: Literal["asc", "desc"] | None,
    limit: int,
    tz: str,
) -> MetricsQuery:
    """One aggregate, optionally grouped (with totals over all groups as window aggregates)."""
    params = Params()
    agg = metric_sql(metric, col, table)
    groups: list[tuple[str, str]] = []  # (expression, output name)
    time_col = None
    for g in group_by:
        if isinstance(g, TimeBucket):
            tcol = table.col(g.column)
            if not tcol.is_time:
                raise InvalidArgumentError(f"Column {tcol.name!r} is {tcol.type}: it cannot be bucketed by time.")
            time_col = tcol.name
            groups.append((bucket_sql(tcol, g.period, params, tz), f"{tcol.name}_{g.period}"))
        else:
            gcol = table.col(g)
            groups.append((gcol.q, gcol.name))
    conds = filter_sql(table, filters, params)
    if not groups:
        sql = f"SELECT {agg} AS value, count(*) AS records FROM {table.rel.sql_name}{where(conds)}"
        return MetricsQuery(params.statement(sql), (), None)
    select = ", ".join(f"{expr} AS {quote_ident(name)}" for expr, name in groups)
    positions = ", ".join(str(i + 1) for i in range(len(groups)))
    direction = "ASC" if order_by == "asc" else "DESC"
    order = f"value {direction} NULLS LAST, {positions}" if order_by else positions
    sql = (
        f"SELECT {select}, {agg} AS value, count(*) AS records, sum(count(*)) OVER () AS total_records, "
        f"count(*) OVER () AS total_groups FROM {table.rel.sql_name}{where(conds)} "
        f"GROUP BY {positions} ORDER BY {order} LIMIT {int(limit)}"
    )
    return MetricsQuery(params.statement(sql), tuple(name for _, name in groups), time_col)


def rank_statement(
    table: Table,
    entity: Col,
    measure: Col,
    aggregation: RankAggregation,
    direction: Literal["top", "bottom"],
    limit: int,
    filters: Sequence[Filter],
    label: EntityLabel,
) -> Statement:
    """Entities ranked by an aggregate with RANK() (ties share a rank), their share of the total and a label."""
    params = Params()
    agg = metric_sql(aggregation, measure, table, alias="t")
    conds = filter_sql(table, filters, params, alias="t")
    order = "DESC" if direction == "top" else "ASC"
    share = "100.0 * a.value / NULLIF(sum(a.value) OVER (), 0)" if aggregation in ("count", "sum") else "NULL"
    return params.statement(
        f"WITH a AS (SELECT t.{entity.q} AS entity, {agg} AS value FROM {table.rel.sql_name} t"
        f"{where(conds)} GROUP BY 1), r AS (SELECT a.entity, a.value, "
        f"RANK() OVER (ORDER BY a.value {order} NULLS LAST) AS rank, {share} AS percent_of_total, "
        f"count(*) OVER () AS total_entities FROM a) "
        f"SELECT r.rank, r.entity, {label.expr} AS label, r.value, r.percent_of_total, r.total_entities "
        f"FROM r{label.join} ORDER BY r.rank, r.entity LIMIT {int(limit)}"
    )


def value_statement(
    table: Table,
    metric: Metric,
    col: Col | None,
    filters: Sequence[Filter],
    tz: str,
    window: tuple[Col, datetime, datetime] | None = None,
    *,
    records: bool = True,
) -> Statement:
    """One metric (and, with `records`, the rows it covers) over the filtered rows, within [start, end) of a time
    column when `window` = (column, start, end) is given (local, zone-less bounds)."""
    params = Params()
    conds = range_sql(window[0], window[1], window[2], params, tz) if window is not None else []
    conds += filter_sql(table, filters, params)
    counted = ", count(*) AS records" if records else ""
    return params.statement(
        f"SELECT {metric_sql(metric, col, table)} AS value{counted} FROM {table.rel.sql_name}{where(conds)}"
    )


def trend_statement(
    table: Table,
    metric: Metric,
    col: Col | None,
    period: TrendPeriod,
    tcol: Col,
    span: tuple[datetime, datetime],
    filters: Sequence[Filter],
    tz: str,
    group: tuple[str, int] | None = None,
) -> Statement:
    """One value per bucket of [start, end) (empty buckets included); with `group` = (column, n), per each of the
    n groups with the largest totals."""
    unit = PERIOD_UNITS[period]
    start_ts, end_ts = span
    params = Params()
    bucket = bucket_sql(tcol, unit, params, tz, alias="t")
    conds = range_sql(tcol, start_ts, end_ts, params, tz, alias="t")
    conds += filter_sql(table, filters, params, alias="t")
    agg = metric_sql(metric, col, table, alias="t")
    empty = "0" if metric in EMPTY_IS_ZERO else "NULL"
    first = params.add(start_ts, "timestamp")
    last = params.add(end_ts - timedelta(microseconds=1), "timestamp")
    buckets = f"SELECT generate_series(date_trunc('{unit}', {first}), {last}, interval '1 {unit}') AS b"
    if group is None:
        return params.statement(
            f"WITH agg AS (SELECT {bucket} AS b, {agg} AS v FROM {table.rel.sql_name} t{where(conds)} "
            f"GROUP BY 1), buckets AS ({buckets}) SELECT NULL AS g, buckets.b, coalesce(agg.v, {empty}) AS v "
            f"FROM buckets LEFT JOIN agg ON agg.b = buckets.b ORDER BY 2"
        )
    gcol, top_groups = table.col(group[0]), group[1]
    return params.statement(
        f"WITH agg AS (SELECT {bucket} AS b, t.{gcol.q} AS g, {agg} AS v FROM {table.rel.sql_name} t"
        f"{where(conds)} GROUP BY 1, 2), top AS (SELECT g FROM agg GROUP BY g "
        f"ORDER BY sum(v) DESC NULLS LAST, g LIMIT {int(top_groups)}), buckets AS ({buckets}) "
        f"SELECT top.g, buckets.b, coalesce(agg.v, {empty}) AS v FROM top CROSS JOIN buckets "
        f"LEFT JOIN agg ON agg.b = buckets.b AND agg.g IS NOT DISTINCT FROM top.g ORDER BY 1, 2"
    )


def label_join(ref_sql_name: str, ref_key: str, label: str, label_column: str) -> EntityLabel:
    """Join the referenced table on its key column to show `label` beside each ranked entity."""
    join = f" LEFT JOIN {ref_sql_name} lbl ON lbl.{quote_ident(ref_key)} = r.entity"
    return EntityLabel(join=join, column=label_column, expr=f"lbl.{quote_ident(label)}")
