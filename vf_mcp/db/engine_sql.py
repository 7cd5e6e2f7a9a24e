"""What the engines share: the analytics' statement builders, written once over the module that spells each
engine's SQL.

`StatementSql` is that module's interface (vf_mcp/db/statements/analytics.py for PostgreSQL,
vf_mcp/db/mysql/statements.py for MySQL/MariaDB: same functions, same arguments); an engine that inherits
`BuildsStatements` names its module in `statement_sql()` (imported lazily: the MySQL parser stays unloaded
until a MySQL source needs it) and gets the four `Engine` methods that only pass through.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from vf_mcp.compute.periods import TrendPeriod
    from vf_mcp.db.builder import Col, Statement, Table
    from vf_mcp.db.statements.analytics import EntityLabel, MetricsQuery
    from vf_mcp.models.analytics import Filter, Metric, RankAggregation, TimeBucket


class StatementSql(Protocol):
    """The module that writes one engine's analytics statements (and, through BuildsStatements, part of the
    `Engine` interface)."""

    def metrics_statement(
        self,
        table: Table,
        metric: Metric,
        col: Col | None,
        group_by: Sequence[str | TimeBucket],
        filters: Sequence[Filter],
        order_by: Literal["asc", "desc"] | None,
        limit: int,
        tz: str,
    ) -> MetricsQuery:
        """calculate_metrics' statement in this engine's SQL."""
        ...

    def rank_statement(
        self,
        table: Table,
        entity: Col,
        measure: Col,
        aggregation: RankAggregation,
        direction: Literal["top", "bottom"],
        limit: int,
        filters: Sequence[Filter],
        label: EntityLabel,
    ) -> Statement:
        """rank_entities' statement in this engine's SQL."""
        ...

    def value_statement(
        self,
        table: Table,
        metric: Metric,
        col: Col | None,
        filters: Sequence[Filter],
        tz: str,
        window: tuple[Col, datetime, datetime] | None = None,
        *,
        records: bool = True,
    ) -> Statement:
        """One metric over filtered rows, optionally within [start, end) of a time column (compare_data, KPIs)."""
        ...

    def trend_statement(
        self,
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
        """analyze_trends' series: one value per bucket, empty buckets included."""
        ...


class BuildsStatements:
    """The `Engine` statement methods, delegated to the engine's `statement_sql()` module."""

    def statement_sql(self) -> StatementSql:
        raise NotImplementedError

    def metrics_statement(
        self,
        table: Table,
        metric: Metric,
        col: Col | None,
        group_by: Sequence[str | TimeBucket],
        filters: Sequence[Filter],
        order_by: Literal["asc", "desc"] | None,
        limit: int,
        tz: str,
    ) -> MetricsQuery:
        return self.statement_sql().metrics_statement(table, metric, col, group_by, filters, order_by, limit, tz)

    def rank_statement(
        self,
        table: Table,
        entity: Col,
        measure: Col,
        aggregation: RankAggregation,
        direction: Literal["top", "bottom"],
        limit: int,
        filters: Sequence[Filter],
        label: EntityLabel,
    ) -> Statement:
        sql = self.statement_sql()
        return sql.rank_statement(table, entity, measure, aggregation, direction, limit, filters, label)

    def value_statement(
        self,
        table: Table,
        metric: Metric,
        col: Col | None,
        filters: Sequence[Filter],
        tz: str,
        window: tuple[Col, datetime, datetime] | None = None,
        *,
        records: bool = True,
    ) -> Statement:
        return self.statement_sql().value_statement(table, metric, col, filters, tz, window, records=records)

    def trend_statement(
        self,
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
        return self.statement_sql().trend_statement(table, metric, col, period, tcol, span, filters, tz, group)
