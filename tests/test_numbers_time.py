"""Every number right in time: one time zone for filters, buckets, windows and rendered timestamps; partial
periods marked and left out of trend statistics; conventions (percentiles, whole-day date bounds, NULLs with
!= / NOT IN, the compare_data baseline) stated in the schema and the answer.

Databases: nycflights13 (default TimeZone Africa/Johannesburg, hourly data across New York's DST changes
2013-03-10 and 2013-11-03), chinook and the VelocityFibre demo. Every expected value is hand-written SQL on a
separate plain connection.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.helpers import call, call_error, mcp_client, sql

pytestmark = pytest.mark.anyio

NY = "America/New_York"
T_975_DF2 = 4.302652729911275  # Student t, two-sided 95 %, 2 degrees of freedom (statistical tables)


def num(v: Any) -> float:
    return float(v)


async def local_counts(dsn: str, table: str, unit: str, zone: str, lo: str, hi: str) -> list[tuple[str, int]]:
    """(bucket start, rows) of `table` by date_trunc(unit, time_hour AT TIME ZONE zone) over local [lo, hi)."""
    rows = await sql(
        dsn,
        f"SELECT to_char(date_trunc('{unit}', time_hour AT TIME ZONE $1), 'YYYY-MM-DD') AS b, count(*) AS n "
        f"FROM {table} WHERE (time_hour AT TIME ZONE $1) >= $2::text::timestamp "
        f"AND (time_hour AT TIME ZONE $1) < $3::text::timestamp GROUP BY 1 ORDER BY 1",
        zone,
        lo,
        hi,
    )
    return [(r["b"], r["n"]) for r in rows]


# ---------------------------------------------------------------------------------------------------------
# Time zones
# ---------------------------------------------------------------------------------------------------------


async def test_session_zone_is_pinned_survives_reset_and_cannot_be_changed(nycflights_dsn: str) -> None:
    default = (await sql(nycflights_dsn, "SELECT current_setting('TimeZone') AS tz"))[0]["tz"]
    assert default == "Africa/Johannesburg"  # the database's own default is neither UTC nor the setting
    show = {"sql": "SELECT current_setting('TimeZone') AS tz", "refresh": True}
    async with mcp_client(nycflights_dsn, time_zone=NY, pool_min_size=1, pool_max_size=1) as client:
        assert (await call(client, "run_query", show))["rows"] == [[NY]]
        for attempt in (
            "SET TimeZone = 'UTC'",
            "SELECT set_config('TimeZone', 'UTC', false)",
            "SELECT pg_catalog.set_config('timezone', 'UTC', true)",
            "SET TIME ZONE 'UTC'",
            "RESET ALL",
        ):
            await call_error(client, "run_query", {"sql": attempt})
        await call(client, "run_query", {"sql": "SELECT 1", "refresh": True})
        # one pooled connection, reset (RESET ALL) after every call: the pinned zone is its startup value
        for _ in range(3):
            assert (await call(client, "run_query", show))["rows"] == [[NY]]


async def test_run_query_values_are_read_in_the_zone(nycflights_dsn: str) -> None:
    """Literals and bound parameters without an offset are New York wall time, like the buckets."""
    want = (
        await sql(
            nycflights_dsn,
            f"SELECT count(*) AS n FROM flights WHERE (time_hour AT TIME ZONE '{NY}')::date = '2013-03-10'",
        )
    )[0]["n"]
    between = "SELECT count(*) FROM flights WHERE time_hour >= {lo} AND time_hour < {hi}"
    async with mcp_client(nycflights_dsn, time_zone=NY) as client:
        literal = await call(client, "run_query", {"sql": between.format(lo="'2013-03-10'", hi="'2013-03-11'")})
        bound = await call(
            client,
            "run_query",
            {"sql": between.format(lo="$1::timestamptz", hi="$2::timestamptz"), "params": ["2013-03-10", "2013-03-11"]},
        )
        typed = await call(
            client,
            "run_query",
            {"sql": between.format(lo="$1", hi="$2"), "params": ["2013-03-10T00:00:00", "2013-03-11T00:00:00"]},
        )
    assert literal["rows"] == bound["rows"] == typed["rows"] == [[want]]


async def test_unknown_time_zone_setting_is_a_clear_error(nycflights_dsn: str) -> None:
    """A time_zone that is not a zone stops the server at start with one actionable sentence."""
    # the SDK may wrap it in an exception group
    with pytest.raises(BaseException) as caught:
        async with mcp_client(nycflights_dsn, time_zone="Mars/Olympus_Mons") as client:
            await call(client, "run_query", {"sql": "SELECT 1"})
    found = [caught.value]
    while isinstance(found[-1], BaseExceptionGroup):
        found.append(found[-1].exceptions[0])
    assert "time_zone 'Mars/Olympus_Mons' is not an IANA time zone name" in str(found[-1])


@pytest.mark.parametrize("zone", [NY, "UTC"])
async def test_timestamps_rendered_in_the_zone_with_offset(nycflights_dsn: str, zone: str) -> None:
    query = (
        "SELECT time_hour FROM weather WHERE origin = 'JFK' AND time_hour >= '2013-03-10 03:00+00' "
        "AND time_hour < '2013-03-10 10:00+00' ORDER BY time_hour"
    )
    conn_sql = (
        "SELECT to_char(time_hour AT TIME ZONE $1, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS local, "
        "extract(epoch FROM (time_hour AT TIME ZONE $1) - (time_hour AT TIME ZONE 'UTC'))::int AS offset_s "
        "FROM weather WHERE origin = 'JFK' AND time_hour >= '2013-03-10 03:00+00' "
        "AND time_hour < '2013-03-10 10:00+00' ORDER BY time_hour"
    )
    expected = []
    for r in await sql(nycflights_dsn, conn_sql, zone):
        sign = "-" if r["offset_s"] < 0 else "+"
        h, m = divmod(abs(r["offset_s"]) // 60, 60)
        expected.append(f"{r['local']}{sign}{h:02d}:{m:02d}")
    if zone == NY:
        assert {e[-6:] for e in expected} == {"-05:00", "-04:00"}  # the rows straddle the DST change
    async with mcp_client(nycflights_dsn, time_zone=zone) as client:
        out = await call(client, "run_query", {"sql": query})
        stats = await call(client, "get_table_stats", {"table_name": "weather"})
    assert [r[0] for r in out["rows"]] == expected
    by = {c["name"]: c for c in stats["columns"]}
    if by["time_hour"].get("max") is not None:
        top = (await sql(nycflights_dsn, "SELECT max(time_hour) AS m FROM weather"))[0]["m"]
        assert datetime.fromisoformat(str(by["time_hour"]["max"])) == top


@pytest.mark.parametrize("zone", [NY, "UTC"])
async def test_daily_buckets_across_dst_match_sql(nycflights_dsn: str, zone: str) -> None:
    """Weather is hourly per airport: in New York the spring-forward day has 23 hours, the fall-back day 25."""
    for lo, hi in (("2013-03-09", "2013-03-12"), ("2013-11-02", "2013-11-05")):
        expected = await local_counts(nycflights_dsn, "weather", "day", zone, lo, hi)
        upper = (date.fromisoformat(hi) - timedelta(days=1)).isoformat()
        async with mcp_client(nycflights_dsn, time_zone=zone) as client:
            got = await call(
                client,
                "calculate_metrics",
                {
                    "table_name": "weather",
                    "metric": "count",
                    "group_by": [{"column": "time_hour", "period": "day"}],
                    "filters": [
                        {"column": "time_hour", "operator": ">=", "value": lo},
                        {"column": "time_hour", "operator": "<=", "value": upper},
                    ],
                },
            )
            trend = await call(
                client,
                "analyze_trends",
                {
                    "table_name": "weather",
                    "metric": "count",
                    "period": "daily",
                    "start_date": lo,
                    "end_date": upper,
                    "time_column": "time_hour",
                },
            )
        assert [(r[0][:10], r[1]) for r in got["results"]] == expected
        assert list(zip(trend["series"][0]["periods"], trend["series"][0]["values"], strict=True)) == [
            (b, float(n)) for b, n in expected
        ]
        assert got["time_zone"] == zone and trend["time_zone"] == zone
        assert any(zone in c for c in got["conventions"]) and f"Buckets in {zone}" in trend["message"]
    if zone == NY:
        days = dict(await local_counts(nycflights_dsn, "weather", "day", NY, "2013-03-09", "2013-03-12"))
        nov = dict(await local_counts(nycflights_dsn, "weather", "day", NY, "2013-11-02", "2013-11-05"))
        assert days["2013-03-10"] < days["2013-03-09"] and nov["2013-11-03"] > nov["2013-11-02"]


@pytest.mark.parametrize("zone", [NY, "UTC"])
async def test_monthly_buckets_match_sql(nycflights_dsn: str, zone: str) -> None:
    expected = await local_counts(nycflights_dsn, "flights", "month", zone, "2013-01-01", "2014-01-01")
    async with mcp_client(nycflights_dsn, time_zone=zone) as client:
        got = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "flights",
                "metric": "count",
                "group_by": [{"column": "time_hour", "period": "month"}],
                "filters": [{"column": "time_hour", "operator": "BETWEEN", "value": ["2013-01-01", "2013-12-31"]}],
            },
        )
        trend = await call(
            client,
            "analyze_trends",
            {
                "table_name": "weather",
                "metric": "count",
                "period": "monthly",
                "start_date": "2013-01-01",
                "end_date": "2013-12-31",
            },
        )
    assert [(r[0][:10], r[1]) for r in got["results"]] == expected
    weather = await local_counts(nycflights_dsn, "weather", "month", zone, "2013-01-01", "2014-01-01")
    s = trend["series"][0]
    assert list(zip(s["periods"], s["values"], strict=True)) == [(b, float(n)) for b, n in weather]
    assert trend["partial_periods"] == [] and not any(s["partial"])


async def test_a_march_filter_returns_no_february_bucket(nycflights_dsn: str) -> None:
    """Database TimeZone Africa/Johannesburg, setting America/New_York: '2013-03-01' is New York midnight."""
    expected = await local_counts(nycflights_dsn, "flights", "month", NY, "2013-03-01", "2013-05-01")
    async with mcp_client(nycflights_dsn, time_zone=NY) as client:
        got = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "flights",
                "metric": "count",
                "group_by": [{"column": "time_hour", "period": "month"}],
                "filters": [
                    {"column": "time_hour", "operator": ">=", "value": "2013-03-01"},
                    {"column": "time_hour", "operator": "<", "value": "2013-05-01"},
                ],
            },
        )
    assert [(r[0][:10], r[1]) for r in got["results"]] == expected
    assert [r[0][:7] for r in got["results"]] == ["2013-03", "2013-04"]


async def _count_ny(dsn: str, table: str, lo: str, hi: str) -> int:
    """Independent answer: rows of `table` whose time_hour falls in [lo, hi) on New York's clock."""
    rows = await sql(
        dsn,
        f"SELECT count(*) AS n FROM {table} WHERE (time_hour AT TIME ZONE '{NY}') >= '{lo}' "
        f"AND (time_hour AT TIME ZONE '{NY}') < '{hi}'",
    )
    return int(rows[0]["n"])


async def test_compare_month_to_date_windows_in_the_zone(nycflights_dsn: str) -> None:
    current = await _count_ny(nycflights_dsn, "flights", "2013-03-01", "2013-03-16")
    previous = await _count_ny(nycflights_dsn, "flights", "2013-02-01", "2013-02-16")
    async with mcp_client(nycflights_dsn, time_zone=NY) as client:
        out = await call(
            client,
            "compare_data",
            {
                "table_name": "flights",
                "metric": "count",
                "compare_by": "time",
                "period": "month",
                "as_of": "2013-03-15",
            },
        )
    g1, g2 = out["group1"], out["group2"]
    assert (g1["value"], g2["value"]) == (current, previous)
    # exact windows, start inclusive, end exclusive, with the offset of each date (DST began on 2013-03-10)
    assert (g1["start"], g1["end"]) == ("2013-03-01T00:00:00-05:00", "2013-03-16T00:00:00-04:00")
    assert (g2["start"], g2["end"]) == ("2013-02-01T00:00:00-05:00", "2013-02-16T00:00:00-05:00")
    assert g1["period"] == f"2013-03-01 00:00 to 2013-03-16 00:00 {NY} (start inclusive, end exclusive)"
    assert out["time_zone"] == NY and NY in out["message"] and g1["period"] in out["message"]
    assert out["percent_change"] == pytest.approx(100 * (current - previous) / previous, abs=1e-3)
    assert out["baseline"] == g2["label"] and "Baseline: " + g2["label"] in out["message"]


async def test_compare_week_windows_across_the_fall_back(nycflights_dsn: str) -> None:
    current = await _count_ny(nycflights_dsn, "weather", "2013-10-28", "2013-11-04")
    previous = await _count_ny(nycflights_dsn, "weather", "2013-10-21", "2013-10-28")
    async with mcp_client(nycflights_dsn, time_zone=NY) as client:
        out = await call(
            client,
            "compare_data",
            {"table_name": "weather", "metric": "count", "compare_by": "time", "period": "week", "as_of": "2013-11-03"},
        )
    assert (out["group1"]["value"], out["group2"]["value"]) == (current, previous)
    assert out["group1"]["end"] == "2013-11-04T00:00:00-05:00" and out["group1"]["start"].endswith("-04:00")


# ---------------------------------------------------------------------------------------------------------
# Partial periods
# ---------------------------------------------------------------------------------------------------------


async def regression(dsn: str, query: str, *args: Any) -> dict[str, float]:
    """Least squares of n on x over the rows of `query` (columns x, n), by PostgreSQL's regr_* aggregates."""
    row = (
        await sql(
            dsn,
            f"SELECT regr_slope(n, x) AS slope, regr_r2(n, x) AS r2, avg(n) AS mean, regr_sxx(n, x) AS sxx, "
            f"regr_syy(n, x) AS syy, regr_sxy(n, x) AS sxy, count(*) AS k, max(x) - min(x) AS span "
            f"FROM ({query}) q",
            *args,
        )
    )[0]
    return {k: float(v) for k, v in row.items()}


def expected_direction(fit: dict[str, float], threshold_pct: float = 2.0) -> str:
    """DIRECTION_DEF by hand for 4 points: volatile, stable (small or not significant), else by the slope."""
    ss_res = fit["syy"] - fit["sxy"] ** 2 / fit["sxx"]
    s = math.sqrt(max(ss_res, 0.0) / (fit["k"] - 2))
    if s / abs(fit["mean"]) > 0.5 and fit["r2"] < 0.3:
        return "volatile"
    significant = s == 0 or abs(fit["slope"]) / (s / math.sqrt(fit["sxx"])) >= T_975_DF2
    relative = fit["slope"] * fit["span"] / abs(fit["mean"]) * 100
    if abs(relative) < threshold_pct or not significant:
        return "stable"
    return "increasing" if fit["slope"] > 0 else "decreasing"


async def test_cut_first_and_last_months_are_partial_and_excluded(nycflights_dsn: str) -> None:
    months = await local_counts(nycflights_dsn, "flights", "month", NY, "2013-01-10", "2013-06-16")
    full = await regression(
        nycflights_dsn,
        "SELECT extract(month FROM b)::int - 1 AS x, n FROM (SELECT date_trunc('month', time_hour AT TIME ZONE $1) "
        "AS b, count(*) AS n FROM flights WHERE (time_hour AT TIME ZONE $1) >= '2013-02-01' "
        "AND (time_hour AT TIME ZONE $1) < '2013-06-01' GROUP BY 1) m",
        NY,
    )
    async with mcp_client(nycflights_dsn, time_zone=NY) as client:
        out = await call(
            client,
            "analyze_trends",
            {
                "table_name": "flights",
                "metric": "count",
                "period": "monthly",
                "start_date": "2013-01-10",
                "end_date": "2013-06-15",
            },
        )
        kept = await call(
            client,
            "analyze_trends",
            {
                "table_name": "flights",
                "metric": "count",
                "period": "monthly",
                "start_date": "2013-01-10",
                "end_date": "2013-06-15",
                "partial_periods": "include",
            },
        )
    s = out["series"][0]
    assert list(zip(s["periods"], s["values"], strict=True)) == [(b, float(n)) for b, n in months]
    assert s["partial"] == [True, False, False, False, False, True]
    jan, jun = out["partial_periods"]
    assert (jan["period_start"], jan["days_covered"], jan["days_in_period"]) == ("2013-01-01", 22, 31)
    assert (jun["period_start"], jun["days_covered"], jun["days_in_period"]) == ("2013-06-01", 15, 30)
    assert (jan["covered_from"], jun["covered_to"]) == ("2013-01-10", "2013-06-16")
    assert jan["partial"] and jan["excluded"] and "starts 2013-01-10" in jan["reason"]
    assert s["slope_per_period"] == pytest.approx(full["slope"], abs=1e-6)
    assert s["r_squared"] == pytest.approx(full["r2"], abs=1e-6)
    assert s["growth_rate_pct"] == pytest.approx(full["slope"] / full["mean"] * 100, abs=1e-4)
    assert s["total_change_pct"] == pytest.approx(full["slope"] * 3 / full["mean"] * 100, abs=1e-4)
    assert s["direction"] == expected_direction(full)
    assert not {a["period_start"] for a in s["anomalies"]} & {"2013-01-01", "2013-06-01"}
    ma3, n = s["moving_averages"]["ma_3"], [float(v) for _, v in months]
    assert ma3[2] == pytest.approx((n[1] + n[2]) / 2) and ma3[5] == pytest.approx((n[3] + n[4]) / 2)  # no partial
    assert s["insights"][0].startswith("Partial periods left out of the trend")
    assert "2013-01 (22 of 31 days" in s["insights"][0] and "2013-06 (15 of 30 days" in s["insights"][0]
    assert "Partial periods left out of the statistics" in out["message"]
    # partial_periods='include': still marked, but the fit uses every value
    k = kept["series"][0]
    assert k["partial"] == s["partial"] and not any(p["excluded"] for p in kept["partial_periods"])
    assert k["slope_per_period"] != pytest.approx(s["slope_per_period"])


async def test_week_starting_mid_week_is_partial(nycflights_dsn: str) -> None:
    """2013-03-06 is a Wednesday and 2013-04-30 a Tuesday: 5 of 7 and 2 of 7 days."""
    weeks = await local_counts(nycflights_dsn, "weather", "week", NY, "2013-03-06", "2013-05-01")
    async with mcp_client(nycflights_dsn, time_zone=NY) as client:
        out = await call(
            client,
            "analyze_trends",
            {
                "table_name": "weather",
                "metric": "count",
                "period": "weekly",
                "start_date": "2013-03-06",
                "end_date": "2013-04-30",
            },
        )
    s = out["series"][0]
    assert list(zip(s["periods"], s["values"], strict=True)) == [(b, float(n)) for b, n in weeks]
    cut = [(p["period_start"], p["days_covered"], p["days_in_period"]) for p in out["partial_periods"]]
    assert cut == [("2013-03-04", 5, 7), ("2013-04-29", 2, 7)]
    assert s["partial"][0] and s["partial"][-1] and not any(s["partial"][1:-1])


async def test_the_current_month_on_the_demo_is_partial(demo_dsn: str) -> None:
    today = datetime.now(UTC).date()  # the demo server's time_zone is UTC
    this_month = today.replace(day=1)
    start = date(this_month.year - (this_month.month <= 6), (this_month.month - 7) % 12 + 1, 1)
    full = await regression(
        demo_dsn,
        "SELECT row_number() OVER (ORDER BY m) - 1 AS x, coalesce(n, 0) AS n FROM generate_series($1::timestamp, "
        "$2::timestamp - interval '1 month', interval '1 month') m LEFT JOIN (SELECT date_trunc('month', "
        "created_at AT TIME ZONE 'UTC') AS b, count(*) AS n FROM drops GROUP BY 1) c ON c.b = m",
        datetime.combine(start, datetime.min.time()),
        datetime.combine(this_month, datetime.min.time()),
    )
    async with mcp_client(demo_dsn) as client:
        out = await call(
            client,
            "analyze_trends",
            {"table_name": "drops", "metric": "count", "period": "monthly", "start_date": str(start)},
        )
    s = out["series"][0]
    assert len(s["periods"]) == 7 and s["periods"][-1] == str(this_month)
    assert s["partial"] == [False] * 6 + [True]
    (now,) = out["partial_periods"]
    assert now["days_covered"] == today.day and "in progress" in now["reason"] and now["excluded"]
    assert s["slope_per_period"] == pytest.approx(full["slope"], abs=1e-6)
    if full["mean"]:
        assert s["growth_rate_pct"] == pytest.approx(full["slope"] / full["mean"] * 100, abs=1e-4)
    assert str(this_month) not in {a["period_start"] for a in s["anomalies"]}
    assert out["end_date"] == str(today) and out["time_zone"] == "UTC"


# ---------------------------------------------------------------------------------------------------------
# Conventions stated where a model reads them
# ---------------------------------------------------------------------------------------------------------


async def test_date_only_upper_bound_is_the_whole_day(nycflights_dsn: str) -> None:
    day = "2013-03-15"
    whole_day = (
        await sql(
            nycflights_dsn,
            f"SELECT count(*) AS n, count(*) FILTER (WHERE extract(hour FROM time_hour AT TIME ZONE '{NY}') = 15) "
            f"AS at_15 FROM flights WHERE (time_hour AT TIME ZONE '{NY}')::date = '{day}'",
        )
    )[0]
    upto = (
        await sql(
            nycflights_dsn,
            f"SELECT count(*) AS n FROM flights WHERE time_hour < '2013-03-16 00:00 {NY}'",
        )
    )[0]["n"]
    assert whole_day["at_15"] > 0
    args: dict[str, Any] = {"table_name": "flights", "metric": "count"}
    at_15 = {"column": "hour", "operator": "=", "value": 15}
    async with mcp_client(nycflights_dsn, time_zone=NY) as client:
        between = await call(
            client,
            "calculate_metrics",
            {**args, "filters": [{"column": "time_hour", "operator": "BETWEEN", "value": [day, day]}]},
        )
        afternoon = await call(
            client,
            "calculate_metrics",
            {**args, "filters": [{"column": "time_hour", "operator": "BETWEEN", "value": [day, day]}, at_15]},
        )
        le = await call(
            client, "calculate_metrics", {**args, "filters": [{"column": "time_hour", "operator": "<=", "value": day}]}
        )
        eq = await call(
            client, "calculate_metrics", {**args, "filters": [{"column": "time_hour", "operator": "=", "value": day}]}
        )
        ranked = await call(
            client,
            "rank_entities",
            {
                "table_name": "flights",
                "entity_column": "origin",
                "rank_by": "id",
                "filters": [{"column": "time_hour", "operator": "<=", "value": day}],
            },
        )
    assert between["results"][0][0] == whole_day["n"] == eq["results"][0][0]
    assert afternoon["results"][0][0] == whole_day["at_15"]
    assert le["results"][0][0] == upto
    assert sum(r["value"] for r in ranked["ranking"]) == upto
    assert any("includes the whole day" in c for c in between["conventions"])
    assert any("includes the whole day" in c for c in le["conventions"] + ranked["conventions"])
    assert any("the whole day" in c for c in eq["conventions"])


async def test_date_only_upper_bound_on_the_demo(demo_dsn: str) -> None:
    """A second database (UTC): created_at <= a date counts that whole day, unlike the raw SQL comparison."""
    row = (
        await sql(
            demo_dsn,
            "SELECT d, (SELECT count(*) FROM drops WHERE created_at < (d + 1)::timestamp AT TIME ZONE 'UTC') AS whole, "
            "(SELECT count(*) FROM drops WHERE created_at <= d::timestamp AT TIME ZONE 'UTC') AS midnight "
            "FROM (SELECT (max(created_at) AT TIME ZONE 'UTC')::date - 30 AS d FROM drops) x",
        )
    )[0]
    assert row["whole"] > row["midnight"]
    async with mcp_client(demo_dsn) as client:
        out = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "drops",
                "metric": "count",
                "filters": [{"column": "created_at", "operator": "<=", "value": str(row["d"])}],
            },
        )
    assert out["results"][0][0] == row["whole"]


async def test_not_equal_and_not_in_exclude_nulls_and_say_so(nycflights_dsn: str, chinook_dsn: str) -> None:
    flights = (
        await sql(
            nycflights_dsn,
            "SELECT count(*) FILTER (WHERE tailnum <> 'N725MQ') AS ne, count(*) FILTER (WHERE tailnum IS NULL) "
            "AS nulls, count(*) FILTER (WHERE NOT (tailnum = ANY (ARRAY['N725MQ', 'N10156']))) AS not_in FROM flights",
        )
    )[0]
    assert flights["nulls"] > 0
    chinook = (
        await sql(
            chinook_dsn,
            "SELECT count(*) FILTER (WHERE billing_state <> 'CA') AS ne, count(*) FILTER (WHERE billing_state IS NULL)"
            " AS nulls FROM invoice",
        )
    )[0]
    assert chinook["nulls"] > 0
    async with mcp_client(nycflights_dsn) as client:
        ne = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "flights",
                "metric": "count",
                "filters": [{"column": "tailnum", "operator": "!=", "value": "N725MQ"}],
            },
        )
        not_in = await call(
            client,
            "compare_data",
            {
                "table_name": "flights",
                "metric": "count",
                "group1": {
                    "label": "others",
                    "filters": [{"column": "tailnum", "operator": "NOT IN", "value": ["N725MQ", "N10156"]}],
                },
                "group2": {"label": "all", "filters": []},
            },
        )
    async with mcp_client(chinook_dsn) as client:
        states = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "invoice",
                "metric": "count",
                "filters": [{"column": "billing_state", "operator": "<>", "value": "CA"}],
            },
        )
    assert ne["results"][0][0] == flights["ne"] and not_in["group1"]["value"] == flights["not_in"]
    assert states["results"][0][0] == chinook["ne"]
    for out in (ne, not_in, states):
        assert any("is NULL are excluded" in c for c in out["conventions"])


async def test_percentiles_are_continuous_and_stated(nycflights_dsn: str, chinook_dsn: str) -> None:
    want = (
        await sql(
            nycflights_dsn,
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY arr_delay) AS cont, "
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY air_time) AS p90 FROM flights WHERE origin = 'LGA'",
        )
    )[0]
    invoice = (
        await sql(chinook_dsn, "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY total) AS p95 FROM invoice")
    )[0]
    async with mcp_client(nycflights_dsn) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        median = await call(
            client,
            "calculate_metrics",
            {
                "table_name": "flights",
                "metric": "median",
                "column": "arr_delay",
                "filters": [{"column": "origin", "operator": "=", "value": "LGA"}],
            },
        )
        p90 = await call(
            client,
            "compare_data",
            {
                "table_name": "flights",
                "metric": "p90",
                "column": "air_time",
                "group1": {"label": "LGA", "filters": [{"column": "origin", "operator": "=", "value": "LGA"}]},
                "group2": {"label": "all", "filters": []},
            },
        )
    async with mcp_client(chinook_dsn) as client:
        p95 = await call(client, "calculate_metrics", {"table_name": "invoice", "metric": "p95", "column": "total"})
    assert num(median["results"][0][0]) == pytest.approx(want["cont"])
    assert num(p90["group1"]["value"]) == pytest.approx(want["p90"])
    assert num(p95["results"][0][0]) == pytest.approx(float(invoice["p95"]))
    for out in (median, p90, p95):
        assert any("percentile_cont" in c for c in out["conventions"])
    for name in ("calculate_metrics", "compare_data", "analyze_trends"):
        assert "percentile_cont" in str(tools[name].input_schema["properties"]["metric"])


async def test_compare_baseline_in_schema_and_answer(nycflights_dsn: str) -> None:
    rows = await sql(
        nycflights_dsn,
        "SELECT avg(dep_delay) FILTER (WHERE origin = 'JFK')::float8 AS jfk, "
        "avg(dep_delay) FILTER (WHERE origin = 'EWR')::float8 AS ewr FROM flights",
    )
    jfk, ewr = rows[0]["jfk"], rows[0]["ewr"]
    async with mcp_client(nycflights_dsn) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        out = await call(
            client,
            "compare_data",
            {
                "table_name": "flights",
                "metric": "avg",
                "column": "dep_delay",
                "group1": {"label": "JFK", "filters": [{"column": "origin", "operator": "=", "value": "JFK"}]},
                "group2": {"label": "EWR", "filters": [{"column": "origin", "operator": "=", "value": "EWR"}]},
            },
        )
    assert out["percent_change"] == pytest.approx(100 * (jfk - ewr) / abs(ewr), abs=1e-3)
    assert out["baseline"] == "EWR"
    assert any("(group1 - group2) / |group2|" in c and "'EWR'" in c for c in out["conventions"])
    schema = tools["compare_data"]
    assert "(group1 - group2) / |group2|" in (schema.description or "")
    # the output schema lists the fields every answer carries; percent_change (null without a baseline) is in
    # each answer, with its convention
    assert "insight" in schema.output_schema["properties"]  # type: ignore[index]


def test_partial_buckets_by_hand() -> None:
    """compute.periods.partial_buckets on hand-counted calendars (no database)."""
    from vf_mcp.compute.periods import partial_buckets

    months = [date(2024, m, 1) for m in (1, 2, 3)]
    cut = partial_buckets(months, "month", date(2024, 1, 10), date(2024, 3, 31), today=date(2026, 1, 1))
    assert [(c.index, c.days_covered, c.days_in_period) for c in cut] == [(0, 22, 31)]  # February 2024: 29 days
    now = partial_buckets(months, "month", date(2024, 1, 1), date(2024, 3, 31), today=date(2024, 2, 29))
    assert [(c.index, c.days_covered, c.reason) for c in now] == [
        (1, 29, "in progress (today is 2024-02-29)"),
        (2, 0, "not started yet"),
    ]
    days = [date(2024, 5, d) for d in (1, 2)]
    assert partial_buckets(days, "day", date(2024, 5, 1), date(2024, 5, 2), today=date(2024, 6, 1)) == []
    (today,) = partial_buckets(days, "day", date(2024, 5, 1), date(2024, 5, 2), today=date(2024, 5, 2))
    assert (today.index, today.days_covered, today.days_in_period) == (1, 1, 1)
    (last,) = partial_buckets(
        [date(9999, 12, 1)], "month", date(9999, 12, 1), date(9999, 12, 30), today=date(9999, 12, 31)
    )
    assert (last.days_covered, last.days_in_period, last.reason) == (30, 31, "the span ends 9999-12-30")
    (future,) = partial_buckets([date(9999, 12, 1)], "month", date(9999, 12, 1), date(9999, 12, 30), date(2026, 1, 1))
    assert (future.days_covered, future.reason) == (0, "not started yet")
