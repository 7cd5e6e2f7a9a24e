"""The statements of calculate_metrics, rank_entities, compare_data, analyze_trends and metric KPIs.

Pure functions of catalog-resolved tables and validated arguments (testable without a database): each returns
one `Statement` whose identifiers are quoted from the catalog and whose values are bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from vf_mcp.compute.periods import PERIOD_UNITS, TrendPeriod
from vf_mcp.db.builder import Col, Params, Statement, Table, bucket_sql, filter_sql, metric_sql, range_sql, where
from vf_mcp.db.catalog import quote_ident
from vf_mcp.errors import InvalidArgumentError
from vf_mcp.models.analytics import Filter, Metric, RankAggregation, TimeBucket

EMPTY_IS_ZERO: tuple[Metric, ...] = ("count", "sum", "distinct")  # a bucket without rows: 0, else NULL
PERCENTILE_METRICS: tuple[Metric, ...] = ("median", "p90", "p95")
PERCENTILE_NOTE = (
    "median/p90/p95 are continuous percentiles (percentile_cont: linear interpolation between the two nearest "
    "values, so the result need not be a stored value); NULLs are ignored"
)
STDDEV_NOTE = "stddev is the sample standard deviation (divides by n - 1); NULLs are ignored"
_DATE_ONLY = re.compile(r"\s*(\d{4}-\d{2}-\d{2})\s*")
_EXCLUDES_NULLS = ("!=", "<>", "NOT IN")


def _day(value: object) -> tuple[date, date] | None:
    """(day, next day) when `value` is a date-only string such as '2013-03-15' (else None)."""
    found = _DATE_ONLY.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        return None
    try:
        day = date.fromisoformat(found.group(1))
        return day, day + timedelta(days=1)
    except (ValueError, OverflowError):
        return None


def _whole_day(table: Table, f: Filter) -> tuple[list[Filter], str | None]:
    """A filter on a timestamp column with a date-only value, as whole-day bounds (and the sentence saying so)."""
    col = table.col(f.column)
    op = str(f.operator).upper().strip()
    if col.base_type not in ("timestamp", "timestamptz"):
        return [f], None
    name = col.name
    if op == "BETWEEN" and isinstance(f.value, list) and len(f.value) == 2 and f.value[0] is not None:
        if (hi := _day(f.value[1])) is None:
            return [f], None
        return [
            Filter(column=name, operator=">=", value=f.value[0]),
            Filter(column=name, operator="<", value=str(hi[1])),
        ], (f"{name} BETWEEN .. AND {hi[0]}: the date-only upper bound includes the whole day ({name} < {hi[1]} 00:00)")
    day = _day(f.value)
    if day is None or op not in ("<=", ">", "="):
        return [f], None
    d, nxt = str(day[0]), str(day[1])
    if op == "<=":
        return [
            Filter(column=name, operator="<", value=nxt)
        ], f"{name} <= {d}: includes the whole day ({name} < {nxt} 00:00)"
    if op == ">":
        return [
            Filter(column=name, operator=">=", value=nxt)
        ], f"{name} > {d}: after that whole day ({name} >= {nxt} 00:00)"
    return (
        [Filter(column=name, operator=">=", value=d), Filter(column=name, operator="<", value=nxt)],
        f"{name} = {d}: the whole day ({d} 00:00 <= {name} < {nxt} 00:00)",
    )


def day_filters(table: Table, filters: Sequence[Filter]) -> tuple[list[Filter], list[str]]:
    """`filters` with date-only values on timestamp columns read as whole days (`<=`/BETWEEN include the day,
    `=` is the day, `>` starts the next day), and one sentence per rewritten filter."""
    out: list[Filter] = []
    notes: list[str] = []
    for f in filters:
        rewritten, note = _whole_day(table, f)
        out += rewritten
        notes += [note] if note else []
    return out, notes


def _filter_sql(table: Table, filters: Sequence[Filter], params: Params, alias: str = "") -> list[str]:
    return filter_sql(table, day_filters(table, filters)[0], params, alias)


def conventions(table: Table, metric: str, filters: Sequence[Filter], tz: str, *, times: bool) -> list[str]:
    """The conventions behind one answer, in words: time zone, percentile method, whole-day date bounds, and
    NULL rows that `!=` / NOT IN exclude. `times`: the answer buckets or windows a time column."""
    out: list[str] = []
    time_filter = any(table.col(f.column).is_time for f in filters)
    if times or time_filter:
        out.append(
            f"Dates and times are in {tz}: date filters, buckets, windows and timestamps (shown with their "
            "offset); timestamp-without-time-zone columns are taken as local times in that zone"
        )
    if metric in PERCENTILE_METRICS:
        out.append(PERCENTILE_NOTE)
    if metric == "stddev":
        out.append(STDDEV_NOTE)
    out += day_filters(table, filters)[1]
    for f in filters:
        op = str(f.operator).upper().strip()
        if op in _EXCLUDES_NULLS:
            name = table.col(f.column).name
            out.append(
                f"{name} {op} ..: rows where {name} is NULL are excluded (NULL is neither equal nor unequal "
                f"to a value); filter {name} IS NULL to count them"
            )
    return out


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
    key: str | None = None  # the key followed, e.g. "declared foreign key fk_x" or "inferred key (confidence 0.95)"


@dataclass(frozen=True)
class Group:
    """One group_by entry of calculate_metrics, resolved: a column, bucketed by `period` when it is a time."""

    col: Col
    period: str | None = None

    @property
    def name(self) -> str:
        """The output column's name."""
        return f"{self.col.name}_{self.period}" if self.period else self.col.name


def resolve_groups(table: Table, group_by: Sequence[str | TimeBucket]) -> tuple[list[Group], str | None]:
    """Every engine's grouping: the columns (a time bucket only on a time column) and the column bucketed."""
    groups: list[Group] = []
    time_col = None
    for g in group_by:
        if isinstance(g, TimeBucket):
            tcol = table.col(g.column)
            if not tcol.is_time:
                raise InvalidArgumentError(f"Column {tcol.name!r} is {tcol.type}: it cannot be bucketed by time.")
            time_col = tcol.name
            groups.append(Group(tcol, g.period))
        else:
            groups.append(Group(table.col(g)))
    return groups, time_col


@dataclass(frozen=True)
class RankDialect:
    """The words in which the engines' ranking statements differ."""

    count: str  # count(*)
    total: str  # the sum aggregate's name
    rank: str  # the rank column, quoted where RANK is reserved
    nulls_last: Callable[[str, str], str]  # (expression, ASC|DESC) -> an ORDER BY item with NULLs last


POSTGRES_RANK = RankDialect("count(*)", "sum", "rank", lambda x, order: f"{x} {order} NULLS LAST")


def rank_sql(
    d: RankDialect,
    aggregated: str,
    aggregation: RankAggregation,
    direction: Literal["top", "bottom"],
    limit: int,
    label: EntityLabel,
) -> str:
    """rank_entities' ranking over `aggregated` (entity, value, records per entity): RANK() with ties, share of
    the total, label, tied, total_entities; plus one row with a NULL rank for the rows whose entity is NULL."""
    order = "DESC" if direction == "top" else "ASC"
    share = f"100.0 * a.value / NULLIF({d.total}(a.value) OVER (), 0)" if aggregation in ("count", "sum") else "NULL"
    rank = d.rank
    return (
        f"WITH a AS ({aggregated}), s AS (SELECT a.entity, a.value, a.records, {share} AS percent_of_total FROM a), "
        f"k AS (SELECT s.*, RANK() OVER (ORDER BY {d.nulls_last('s.value', order)}) AS {rank}, "
        f"{d.count} OVER () AS total_entities FROM s WHERE s.entity IS NOT NULL), "
        f"r AS (SELECT k.*, {d.count} OVER (PARTITION BY k.{rank}) AS tied FROM k) "
        f"(SELECT r.{rank}, r.entity, {label.expr} AS label, r.value, r.percent_of_total, r.total_entities, r.tied, "
        f"r.records FROM r{label.join} ORDER BY r.{rank}, r.entity LIMIT {int(limit)}) "
        f"UNION ALL SELECT NULL, NULL, NULL, s.value, s.percent_of_total, (SELECT {d.count} FROM k), NULL, s.records "
        f"FROM s WHERE s.entity IS NULL"
    )


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
    resolved, time_col = resolve_groups(table, group_by)
    groups = [  # (expression, output name)
        (bucket_sql(g.col, g.period, params, tz) if g.period else g.col.q, g.name) for g in resolved
    ]
    conds = _filter_sql(table, filters, params)
    if not groups:
        sql = f"SELECT {agg} AS value, count(*) AS records FROM {table.rel.sql_name}{where(conds)}"
        return MetricsQuery(params.statement(sql), (), None)
    select = ", ".join(f"{expr} AS {quote_ident(name)}" for expr, name in groups)
    positions = ", ".join(str(i + 1) for i in range(len(groups)))
    direction = "ASC" if order_by == "asc" else "DESC"
    order = f"value {direction} NULLS LAST, {positions}" if order_by else positions
    tied = f", count(*) OVER (PARTITION BY {agg}) AS tied" if order_by else ""  # groups sharing each value
    sql = (
        f"SELECT {select}, {agg} AS value, count(*) AS records, sum(count(*)) OVER () AS total_records, "
        f"count(*) OVER () AS total_groups{tied} FROM {table.rel.sql_name}{where(conds)} "
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
    """Non-NULL entities ranked by an aggregate with RANK() (ties share a rank), their share of the total, a label,
    `tied` (entities sharing each rank) and `records` (rows per entity); plus one row with a NULL rank for the
    rows whose entity is NULL (never ranked), when there are any."""
    params = Params()
    agg = metric_sql(aggregation, measure, table, alias="t")
    conds = _filter_sql(table, filters, params, alias="t")
    aggregated = (
        f"SELECT t.{entity.q} AS entity, {agg} AS value, count(*) AS records FROM {table.rel.sql_name} t"
        f"{where(conds)} GROUP BY 1"
    )
    return params.statement(rank_sql(POSTGRES_RANK, aggregated, aggregation, direction, limit, label))


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
    conds += _filter_sql(table, filters, params)
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
    conds += _filter_sql(table, filters, params, alias="t")
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
        f"ORDER BY sum(v) DESC NULLS LAST, g::text LIMIT {int(top_groups)}), buckets AS ({buckets}) "
        f"SELECT top.g, buckets.b, coalesce(agg.v, {empty}) AS v FROM top CROSS JOIN buckets "
        f"LEFT JOIN agg ON agg.b = buckets.b AND agg.g IS NOT DISTINCT FROM top.g ORDER BY 1, 2"
    )


def label_join(ref_sql_name: str, ref_key: str, label: str, label_column: str, key: str | None = None) -> EntityLabel:
    """Join the referenced table on its key column to show `label` beside each ranked entity."""
    join = f" LEFT JOIN {ref_sql_name} lbl ON lbl.{quote_ident(ref_key)} = r.entity"
    return EntityLabel(join=join, column=label_column, expr=f"lbl.{quote_ident(label)}", key=key)
