"""calculate_metrics' and rank_entities' statements in MySQL's SQL (the PostgreSQL ones: db/statements/).

The engine-free parts are shared with PostgreSQL: operator and value checks and metric rules (db/builder.py),
group resolution and the ranking statement's shape (db/statements/analytics.py, in MySQL's words here).

Same inputs, same output columns, so db/analytics.py reads the rows unchanged. Identifiers come from the
catalog (backquoted); values are `?` placeholders bound by the runner. MySQL has no percentile_cont: median,
p90 and p95 are computed as PostgreSQL's percentile_cont (linear interpolation between the two nearest values)
from ROW_NUMBER() and COUNT() windows over each group's non-NULL values. Time buckets truncate the column as
the session sees it (DATETIME as stored; TIMESTAMP in the session time_zone, which is the `time_zone` setting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from vf_mcp.compute.periods import PERIOD_UNITS, TrendPeriod
from vf_mcp.db.builder import Col, Statement, Table, check_filter_value, check_metric, filter_operator
from vf_mcp.db.catalog import Catalog
from vf_mcp.db.mysql.catalog import mysql_name, quote_mysql
from vf_mcp.db.mysql.pool import mysql_zone
from vf_mcp.db.statements.analytics import (
    EntityLabel,
    MetricsQuery,
    RankDialect,
    day_filters,
    rank_sql,
    resolve_groups,
)
from vf_mcp.errors import InvalidArgumentError
from vf_mcp.models.analytics import Filter, Metric, RankAggregation, TimeBucket

_PERCENTILES = {"median": 0.5, "p90": 0.9, "p95": 0.95}
_RANK = RankDialect("COUNT(*)", "SUM", "`rank`", lambda x, order: f"{x} IS NULL, {x} {order}")  # RANK is reserved


class MySqlStatement(Statement):
    """A statement built for MySQL (the MySQL engine runs only these)."""


@dataclass
class MyParams:
    values: list[object] = field(default_factory=list)

    def add(self, value: object) -> str:
        self.values.append(value)
        return "?"

    def statement(self, sql: str) -> MySqlStatement:
        return MySqlStatement(sql, tuple(self.values))


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def filter_sql(table: Table, filters: Sequence[Filter], params: MyParams, alias: str = "t") -> list[str]:
    out: list[str] = []
    for f in day_filters(table, filters)[0]:
        col = table.col(f.column)
        op = filter_operator(f)
        out.append(_condition(f"{alias}.{quote_mysql(col.name)}", op, col, f.value, params))
    return out


def _condition(target: str, op: str, col: Col, value: object, params: MyParams) -> str:
    check_filter_value(op, col, value, empty_list=False)  # MySQL has no empty IN ()
    if op in ("IS NULL", "IS NOT NULL"):
        return f"{target} {op}"
    if op in ("IN", "NOT IN", "BETWEEN"):
        assert isinstance(value, list)
        if op == "BETWEEN":
            return f"{target} BETWEEN {params.add(_text(value[0]))} AND {params.add(_text(value[1]))}"
        marks = ", ".join(params.add(_text(v)) for v in value)
        return f"{target} {op} ({marks})"
    if op == "ILIKE":
        return f"LOWER({target}) LIKE LOWER({params.add(_text(value))})"
    return f"{target} {'<>' if op == '!=' else op} {params.add(_text(value))}"


def local_sql(col: Col, tz: str, alias: str = "t") -> str:
    """The column as a local wall time in `tz`: TIMESTAMP (an instant; sessions run in UTC) through CONVERT_TZ,
    DATETIME and DATE as stored (zone-less, taken as local already)."""
    x = f"{alias}.{quote_mysql(col.name)}"
    zone = mysql_zone(tz)
    if col.base_type == "timestamptz" and zone != "+00:00":
        return f"CONVERT_TZ({x}, '+00:00', '{zone.replace(chr(39), chr(39) * 2)}')"
    return x


def _bound(col: Col, tz: str, mark: str) -> str:
    """A local wall-time bound compared with the column: converted to UTC for a TIMESTAMP column."""
    zone = mysql_zone(tz)
    if col.base_type == "timestamptz" and zone != "+00:00":
        return f"CONVERT_TZ({mark}, '{zone.replace(chr(39), chr(39) * 2)}', '+00:00')"
    return mark


def bucket_sql(col: Col, period: str, tz: str, alias: str = "t") -> str:
    """The start of the column's local day/week (ISO, Monday)/month/quarter/year in `tz`, as a DATETIME."""
    unit = PERIOD_UNITS.get(period)
    x = local_sql(col, tz, alias)
    exprs = {
        "day": f"DATE({x})",
        "week": f"DATE({x}) - INTERVAL WEEKDAY({x}) DAY",
        "month": f"DATE_FORMAT({x}, '%Y-%m-01')",
        "quarter": f"MAKEDATE(YEAR({x}), 1) + INTERVAL (QUARTER({x}) - 1) QUARTER",
        "year": f"MAKEDATE(YEAR({x}), 1)",
    }
    if unit not in exprs:
        raise InvalidArgumentError(f"Unknown period {period!r}; use day, week, month, quarter or year.")
    return f"CAST({exprs[unit]} AS DATETIME)"


def _agg(metric: str, has_col: bool) -> str:
    """The aggregate over the derived table d (its value column d._v; percentiles use d._rn and d._cnt)."""
    if metric in _PERCENTILES:
        p = _PERCENTILES[metric]
        lo, hi = f"FLOOR({p} * (d._cnt - 1)) + 1", f"CEIL({p} * (d._cnt - 1)) + 1"
        v_lo, v_hi = f"MAX(CASE WHEN d._rn = {lo} THEN d._v END)", f"MAX(CASE WHEN d._rn = {hi} THEN d._v END)"
        frac = f"MAX({p} * (d._cnt - 1) - FLOOR({p} * (d._cnt - 1)))"
        return f"({v_lo} + {frac} * ({v_hi} - {v_lo})) * 1e0"
    return {
        "count": "COUNT(d._v)" if has_col else "COUNT(*)",
        "sum": "SUM(d._v)",
        "avg": "AVG(d._v)",
        "min": "MIN(d._v)",
        "max": "MAX(d._v)",
        "distinct": "COUNT(DISTINCT d._v)",
        "stddev": "STDDEV_SAMP(d._v)",
    }[metric]


def _derived(
    table: Table, metric: str, col: Col | None, groups: Sequence[str], conds: Sequence[str]
) -> tuple[str, list[str]]:
    """FROM (...) d: each group expression as d._g{i}, the metric's column as d._v (and the percentile windows)."""
    cells = [f"{expr} AS _g{i}" for i, expr in enumerate(groups)]
    if col is not None:
        cells.append(f"t.{quote_mysql(col.name)} AS _v")
    if metric in _PERCENTILES and col is not None:
        v = f"t.{quote_mysql(col.name)}"
        part = f"PARTITION BY {', '.join(groups)} " if groups else ""
        cells.append(f"ROW_NUMBER() OVER ({part}ORDER BY {v} IS NULL, {v}) AS _rn")
        cells.append(f"COUNT({v}) OVER ({part.strip()}) AS _cnt")
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    select = ", ".join(cells) or "1 AS _one"
    return f"(SELECT {select} FROM {mysql_name(table.rel)} t{where}) d", [f"d._g{i}" for i in range(len(groups))]


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
    """calculate_metrics on MySQL: the same columns as the PostgreSQL statement (value, records, totals, tied)."""
    check_metric(metric, col, table)
    params = MyParams()
    resolved, time_col = resolve_groups(table, group_by)
    groups = [  # (expression, output name)
        (bucket_sql(g.col, g.period, tz) if g.period else f"t.{quote_mysql(g.col.name)}", g.name) for g in resolved
    ]
    conds = filter_sql(table, filters, params)
    source, refs = _derived(table, metric, col, [e for e, _ in groups], conds)
    agg = _agg(metric, col is not None)
    if not groups:
        return MetricsQuery(params.statement(f"SELECT {agg} AS value, COUNT(*) AS records FROM {source}"), (), None)
    select = ", ".join(f"{ref} AS {quote_mysql(name)}" for ref, (_, name) in zip(refs, groups, strict=True))
    positions = ", ".join(str(i + 1) for i in range(len(groups)))
    inner = f"SELECT {select}, {agg} AS value, COUNT(*) AS records FROM {source} GROUP BY {', '.join(refs)}"
    tied = ", COUNT(*) OVER (PARTITION BY s.value) AS tied" if order_by else ""
    direction = "ASC" if order_by == "asc" else "DESC"
    order = f"s.value IS NULL, s.value {direction}, {positions}" if order_by else positions
    sql = (
        f"SELECT s.*, SUM(s.records) OVER () AS total_records, COUNT(*) OVER () AS total_groups{tied} "
        f"FROM ({inner}) s ORDER BY {order} LIMIT {int(limit)}"
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
) -> MySqlStatement:
    """rank_entities on MySQL: RANK() with ties, share of total, label, tied, records; NULL entities apart."""
    check_metric(aggregation, measure, table)
    params = MyParams()
    conds = filter_sql(table, filters, params)
    source, refs = _derived(table, aggregation, measure, [f"t.{quote_mysql(entity.name)}"], conds)
    aggregated = (
        f"SELECT {refs[0]} AS entity, {_agg(aggregation, True)} AS value, COUNT(*) AS records FROM {source} "
        f"GROUP BY {refs[0]}"
    )
    return params.statement(rank_sql(_RANK, aggregated, aggregation, direction, limit, label))


_LABEL_NAMES = ("name", "title", "full_name", "display_name", "label")


async def entity_label(catalog: Catalog, table: Table, column: str) -> EntityLabel:
    """A declared one-column foreign key on `column`: join the referenced table's name-like column as a label."""
    detail = await catalog.table_info(table.rel)
    for c in detail.constraints:
        if c.type == "f" and c.table == table.rel.qualified and c.columns == (column,) and c.ref_table:
            ref = await catalog.resolve(c.ref_table)
            texts = [x.name for x in (await catalog.table_info(ref)).columns if x.category == "S"]
            lower = {n.lower(): n for n in texts}
            join = f" LEFT JOIN {mysql_name(ref)} lbl ON lbl.{quote_mysql((c.ref_columns or ('',))[0])} = r.entity"
            how = f"declared foreign key {c.name}"
            for first, last in (("firstname", "lastname"), ("first_name", "last_name")):
                if first in lower and last in lower:
                    expr = f"CONCAT_WS(' ', lbl.{quote_mysql(lower[first])}, lbl.{quote_mysql(lower[last])})"
                    return EntityLabel(join, f"{ref.qualified}.{lower[first]} + {lower[last]}", expr, how)
            label = next((n for w in _LABEL_NAMES for n in texts if n.lower() == w), None)
            label = label or next((n for n in texts if "name" in n.lower()), None) or (texts[0] if texts else None)
            if label is not None:
                return EntityLabel(join, f"{ref.qualified}.{label}", f"lbl.{quote_mysql(label)}", how)
    return EntityLabel()


__all__ = [
    "MySqlStatement", "entity_label", "metrics_statement", "rank_statement", "trend_statement", "value_statement",
]  # fmt: skip


def value_statement(
    table: Table,
    metric: Metric,
    col: Col | None,
    filters: Sequence[Filter],
    tz: str,
    window: tuple[Col, datetime, datetime] | None = None,
    *,
    records: bool = True,
) -> MySqlStatement:
    """One metric (and the rows it covers) over the filtered rows, within [start, end) of a time column (local,
    zone-less bounds: the session's time_zone is the `time_zone` setting)."""
    check_metric(metric, col, table)
    params = MyParams()
    conds: list[str] = []
    if window is not None:
        tcol, start, end = window
        target = f"t.{quote_mysql(tcol.name)}"
        conds += [
            f"{target} >= {_bound(tcol, tz, params.add(_stamp(start)))}",
            f"{target} < {_bound(tcol, tz, params.add(_stamp(end)))}",
        ]
    conds += filter_sql(table, filters, params)
    source, _ = _derived(table, metric, col, [], conds)
    counted = ", COUNT(*) AS records" if records else ""
    return params.statement(f"SELECT {_agg(metric, col is not None)} AS value{counted} FROM {source}")


def _stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def _trunc(value: datetime, unit: str) -> datetime:
    """PostgreSQL's date_trunc(unit, value) for day, week (Monday), month, quarter and year."""
    day = datetime(value.year, value.month, value.day)
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    return day


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
) -> MySqlStatement:
    """One value per bucket of [start, end), empty buckets included (a recursive CTE of bucket starts); with
    `group` = (column, n), per each of the n groups with the largest totals. Columns g, b, v as on PostgreSQL."""
    check_metric(metric, col, table)
    unit = PERIOD_UNITS[period]
    start, end = span
    params = MyParams()
    first = params.add(_stamp(_trunc(start, unit)))
    last = params.add(_stamp(end - timedelta(microseconds=1)))
    buckets = (
        f"buckets AS (SELECT CAST({first} AS DATETIME) AS b UNION ALL SELECT b + INTERVAL 1 {unit.upper()} "
        f"FROM buckets WHERE b + INTERVAL 1 {unit.upper()} <= CAST({last} AS DATETIME))"
    )
    target = f"t.{quote_mysql(tcol.name)}"
    conds = [
        f"{target} >= {_bound(tcol, tz, params.add(_stamp(start)))}",
        f"{target} < {_bound(tcol, tz, params.add(_stamp(end)))}",
    ]
    conds += filter_sql(table, filters, params)
    groups = [bucket_sql(tcol, unit, tz)] + ([f"t.{quote_mysql(table.col(group[0]).name)}"] if group else [])
    source, refs = _derived(table, metric, col, groups, conds)
    agg = _agg(metric, col is not None)
    empty = "0" if metric in ("count", "sum", "distinct") else "NULL"
    hint = "/*+ SET_VAR(cte_max_recursion_depth = 100000) */"  # MySQL 8 stops at 1,000 by default (MariaDB ignores it)
    if group is None:
        return params.statement(
            f"WITH RECURSIVE {buckets}, agg AS (SELECT {refs[0]} AS b, {agg} AS v FROM {source} GROUP BY {refs[0]}) "
            f"SELECT {hint} NULL AS g, buckets.b, COALESCE(agg.v, {empty}) AS v FROM buckets "
            f"LEFT JOIN agg ON agg.b = buckets.b ORDER BY 2"
        )
    return params.statement(
        f"WITH RECURSIVE {buckets}, agg AS (SELECT {refs[0]} AS b, {refs[1]} AS g, {agg} AS v FROM {source} "
        f"GROUP BY {refs[0]}, {refs[1]}), top AS (SELECT g FROM agg GROUP BY g "
        f"ORDER BY SUM(v) IS NULL, SUM(v) DESC, CAST(g AS CHAR) LIMIT {int(group[1])}) "
        f"SELECT {hint} top.g, buckets.b, COALESCE(agg.v, {empty}) AS v FROM top CROSS JOIN buckets "
        f"LEFT JOIN agg ON agg.b = buckets.b AND agg.g <=> top.g ORDER BY 1, 2"
    )
