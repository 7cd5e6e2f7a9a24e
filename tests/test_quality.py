"""check_data_quality through a real MCP client, on a fixture database with planted defects of known size,
on the demo database (its PLANTED_DEFECTS), and on chinook and pagila."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import PgCluster
from helpers import call, call_error, mcp_client, sql

from vf_mcp.compute import quality as cq
from vf_mcp.demo.generator import PLANTED_DEFECTS

pytestmark = pytest.mark.anyio

# Planted defects (exact counts):
#   customers: 20 NULL emails, 10 NULL phones, 3 malformed emails, 3 unparsable phones (a UK number is fine),
#              2 stray spellings of 'active', 1 date before 1900, 1 date in the future
#   orders:    2 NULL customer_id, 7 orphans of the inferred reference customer_id -> customers.id,
#              4 duplicate rows (ignoring id), 6 repeated order_numbers (4 from the copies + 2 planted),
#              2 negative quantities, 2 rows violating the NOT VALID CHECK (amount > 0)
#   order_items: 3 orphans of a NOT VALID foreign key
#   events_raw: no key, 6 duplicate rows in 5 groups
#   measurements: 5 outliers (10000..14000 among 90..110), newest row 90 days old (stale)
#   shipments: newest row 372 h old (freshness 50)
#   lookup_codes: no timestamp column
#   odd_types: json/point/array/money/enum columns, 1 duplicate row; "Odd ""Name"" Tbl": 1 NULL and 1 bad "E-Mail"
SETUP = r"""
CREATE TABLE customers (
  id serial PRIMARY KEY, name text NOT NULL, email text, phone text, status text NOT NULL,
  signed_up_on date, created_at timestamptz NOT NULL);
INSERT INTO customers (name, email, phone, status, signed_up_on, created_at)
SELECT 'Customer ' || i,
       CASE WHEN i % 50 = 0 THEN NULL WHEN i = 7 THEN 'user7.example.com' WHEN i = 77 THEN 'user77@example'
            WHEN i = 777 THEN 'user 777@example.com' ELSE 'user' || i || '@example.com' END,
       CASE WHEN i % 100 = 5 THEN NULL WHEN i = 11 THEN '+27 82 123 456' WHEN i = 22 THEN '082 12O 4567'
            WHEN i = 33 THEN '+27 0 82 123 4567' WHEN i = 44 THEN '+44 20 7946 0958'
            WHEN i % 2 = 0 THEN '+27 82 ' || lpad((i % 1000)::text, 3, '0') || ' ' || lpad(i::text, 4, '0')
            ELSE '082 ' || lpad((i % 1000)::text, 3, '0') || ' ' || lpad(i::text, 4, '0') END,
       CASE WHEN i IN (100, 200) THEN 'Active' WHEN i % 10 = 3 THEN 'inactive' ELSE 'active' END,
       CASE WHEN i = 500 THEN date '1850-01-01' WHEN i = 501 THEN current_date + 400
            ELSE date '2020-01-01' + i END,
       now() - i * interval '1 minute'
FROM generate_series(1, 1000) i;

CREATE TABLE orders (
  id serial PRIMARY KEY, order_number text NOT NULL, customer_id integer, amount numeric(10, 2),
  quantity integer, created_at timestamptz NOT NULL);
INSERT INTO orders (order_number, customer_id, amount, quantity, created_at)
SELECT CASE WHEN i = 999 THEN 'ORD-1' WHEN i = 1000 THEN 'ORD-2' ELSE 'ORD-' || i END,
       CASE WHEN i IN (600, 601) THEN NULL WHEN i BETWEEN 501 AND 507 THEN 5000 + i ELSE i % 990 + 1 END,
       CASE WHEN i = 700 THEN 0 WHEN i = 701 THEN -5 ELSE i % 50 + 10 END,
       CASE WHEN i IN (3, 4) THEN -1 ELSE i % 10 + 1 END,
       now() - i * interval '1 hour'
FROM generate_series(1, 1000) i;
INSERT INTO orders (order_number, customer_id, amount, quantity, created_at)
SELECT order_number, customer_id, amount, quantity, created_at FROM orders WHERE id BETWEEN 10 AND 13;
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;

CREATE TABLE order_items (id serial PRIMARY KEY, order_id integer NOT NULL, line_no integer NOT NULL,
                          price numeric(8, 2));
INSERT INTO order_items (order_id, line_no, price)
SELECT CASE WHEN i <= 3 THEN 9000 + i ELSE i % 1000 + 1 END, i, 10 + i % 7 FROM generate_series(1, 500) i;
ALTER TABLE order_items ADD CONSTRAINT order_items_order_fk FOREIGN KEY (order_id) REFERENCES orders (id) NOT VALID;

CREATE TABLE events_raw (device text NOT NULL, reading integer, recorded_at timestamptz);
INSERT INTO events_raw
SELECT 'dev-' || (i % 3), i % 17, timestamptz '2026-01-01 00:00+00' + i * interval '1 hour'
FROM generate_series(1, 200) i;
INSERT INTO events_raw
SELECT 'dev-' || (i % 3), i % 17, timestamptz '2026-01-01 00:00+00' + i * interval '1 hour'
FROM (VALUES (1), (2), (3), (4), (5), (1)) v(i);

CREATE TABLE measurements (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, sensor_value double precision,
                           recorded_at timestamptz NOT NULL);
INSERT INTO measurements (sensor_value, recorded_at)
SELECT CASE i WHEN 100 THEN 10000 WHEN 200 THEN 11000 WHEN 300 THEN 12000 WHEN 400 THEN 13000
              WHEN 500 THEN 14000 ELSE 100 + (i % 21) - 10 END,
       now() - interval '90 days' - i * interval '1 minute'
FROM generate_series(1, 1000) i;

CREATE TABLE shipments (id serial PRIMARY KEY, shipped_at timestamptz NOT NULL);
INSERT INTO shipments (shipped_at) SELECT now() - interval '372 hours' - i * interval '1 day'
FROM generate_series(0, 9) i;

CREATE TABLE lookup_codes (code text PRIMARY KEY, label text NOT NULL);
INSERT INTO lookup_codes VALUES ('a', 'Alpha'), ('b', 'Beta');

CREATE TABLE empty_table (id serial PRIMARY KEY, note text);

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE odd_types (j json, jb jsonb, pt point, arr int[], cash money, span interval, flag boolean,
                        feeling mood, reading double precision, tags text[]);
INSERT INTO odd_types SELECT '{"a": 1}', '{"b": 2}', point(1, 2), ARRAY[1, 2], 12.5, interval '1 hour', true, 'ok',
                             'Infinity', ARRAY['x'] FROM generate_series(1, 2);
INSERT INTO odd_types VALUES ('{"a": 2}', '{"b": 3}', point(3, 4), ARRAY[3], -1, interval '2 hours', false, 'happy',
                              'NaN', NULL);

CREATE TABLE "Odd ""Name"" Tbl" ("ID" serial PRIMARY KEY, "E-Mail" text,
                                 "Created At" timestamptz NOT NULL DEFAULT now());
INSERT INTO "Odd ""Name"" Tbl" ("E-Mail") VALUES ('a@b.com'), ('broken'), (NULL);
ANALYZE;
"""


@pytest.fixture(scope="module")
def quality_dsn(pg: PgCluster) -> str:
    return pg.create_database("vf_quality_test", SETUP)


def table(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in report["tables"] if t["table"] == name)


ANY = "*any*"


def findings(t: dict[str, Any], kind: str, column: str | None = ANY) -> list[dict[str, Any]]:
    """Findings of one type; `column` None means table-level findings only."""
    return [f for f in t["findings"] if f["type"] == kind and (column == ANY or f["column"] == column)]


def one(t: dict[str, Any], kind: str, column: str | None = ANY, text: str = "") -> dict[str, Any]:
    got = [f for f in findings(t, kind, column) if text in f["description"]]
    assert len(got) == 1, (kind, column, text, t["findings"])
    return got[0]


async def test_fixture_exact_counts(quality_dsn: str) -> None:
    async with mcp_client(quality_dsn) as client:
        report = await call(client, "check_data_quality")
    assert {t["table"] for t in report["tables"]} == {
        "public.customers", "public.orders", "public.order_items", "public.events_raw",
        "public.measurements", "public.shipments", "public.lookup_codes", "public.empty_table",
        "public.odd_types", 'public.Odd "Name" Tbl',
    }  # fmt: skip
    assert all(t["exact"] for t in report["tables"])
    assert not [f for t in report["tables"] for f in t["findings"] if f["type"] == "error"]

    customers = table(report, "public.customers")
    assert one(customers, "completeness", "email")["affected_rows"] == 20
    assert one(customers, "completeness", "phone")["affected_rows"] == 10
    assert one(customers, "consistency", "email")["affected_rows"] == 3
    phones = one(customers, "consistency", "phone")
    assert phones["affected_rows"] == 3 and "+44" not in phones["description"]
    stray = one(customers, "consistency", "status")
    assert stray["affected_rows"] == 2 and "'Active'" in stray["description"]
    assert one(customers, "consistency", "signed_up_on", "before 1900")["affected_rows"] == 1
    assert one(customers, "consistency", "signed_up_on", "future")["affected_rows"] == 1
    assert not findings(customers, "freshness") and customers["freshness"] == 100.0
    checked = 980 + 990 + 1000 + 1000 + 1000  # email, phone, status, signed_up_on, created_at values
    assert customers["consistency"] == round(100 * (checked - 10) / checked, 1)
    assert customers["completeness"] == round(100 * (1 - 30 / (1000 * 7)), 1)

    orders = table(report, "public.orders")
    assert orders["rows"] == 1004
    assert one(orders, "completeness", "customer_id")["affected_rows"] == 2
    orphan = one(orders, "referential_integrity", "customer_id")
    assert orphan["affected_rows"] == 7 and orphan["severity"] == "warning" and "customers" in orphan["description"]
    assert "FOREIGN KEY" in orphan["recommendation"]
    assert one(orders, "duplicates", None)["affected_rows"] == 4
    assert one(orders, "duplicates", "order_number")["affected_rows"] == 6
    assert one(orders, "consistency", "quantity")["affected_rows"] == 2
    check = one(orders, "consistency", None, "orders_amount_positive")
    assert check["affected_rows"] == 2 and check["severity"] == "critical"
    assert "VALIDATE CONSTRAINT" in check["recommendation"]
    assert not findings(orders, "outliers")

    items = table(report, "public.order_items")
    fk = one(items, "referential_integrity", "order_id")
    assert fk["affected_rows"] == 3 and fk["severity"] == "critical" and "order_items_order_fk" in fk["description"]

    events = table(report, "public.events_raw")
    dup = one(events, "duplicates")
    assert dup["affected_rows"] == 6 and "5 group" in dup["description"]

    meas = table(report, "public.measurements")
    out = one(meas, "outliers", "sensor_value")
    assert out["affected_rows"] == 5 and "10000 to 14000" in out["description"]
    stale = one(meas, "freshness")
    assert stale["severity"] == "warning" and "stale" in stale["description"]
    assert meas["freshness"] == 0.0
    assert meas["score"] == round((0.4 * meas["completeness"] + 0.3 * 0 + 0.3 * meas["consistency"]), 1)

    ship = table(report, "public.shipments")
    assert ship["freshness"] == pytest.approx(50.0, abs=0.2)
    lookup = table(report, "public.lookup_codes")
    assert lookup["freshness"] is None
    assert "no created/updated-like timestamp" in one(lookup, "freshness")["description"]
    assert lookup["score"] == 100.0  # weights renormalised over completeness and consistency
    assert table(report, "public.empty_table")["score"] is None

    # nothing else was flagged for these checks
    assert {(t["table"], f["type"], f["column"]) for t in report["tables"] for f in t["findings"]
            if f["type"] in ("duplicates", "referential_integrity", "outliers")} == {
        ("public.orders", "duplicates", None), ("public.orders", "duplicates", "order_number"),
        ("public.orders", "referential_integrity", "customer_id"),
        ("public.order_items", "referential_integrity", "order_id"),
        ("public.events_raw", "duplicates", None), ("public.measurements", "outliers", "sensor_value"),
        ("public.odd_types", "duplicates", None),
    }  # fmt: skip
    assert one(table(report, "public.odd_types"), "duplicates", None)["affected_rows"] == 1
    odd = table(report, 'public.Odd "Name" Tbl')
    assert one(odd, "completeness", "E-Mail")["affected_rows"] == 1
    assert one(odd, "consistency", "E-Mail")["affected_rows"] == 1

    # overall: the weighted formula over the means of the table components
    tables = report["tables"]
    comp, fresh, cons = (cq.mean(t[k] for t in tables) for k in ("completeness", "freshness", "consistency"))
    assert report["score"] == cq.weighted_score(comp, fresh, cons, (0.4, 0.3, 0.3))
    assert "0.4 x completeness" in report["scoring"]


async def test_counts_match_independent_sql(quality_dsn: str) -> None:
    expected = (
        await sql(
            quality_dsn,
            r"""SELECT
                 (SELECT count(*) FROM customers WHERE email !~ '^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$') AS bad_email,
                 (SELECT count(*) FROM orders o WHERE customer_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = o.customer_id)) AS orphans,
                 (SELECT count(*) - count(DISTINCT (order_number, customer_id, amount, quantity, created_at))
                    FROM orders) AS dups,
                 (SELECT count(*) FROM measurements, (SELECT avg(sensor_value) a, stddev_samp(sensor_value) sd
                    FROM measurements) m WHERE abs(sensor_value - m.a) > 3 * m.sd) AS outliers""",
        )
    )[0]
    async with mcp_client(quality_dsn) as client:
        customers = await call(client, "check_data_quality", {"table_name": "customers"})
        orders = await call(client, "check_data_quality", {"table_name": "orders"})
        meas = await call(client, "check_data_quality", {"table_name": "measurements", "checks": ["outliers"]})
    assert one(customers["tables"][0], "consistency", "email")["affected_rows"] == expected["bad_email"]
    assert one(orders["tables"][0], "referential_integrity")["affected_rows"] == expected["orphans"]
    assert one(orders["tables"][0], "duplicates", None)["affected_rows"] == expected["dups"]
    assert one(meas["tables"][0], "outliers")["affected_rows"] == expected["outliers"] == 5
    # four statements at most per table: main, duplicates, spellings, orphans
    assert orders["statements"] <= 4 and customers["statements"] <= 4


async def test_checks_subset_and_scores(quality_dsn: str) -> None:
    async with mcp_client(quality_dsn) as client:
        out = await call(client, "check_data_quality", {"table_name": "customers", "checks": ["completeness"]})
        text = (await client.call_tool("check_data_quality", {"table_name": "orders"})).content[0].text  # type: ignore[union-attr]
    t = out["tables"][0]
    assert {f["type"] for f in t["findings"]} == {"completeness"}
    assert t["freshness"] is None and t["consistency"] is None and t["score"] == t["completeness"]
    assert out["statements"] == 1
    lines = text.splitlines()
    finding_lines = [ln for ln in lines if ln.startswith("  ")]
    assert len(finding_lines) == 6  # one finding per line
    assert any("critical consistency" in ln and "orders_amount_positive" in ln for ln in finding_lines)


async def test_progress_notifications(quality_dsn: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    async with mcp_client(quality_dsn) as client:
        result = await client.call_tool("check_data_quality", {}, progress_callback=progress)
    assert not result.is_error
    assert len(seen) == 10
    assert [d for d, _, _ in seen] == list(range(1, 11)) and {t for _, t, _ in seen} == {10}
    assert all(m and m.startswith("public.") for _, _, m in seen)


async def test_large_tables_are_sampled(quality_dsn: str) -> None:
    async with mcp_client(quality_dsn, large_table_rows=500, stats_sample_rows=300) as client:
        out = await call(client, "check_data_quality", {"table_name": "orders"})
    t = out["tables"][0]
    assert t["exact"] is False and 0 < t["sample_size"] < 1004 and t["rows"] == 1004
    assert "sampled" in out["message"]


async def test_unknown_table(quality_dsn: str) -> None:
    async with mcp_client(quality_dsn) as client:
        text = await call_error(client, "check_data_quality", {"table_name": "custmers"})
    assert "not found" in text and "customers" in text


async def test_demo_planted_defects(demo_dsn: str) -> None:
    async with mcp_client(demo_dsn) as client:
        report = await call(client, "check_data_quality")
    assert len(report["tables"]) == 89 and report["statements"] <= 4 * 89
    assert not [f for t in report["tables"] for f in t["findings"] if f["type"] == "error"]
    p = PLANTED_DEFECTS
    hours = p["drops: completion_hours IS NULL (exactly the rows with completed_at NULL)"]
    gps = p["onemap_properties: latitude IS NULL AND longitude IS NULL"]
    expected: dict[tuple[str, str, str | None], int] = {
        ("public.drops", "completeness", "completion_hours"): hours,
        ("public.drops", "completeness", "completed_at"): hours,
        ("public.onemap_properties", "completeness", "latitude"): gps,
        ("public.onemap_properties", "completeness", "longitude"): gps,
        ("public.onemap_properties", "completeness", "stand_number"): p["onemap_properties: stand_number IS NULL"],
        ("public.staff", "completeness", "phone"): p["staff: phone IS NULL"],
        ("public.clients", "completeness", "phone"): p["clients: phone IS NULL"],
        ("public.clients", "completeness", "email"): p["clients: email IS NULL"],
        ("public.contractors", "completeness", "phone"): p["contractors: phone IS NULL"],
        ("public.nokia_velocity", "duplicates", None): p[
            "nokia_velocity: rows identical to another row in every column but id"
        ],
        ("ops.vehicle_gps_log", "duplicates", None): p["ops.vehicle_gps_log: exact duplicate rows (table has no key)"],
        ("public.nokia_velocity", "referential_integrity", "property_id"): p[
            "nokia_velocity: property_id not in onemap_properties"
        ],
        ("public.sow_onemap_mapping", "referential_integrity", "property_id"): p[
            "sow_onemap_mapping: property_id not in onemap_properties"
        ],
        ("public.staff", "consistency", "email"): p["staff: malformed email"],
        ("public.staff", "consistency", "phone"): p["staff: malformed phone"],
        ("public.clients", "consistency", "email"): p["clients: malformed email"],
        ("public.clients", "consistency", "phone"): p["clients: malformed phone"],
        ("public.contractors", "consistency", "status"): p[
            "contractors: status = 'Active' (the others are lower case)"
        ],
    }
    got = {key: one(table(report, key[0]), key[1], key[2])["affected_rows"] for key in expected}
    assert got == expected
    # only staff and clients have malformed contact details; only the planted orphans exist
    flagged = {(t["table"], f["column"]) for t in report["tables"] for f in t["findings"]
               if f["type"] == "consistency" and f["column"] in ("email", "phone")}  # fmt: skip
    assert flagged == {("public.staff", "email"), ("public.staff", "phone"),
                       ("public.clients", "email"), ("public.clients", "phone")}  # fmt: skip
    orphans = {t["table"] for t in report["tables"] for f in t["findings"] if f["type"] == "referential_integrity"}
    assert orphans == {"public.nokia_velocity", "public.sow_onemap_mapping"}
    assert 0 < report["score"] <= 100


async def run_cleanly(dsn: str) -> dict[str, Any]:
    async with mcp_client(dsn) as client:
        report = await call(client, "check_data_quality")
    assert report["tables"]
    assert not [f for t in report["tables"] for f in t["findings"] if f["type"] == "error"], json.dumps(report)[:2000]
    for t in report["tables"]:
        for f in t["findings"]:
            assert f["severity"] in ("critical", "warning", "info") and f["recommendation"]
    return report


async def test_chinook_runs_cleanly(chinook_dsn: str) -> None:
    report = await run_cleanly(chinook_dsn)
    assert len(report["tables"]) == 11
    # chinook's playlists really repeat names ('Music', 'Movies', ...): 4 extra rows
    playlists = await sql(chinook_dsn, "SELECT count(*) - count(DISTINCT name) AS n FROM playlist")
    assert one(table(report, "public.playlist"), "duplicates", None)["affected_rows"] == playlists[0]["n"]


async def test_pagila_runs_cleanly(pagila_dsn: str) -> None:
    report = await run_cleanly(pagila_dsn)
    names = {t["table"] for t in report["tables"]}
    assert "public.payment" in names and not any("payment_p20" in n for n in names)  # partitions via the parent


async def test_tools_list_entry_is_small(quality_dsn: str) -> None:
    async with mcp_client(quality_dsn) as client:
        tools = (await client.list_tools()).tools
    entry = next(t for t in tools if t.name == "check_data_quality")
    size = len(json.dumps(entry.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":")))
    assert size < 1600
