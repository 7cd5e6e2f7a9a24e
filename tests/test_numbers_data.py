"""Every number right on public schemas (issue 15): partitions, freshness, ties, NULL entities, key labels,
one JSON type per numeric column, quality checks that agree with get_table_relationships.

Expected values come from hand-written SQL on chinook, nycflights13 (flights partitioned by month, keys on the
parent) and pagila (payment partitioned, keys declared on the partitions only), never from a tool's output.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import DATASETS, PgCluster
from helpers import call, mcp_client, sql

pytestmark = pytest.mark.anyio

PAGILA_ROWS = """
SET session_replication_role = replica;  -- the referenced rentals and staff are not loaded
INSERT INTO public.customer (customer_id, store_id, first_name, last_name, address_id)
SELECT i, 1, 'First' || i, 'Last' || i, 1 FROM generate_series(1, 40) i;
INSERT INTO public.payment (customer_id, staff_id, rental_id, amount, payment_date)
SELECT 1 + i % 40, 1, i, (i % 700) / 100.0 + 0.99,
       timestamptz '2022-01-01 00:00+00' + (i * interval '37 minutes') FROM generate_series(1, 8000) i;
INSERT INTO public.payment (customer_id, staff_id, rental_id, amount, payment_date)
VALUES (39, 1, 9001, 1.00, '2022-06-30 12:00+00'), (40, 1, 9002, 1.00, '2022-06-30 13:00+00');
RESET session_replication_role;
"""


@pytest.fixture(scope="module")
def pagila_rows_dsn(pg: PgCluster) -> str:
    """pagila's schema with 8,002 payments over its monthly partitions; only the partitions are analysed
    (autovacuum never analyses a partitioned parent)."""
    schema = (DATASETS / "pagila" / "pagila-schema.sql").read_text(encoding="utf-8")
    parts = "\n".join(f"ANALYZE public.payment_p2022_{m:02d};" for m in range(1, 8))
    return pg.create_database("vf_numbers_pagila", schema + PAGILA_ROWS + parts + "\nANALYZE public.customer;")


FRESH_SETUP = """
CREATE TABLE invoices_due (id serial PRIMARY KEY, created_at timestamptz NOT NULL, due_date date NOT NULL,
                           note text);
INSERT INTO invoices_due (created_at, due_date, note)
SELECT now() - i * interval '1 day', (now() + (30 + i) * interval '1 day')::date, CASE WHEN i % 3 = 0 THEN 'x' END
FROM generate_series(1, 300) i;
CREATE TABLE genres (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO genres VALUES (1, 'Rock'), (2, 'Jazz'), (3, 'Blues');
CREATE TABLE songs (song_id text PRIMARY KEY, genre_id int, title text, seconds int);
INSERT INTO songs SELECT 's' || i, CASE WHEN i <= 60 THEN 1 + i % 3 WHEN i <= 62 THEN 9 END, 'same', 200
FROM generate_series(1, 70) i;
ANALYZE;
"""


@pytest.fixture(scope="module")
def fresh_dsn(pg: PgCluster) -> str:
    return pg.create_database("vf_numbers_fresh", FRESH_SETUP)


def entry(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(r for r in rows if r["name"] == name)


LEAVES = "SELECT relid FROM pg_partition_tree($1::regclass) WHERE isleaf"


# ---------- partitioned tables ----------


@pytest.fixture(params=[("nycflights_dsn", "flights", "time_hour"), ("pagila_rows_dsn", "payment", "payment_date")])
def partitioned(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """(dsn, partitioned table, its timestamp column), resolved before the test's event loop starts."""
    fixture, table, stamp = request.param
    return request.getfixturevalue(fixture), table, stamp


async def test_partitioned_table_figures_cover_every_partition(partitioned: tuple[str, str, str]) -> None:
    dsn, table, stamp = partitioned
    want = (
        await sql(
            dsn,
            "SELECT sum(greatest(c.reltuples, 0))::bigint AS rows, "
            "sum(pg_total_relation_size(c.oid))::bigint AS bytes, "
            f"count(*) AS parts FROM pg_class c WHERE c.oid IN ({LEAVES})",
            table,
        )
    )[0]
    exact = (await sql(dsn, f"SELECT count(*) AS n, max({stamp}) AS newest, min({stamp}) AS oldest FROM {table}"))[0]
    nulls = (
        await sql(
            dsn,
            "SELECT sum(greatest(c.reltuples, 1) * s.f) / sum(greatest(c.reltuples, 1)) AS f "
            "FROM pg_class c JOIN (SELECT tablename, "
            "avg(null_frac) AS f FROM pg_stats WHERE NOT inherited GROUP BY 1) s ON s.tablename = c.relname "
            f"WHERE c.oid IN ({LEAVES})",
            table,
        )
    )[0]["f"]
    async with mcp_client(dsn) as client:
        overview = await call(client, "get_database_overview")
        listed = await call(client, "list_tables")
        stats = await call(client, "get_table_stats", {"table_name": table, "exact": True})
    t = entry(overview["tables"], table)
    assert t["row_count"] == want["rows"] == exact["n"]
    assert t["size_bytes"] == want["bytes"] and t["partitions"] == want["parts"]
    assert t["last_updated"] == exact["newest"].astimezone(UTC).isoformat() and t["last_updated_column"] == stamp
    assert t["quality_score"] == round(100.0 * (1.0 - float(nulls)), 1)
    assert not [o for o in overview["tables"] if o["name"].startswith(f"{table}_")]  # no partition as a table
    e = entry(listed["tables"], table)
    assert e["row_estimate"] == want["rows"] and len(e["partitions"]) == want["parts"]
    assert not [x for x in listed["tables"] if x["name"].startswith(f"{table}_")]
    assert stats["row_count"] == exact["n"]
    col = next(c for c in stats["columns"] if c["name"] == stamp)
    assert col["min"] == exact["oldest"].astimezone(UTC).isoformat()  # ISO 8601, in the time_zone (UTC)
    assert col["max"] == exact["newest"].astimezone(UTC).isoformat()


# ---------- freshness ----------


async def test_freshness_ignores_due_dates(fresh_dsn: str) -> None:
    want = (await sql(fresh_dsn, "SELECT max(created_at) AS c, max(due_date) AS d FROM invoices_due"))[0]
    assert want["d"] > datetime.now(UTC).date()  # the trap: a due date in the future
    async with mcp_client(fresh_dsn) as client:
        overview = await call(client, "get_database_overview")
    t = entry(overview["tables"], "invoices_due")
    assert t["last_updated_column"] == "created_at"
    assert datetime.fromisoformat(t["last_updated"]) == want["c"]
    assert "due_date" in t["last_updated_basis"]


# ---------- ties at the cut-off and NULL entities ----------


async def test_rank_ties_at_the_cutoff_chinook(chinook_dsn: str) -> None:
    counts = await sql(chinook_dsn, "SELECT customer_id, count(*) AS n FROM invoice GROUP BY 1")
    low = sorted(r["n"] for r in counts)
    fifth = low[4]
    tied = sum(1 for r in counts if r["n"] == fifth)
    shown_at = sum(1 for n in low[:5] if n == fifth)
    async with mcp_client(chinook_dsn) as client:
        out = await call(
            client,
            "rank_entities",
            {"table_name": "invoice", "entity_column": "customer_id", "rank_by": "invoice_id", "direction": "bottom",
             "limit": 5},
        )  # fmt: skip
    assert [e["value"] for e in out["ranking"]] == low[:5]
    assert out["tied_at_cutoff"] == tied and out["tied_not_shown"] == tied - shown_at > 0
    assert f"{tied} customer_id values share" in out["message"]
    assert out["label_key"].startswith("declared foreign key")


async def test_metrics_ties_at_the_cutoff_chinook(chinook_dsn: str) -> None:
    per_genre = await sql(chinook_dsn, "SELECT genre_id, count(*) AS n FROM track GROUP BY 1 ORDER BY n, genre_id")
    third = per_genre[2]["n"]
    tied = sum(1 for r in per_genre if r["n"] == third)
    async with mcp_client(chinook_dsn) as client:
        out = await call(
            client,
            "calculate_metrics",
            {"table_name": "track", "metric": "count", "group_by": ["genre_id"], "order_by": "asc", "limit": 3},
        )
    assert [r[1] for r in out["results"]] == [r["n"] for r in per_genre[:3]]
    assert out["tied_at_cutoff"] == tied
    assert out["tied_not_shown"] == tied - sum(1 for r in per_genre[:3] if r["n"] == third)


async def test_null_entities_are_reported_apart_chinook(chinook_dsn: str) -> None:
    ranked = await sql(
        chinook_dsn,
        "SELECT company, count(*) AS n FROM customer WHERE company IS NOT NULL GROUP BY 1 ORDER BY n DESC, company",
    )
    nulls = (await sql(chinook_dsn, "SELECT count(*) AS n, count(*) * 100.0 / (SELECT count(*) FROM customer) AS p "
                                    "FROM customer WHERE company IS NULL"))[0]  # fmt: skip
    async with mcp_client(chinook_dsn) as client:
        out = await call(
            client, "rank_entities", {"table_name": "customer", "entity_column": "company", "rank_by": "customer_id"}
        )
    assert None not in [e["entity"] for e in out["ranking"]]
    assert [e["entity"] for e in out["ranking"]] == [r["company"] for r in ranked][:10]
    assert out["total_entities"] == len(ranked)
    assert out["null_entity"]["records"] == out["null_entity"]["value"] == nulls["n"]
    assert out["null_entity"]["percent_of_total"] == round(float(nulls["p"]), 2)
    assert f"{nulls['n']} row(s) with company NULL are not ranked" in out["message"]


# ---------- foreign-key labels ----------


async def test_labels_follow_keys_on_parents_partitions_and_inferred(
    nycflights_dsn: str, pagila_rows_dsn: str, fresh_dsn: str
) -> None:
    names = {r["carrier"]: r["name"] for r in await sql(nycflights_dsn, "SELECT carrier, name FROM airlines")}
    async with mcp_client(nycflights_dsn) as client:
        out = await call(
            client, "rank_entities", {"table_name": "flights", "entity_column": "carrier", "rank_by": "id"}
        )
    assert out["ranking"] and all(e["label"] == names[e["entity"]] for e in out["ranking"])
    assert "declared" in out["label_key"]

    people = {r["customer_id"]: f"{r['first_name']} {r['last_name']}" for r in await sql(
        pagila_rows_dsn, "SELECT customer_id, first_name, last_name FROM customer")}  # fmt: skip
    async with mcp_client(pagila_rows_dsn) as client:
        out = await call(
            client, "rank_entities", {"table_name": "payment", "entity_column": "customer_id", "rank_by": "amount",
                                      "aggregation": "sum", "limit": 3}
        )  # fmt: skip
    assert all(e["label"] == people[e["entity"]] for e in out["ranking"])
    assert "on a partition" in out["label_key"]

    genres = {r["id"]: r["name"] for r in await sql(fresh_dsn, "SELECT id, name FROM genres")}
    async with mcp_client(fresh_dsn) as client:
        out = await call(
            client, "rank_entities", {"table_name": "songs", "entity_column": "genre_id", "rank_by": "title"}
        )
        rel = await call(client, "get_table_relationships", {"table_name": "songs"})
    edge = next(e for e in rel["edges"] if e["columns"] == ["genre_id"])
    assert edge["kind"] == "inferred"
    assert out["label_key"].startswith("inferred") and f"confidence {edge['confidence']}" in out["label_key"]
    assert {e["entity"]: e["label"] for e in out["ranking"]} == {**genres, 9: None}


# ---------- one JSON type per numeric column ----------


async def test_one_json_type_per_numeric_column_chinook(chinook_dsn: str) -> None:
    query = (
        "SELECT billing_country, avg(total) AS avg_total, sum(total) AS sum_total, round(avg(total), 2) AS r "
        "FROM invoice GROUP BY 1 ORDER BY 1"
    )
    want = await sql(chinook_dsn, query)
    async with mcp_client(chinook_dsn) as client:
        out = await call(client, "run_query", {"sql": query})
        metrics = await call(
            client, "calculate_metrics", {"table_name": "invoice", "metric": "avg", "column": "total",
                                          "group_by": ["billing_country"]}
        )  # fmt: skip
    for j, name in enumerate(["billing_country", "avg_total", "sum_total", "r"]):
        kinds = kinds_of(out["rows"], j)
        assert len(kinds) == 1, (name, kinds)
        if name != "billing_country":
            assert all(Decimal(str(r[j])) == w[name] for r, w in zip(out["rows"], want, strict=True))  # exact
    avg_col = out["columns"][1]
    assert kinds_of(out["rows"], 1) == {"string"} and avg_col["type"] == "numeric (exact decimal strings)"
    assert out["columns"][2]["type"] == "numeric" and kinds_of(out["rows"], 2) == {"number"}
    assert len(kinds_of(metrics["results"], 1)) == 1


def kinds_of(rows: list[list[Any]], j: int) -> set[str]:
    """The JSON types of column j (int and float are both JSON numbers)."""
    return {"number" if type(r[j]) in (int, float) else type(r[j]).__name__.replace("str", "string") for r in rows}


# ---------- quality checks that agree with the other tools ----------


async def test_quality_agrees_with_relationships_and_roles(fresh_dsn: str, chinook_dsn: str) -> None:
    orphans = (await sql(fresh_dsn, "SELECT count(*) AS n FROM songs s WHERE genre_id IS NOT NULL AND NOT EXISTS "
                                    "(SELECT 1 FROM genres g WHERE g.id = s.genre_id)"))[0]["n"]  # fmt: skip
    dups = (await sql(fresh_dsn, "SELECT count(*) - count(DISTINCT (genre_id, title, seconds)) AS n FROM songs"))[0][
        "n"
    ]
    async with mcp_client(fresh_dsn) as client:
        rel = await call(client, "get_table_relationships", {"table_name": "songs"})
        report = await call(client, "check_data_quality", {"table_name": "songs"})
    edge = next(e for e in rel["edges"] if e["columns"] == ["genre_id"])
    findings = report["tables"][0]["findings"]
    ri = next(f for f in findings if f["type"] == "referential_integrity")
    assert ri["affected_rows"] == orphans == edge["orphans"] and f"confidence {edge['confidence']}" in ri["description"]
    dup = next(f for f in findings if f["type"] == "duplicates" and f["column"] is None)
    assert dup["affected_rows"] == dups and "song_id" in dup["description"]  # a text primary key

    nulls = (await sql(chinook_dsn, "SELECT count(*) FILTER (WHERE company IS NULL) AS n FROM customer"))[0]["n"]
    async with mcp_client(chinook_dsn) as client:
        report = await call(client, "check_data_quality", {"table_name": "customer", "checks": ["completeness"]})
    company = next(f for f in report["tables"][0]["findings"] if f["column"] == "company")
    assert company["affected_rows"] == nulls and company["severity"] == "info" and "optional" in company["description"]
    async with mcp_client(chinook_dsn, quality_optional_null_severity="critical") as client:
        report = await call(client, "check_data_quality", {"table_name": "customer", "checks": ["completeness"]})
    assert next(f for f in report["tables"][0]["findings"] if f["column"] == "company")["severity"] == "critical"


async def test_table_stats_timestamps_are_iso(chinook_dsn: str) -> None:
    want = (await sql(chinook_dsn, "SELECT min(invoice_date) AS lo, max(invoice_date) AS hi FROM invoice"))[0]
    async with mcp_client(chinook_dsn) as client:
        stats = await call(client, "get_table_stats", {"table_name": "invoice"})
    col = next(c for c in stats["columns"] if c["name"] == "invoice_date")
    assert col["min"] == want["lo"].isoformat() and col["max"] == want["hi"].isoformat()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:]+", v["value"]) for v in col["most_common"])
    assert timedelta(0) <= want["hi"] - want["lo"]
