"""The VelocityFibre demo database: sizes, shape, determinism, scaling and the planted defects."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from vf_mcp.demo.generator import PLANTED_DEFECTS, SCALE1_ROW_COUNTS, DemoSummary, load_demo
from vf_mcp.demo.spec import SAST, demo_today

PHONE_OK = r"^(\+27 \d{2} \d{3} \d{4}|0\d{2} \d{3} \d{4})$"
EMAIL_OK = r"^[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$"
EXPECTED_TABLES = 89
REQUIRED_COUNTS = {
    "onemap_properties": 32_564,
    "nokia_velocity": 20_112,
    "sow_onemap_mapping": 4_571,
    "fibre_segments": 681,
    "staff": 43,
    "contractors": 18,
}
BASE_TABLES_SQL = """
SELECT c.oid::regclass::text AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
 ORDER BY 1
"""


def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(go())


def value(dsn: str, sql: str) -> Any:
    return fetch(dsn, sql)[0][0]


def load(dsn: str, **kwargs: Any) -> DemoSummary:
    async def go() -> DemoSummary:
        conn = await asyncpg.connect(dsn)
        try:
            return await load_demo(conn, **kwargs)
        finally:
            await conn.close()

    return asyncio.run(go())


def actual_counts(dsn: str) -> dict[str, int]:
    names = [r["name"] for r in fetch(dsn, BASE_TABLES_SQL)]
    union = " UNION ALL ".join(f"SELECT '{n}' AS name, count(*) AS n FROM {n}" for n in names)
    return {r["name"]: r["n"] for r in fetch(dsn, union)}


def fingerprint(dsn: str, table: str, order: str = "id") -> str:
    return str(value(dsn, f"SELECT md5(string_agg(t::text, ',' ORDER BY {order})) FROM {table} t"))


FINGERPRINTED = {
    "drops": "id",
    "onemap_properties": "id",
    "nokia_velocity": "id",
    "staff": "id",
    "finance.invoices": "id",
    "ops.vehicle_gps_log": "t::text",
}


# --- size and shape ----------------------------------------------------------------------------------


def test_every_table_has_the_documented_row_count(demo_dsn: str) -> None:
    assert actual_counts(demo_dsn) == dict(SCALE1_ROW_COUNTS)


def test_table_count_schemas_and_total(demo_dsn: str) -> None:
    names = [r["name"] for r in fetch(demo_dsn, BASE_TABLES_SQL)]
    assert len(names) == EXPECTED_TABLES
    assert 85 <= len(names) <= 95
    schemas = {n.split(".")[0] if "." in n else "public" for n in names}
    assert schemas == {"public", "ops", "finance"}
    assert 58_000 <= sum(SCALE1_ROW_COUNTS.values()) <= 61_000


def test_required_tables_have_exact_counts(demo_dsn: str) -> None:
    counts = actual_counts(demo_dsn)
    for table, n in REQUIRED_COUNTS.items():
        assert counts[table] == n, table
    assert counts["drops"] > 0 and counts["projects"] > 0 and counts["clients"] > 0
    assert counts["meetings"] > 0 and counts["equipment"] > 0


def test_catalog_features(demo_dsn: str) -> None:
    assert value(demo_dsn, "SELECT count(*) FROM pg_type WHERE typname = 'drop_status' AND typtype = 'e'") == 1
    views = {
        r[0]
        for r in fetch(
            demo_dsn,
            "SELECT schemaname || '.' || viewname FROM pg_views WHERE schemaname IN ('public', 'ops', 'finance')",
        )
    }
    assert {"public.contractor_performance", "public.monthly_drop_summary"} <= views
    assert value(demo_dsn, "SELECT count(*) FROM contractor_performance") == 18
    fks = fetch(
        demo_dsn,
        "SELECT conrelid::regclass::text AS t, pg_get_constraintdef(oid) AS d FROM pg_constraint WHERE contype = 'f'",
    )
    assert len(fks) > 100
    assert any(r["t"] == "drops" and "(contractor_id) REFERENCES contractors(id)" in r["d"] for r in fks)
    # The orphan columns deliberately have no foreign key.
    assert not any(r["t"] in ("nokia_velocity", "sow_onemap_mapping") and "(property_id)" in r["d"] for r in fks)
    no_pk = value(
        demo_dsn,
        """
        SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND n.nspname IN ('public', 'ops', 'finance')
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')""",
    )
    assert no_pk == 1  # ops.vehicle_gps_log
    assert value(demo_dsn, "SELECT obj_description('drops'::regclass, 'pg_class')") is not None
    assert value(demo_dsn, "SELECT count(*) FROM pg_stats WHERE tablename = 'onemap_properties'") > 0


def test_drops_history_and_distributions(demo_dsn: str) -> None:
    row = fetch(
        demo_dsn,
        """
        SELECT min(created_at) AS first, max(created_at) AS last, max(completed_at) AS last_done,
               age(max(created_at), min(created_at)) >= interval '18 months' AS long_enough
          FROM drops""",
    )[0]
    assert row["long_enough"]
    # The demo is today's company: its newest drops are from its anchor day (the day it was made), and
    # nothing happened after 17:00 SAST that day.
    anchor = value(demo_dsn, "SELECT max(report_date) + 1 FROM ops.daily_reports")
    assert anchor in (demo_today(), demo_today() - timedelta(days=1))  # made today (or just before midnight)
    close_of_day = datetime.combine(anchor, time(17), SAST)
    assert close_of_day - timedelta(days=1) < row["last"] < close_of_day
    assert row["last_done"] <= close_of_day
    statuses = {r[0]: r[1] for r in fetch(demo_dsn, "SELECT status::text, count(*) FROM drops GROUP BY 1")}
    assert set(statuses) == {"completed", "in_progress", "scheduled", "failed", "cancelled"}
    assert statuses["completed"] > 0.7 * sum(statuses.values())
    top3 = value(
        demo_dsn,
        """
        SELECT sum(n) FROM (SELECT count(*) AS n FROM drops GROUP BY contractor_id ORDER BY 1 DESC LIMIT 3) t""",
    )
    assert top3 > 0.5 * SCALE1_ROW_COUNTS["drops"]  # a few contractors do most drops
    assert value(demo_dsn, "SELECT count(*) FROM drops WHERE started_at < created_at OR completed_at < started_at") == 0


# --- planted defects ---------------------------------------------------------------------------------

DEFECT_SQL = {
    "drops: status='completed' AND completed_at IS NULL":
        "SELECT count(*) FROM drops WHERE status = 'completed' AND completed_at IS NULL",
    "drops: completion_hours IS NULL (exactly the rows with completed_at NULL)":
        "SELECT count(*) FROM drops WHERE completion_hours IS NULL AND completed_at IS NULL",
    "onemap_properties: latitude IS NULL AND longitude IS NULL":
        "SELECT count(*) FROM onemap_properties WHERE latitude IS NULL AND longitude IS NULL",
    "onemap_properties: stand_number IS NULL": "SELECT count(*) FROM onemap_properties WHERE stand_number IS NULL",
    "staff: phone IS NULL": "SELECT count(*) FROM staff WHERE phone IS NULL",
    "clients: phone IS NULL": "SELECT count(*) FROM clients WHERE phone IS NULL",
    "clients: email IS NULL": "SELECT count(*) FROM clients WHERE email IS NULL",
    "contractors: phone IS NULL": "SELECT count(*) FROM contractors WHERE phone IS NULL",
    "nokia_velocity: rows identical to another row in every column but id": """
        SELECT count(*) - count(DISTINCT (property_id, ont_serial, olt_port_id, ont_index, ont_model,
               firmware_version, rx_power_dbm, tx_power_dbm, olt_rx_power_dbm, distance_m, oper_status,
               last_seen_at, created_at)) FROM nokia_velocity""",
    "ops.vehicle_gps_log: exact duplicate rows (table has no key)":
        "SELECT count(*) - count(DISTINCT t) FROM ops.vehicle_gps_log t",
    "nokia_velocity: property_id not in onemap_properties": """
        SELECT count(*) FROM nokia_velocity v
         WHERE NOT EXISTS (SELECT 1 FROM onemap_properties p WHERE p.id = v.property_id)""",
    "sow_onemap_mapping: property_id not in onemap_properties": """
        SELECT count(*) FROM sow_onemap_mapping s
         WHERE NOT EXISTS (SELECT 1 FROM onemap_properties p WHERE p.id = s.property_id)""",
    "staff: malformed email": f"SELECT count(*) FROM staff WHERE email !~* '{EMAIL_OK}'",
    "staff: malformed phone": f"SELECT count(*) FROM staff WHERE phone !~ '{PHONE_OK}'",
    "clients: malformed email": f"SELECT count(*) FROM clients WHERE email !~* '{EMAIL_OK}'",
    "clients: malformed phone": f"SELECT count(*) FROM clients WHERE phone !~ '{PHONE_OK}'",
    "contractors: status = 'Active' (the others are lower case)":
        "SELECT count(*) FROM contractors WHERE status = 'Active'",
}  # fmt: skip


def test_every_planted_defect_is_checked() -> None:
    assert set(DEFECT_SQL) == set(PLANTED_DEFECTS)


@pytest.mark.parametrize("defect", sorted(DEFECT_SQL))
def test_planted_defect_counts(demo_dsn: str, defect: str) -> None:
    assert value(demo_dsn, DEFECT_SQL[defect]) == PLANTED_DEFECTS[defect]


def test_no_unplanned_defects(demo_dsn: str) -> None:
    # Only staff and clients have malformed contact details; completion_hours is NULL exactly with completed_at.
    for table in ("contractors", "client_contacts", "contractor_contacts", "ops.suppliers"):
        assert (
            value(demo_dsn, f"SELECT count(*) FROM {table} WHERE phone !~ '{PHONE_OK}' OR email !~* '{EMAIL_OK}'") == 0
        ), table
    assert value(demo_dsn, "SELECT count(*) FROM drops WHERE (completion_hours IS NULL) <> (completed_at IS NULL)") == 0
    assert value(demo_dsn, "SELECT count(DISTINCT status) FROM contractors WHERE lower(status) = 'active'") == 2


# --- determinism and scale ---------------------------------------------------------------------------


def test_same_seed_gives_identical_data(pg: Any, demo_dsn: str) -> None:
    again = pg.create_database("vf_demo_again")
    load(again, scale=1, anchor=value(demo_dsn, "SELECT max(report_date) + 1 FROM ops.daily_reports"))
    for table, order in FINGERPRINTED.items():
        assert fingerprint(again, table, order) == fingerprint(demo_dsn, table, order), table


def test_other_seed_gives_other_data(pg: Any, demo_dsn: str) -> None:
    other = pg.create_database("vf_demo_other_seed")
    summary = load(other, scale=1, seed=7)
    assert summary.tables == EXPECTED_TABLES
    assert summary.rows == sum(SCALE1_ROW_COUNTS.values())
    assert dict(summary.row_counts) == dict(SCALE1_ROW_COUNTS)
    with pytest.raises(AttributeError):
        summary.rows = 0  # type: ignore[misc]
    assert fingerprint(other, "drops") != fingerprint(demo_dsn, "drops")
    assert value(other, "SELECT count(*) FROM staff") == 43


def test_scale_two_doubles_big_tables_only(pg: Any) -> None:
    dsn = pg.create_database("vf_demo_scale2")
    summary = load(dsn, scale=2)
    counts = actual_counts(dsn)
    assert counts == dict(summary.row_counts)
    for table in ("onemap_properties", "nokia_velocity", "sow_onemap_mapping", "drops"):
        assert counts[table] == 2 * SCALE1_ROW_COUNTS[table], table
    for table in ("staff", "contractors", "regions", "projects", "ops.vehicles"):
        assert counts[table] == SCALE1_ROW_COUNTS[table], table
    # Planted defects in scaled tables scale too.
    key = "nokia_velocity: property_id not in onemap_properties"
    assert value(dsn, DEFECT_SQL[key]) == 2 * PLANTED_DEFECTS[key]


def test_rejects_bad_scale() -> None:
    async def go() -> None:
        await load_demo(None, scale=0)  # type: ignore[arg-type]

    with pytest.raises(ValueError):
        asyncio.run(go())
