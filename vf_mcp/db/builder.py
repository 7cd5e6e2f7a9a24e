"""Build analytic SQL from validated arguments: catalog-resolved, quoted identifiers and bound, typed values.

No user text is ever pasted into SQL: identifiers come from the catalog (quoted), type names from
format_type(), values are parameters cast server-side to the column's type (so a wrong value gets
PostgreSQL's own "invalid input syntax for type integer" error).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from vf_mcp.compute.periods import PERIOD_UNITS
from vf_mcp.db.catalog import Relation, TableDetail, quote_ident
from vf_mcp.errors import InvalidArgumentError, NotFoundError
from vf_mcp.models.analytics import Filter, Metric

__all__ = ["Col", "Metric", "Params", "Statement", "Table"]
OPERATORS = ("=", "!=", ">", "<", ">=", "<=", "LIKE", "ILIKE", "IN", "NOT IN", "BETWEEN", "IS NULL", "IS NOT NULL")
NUMERIC_METRICS = ("sum", "avg", "median", "p90", "p95", "stddev")
TIME_TYPES = ("timestamptz", "timestamp", "date")
_TIME_NAME = re.compile(
    r"^(created_at|created|created_on|creation_date|inserted_at|date_created|createdat|timestamp|event_time|"
    r"occurred_at|invoice_date|order_date|payment_date|rental_date|start_date|date)$",
    re.I,
)


@dataclass(frozen=True)
class Col:
    """A column found in the catalog."""

    name: str
    type: str  # format_type(), e.g. 'numeric(10,2)', 'public.drop_status'
    base_type: str  # pg_type.typname of the (domain's) base type
    category: str  # pg_type.typcategory

    @property
    def q(self) -> str:
        return quote_ident(self.name)

    @property
    def numeric(self) -> bool:
        return self.category == "N" and self.base_type not in ("money", "oid")

    @property
    def is_time(self) -> bool:
        return self.base_type in TIME_TYPES


@dataclass
class Params:
    """Collects bound parameters; `add` returns the placeholder."""

    values: list[object] = field(default_factory=list)

    def add(self, value: object, cast: str = "text") -> str:
        self.values.append(value)
        return f"${len(self.values)}::{cast}"

    def statement(self, sql: str) -> Statement:
        """`sql` with the parameters collected so far."""
        return Statement(sql, tuple(self.values))


@dataclass(frozen=True)
class Statement:
    """One statement vf-mcp built: SQL with catalog-quoted identifiers and its bound parameters."""

    sql: str
    params: tuple[object, ...] = ()


@dataclass(frozen=True)
class Table:
    """A relation and its columns, for building statements."""

    rel: Relation
    columns: tuple[Col, ...]

    @classmethod
    def from_detail(cls, rel: Relation, detail: TableDetail) -> Table:
        return cls(rel, tuple(Col(c.name, c.type, c.base_type, c.category) for c in detail.columns))

    def col(self, name: str) -> Col:
        """The column called `name` (exact, else case-insensitive), or an error listing the closest columns."""
        for c in self.columns:
            if c.name == name:
                return c
        folded = [c for c in self.columns if c.name.lower() == name.strip('"').lower()]
        if len(folded) == 1:
            return folded[0]
        names = [c.name for c in self.columns]
        close = difflib.get_close_matches(name, names, n=len(names), cutoff=0.0)
        rest = [n for n in names if n not in close]
        raise NotFoundError(
            f"Column {name!r} not found in {self.rel.qualified}. Columns (closest first): {', '.join(close + rest)}"
        )

    def time_column(self, name: str | None) -> Col:
        """The named time column, or a sensible default (created_at-like first, then any timestamp/date)."""
        if name:
            c = self.col(name)
            if not c.is_time:
                raise InvalidArgumentError(f"Column {c.name!r} is {c.type}, not a date or timestamp.")
            return c
        times = [c for c in self.columns if c.is_time]
        if not times:
            raise InvalidArgumentError(f"{self.rel.qualified} has no date or timestamp column to use as time_column.")
        named = [c for c in times if _TIME_NAME.match(c.name)]
        return (named or times)[0]


def metric_sql(metric: Metric, col: Col | None, table: Table, alias: str = "") -> str:
    """The aggregate expression for `metric` over `col` (count may have no column), qualified by `alias`."""
    if metric == "count":
        return f"count({_ref(col, alias)})" if col else "count(*)"
    check_metric(metric, col, table)
    assert col is not None
    if metric in ("min", "max") and col.category in ("G", "X", "U") and col.base_type not in ("uuid",):
        raise InvalidArgumentError(f"Metric {metric!r} is not defined for {col.type} ({col.name!r}).")
    if metric in ("min", "max") and col.base_type in ("uuid", "json", "bool"):
        if col.base_type == "bool":
            return f"{'bool_and' if metric == 'min' else 'bool_or'}({_ref(col, alias)})"
        raise InvalidArgumentError(f"Metric {metric!r} is not defined for {col.type} ({col.name!r}).")
    ref = _ref(col, alias)
    return {
        "sum": f"sum({ref})",
        "avg": f"avg({ref})",
        "min": f"min({ref})",
        "max": f"max({ref})",
        "distinct": f"count(DISTINCT {ref})",
        "median": f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {ref})",
        "p90": f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {ref})",
        "p95": f"percentile_cont(0.95) WITHIN GROUP (ORDER BY {ref})",
        "stddev": f"stddev_samp({ref})",
    }[metric]


def check_metric(metric: str, col: Col | None, table: Table) -> None:
    """Every engine's rule: a metric other than count needs a column, a numeric one for sum/avg/percentiles."""
    if metric == "count":
        return
    if col is None:
        raise InvalidArgumentError(f"Metric {metric!r} needs a column (pass column=...).")
    if metric in NUMERIC_METRICS and not col.numeric:
        numeric = [c.name for c in table.columns if c.numeric]
        raise InvalidArgumentError(
            f"Metric {metric!r} needs a numeric column; {col.name!r} is {col.type}. "
            f"Numeric columns: {', '.join(numeric) or 'none'}. Use count, distinct, min or max for other types."
        )


def filter_operator(f: Filter) -> str:
    """The filter's operator, upper-cased ('<>' read as '!='), or a one-line error naming the ones allowed."""
    op = str(f.operator).upper().strip()
    if op == "<>":
        op = "!="
    if op not in OPERATORS:
        raise InvalidArgumentError(f"Unknown operator {f.operator!r}; use one of {', '.join(OPERATORS)}.")
    return op


def check_filter_value(op: str, col: Col, value: object, *, empty_list: bool = True) -> None:
    """Every engine's rule for what an operator takes: nothing (IS NULL), a list (IN; BETWEEN: two values; an empty
    list only where the engine's SQL can say it), or one value."""
    if op in ("IS NULL", "IS NOT NULL"):
        return
    if op in ("IN", "NOT IN", "BETWEEN"):
        if not isinstance(value, list) or (op == "BETWEEN" and len(value) != 2) or (not value and not empty_list):
            need = "a list of two values" if op == "BETWEEN" else "a list of values"
            raise InvalidArgumentError(f"Operator {op} needs {need} for {col.name!r}.")
        return
    if value is None:
        raise InvalidArgumentError(f"Operator {op} needs a value for {col.name!r} (or use IS NULL).")
    if isinstance(value, (list, dict)):
        raise InvalidArgumentError(f"Operator {op} takes a single value for {col.name!r}, not a list.")


def _ref(col: Col, alias: str) -> str:
    return f"{alias}.{col.q}" if alias else col.q


def filter_sql(table: Table, filters: Sequence[Filter], params: Params, alias: str = "") -> list[str]:
    """WHERE conditions for {column, operator, value} filters."""
    out: list[str] = []
    prefix = f"{alias}." if alias else ""
    for f in filters:
        col = table.col(f.column)
        op = filter_operator(f)
        out.append(_condition(f"{prefix}{col.q}", op, col, f.value, params))
    return out


def _condition(target: str, op: str, col: Col, value: object, params: Params) -> str:
    """One filter as SQL, once its value is checked against what the operator takes."""
    check_filter_value(op, col, value)
    if op in ("IS NULL", "IS NOT NULL"):
        return f"{target} {op}"
    if op in ("IN", "NOT IN", "BETWEEN"):
        assert isinstance(value, list)
        items = [_text(v) for v in value]
        if op == "BETWEEN":
            lo = f"CAST({params.add(items[0])} AS {col.type})"
            hi = f"CAST({params.add(items[1])} AS {col.type})"
            return f"{target} BETWEEN {lo} AND {hi}"
        arr = f"CAST({params.add(items, 'text[]')} AS {col.type}[])"
        return f"{'NOT ' if op == 'NOT IN' else ''}({target} = ANY({arr}))"
    if op in ("LIKE", "ILIKE"):
        return f"{target}::text {op} {params.add(_text(value))}"
    sql_op = "<>" if op == "!=" else op
    return f"{target} {sql_op} CAST({params.add(_text(value))} AS {col.type})"


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def local_time(col: Col, params: Params, tz: str, alias: str = "") -> str:
    """The column as a zone-less local timestamp: timestamptz is converted AT TIME ZONE tz explicitly."""
    target = f"{alias}.{col.q}" if alias else col.q
    if col.base_type == "timestamptz":
        return f"({target} AT TIME ZONE {params.add(tz)})"
    if col.base_type == "date":
        return f"{target}::timestamp"
    return target


def bucket_sql(col: Col, period: str, params: Params, tz: str, alias: str = "") -> str:
    """date_trunc bucket of a time column in local time (a timestamp without time zone)."""
    unit = PERIOD_UNITS.get(period)
    if unit is None:
        raise InvalidArgumentError(f"Unknown period {period!r}; use day, week, month, quarter or year.")
    return f"date_trunc('{unit}', {local_time(col, params, tz, alias)})"


def range_sql(
    col: Col, start: datetime | None, end: datetime | None, params: Params, tz: str, alias: str = ""
) -> list[str]:
    """Sargable [start, end) conditions on a time column; start/end are local (zone-less) datetimes."""
    target = f"{alias}.{col.q}" if alias else col.q
    out = []
    for bound, op in ((start, ">="), (end, "<")):
        if bound is None:
            continue
        if col.base_type == "timestamptz":
            out.append(f"{target} {op} ({params.add(bound, 'timestamp')} AT TIME ZONE {params.add(tz)})")
        elif col.base_type == "date":
            out.append(f"{target} {op} {params.add(bound, 'timestamp')}::date")
        else:
            out.append(f"{target} {op} {params.add(bound, 'timestamp')}")
    return out


def where(conditions: Sequence[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""
