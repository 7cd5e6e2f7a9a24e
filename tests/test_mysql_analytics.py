"""calculate_metrics and rank_entities on MariaDB (Chinook), each number against hand-written SQL or, for
percentiles (MySQL has no percentile_cont), against PostgreSQL's definition computed here."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from tests.helpers import call, mcp_client
from tests.mysql_server import MariaDb, admin_sql

pytestmark = pytest.mark.anyio


def percentile_cont(values: list[float], p: float) -> float:
    s = sorted(values)
    pos = p * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


async def test_metrics_ungrouped_and_grouped(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    async with mcp_client(chinook_mysql_dsn) as client:
        total = await call(client, "calculate_metrics", {"table_name": "Invoice", "metric": "sum", "column": "Total"})
        by_country = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "Invoice", "metric": "sum", "column": "Total", "group_by": ["BillingCountry"],
                "order_by": "desc", "limit": 5,
                "filters": [{"column": "InvoiceDate", "operator": ">=", "value": "2022-01-01"}],
            },
        )  # fmt: skip
        monthly = await call(
            client,
            "calculate_metrics",
            {"table_name": "Invoice", "metric": "count", "group_by": [{"column": "InvoiceDate", "period": "month"}]},
        )
    (want_total,) = (await admin_sql(mariadb, "SELECT SUM(Total) FROM Invoice", "chinook"))[0]
    assert Decimal(str(total["results"][0][0])) == want_total
    assert total["summary"]["total_records"] == 412
    want = await admin_sql(
        mariadb,
        "SELECT BillingCountry, SUM(Total), COUNT(*) FROM Invoice WHERE InvoiceDate >= '2022-01-01' "
        "GROUP BY BillingCountry ORDER BY 2 DESC, 1 LIMIT 5",
        "chinook",
    )
    assert [(r[0], Decimal(str(r[1]))) for r in by_country["results"]] == [(c, s) for c, s, _ in want]
    groups = await admin_sql(
        mariadb,
        "SELECT COUNT(DISTINCT BillingCountry), COUNT(*) FROM Invoice WHERE InvoiceDate >= '2022-01-01'",
        "chinook",
    )
    assert by_country["summary"]["total_groups"] == groups[0][0]
    assert by_country["summary"]["total_records"] == groups[0][1]
    months = await admin_sql(
        mariadb, "SELECT DATE_FORMAT(InvoiceDate, '%Y-%m-01'), COUNT(*) FROM Invoice GROUP BY 1 ORDER BY 1", "chinook"
    )
    assert [(r[0][:10], r[1]) for r in monthly["results"]] == [(m, n) for m, n in months]
    assert monthly["results"][0][0].endswith("T00:00:00")


@pytest.mark.parametrize("metric,p", [("median", 0.5), ("p90", 0.9), ("p95", 0.95)])
async def test_percentiles_match_percentile_cont(
    chinook_mysql_dsn: str, mariadb: MariaDb, metric: str, p: float
) -> None:
    async with mcp_client(chinook_mysql_dsn) as client:
        whole = await call(
            client, "calculate_metrics", {"table_name": "Track", "metric": metric, "column": "Milliseconds"}
        )
        grouped = await call(
            client,
            "calculate_metrics",
            {"table_name": "Track", "metric": metric, "column": "Bytes", "group_by": ["MediaTypeId"]},
        )
    ms = [r[0] for r in await admin_sql(mariadb, "SELECT Milliseconds FROM Track", "chinook")]
    assert whole["results"][0][0] == pytest.approx(percentile_cont(ms, p))
    rows = await admin_sql(mariadb, "SELECT MediaTypeId, Bytes FROM Track WHERE Bytes IS NOT NULL", "chinook")
    by: dict[int, list[float]] = {}
    for k, v in rows:
        by.setdefault(k, []).append(v)
    assert {r[0]: r[1] for r in grouped["results"]} == pytest.approx({k: percentile_cont(v, p) for k, v in by.items()})


async def test_rank_entities_with_labels(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    async with mcp_client(chinook_mysql_dsn) as client:
        ranked = await call(
            client,
            "rank_entities",
            {"table_name": "Invoice", "entity_column": "CustomerId", "rank_by": "Total", "aggregation": "sum",
             "limit": 5},
        )  # fmt: skip
        bottom = await call(
            client,
            "rank_entities",
            {"table_name": "Track", "entity_column": "GenreId", "rank_by": "TrackId", "direction": "bottom"},
        )
    want = await admin_sql(
        mariadb,
        "SELECT i.CustomerId, CONCAT_WS(' ', c.FirstName, c.LastName), SUM(i.Total), "
        "100.0 * SUM(i.Total) / (SELECT SUM(Total) FROM Invoice) FROM Invoice i JOIN Customer c USING (CustomerId) "
        "GROUP BY i.CustomerId ORDER BY 3 DESC, 1 LIMIT 5",
        "chinook",
    )
    got = [(r["entity"], r["label"], Decimal(str(r["value"])), r["percent_of_total"]) for r in ranked["ranking"]]
    assert got == [(e, lbl, v, round(float(s), 2)) for e, lbl, v, s in want]
    counts = await admin_sql(
        mariadb, "SELECT GenreId, COUNT(*) FROM Track GROUP BY GenreId ORDER BY 2, 1 LIMIT 10", "chinook"
    )
    assert [(r["entity"], r["value"]) for r in bottom["ranking"]][: len(counts)] == [tuple(c) for c in counts]


async def test_trends_monthly_with_empty_buckets_and_groups(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    args = {"table_name": "Invoice", "metric": "sum", "column": "Total", "period": "monthly",
            "start_date": "2021-11-15", "end_date": "2022-03-10", "time_column": "InvoiceDate"}  # fmt: skip
    async with mcp_client(chinook_mysql_dsn) as client:
        plain = await call(client, "analyze_trends", args)
        grouped = await call(client, "analyze_trends", {**args, "group_by": "BillingCountry", "top_groups": 2})
    want = dict(
        await admin_sql(
            mariadb,
            "SELECT DATE_FORMAT(InvoiceDate, '%Y-%m-01'), SUM(Total) FROM Invoice "
            "WHERE InvoiceDate >= '2021-11-15' AND InvoiceDate < '2022-03-11' GROUP BY 1",
            "chinook",
        )
    )
    (one,) = plain["series"]
    series = list(zip(one["periods"], one["values"], strict=True))
    assert [d for d, _ in series] == ["2021-11-01", "2021-12-01", "2022-01-01", "2022-02-01", "2022-03-01"]
    assert [v for _, v in series] == pytest.approx([float(want.get(d, 0)) for d, _ in series])
    top = await admin_sql(
        mariadb,
        "SELECT BillingCountry FROM Invoice WHERE InvoiceDate >= '2021-11-15' AND InvoiceDate < '2022-03-11' "
        "GROUP BY 1 ORDER BY SUM(Total) DESC, 1 LIMIT 2",
        "chinook",
    )
    assert sorted(str(x["group"]) for x in grouped["series"]) == sorted(t for (t,) in top)
    assert all(len(x["periods"]) == 5 for x in grouped["series"])  # empty buckets included


async def test_compare_groups(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    async with mcp_client(chinook_mysql_dsn) as client:
        out = await call(
            client,
            "compare_data",
            {
                "table_name": "Invoice", "metric": "avg", "column": "Total",
                "group1": {"label": "USA", "filters": [{"column": "BillingCountry", "operator": "=", "value": "USA"}]},
                "group2": {"label": "Canada",
                           "filters": [{"column": "BillingCountry", "operator": "=", "value": "Canada"}]},
            },
        )  # fmt: skip
    want = dict(
        await admin_sql(
            mariadb,
            "SELECT BillingCountry, AVG(Total) FROM Invoice WHERE BillingCountry IN ('USA', 'Canada') GROUP BY 1",
            "chinook",
        )
    )
    assert float(out["group1"]["value"]) == pytest.approx(float(want["USA"]))
    assert float(out["group2"]["value"]) == pytest.approx(float(want["Canada"]))


async def test_kpi_dashboard_sql_and_metric_kpis(chinook_mysql_dsn: str, mariadb: MariaDb, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "chinook.toml").write_text(
        """database = "chinook"
title = "Chinook on MariaDB"

[[kpi]]
name = "invoices"
sql = "SELECT COUNT(*) FROM Invoice WHERE InvoiceDate >= $1 AND InvoiceDate < $2"

[[kpi]]
name = "revenue"
metric = { table = "Invoice", metric = "sum", column = "Total", time_column = "InvoiceDate" }

[[kpi]]
name = "customers"
sql = "SELECT COUNT(*) FROM Customer"
""",
        encoding="utf-8",
    )
    async with mcp_client(chinook_mysql_dsn, kpi_dir=str(tmp_path)) as client:
        out = await call(
            client, "get_kpi_dashboard", {"timeframe": "quarter", "as_of": "2025-12-31", "compare_with": "last_year"}
        )
    kpis = {k["name"]: k for k in out["kpis"]}
    sql = "SELECT COUNT(*), SUM(Total) FROM Invoice WHERE InvoiceDate >= %s AND InvoiceDate < %s"
    this = (await admin_sql(mariadb, sql, "chinook", params=("2025-10-01", "2026-01-01")))[0]
    last = (await admin_sql(mariadb, sql, "chinook", params=("2024-10-01", "2025-01-01")))[0]
    assert (kpis["invoices"]["value"], kpis["invoices"]["previous_value"]) == (this[0], last[0])
    assert Decimal(str(kpis["revenue"]["value"])) == this[1]
    assert Decimal(str(kpis["revenue"]["previous_value"])) == last[1]
    assert kpis["customers"]["value"] == (await admin_sql(mariadb, "SELECT COUNT(*) FROM Customer", "chinook"))[0][0]
    assert kpis["customers"].get("previous_value") is None  # a snapshot


async def test_default_dashboard(chinook_mysql_dsn: str) -> None:
    async with mcp_client(chinook_mysql_dsn) as client:
        out = await call(client, "get_kpi_dashboard", {"timeframe": "quarter", "as_of": "2025-12-31"})
    names = {k["name"]: k for k in out["kpis"]}
    assert "new_Invoice" in names and names["new_Invoice"]["value"] is not None
    assert 0 <= names["data_health"]["value"] <= 100  # check_data_quality's overall score, on MariaDB too


async def test_time_zone_for_timestamps_and_buckets(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    zone = "America/New_York"  # loaded into the test server's zone tables (tests/mysql_server.py)
    await admin_sql(mariadb, "DROP TABLE IF EXISTS events", "chinook")
    await admin_sql(mariadb, "CREATE TABLE events (id INT PRIMARY KEY, at TIMESTAMP NULL, amount INT)", "chinook")
    stamps = ["2024-03-10 04:30:00", "2024-03-10 07:30:00", "2024-03-11 03:59:00", "2024-11-03 05:30:00",
              "2024-11-03 06:30:00"]  # UTC, around New York's DST changes  # fmt: skip
    epochs = [int(datetime.fromisoformat(t).replace(tzinfo=UTC).timestamp()) for t in stamps]
    values = ", ".join(f"({i}, FROM_UNIXTIME({e}), {i * 10})" for i, e in enumerate(epochs))
    await admin_sql(mariadb, f"INSERT INTO events VALUES {values}", "chinook")  # the instant, whatever the session
    async with mcp_client(chinook_mysql_dsn, time_zone=zone) as client:
        rows = await call(client, "run_query", {"sql": "SELECT id, at FROM events ORDER BY id"})
        daily = await call(
            client,
            "calculate_metrics",
            {"table_name": "events", "metric": "sum", "column": "amount",
             "group_by": [{"column": "at", "period": "day"}]},
        )  # fmt: skip
    local = (
        f"CONVERT_TZ('1970-01-01 00:00:00' + INTERVAL UNIX_TIMESTAMP(at) SECOND, '+00:00', '{zone}')"  # session-free
    )
    want = await admin_sql(mariadb, f"SELECT id, {local} FROM events ORDER BY id", "chinook")
    expected = [datetime.fromtimestamp(e, ZoneInfo(zone)).isoformat() for e in epochs]
    assert [r[1] for r in rows["rows"]] == expected
    assert [r[1][:19] for r in rows["rows"]] == [w[1].isoformat() for w in want]
    by_day = await admin_sql(
        mariadb, f"SELECT DATE({local}) AS d, SUM(amount) FROM events GROUP BY d ORDER BY d", "chinook"
    )
    assert [(r[0][:10], r[1]) for r in daily["results"]] == [(str(d), int(n)) for d, n in by_day]


async def test_data_quality_findings_match_sql(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    await admin_sql(mariadb, "DROP TABLE IF EXISTS dq_orders", "chinook")
    await admin_sql(
        mariadb,
        "CREATE TABLE dq_orders (order_id INT PRIMARY KEY, customer_email VARCHAR(60), phone VARCHAR(30), "
        "quantity INT, status VARCHAR(20), created_at DATETIME, TrackId INT)",
        "chinook",
    )
    rows = []
    for i in range(1, 41):
        email = "bad-email" if i % 10 == 0 else f"user{i}@example.com"
        phone = "12" if i % 13 == 0 else f"+2782555{i:04d}"
        qty = -1 if i % 17 == 0 else i
        status = ["Active", "active", "ACTIVE", "closed"][i % 4] if i < 30 else "closed"
        created = "1850-01-01 00:00:00" if i == 5 else f"2024-01-{(i % 28) + 1:02d} 10:00:00"
        track = 99999 if i == 7 else i
        rows.append(f"({i}, '{email}', '{phone}', {qty}, '{status}', '{created}', {track})")
    await admin_sql(mariadb, f"INSERT INTO dq_orders VALUES {', '.join(rows)}", "chinook")
    async with mcp_client(chinook_mysql_dsn) as client:
        out = await call(client, "check_data_quality", {"table_name": "dq_orders"})
    (table,) = out["tables"]
    found = {(f["type"], f.get("column")): f["affected_rows"] for f in table["findings"]}
    from vf_mcp.compute.quality import EMAIL_RE, PHONE_RE

    emails, phones, negatives, old = (
        await admin_sql(
            mariadb,
            "SELECT SUM(customer_email NOT REGEXP %s), "
            "SUM(REGEXP_REPLACE(phone, '[[:space:]().-]', '') NOT REGEXP %s), "
            "SUM(quantity < 0), SUM(created_at < '1900-01-01') FROM dq_orders",
            "chinook",
            params=(EMAIL_RE, PHONE_RE),
        )
    )[0]
    spellings = sorted(
        n for _, n in await admin_sql(
            mariadb,
            "SELECT BINARY status, COUNT(*) FROM dq_orders WHERE LOWER(status) = 'active' GROUP BY 1",
            "chinook",
        )
    )  # fmt: skip
    (orphans,) = (
        await admin_sql(
            mariadb,
            "SELECT COUNT(*) FROM dq_orders o LEFT JOIN Track t USING (TrackId) WHERE t.TrackId IS NULL",
            "chinook",
        )
    )[0]  # fmt: skip
    assert table["rows"] == 40 and table["exact"] is True
    assert found[("consistency", "customer_email")] == emails == 4
    assert found[("consistency", "phone")] == phones == 3
    assert found[("consistency", "quantity")] == negatives == 2
    assert found[("consistency", "created_at")] == old == 1
    assert found[("consistency", "status")] == sum(spellings) - spellings[-1]  # all but the most common spelling
    assert found[("referential_integrity", "TrackId")] == orphans == 1
