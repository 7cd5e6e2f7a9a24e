"""recommend_indexes' gain estimate on MariaDB (no hypothetical indexes there): the rows EXPLAIN says the query
reads from the table today versus keyed rows / distinct values of the candidate's equality columns, both
compared with hand-written SQL on a separate admin connection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import call, mcp_client
from tests.mysql_server import MariaDb, admin_sql

pytestmark = pytest.mark.anyio


async def explained_rows(server: MariaDb, sql: str, alias: str) -> float:
    """EXPLAIN FORMAT=JSON's expected rows for one table access of `sql`, read by hand."""
    (row,) = await admin_sql(server, f"EXPLAIN FORMAT=JSON {sql}", "chinook")

    def walk(node: Any) -> list[float]:
        if isinstance(node, dict):
            found = [float(node["rows"])] if node.get("table_name") == alias and "rows" in node else []
            return found + [r for v in node.values() for r in walk(v)]
        if isinstance(node, list):
            return [r for v in node for r in walk(v)]
        return []

    (rows,) = walk(json.loads(row[0]))
    return rows


async def test_gain_is_rows_per_value_against_explain(chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    by_composer = "SELECT * FROM Track WHERE Composer = 'AC/DC' AND Milliseconds > 1000"
    by_city = "SELECT i.Total FROM Invoice i WHERE i.BillingCity = 'Paris'"
    joined = (
        "SELECT il.Quantity FROM InvoiceLine il JOIN Invoice i ON i.InvoiceId = il.InvoiceId "
        "WHERE i.BillingCity = 'Paris' AND il.UnitPrice = 0.99"
    )
    range_only = "SELECT * FROM Track WHERE Bytes > 5000000"
    async with mcp_client(chinook_mysql_dsn) as client:
        out = await call(client, "recommend_indexes", {"queries": [by_composer, by_city, range_only, joined]})
    got = {(c["table"], tuple(c["columns"])): c["gain"] for c in out["create"]}
    assert "estimate" in out["message"]

    composer = got[("Track", ("Composer", "Milliseconds"))]
    ((keyed, distinct),) = await admin_sql(
        mariadb, "SELECT COUNT(Composer), COUNT(DISTINCT Composer) FROM Track", "chinook"
    )
    before = await explained_rows(mariadb, by_composer, "Track")
    assert composer["method"] == "statistics"
    assert composer["rows_read_before"] == before
    assert composer["rows_read_after"] == round(keyed / distinct, 1)
    assert composer["improvement_pct"] == round(100.0 * (before - keyed / distinct) / before, 1)
    assert "Composer" in composer["note"] and "at most" in composer["note"]  # the range narrows it further

    city = got[("Invoice", ("BillingCity",))]
    ((keyed, distinct),) = await admin_sql(
        mariadb, "SELECT COUNT(BillingCity), COUNT(DISTINCT BillingCity) FROM Invoice", "chinook"
    )
    assert city["rows_read_before"] == await explained_rows(mariadb, by_city, "i")  # the plan names the alias
    assert city["rows_read_after"] == round(keyed / distinct, 1) and city["rows_read_after"] < city["rows_read_before"]

    by_bytes = got[("Track", ("Bytes",))]
    assert by_bytes["rows_read_before"] == await explained_rows(mariadb, range_only, "Track")
    assert by_bytes.get("rows_read_after") is None and "range or join filter alone" in by_bytes["note"]

    # joined: Invoice is reached through its primary key (one row per probe): the join column is not a constant
    inner = got[("Invoice", ("BillingCity", "InvoiceId"))]
    assert inner["rows_read_before"] == await explained_rows(mariadb, joined, "i") == 1.0
    assert inner["rows_read_after"] == city["rows_read_after"] and inner["improvement_pct"] == 0.0
    assert "no gain per access" in inner["note"]
