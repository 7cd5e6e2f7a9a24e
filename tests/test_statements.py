"""db/statements/analytics.py: the analytics statements, built and checked without a database."""

from __future__ import annotations

from datetime import datetime

import pytest

from vf_mcp.compute.periods import approx_buckets
from vf_mcp.db.builder import Col, Statement, Table
from vf_mcp.db.catalog import Relation
from vf_mcp.db.statements.analytics import (
    EntityLabel,
    metrics_statement,
    rank_statement,
    trend_statement,
    value_statement,
)
from vf_mcp.errors import InvalidArgumentError
from vf_mcp.models.analytics import Filter, TimeBucket

REL = Relation(1, "public", "orders", "r", None, 10, None, None, None, None)
TABLE = Table(
    REL,
    (
        Col("id", "integer", "int4", "N"),
        Col("status", "text", "text", "S"),
        Col("amount", "numeric(10,2)", "numeric", "N"),
        Col("created_at", "timestamp with time zone", "timestamptz", "D"),
    ),
)
START, END = datetime(2025, 1, 1), datetime(2025, 2, 1)


def test_ungrouped_metric_binds_every_value() -> None:
    q = metrics_statement(
        TABLE, "sum", TABLE.col("amount"), [], [Filter(column="status", value="paid")], None, 100, "UTC"
    )
    assert q.statement == Statement(
        'SELECT sum("amount") AS value, count(*) AS records FROM "public"."orders" '
        'WHERE "status" = CAST($1::text AS text)',
        ("paid",),
    )
    assert q.group_names == () and q.time_column is None


def test_grouped_metric_orders_and_limits() -> None:
    q = metrics_statement(
        TABLE, "count", None, ["status", TimeBucket(column="created_at", period="month")], [], "desc", 5, "UTC"
    )
    assert q.group_names == ("status", "created_at_month")
    assert q.time_column == "created_at"
    assert q.statement.params == ("UTC",)
    assert q.statement.sql.endswith("GROUP BY 1, 2 ORDER BY value DESC NULLS LAST, 1, 2 LIMIT 5")


def test_bucketing_a_text_column_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="cannot be bucketed"):
        metrics_statement(TABLE, "count", None, [TimeBucket(column="status", period="day")], [], None, 5, "UTC")


def test_rank_shares_only_for_additive_aggregates() -> None:
    col = TABLE.col("amount")
    summed = rank_statement(TABLE, TABLE.col("status"), col, "sum", "top", 3, [], EntityLabel())
    averaged = rank_statement(TABLE, TABLE.col("status"), col, "avg", "bottom", 3, [], EntityLabel())
    assert "NULLIF(sum(a.value) OVER (), 0)" in summed.sql and "DESC NULLS LAST" in summed.sql
    assert "NULL AS percent_of_total" in averaged.sql and "ASC NULLS LAST" in averaged.sql


def test_value_in_a_window_converts_the_zone_explicitly() -> None:
    stmt = value_statement(TABLE, "count", None, [], "Africa/Johannesburg", (TABLE.col("created_at"), START, END))
    assert '"created_at" >= ($1::timestamp AT TIME ZONE $2::text)' in stmt.sql
    assert stmt.params == (START, "Africa/Johannesburg", END, "Africa/Johannesburg")
    assert "records" not in value_statement(TABLE, "count", None, [], "UTC", records=False).sql


def test_trend_fills_empty_buckets() -> None:
    stmt = trend_statement(
        TABLE, "sum", TABLE.col("amount"), "weekly", TABLE.col("created_at"), (START, END), [], "UTC"
    )
    assert "generate_series(date_trunc('week'" in stmt.sql and "coalesce(agg.v, 0)" in stmt.sql
    grouped = trend_statement(
        TABLE, "avg", TABLE.col("amount"), "daily", TABLE.col("created_at"), (START, END), [], "UTC", ("status", 3)
    )
    assert "LIMIT 3" in grouped.sql and "coalesce(agg.v, NULL)" in grouped.sql


def test_bucket_estimate() -> None:
    assert [approx_buckets(p, 365) for p in ("daily", "weekly", "monthly")] == [365, 53, 14]
