"""compare_schemas and validate_migration on two real databases with planted differences.

The source is a small fibre-network schema (enum, sequence, FKs, an index, a view on a view, an identity
column, a table without a primary key, 20,000 drops); the target is its "migration" with these differences,
all written by hand below and asserted exactly:

* schema: drops.length_m is integer (numeric(10,2) in the source), installations.notes is missing,
  crews was renamed teams (crew_name -> team_name), an extra index drops_status_idx;
* data: 17 drops missing, 3 drops changed (one value each), 2 extra drops at the end.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from conftest import PgCluster
from helpers import call, call_error, sql
from mcp import Client
from pydantic import SecretStr

from vf_mcp.compute.schema_diff import (
    Column,
    Enum,
    Snapshot,
    Table,
    TablePair,
    View,
    default_table_pairs,
    pair_table,
    plan_migration,
    render_script,
    type_change_risk,
)
from vf_mcp.db.migration_check import CheckOptions, TableCheck, check_tables
from vf_mcp.db.pool import Database, StatementCounter
from vf_mcp.db.schema_snapshot import load_snapshot
from vf_mcp.server import build_server
from vf_mcp.settings import Settings, Source

pytestmark = pytest.mark.anyio

MISSING = [1, 2, 999, 1000, 1001, 4321, 7777, 9999, 10000, 10001, 13000, 14999, 15000, 15001, 17500, 19998, 19999]
CHANGED = [5000, 12346, 20000]
EXTRA = [20001, 25000]


def schema_sql(*, target: bool) -> str:
    """The source schema and data, or the migrated target's (same generator, planted differences)."""
    length_type = "integer" if target else "numeric(10,2)"
    notes_col = "" if target else ",\n  notes text"
    crews, crew_name = ("teams", "team_name") if target else ("crews", "crew_name")
    notes_value = "" if target else ", CASE WHEN g % 4 = 0 THEN 'note ' || g END"
    notes_insert = "" if target else ", notes"
    text = f"""
CREATE TYPE drop_status AS ENUM ('planned', 'installed', 'tested');
CREATE SEQUENCE ticket_seq START 1000;
CREATE TABLE poles (id int PRIMARY KEY, code text NOT NULL UNIQUE, height_m numeric(5,2));
CREATE TABLE drops (
  id int PRIMARY KEY,
  pole_id int NOT NULL REFERENCES poles(id),
  status drop_status NOT NULL DEFAULT 'planned',
  length_m {length_type},
  installed_on date,
  ticket bigint NOT NULL DEFAULT nextval('ticket_seq'));
CREATE INDEX drops_pole_idx ON drops (pole_id);
CREATE TABLE installations (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  drop_id int NOT NULL REFERENCES drops(id),
  installed_at timestamptz NOT NULL{notes_col});
CREATE TABLE {crews} (id int PRIMARY KEY, {crew_name} text NOT NULL, region text);
CREATE TABLE audit_log (at timestamptz NOT NULL, message text);
CREATE VIEW drop_summary AS
  SELECT p.code, count(*) AS drops, sum(d.length_m) AS total_length_m
  FROM drops d JOIN poles p ON p.id = d.pole_id GROUP BY p.code;
CREATE VIEW busy_poles AS SELECT code, drops FROM drop_summary WHERE drops >= 100;
INSERT INTO poles SELECT g, 'P' || lpad(g::text, 4, '0'), (8 + g % 5)::numeric(5,2) FROM generate_series(1, 200) g;
INSERT INTO drops (id, pole_id, status, length_m, installed_on)
  SELECT g, 1 + g % 200, (ARRAY['planned', 'installed', 'tested']::drop_status[])[1 + g % 3],
         CASE WHEN g % 50 = 0 THEN NULL ELSE (5 + g % 97)::numeric(10,2) END,
         CASE WHEN g % 7 = 0 THEN NULL ELSE date '2024-01-01' + g % 365 END
  FROM generate_series(1, 20000) g;
INSERT INTO installations (drop_id, installed_at{notes_insert})
  SELECT 2001 + g % 1000, timestamptz '2024-03-01 08:00+00' + g * interval '17 minutes'{notes_value}
  FROM generate_series(1, 5000) g;
INSERT INTO {crews} SELECT g, 'crew ' || g, (ARRAY['north', 'south'])[1 + g % 2] FROM generate_series(1, 12) g;
INSERT INTO audit_log SELECT timestamptz '2024-01-01 00:00+00' + g * interval '1 hour', 'event ' || g
  FROM generate_series(1, 300) g;
"""
    if target:
        text += f"""
CREATE INDEX drops_status_idx ON drops (status);
DELETE FROM drops WHERE id IN ({", ".join(map(str, MISSING))});
UPDATE drops SET status = 'planned' WHERE id = 5000;
UPDATE drops SET length_m = length_m + 1 WHERE id = 12346;
UPDATE drops SET installed_on = NULL WHERE id = 20000;
INSERT INTO drops (id, pole_id, status, length_m) VALUES (20001, 7, 'planned', 12), (25000, 8, 'tested', NULL);
"""
    return text + "ANALYZE;"


EXPECTED_DIFFERENCES = {
    ("column", "public.drops.length_m", "changed"),
    ("column", "public.installations.notes", "added"),
    ("index", "public.drops_status_idx", "removed"),
    ("table", "public.crews", "added"),
    ("table", "public.teams", "removed"),
}


@pytest.fixture(scope="module")
def dbs(pg: PgCluster) -> tuple[str, str]:
    return pg.create_database("vf_mig_source", schema_sql(target=False)), pg.create_database(
        "vf_mig_target", schema_sql(target=True)
    )


def db_for(dsn: str, counter: StatementCounter | None = None) -> Database:
    return Database(Settings(dsn=dsn), counter)


async def snapshot_diffs(source: str, target: str) -> tuple[set[tuple[str, str, str]], Any]:
    a, b = db_for(source), db_for(target)
    try:
        s, t = await load_snapshot(a), await load_snapshot(b)
    finally:
        await a.close()
        await b.close()
    plan = plan_migration(s.snapshot, t.snapshot)
    return {(d.kind, d.name, d.change) for d in plan.differences}, (plan, plan_migration(t.snapshot, s.snapshot))


async def run_script(dsn: str, script: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(script)
    finally:
        await conn.close()


# --------------------------------------------------------------------------------------------------
# compare_schemas: db + compute layers


async def test_snapshot_is_one_query_per_kind(dbs: tuple[str, str]) -> None:
    source, _ = dbs
    counter = StatementCounter()
    db = db_for(source, counter)
    try:
        loaded = await load_snapshot(db)
    finally:
        await db.close()
    assert counter.statements == loaded.statements == 11  # search_path, database, 9 object kinds
    snap = loaded.snapshot
    assert {t.qualified for t in snap.tables} == {
        "public.poles",
        "public.drops",
        "public.installations",
        "public.crews",
        "public.audit_log",
    }
    cols = {c.qualified: c for c in snap.columns}
    assert cols["public.drops.length_m"].type == "numeric(10,2)"
    assert cols["public.drops.status"].type == "public.drop_status"  # qualified: search_path is ''
    assert cols["public.drops.status"].default == "'planned'::public.drop_status"
    assert cols["public.drops.ticket"].default == "nextval('public.ticket_seq'::regclass)"
    assert cols["public.installations.id"].identity == "always" and cols["public.installations.id"].default is None
    cons = {c.qualified: c for c in snap.constraints}
    assert cons["public.drops.drops_pole_id_fkey"].definition == "FOREIGN KEY (pole_id) REFERENCES public.poles(id)"
    assert cons["public.drops.drops_pkey"].columns == ("id",)
    assert {(c.qualified, c.type) for c in snap.constraints if c.type in "pu"} >= {
        ("public.poles.poles_pkey", "p"),
        ("public.poles.poles_code_key", "u"),
    }
    assert [i.name for i in snap.indexes] == ["drops_pole_idx"]  # constraint indexes are left out
    views = {v.name: v for v in snap.views}
    assert set(views) == {"drop_summary", "busy_poles"}
    assert views["busy_poles"].depends_on == (("public", "drop_summary"),)
    assert set(views["drop_summary"].depends_on) == {("public", "drops"), ("public", "poles")}
    assert [(e.name, e.labels) for e in snap.enums] == [("drop_status", ("planned", "installed", "tested"))]
    assert [(s.name, s.start, s.owned_by) for s in snap.sequences] == [("ticket_seq", 1000, None)]


async def test_differences_are_exactly_the_planted_ones(dbs: tuple[str, str]) -> None:
    source, target = dbs
    found, (plan, _) = await snapshot_diffs(source, target)
    assert found == EXPECTED_DIFFERENCES
    text = {d.name: d.description for d in plan.differences}
    assert text["public.installations.notes"] == "column public.installations.notes: missing in target"
    assert (
        text["public.drops.length_m"] == "column public.drops.length_m: type numeric(10,2) in source, integer in target"
    )
    assert text["public.teams"] == "table public.teams: only in target"
    assert plan.summary() == {
        "table": {"added": 1, "removed": 1, "changed": 0},
        "column": {"added": 1, "removed": 0, "changed": 1},
        "index": {"added": 0, "removed": 1, "changed": 0},
    }
    destructive = {d.name for d in plan.differences if d.destructive}
    assert destructive == {
        "public.teams",
        "public.drops.length_m",
    }  # a dropped table; int -> numeric(10,2) may overflow


async def test_migration_sql_makes_target_match_and_rollback_restores(pg: PgCluster, dbs: tuple[str, str]) -> None:
    source, _ = dbs
    _, (plan, back) = await snapshot_diffs(source, dbs[1])
    forward = render_script(plan.steps, "forward")
    rollback = render_script(back.steps, "rollback")
    # the script, in dependency order (hand-written expectation of the statements)
    statements = [s.sql for s in plan.steps if s.sql]
    assert statements == [
        'DROP VIEW "public"."busy_poles"',
        'DROP VIEW "public"."drop_summary"',
        'DROP INDEX "public"."drops_status_idx"',
        'DROP TABLE "public"."teams"',
        'CREATE TABLE "public"."crews" (\n  "id" integer NOT NULL,\n  "crew_name" text NOT NULL,\n  "region" text\n)',
        'ALTER TABLE "public"."drops" ALTER COLUMN "length_m" TYPE numeric(10,2) USING "length_m"::numeric(10,2)',
        'ALTER TABLE "public"."installations" ADD COLUMN "notes" text',
        'ALTER TABLE "public"."crews" ADD CONSTRAINT "crews_pkey" PRIMARY KEY (id)',
        statements[8],
        statements[9],
    ]
    assert statements[8].startswith('CREATE VIEW "public"."drop_summary" AS\n')  # re-created before the view on it
    assert statements[9].startswith('CREATE VIEW "public"."busy_poles" AS\n')
    assert "drops public.teams" not in forward and "-- DESTRUCTIVE: drops table public.teams and its rows" in forward
    assert forward.index("BEGIN;") < forward.index("DROP VIEW") and forward.rstrip().endswith("COMMIT;")
    assert any("public.teams" in w for w in plan.warnings)
    assert any("drops column public.installations.notes" in w for w in back.warnings)
    assert any("numeric(10,2) to integer: fractions are rounded" in w for w in back.warnings)

    # applied (as superuser, by the test) to a copy of the target: no differences left
    copy = await pg.acreate_database("vf_mig_target_copy", schema_sql(target=True))
    await run_script(copy, forward)
    found, (again, _) = await snapshot_diffs(source, copy)
    assert found == set() and again.steps == ()
    assert render_script(again.steps, "x").endswith("-- No differences: nothing to do.\n")
    # rows survived the migration: the column kept its 19,985 values
    assert (await sql(copy, "SELECT count(*), count(length_m) FROM drops"))[0][0] == 19_985
    # the rollback brings the original differences back
    await run_script(copy, rollback)
    found, _ = await snapshot_diffs(source, copy)
    assert found == EXPECTED_DIFFERENCES


def test_type_change_risks() -> None:
    assert type_change_risk("integer", "bigint") is None
    assert type_change_risk("bigint", "integer") == "values outside the integer range fail"
    assert type_change_risk("numeric(10,2)", "integer") == "fractions are rounded and values outside the range fail"
    assert type_change_risk("integer", "numeric(12,2)") is None
    assert type_change_risk("integer", "numeric(10,2)") == "values with more than 8 integer digits fail"
    assert type_change_risk("numeric(10,2)", "numeric(12,3)") is None
    assert type_change_risk("numeric(10,3)", "numeric(10,2)") == "values are rounded to 2 decimal(s)"
    assert type_change_risk("numeric(10,3)", "numeric(8,2)") == (
        "values are rounded to 2 decimal(s); values with more than 6 integer digits fail"
    )
    assert type_change_risk("character varying(20)", "character varying(40)") is None
    assert type_change_risk("text", "character varying(40)") == "values longer than 40 characters fail"
    assert type_change_risk("character varying(40)", "text") is None
    assert type_change_risk("timestamp without time zone", "date") == "the time of day is dropped"


def test_enum_labels_views_and_quoting_in_pure_plans() -> None:
    tbl = Table(schema="odd schema", name='T"1', kind="r")
    col = Column(schema="odd schema", table='T"1', name="x", position=1, type="integer")
    v1 = View(schema="odd schema", name="v1", materialized=False, definition=' SELECT x FROM "odd schema"."T""1" t;')
    v2 = View(schema="odd schema", name="v2", materialized=True, definition="SELECT x FROM v1", depends_on=(v1.key,))
    desired = Snapshot(
        schemas=("odd schema",),
        tables=(tbl,),
        columns=(col,),
        views=(v2, v1),
        enums=(Enum("odd schema", "mood", ("sad", "ok", "happy", "ecstatic")),),
    )
    current = Snapshot(enums=(Enum("odd schema", "mood", ("sad", "happy")),))
    plan = plan_migration(desired, current)
    sqls = [s.sql for s in plan.steps]
    assert sqls == [
        """ALTER TYPE "odd schema"."mood" ADD VALUE 'ok' AFTER 'sad'""",
        """ALTER TYPE "odd schema"."mood" ADD VALUE 'ecstatic' AFTER 'happy'""",
        'CREATE SCHEMA "odd schema"',
        'CREATE TABLE "odd schema"."T""1" (\n  "x" integer\n)',
        'CREATE VIEW "odd schema"."v1" AS\nSELECT x FROM "odd schema"."T""1" t',
        'CREATE MATERIALIZED VIEW "odd schema"."v2" AS\nSELECT x FROM v1',
    ]
    script = render_script(plan.steps, "t")
    assert script.index("ADD VALUE 'ecstatic'") < script.index("BEGIN;")  # new labels commit before use
    back = plan_migration(current, desired)
    assert any("PostgreSQL cannot remove enum labels" in w for w in back.warnings)
    drops = [s.sql for s in back.steps if s.sql.startswith("DROP")]
    assert drops == [
        'DROP MATERIALIZED VIEW "odd schema"."v2"',  # dependents first
        'DROP VIEW "odd schema"."v1"',
        'DROP TABLE "odd schema"."T""1"',
        'DROP SCHEMA "odd schema"',
    ]


# --------------------------------------------------------------------------------------------------
# validate_migration: db + compute layers


async def check(
    source: str,
    target: str,
    *,
    renames: dict[tuple[str, str], tuple[str, str]] | None = None,
    columns: dict[tuple[str, str], dict[str, str]] | None = None,
    only: set[str] | None = None,
    counter: StatementCounter | None = None,
    **options: Any,
) -> dict[str, TableCheck]:
    """Checks of every table pair, by source (or target-only) name."""
    a, b = db_for(source, counter), db_for(target, counter)
    try:
        s, t = await load_snapshot(a), await load_snapshot(b)
        pairs = []
        for x, y in default_table_pairs(s.snapshot, t.snapshot, renames or {}):
            if x is not None and y is not None:
                pair = pair_table(
                    s.snapshot,
                    t.snapshot,
                    x,
                    y,
                    (columns or {}).get(x, {}),
                    source_collation=s.database.default_collation,
                    target_collation=t.database.default_collation,
                )
            else:
                pair = TablePair(source=x, target=y)
            if only is None or pair.name in only:
                pairs.append(pair)
        progress: list[tuple[int, int, str]] = []

        async def report(done: int, total: int, message: str) -> None:
            progress.append((done, total, message))

        found = await check_tables(a, b, pairs, CheckOptions(**options), progress=report)
        assert [p[:2] for p in sorted(progress)] == [(i + 1, len(pairs)) for i in range(len(pairs))]
        return {c.pair.name: c for c in found}
    finally:
        await a.close()
        await b.close()


def keys(samples: Any) -> list[int]:
    return sorted(int(s.key[0]) for s in samples)


@pytest.mark.parametrize("chunk_rows", [10_000, 700])
async def test_validate_finds_exactly_the_planted_rows(dbs: tuple[str, str], chunk_rows: int) -> None:
    source, target = dbs
    found = await check(source, target, chunk_rows=chunk_rows, sample_rows=20)
    assert {n: c.status for n, c in found.items()} == {
        "public.poles": "ok",
        "public.drops": "differs",
        "public.installations": "ok",  # notes is missing in the target: not compared
        "public.audit_log": "ok",
        "public.crews": "missing_in_target",
        "public.teams": "missing_in_source",
    }
    drops = found["public.drops"]
    assert drops.method == "keyed" and drops.counts_exact
    assert (drops.source_rows, drops.target_rows) == (20_000, 20_000 - 17 + 2)
    assert (drops.missing_in_target, drops.extra_in_target, drops.changed) == (17, 2, 3)
    assert keys(drops.missing_samples) == MISSING  # sample_rows=20 >= 17: all of them
    assert keys(drops.extra_samples) == EXTRA
    assert keys(drops.changed_samples) == CHANGED
    names = [p.source for p in drops.pair.columns]
    assert names == ["id", "pole_id", "status", "length_m", "installed_on", "ticket"]
    changes = {
        int(s.key[0]): {n: (a, b) for n, a, b in zip(names, s.source or (), s.target or (), strict=True) if a != b}
        for s in drops.changed_samples
    }
    day = str(date(2024, 1, 1) + timedelta(days=20_000 % 365))
    assert changes == {
        5000: {"status": ("tested", "planned")},
        12346: {"length_m": ("32.00", "33.00")},  # the integer target value cast to numeric(10,2)
        20000: {"installed_on": (day, None)},
    }
    missing_row = next(s for s in drops.missing_samples if s.key == ("999",))
    assert missing_row.source is not None and missing_row.target is None
    assert dict(zip(names, missing_row.source, strict=True))["pole_id"] == str(1 + 999 % 200)
    # ranges are aligned on source keys: only the ranges holding a planted row differ
    differing = sorted({k for k in [*MISSING, *CHANGED] if k <= 20_000} | {20_001})
    if chunk_rows == 700:
        bounds = [min(700 * (k // 700 + (k % 700 > 0)), 20_000) for k in differing[:-1]]
        assert [r.upto and int(r.upto[0]) for r in drops.ranges] == [*sorted(set(bounds)), None][:10]
    else:
        assert [(r.after, r.upto) for r in drops.ranges] == [
            (None, ("10000",)),
            (("10000",), ("20000",)),
            (("20000",), None),
        ]
        assert [(r.missing_in_target, r.extra_in_target, r.changed) for r in drops.ranges] == [
            (9, 0, 1),
            (8, 0, 2),
            (0, 2, 0),
        ]
        assert drops.ranges[0].first_key == ("1",) and drops.ranges[1].last_key == ("20000",)
        # 3 source reads (10,000 + 10,000 + an empty one), 3 target ranges, 2 + 2 + 1 narrowing the ranges (the
        # last has target rows only), 2 fetching sample values, 2 session set-ups
        assert drops.chunks == 3 and drops.statements == 3 + 3 + 5 + 2 + 2
    inst = found["public.installations"]
    assert inst.pair.missing_in_target == ("notes",) and inst.source_rows == inst.target_rows == 5000
    audit = found["public.audit_log"]
    assert audit.method == "unkeyed" and audit.source_rows == 300 and "no primary key" in (audit.note or "")
    assert found["public.crews"].source_rows == 12 and found["public.teams"].target_rows == 12


async def test_validate_with_renamed_table_and_column(dbs: tuple[str, str]) -> None:
    source, target = dbs
    crews = ("public", "crews")
    found = await check(source, target, renames={crews: ("public", "teams")}, only={"public.crews"})
    assert set(found) == {"public.crews"}
    assert found["public.crews"].status == "ok"
    assert found["public.crews"].pair.missing_in_target == ("crew_name",)  # not mapped: not compared
    found = await check(
        source, target, renames={crews: ("public", "teams")}, columns={crews: {"crew_name": "team_name"}}
    )
    assert "public.teams" not in found
    crew = found["public.crews"]
    assert crew.status == "ok" and crew.pair.target_name == "public.teams"
    assert [(p.source, p.target) for p in crew.pair.columns] == [
        ("id", "id"),
        ("crew_name", "team_name"),
        ("region", "region"),
    ]
    assert crew.pair.missing_in_target == () and crew.pair.missing_in_source == ()


async def test_validate_bounds_counts_when_the_narrowing_budget_is_spent(dbs: tuple[str, str]) -> None:
    source, target = dbs
    found = await check(source, target, only={"public.drops"}, chunk_rows=500, max_detailed_chunks=2, sample_rows=3)
    drops = found["public.drops"]
    assert drops.status == "differs" and not drops.counts_exact
    # ranges of 500 keys: 1, 2 (range 1) and 999, 1000 (range 2) are narrowed; then per range max(0, s - t)
    # counts the 13 missing ids in ranges without a changed row... and the changed rows there are not seen
    assert drops.missing_in_target == 17 and drops.extra_in_target == 2
    assert drops.changed == 0  # no changed row among the first two narrowed ranges; the other 3 are unseen
    assert keys(drops.missing_samples) == [1, 2, 999]
    assert [r.missing_in_target for r in drops.ranges[:3]] == [2, 2, None]


EDGE_SOURCE = """
CREATE TABLE readings (region text, seq int, reading int, taken_at timestamptz, PRIMARY KEY (region, seq));
INSERT INTO readings
  SELECT r, g, g * 7 % 101, timestamptz '2024-05-01 00:00+02' + g * interval '1 minute'
  FROM unnest(ARRAY['north', 'South', 'éast', 'west', 'West', 'a b', 'Z']) r, generate_series(1, 400) g;
CREATE TABLE meters (id int PRIMARY KEY, reading int);
INSERT INTO meters SELECT g, g * 3 FROM generate_series(1, 50) g;
"""

EDGE_TARGET = """
CREATE TABLE readings (region text COLLATE "POSIX", seq int, reading int, taken_at timestamptz,
                       PRIMARY KEY (region, seq));
INSERT INTO readings
  SELECT r, g, g * 7 % 101, timestamptz '2024-05-01 00:00+02' + g * interval '1 minute'
  FROM unnest(ARRAY['north', 'South', 'éast', 'west', 'West', 'a b', 'Z']) r, generate_series(1, 400) g;
DELETE FROM readings WHERE (region, seq) IN (('west', 17), ('éast', 400));
UPDATE readings SET reading = reading + 1 WHERE (region, seq) = ('South', 5);
CREATE TABLE meters (id int PRIMARY KEY, reading text);
INSERT INTO meters SELECT g, (g * 3)::text FROM generate_series(1, 50) g;
UPDATE meters SET reading = 'n/a' WHERE id = 3;
"""


@pytest.fixture(scope="module")
def edge_dbs(pg: PgCluster) -> tuple[str, str]:
    return pg.create_database("vf_mig_edge_source", EDGE_SOURCE), pg.create_database("vf_mig_edge_target", EDGE_TARGET)


async def test_composite_text_key_with_other_collation_and_failing_cast(edge_dbs: tuple[str, str]) -> None:
    source, target = edge_dbs
    found = await check(source, target, chunk_rows=300, sample_rows=5)
    readings = found["public.readings"]
    assert readings.pair.key[0].source_collation != readings.pair.key[0].target_collation
    assert 'COLLATE "C"' in (readings.note or "")  # both sides sort the keys byte-wise
    assert (readings.missing_in_target, readings.extra_in_target, readings.changed) == (2, 0, 1)
    assert readings.counts_exact and readings.source_rows == 2800 and readings.target_rows == 2798
    assert sorted(s.key for s in readings.missing_samples) == [("west", "17"), ("éast", "400")]
    assert [s.key for s in readings.changed_samples] == [("South", "5")]
    meters = found["public.meters"]
    # target text 'n/a' does not cast to the source's integer: compared as text, and the one row differs
    assert meters.compared_as_text == ("reading",) and "compared as plain text" in (meters.note or "")
    assert (meters.status, meters.missing_in_target, meters.extra_in_target, meters.changed) == ("differs", 0, 0, 1)
    assert [(s.key, s.source, s.target) for s in meters.changed_samples] == [(("3",), ("3", "9"), ("3", "n/a"))]


# --------------------------------------------------------------------------------------------------
# Through a real MCP client, with two named sources


def two_sources(old: str, new: str) -> Settings:
    return Settings(
        sources=(Source(name="old", dsn=SecretStr(old)), Source(name="new", dsn=SecretStr(new), default=True))
    )


async def test_compare_schemas_tool(dbs: tuple[str, str]) -> None:
    source, target = dbs
    async with Client(build_server(two_sources(source, target))) as client:
        out = await call(client, "compare_schemas", {"source": "old", "target": "new"})
        same = await call(client, "compare_schemas", {"source": "old", "target": "old", "schemas": ["public"]})
        text = await call_error(client, "compare_schemas", {"source": "old", "target": "nope"})
    assert {(d["kind"], d["name"], d["change"]) for d in out["differences"]} == EXPECTED_DIFFERENCES
    assert out["identical"] is False and out["truncated"] is False
    assert out["summary"]["column"] == {"added": 1, "removed": 0, "changed": 1}
    assert 'ALTER TABLE "public"."installations" ADD COLUMN "notes" text;' in out["migration_sql"]
    assert 'ALTER TABLE "public"."installations" DROP COLUMN "notes";' in out["rollback_sql"]
    assert any("drops table public.teams" in w for w in out["warnings"])
    assert out["statements"] == 22
    assert out["message"].startswith("5 difference(s) between 'old' (source) and 'new' (target) in all schemas")
    assert same["identical"] is True and same["differences"] == []
    assert same["message"].startswith("No schema differences between 'old' and 'old' in schema(s) public (5 tables")
    assert "Unknown source 'nope'" in text and "new" in text and "old" in text


async def test_validate_migration_tool(dbs: tuple[str, str]) -> None:
    source, target = dbs
    seen: list[tuple[float, float | None, str | None]] = []

    async def progress(done: float, total: float | None, message: str | None) -> None:
        seen.append((done, total, message))

    mapping = {"tables": {"public.crews": "public.teams"}, "columns": {"crews": {"crew_name": "team_name"}}}
    async with Client(build_server(two_sources(source, target))) as client:
        result = await client.call_tool(
            "validate_migration",
            {"source": "old", "target": "new", "mapping": mapping, "sample_rows": 3},
            progress_callback=progress,
        )
        assert not result.is_error, result.content
        out = result.structured_content
        assert out is not None
        one = await call(client, "validate_migration", {"source": "old", "target": "new", "tables": ["drops"]})
        text = await call_error(client, "validate_migration", {"source": "old", "target": "new", "tables": ["nope"]})
        bad = {"source": "old", "target": "new"}
        typo = await call_error(client, "validate_migration", {**bad, "mapping": {"tabels": {}}})
        unknown = await call_error(client, "validate_migration", {**bad, "mapping": {"tables": {"nope": "teams"}}})
    tables = {t["table"]: t for t in out["tables"]}
    assert {n: t["status"] for n, t in tables.items()} == {
        "public.poles": "ok",
        "public.drops": "differs",
        "public.installations": "ok",
        "public.crews": "ok",
        "public.audit_log": "ok",
    }
    assert out["summary"] == {"ok": 4, "differs": 1}
    drops = tables["public.drops"]
    assert (drops["missing_in_target"], drops["extra_in_target"], drops["changed"]) == (17, 2, 3)
    assert drops["counts_exact"] is True and drops["key"] == ["id"]
    assert [s["key"] for s in drops["samples"]["missing_in_target"]] == [{"id": "1"}, {"id": "2"}, {"id": "999"}]
    assert [s["key"]["id"] for s in drops["samples"]["changed"]] == ["5000", "12346", "20000"]
    assert drops["samples"]["changed"][1]["changes"] == {"length_m": ["32.00", "33.00"]}
    assert drops["retyped_columns"] == [
        "length_m: numeric(10,2) in source, integer in target (compared as numeric(10,2))"
    ]
    assert tables["public.crews"]["target_table"] == "public.teams"
    assert tables["public.installations"]["columns_missing_in_target"] == ["notes"]
    assert tables["public.audit_log"]["method"] == "unkeyed"
    assert "public.drops: 17 missing in target, 2 extra in target, 3 changed" in out["message"]
    assert sorted(d for d, _, _ in seen) == [1, 2, 3, 4, 5] and {t for _, t, _ in seen} == {5}
    assert [t["table"] for t in one["tables"]] == ["public.drops"]
    assert "'nope' is in neither database" in text
    assert "Bad mapping (tabels: Extra inputs are not permitted)" in typo
    assert "mapping names 'nope', which is not a table in the source database" in unknown


# --------------------------------------------------------------------------------------------------
# A million rows: bounded memory (only chunk summaries reach Python) and time

BIG = """
CREATE TABLE events (id bigint PRIMARY KEY, kind int NOT NULL, label text, amount numeric(12,2), at timestamptz);
INSERT INTO events SELECT g, g % 17, 'event ' || (g % 1000), (g % 10007) / 100.0,
                          timestamptz '2020-01-01 00:00+00' + g * interval '1 second'
FROM generate_series(1, 1000000) g;
"""


async def test_validate_a_million_rows(pg: PgCluster) -> None:
    source = await pg.acreate_database("vf_mig_big_source", BIG + "ANALYZE events;")
    admin = await asyncpg.connect(pg.dsn("postgres"))
    try:
        await admin.execute('DROP DATABASE IF EXISTS "vf_mig_big_target" WITH (FORCE)')
        await admin.execute('CREATE DATABASE "vf_mig_big_target" TEMPLATE "vf_mig_big_source"')  # a file copy
        target = pg.dsn("vf_mig_big_target")
        await run_script(
            target,
            "DELETE FROM events WHERE id IN (3, 500000, 999999);\n"
            "UPDATE events SET label = 'x' WHERE id IN (77, 654321);",
        )
        counter = StatementCounter()
        started = time.perf_counter()
        found = await check(source, target, counter=counter)
        elapsed = time.perf_counter() - started
    finally:
        for name in ("vf_mig_big_source", "vf_mig_big_target"):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    events = found["public.events"]
    assert (events.missing_in_target, events.extra_in_target, events.changed) == (3, 0, 2)
    assert keys(events.missing_samples) == [3, 500000, 999999] and keys(events.changed_samples) == [77, 654321]
    assert events.source_rows == 1_000_000 and events.target_rows == 999_997
    # 100 ranges of 10,000 keys + the range after the last key; per range: one source read and one target sum
    # (plus the source's final empty read), 4 differing ranges narrowed (2 each), 2 sample fetches, 2 set-ups
    assert events.chunks == 101 and events.statements == 101 + 101 + 8 + 2 + 2
    print(
        f"\n1M-row validate: {elapsed:.2f} s in all (both snapshots included), the table {events.elapsed_s:.2f} s, "
        f"{events.statements} statements for the table, {counter.statements} in all"
    )
    assert elapsed < 60


def test_names_with_line_breaks_cannot_escape_script_comments() -> None:
    evil = "x\nDROP TABLE important; --"
    current = Snapshot(schemas=("public",), tables=(Table(schema="public", name=evil, kind="r"),))
    script = render_script(plan_migration(Snapshot(schemas=("public",)), current).steps, f"title {evil}")
    lines = script.splitlines()
    assert lines[0] == "-- title x DROP TABLE important; --"
    assert "-- DESTRUCTIVE: drops table public.x DROP TABLE important; -- and its rows" in lines
    # the only other occurrence is inside the quoted identifier of the statement itself: harmless
    assert script.count("DROP TABLE important") == 3
    assert 'DROP TABLE "public"."x\nDROP TABLE important; --";' in script
