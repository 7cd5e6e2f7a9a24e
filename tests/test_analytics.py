"""Analytics tools through the MCP client; every number against a hand-written SQL query on the same data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from helpers import call, call_error, mcp_client, sql

pytestmark = pytest.mark.anyio


def num(v: Any) -> float:
    return float(Decimal(str(v)))


async def test_metrics_grouped_matches_sql(demo_dsn: str) -> None:
    expected = await sql(
        demo_dsn,
        "SELECT contractor_id, avg(completion_hours)::float8 AS v, count(*) AS n FROM drops "
        "WHERE status = 'completed' GROUP BY 1 ORDER BY 2 DESC NULLS LAST, 1",
    )
    total = sum(r["n"] for r in expected)
    async with mcp_client(demo_dsn) as client:
        out = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "drops",
                "metric": "avg",
                "column": "completion_hours",
                "group_by": ["contractor_id"],
                "filters": [{"column": "status", "operator": "=", "value": "completed"}],
                "order_by": "desc",
            },
        )
    assert out["columns"] == ["contractor_id", "value", "records"]
    assert [r[0] for r in out["results"]] == [r["contractor_id"] for r in expected]
    for got, want in zip(out["results"], expected, strict=True):
        assert num(got[1]) == pytest.approx(want["v"])
        assert got[2] == want["n"]
    assert out["summary"]["total_records"] == total
    assert out["summary"]["total_groups"] == len(expected)
    assert out["summary"]["metric_applied"] == "avg(completion_hours)"
    assert "$1" in out["sql"] and out["params"] == ["completed"]


@pytest.mark.parametrize(
    ("metric", "expr"),
    [
        ("count", "count(*)"),
        ("sum", "sum(total)"),
        ("min", "min(total)"),
        ("max", "max(total)"),
        ("distinct", "count(DISTINCT total)"),
        ("median", "percentile_cont(0.5) WITHIN GROUP (ORDER BY total)"),
        ("p90", "percentile_cont(0.9) WITHIN GROUP (ORDER BY total)"),
        ("p95", "percentile_cont(0.95) WITHIN GROUP (ORDER BY total)"),
        ("stddev", "stddev_samp(total)"),
    ],
)
async def test_every_metric_on_chinook(chinook_dsn: str, metric: str, expr: str) -> None:
    want = (await sql(chinook_dsn, f"SELECT ({expr})::float8 AS v FROM invoice WHERE billing_country = 'USA'"))[0]
    async with mcp_client(chinook_dsn) as client:
        args = {
            "table_name": "invoice",
            "metric": metric,
            "filters": [{"column": "billing_country", "operator": "=", "value": "USA"}],
        }
        if metric != "count":
            args["column"] = "total"
        out = await call(client, "calculate_metrics", args)
    assert num(out["results"][0][0]) == pytest.approx(want["v"])


async def test_monthly_buckets_on_chinook(chinook_dsn: str) -> None:
    expected = await sql(
        chinook_dsn,
        "SELECT date_trunc('month', invoice_date) AS m, sum(total)::float8 AS v FROM invoice "
        "WHERE invoice_date >= '2024-01-01' AND invoice_date < '2025-01-01' GROUP BY 1 ORDER BY 1",
    )
    async with mcp_client(chinook_dsn) as client:
        out = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "invoice",
                "metric": "sum",
                "column": "total",
                "group_by": [{"column": "invoice_date", "period": "month"}],
                "filters": [{"column": "invoice_date", "operator": "BETWEEN", "value": ["2024-01-01", "2024-12-31"]}],
                "limit": 100,
            },
        )
    assert [r[0][:7] for r in out["results"]] == [r["m"].strftime("%Y-%m") for r in expected]
    assert [num(r[1]) for r in out["results"]] == pytest.approx([r["v"] for r in expected])
    assert out["time_column"] == "invoice_date"


async def test_filters_all_operators(chinook_dsn: str) -> None:
    cases = [
        (
            [{"column": "billing_country", "operator": "IN", "value": ["USA", "Canada"]}],
            "billing_country IN ('USA', 'Canada')",
        ),
        ([{"column": "billing_country", "operator": "NOT IN", "value": ["USA"]}], "billing_country <> 'USA'"),
        ([{"column": "billing_city", "operator": "LIKE", "value": "S%"}], "billing_city LIKE 'S%'"),
        ([{"column": "billing_city", "operator": "ILIKE", "value": "s%"}], "billing_city ILIKE 's%'"),
        ([{"column": "billing_state", "operator": "IS NULL"}], "billing_state IS NULL"),
        ([{"column": "billing_state", "operator": "IS NOT NULL"}], "billing_state IS NOT NULL"),
        ([{"column": "total", "operator": ">=", "value": 10}], "total >= 10"),
        ([{"column": "total", "operator": "<", "value": "1.98"}], "total < 1.98"),
        ([{"column": "total", "operator": "!=", "value": 0.99}], "total <> 0.99"),
        ([{"column": "customer_id", "operator": "BETWEEN", "value": [5, 9]}], "customer_id BETWEEN 5 AND 9"),
    ]
    async with mcp_client(chinook_dsn) as client:
        for filters, where in cases:
            want = (await sql(chinook_dsn, f"SELECT count(*) AS n FROM invoice WHERE {where}"))[0]["n"]
            out = await call(
                client, "calculate_metrics", {"table_name": "invoice", "metric": "count", "filters": filters}
            )
            assert out["results"][0][0] == want, where


async def test_null_group_and_empty_result(demo_dsn: str) -> None:
    nulls = (await sql(demo_dsn, "SELECT count(*) AS n FROM drops WHERE completed_at IS NULL"))[0]["n"]
    async with mcp_client(demo_dsn) as client:
        out = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "drops",
                "metric": "count",
                "group_by": [{"column": "completed_at", "period": "year"}],
                "order_by": "desc",
            },
        )
        null_row = [r for r in out["results"] if r[0] is None]
        assert null_row and null_row[0][1] == nulls
        empty = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "drops",
                "metric": "avg",
                "column": "completion_hours",
                "filters": [{"column": "drop_number", "operator": "=", "value": "no-such-drop"}],
            },
        )
        assert empty["results"] == [[None]] and empty["summary"]["total_records"] == 0
        assert "No rows" in empty["message"]


async def test_clear_errors(demo_dsn: str) -> None:
    async with mcp_client(demo_dsn) as client:
        text_avg = await call_error(
            client, "calculate_metrics", {"table_name": "staff", "metric": "avg", "column": "email"}
        )
        bad_value = await call_error(
            client,
            "calculate_metrics",
            {
                "table_name": "drops",
                "metric": "count",
                "filters": [{"column": "contractor_id", "operator": "=", "value": "abc"}],
            },
        )
        unknown = await call_error(
            client, "calculate_metrics", {"table_name": "drops", "metric": "sum", "column": "completion_hour"}
        )
    assert "numeric column" in text_avg and "email" in text_avg
    assert "invalid input syntax for type integer" in bad_value
    assert "not found" in unknown and unknown.index("completion_hours") < unknown.index("drop_number")


async def test_rank_contractors_with_labels(demo_dsn: str) -> None:
    expected = await sql(
        demo_dsn,
        "SELECT d.contractor_id, c.name, count(*) AS n, rank() OVER (ORDER BY count(*) DESC) AS rk, "
        "100.0 * count(*) / sum(count(*)) OVER () AS pct FROM drops d JOIN contractors c ON c.id = d.contractor_id "
        "GROUP BY 1, 2 ORDER BY rk, 1",
    )
    async with mcp_client(demo_dsn) as client:
        out = await call(
            client,
            "rank_entities",
            {"table_name": "drops", "entity_column": "contractor_id", "rank_by": "id", "limit": 5},
        )
        bottom = await call(
            client,
            "rank_entities",
            {
                "table_name": "drops",
                "entity_column": "contractor_id",
                "rank_by": "id",
                "direction": "bottom",
                "limit": 3,
            },
        )
    assert out["total_entities"] == len(expected)
    assert [(e["entity"], e["label"], e["value"], e["rank"]) for e in out["ranking"]] == [
        (r["contractor_id"], r["name"], r["n"], r["rk"]) for r in expected[:5]
    ]
    assert [e["percent_of_total"] for e in out["ranking"]] == pytest.approx(
        [float(r["pct"]) for r in expected[:5]], abs=0.01
    )
    assert out["label_column"] == "public.contractors.name"
    assert bottom["ranking"][0]["value"] == min(r["n"] for r in expected)


async def test_rank_artists_by_tracks_on_chinook(chinook_dsn: str) -> None:
    expected = await sql(
        chinook_dsn,
        "SELECT album_id, count(*) AS n, rank() OVER (ORDER BY count(*) DESC) AS rk FROM track "
        "GROUP BY 1 ORDER BY rk, 1 LIMIT 10",
    )
    async with mcp_client(chinook_dsn) as client:
        out = await call(
            client, "rank_entities", {"table_name": "track", "entity_column": "album_id", "rank_by": "track_id"}
        )
    assert [(e["entity"], e["value"], e["rank"]) for e in out["ranking"]] == [
        (r["album_id"], r["n"], r["rk"]) for r in expected
    ]
    assert all(e["label"] for e in out["ranking"])  # album.title


async def test_compare_groups_2024_vs_2025(chinook_dsn: str) -> None:
    rows = await sql(
        chinook_dsn,
        "SELECT extract(year FROM invoice_date)::int AS y, sum(total)::float8 AS v FROM invoice "
        "WHERE invoice_date >= '2024-01-01' AND invoice_date < '2026-01-01' GROUP BY 1 ORDER BY 1",
    )
    v24, v25 = rows[0]["v"], rows[1]["v"]
    async with mcp_client(chinook_dsn) as client:
        out = await call(
            client,
            "compare_data",
            {
                "table_name": "invoice",
                "metric": "sum",
                "column": "total",
                "group1": {
                    "label": "2025",
                    "filters": [
                        {
                            "column": "invoice_date",
                            "operator": "BETWEEN",
                            "value": ["2025-01-01", "2025-12-31 23:59:59"],
                        }
                    ],
                },
                "group2": {
                    "label": "2024",
                    "filters": [
                        {
                            "column": "invoice_date",
                            "operator": "BETWEEN",
                            "value": ["2024-01-01", "2024-12-31 23:59:59"],
                        }
                    ],
                },
            },
        )
    assert num(out["group1"]["value"]) == pytest.approx(v25) and num(out["group2"]["value"]) == pytest.approx(v24)
    assert out["difference"] == pytest.approx(v25 - v24)
    assert out["percent_change"] == pytest.approx(100 * (v25 - v24) / v24, abs=1e-3)
    expected_trend = "stable" if abs(100 * (v25 - v24) / v24) < 2 else ("up" if v25 > v24 else "down")
    assert out["trend"] == expected_trend
    assert "2025" in out["insight"] and len(out["sql"]) == 2


async def test_compare_this_quarter_vs_last(demo_dsn: str) -> None:
    as_of = date(2026, 11, 15)
    current = (
        await sql(
            demo_dsn,
            "SELECT count(*) AS n FROM drops WHERE created_at >= '2026-10-01 00:00+00' "
            "AND created_at < '2026-11-16 00:00+00'",
        )
    )[0]["n"]
    previous = (
        await sql(
            demo_dsn,
            "SELECT count(*) AS n FROM drops WHERE created_at >= '2026-07-01 00:00+00' "
            "AND created_at < '2026-08-16 00:00+00'",
        )
    )[0]["n"]
    async with mcp_client(demo_dsn) as client:
        out = await call(
            client,
            "compare_data",
            {"table_name": "drops", "metric": "count", "compare_by": "time", "period": "quarter", "as_of": str(as_of)},
        )
    assert out["time_column"] == "created_at"
    assert out["group1"]["value"] == current and out["group2"]["value"] == previous
    if previous:
        assert out["percent_change"] == pytest.approx(100 * (current - previous) / previous, abs=1e-3)


async def test_compare_zero_base(demo_dsn: str) -> None:
    async with mcp_client(demo_dsn) as client:
        out = await call(
            client,
            "compare_data",
            {
                "table_name": "drops",
                "metric": "count",
                "group1": {"label": "all", "filters": []},
                "group2": {"label": "none", "filters": [{"column": "drop_number", "operator": "=", "value": "zzz"}]},
            },
        )
    assert out["group2"]["value"] == 0 and out["percent_change"] is None
    assert "base value is 0" in out["percent_change_note"] and out["trend"] == "up"


async def test_trends_monthly_with_zero_periods(chinook_dsn: str) -> None:
    expected = await sql(
        chinook_dsn,
        "SELECT to_char(m, 'YYYY-MM') AS m, coalesce(v, 0)::float8 AS v FROM generate_series("
        "'2024-01-01'::timestamp, '2025-06-01', interval '1 month') m LEFT JOIN ("
        "SELECT date_trunc('month', invoice_date) AS b, sum(total) AS v FROM invoice "
        "WHERE invoice_date >= '2024-01-01' AND invoice_date < '2025-07-01' GROUP BY 1) a ON a.b = m ORDER BY m",
    )
    async with mcp_client(chinook_dsn) as client:
        out = await call(
            client,
            "analyze_trends",
            {
                "table_name": "invoice",
                "metric": "sum",
                "column": "total",
                "period": "monthly",
                "start_date": "2024-01-01",
                "end_date": "2025-06-30",
            },
        )
    s = out["series"][0]
    assert [p[:7] for p in s["periods"]] == [r["m"] for r in expected]
    assert s["values"] == pytest.approx([r["v"] for r in expected])
    assert set(s["moving_averages"]) == {"ma_3", "ma_12"}
    ma3 = s["moving_averages"]["ma_3"]
    assert ma3[2] == pytest.approx(sum(r["v"] for r in expected[:3]) / 3)
    assert s["direction"] in ("increasing", "decreasing", "stable", "volatile")
    assert len(s["forecast"]) == 3 and out["time_column"] == "invoice_date"


async def test_trends_grouped_daily_counts(demo_dsn: str) -> None:
    expected = await sql(
        demo_dsn,
        "SELECT status::text AS g, count(*) AS n FROM drops WHERE created_at >= '2026-01-01 00:00+00' "
        "AND created_at < '2026-04-01 00:00+00' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 2",
    )
    async with mcp_client(demo_dsn) as client:
        out = await call(
            client,
            "analyze_trends",
            {
                "table_name": "drops",
                "metric": "count",
                "period": "daily",
                "start_date": "2026-01-01",
                "end_date": "2026-03-31",
                "group_by": "status",
                "top_groups": 2,
            },
        )
    assert [s["group"] for s in out["series"]] == [r["g"] for r in expected] or sorted(
        s["group"] for s in out["series"]
    ) == sorted(r["g"] for r in expected)
    for s in out["series"]:
        assert len(s["periods"]) == 90  # every day of Q1 2026, zeros included
        want = next(r["n"] for r in expected if r["g"] == s["group"])
        assert sum(s["values"]) == want


async def test_results_are_cached(demo_dsn: str) -> None:
    args = {"table_name": "drops", "metric": "count", "group_by": ["status"]}
    async with mcp_client(demo_dsn) as client:
        first = await call(client, "calculate_metrics", args)
        second = await call(client, "calculate_metrics", args)
        fresh = await call(client, "calculate_metrics", {**args, "refresh": True})
    assert (first["from_cache"], second["from_cache"], fresh["from_cache"]) == (False, True, False)
    assert first["results"] == second["results"] == fresh["results"]
