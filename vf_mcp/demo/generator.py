"""Create and load the VelocityFibre demo database: 89 tables in three schemas, seeded and deterministic.

    summary = await load_demo(conn, scale=1)   # ~60.3K rows; scale=N multiplies the high-volume tables

The connected database must be empty (no `ops`/`finance` schema, no demo tables). Everything runs
in one transaction: schema, binary COPY of generated rows, then keys, indexes, foreign keys, comments,
views and ANALYZE. The same seed and scale always give the same rows, except for the dates: the data is
generated around a canonical day (spec.ANCHOR) and every date and timestamp is then moved by whole days so
that the company's 'now' is 17:00 SAST on the anchor date (default: today), and `shift_dates` moves an
existing demo database forward the same way. So "this month" and "this week" always have data.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType

import asyncpg

from vf_mcp.demo.spec import Chunk, Ctx, Table, demo_today, shift_days
from vf_mcp.demo.tables import DROPS, POST_SQL, PRE_SQL, TABLES, drop_status_counts, drops_missing_completed_at

__all__ = [
    "DEFAULT_SEED",
    "PLANTED_DEFECTS",
    "SCALE1_ROW_COUNTS",
    "TABLES",
    "DemoSummary",
    "load_demo",
    "shift_dates",
]

log = logging.getLogger(__name__)

DEFAULT_SEED = 20240601
CHUNK_ROWS = 50_000
"""Rows generated per block; part of the determinism contract (random draws happen per block)."""

SCALE1_ROW_COUNTS: Mapping[str, int] = MappingProxyType({t.name: t.rows(1) for t in TABLES})
"""Exact row count of every table at scale 1, keyed like `oid::regclass::text` ('drops', 'ops.tickets')."""

_N_DROPS = DROPS.base_rows
PLANTED_DEFECTS: Mapping[str, int] = MappingProxyType({
    # NULLs
    "drops: status='completed' AND completed_at IS NULL": drops_missing_completed_at(_N_DROPS),
    "drops: completion_hours IS NULL (exactly the rows with completed_at NULL)":
        _N_DROPS - drop_status_counts(_N_DROPS)["completed"] + drops_missing_completed_at(_N_DROPS),
    "onemap_properties: latitude IS NULL AND longitude IS NULL": 160,
    "onemap_properties: stand_number IS NULL": 420,
    "staff: phone IS NULL": 3,
    "clients: phone IS NULL": 2,
    "clients: email IS NULL": 1,
    "contractors: phone IS NULL": 1,
    # duplicates
    "nokia_velocity: rows identical to another row in every column but id": 12,
    "ops.vehicle_gps_log: exact duplicate rows (table has no key)": 3,
    # orphans (no FK declared on these columns)
    "nokia_velocity: property_id not in onemap_properties": 37,
    "sow_onemap_mapping: property_id not in onemap_properties": 9,
    # malformed contact details
    "staff: malformed email": 2,
    "staff: malformed phone": 2,
    "clients: malformed email": 1,
    "clients: malformed phone": 1,
    # stray spelling
    "contractors: status = 'Active' (the others are lower case)": 1,
})  # fmt: skip
"""Defects planted on purpose, with their exact counts at scale 1 (scaled tables: times the scale).

Valid phones match ^(\\+27 \\d{2} \\d{3} \\d{4}|0\\d{2} \\d{3} \\d{4})$; valid emails match
^[a-z0-9._-]+@[a-z0-9-]+(\\.[a-z0-9-]+)+$ (case-insensitive). Only staff and clients have malformed values.
"""


@dataclass(frozen=True)
class DemoSummary:
    """What load_demo created: tables, total rows, rows per table (regclass-style names) and the anchor date."""

    tables: int
    rows: int
    row_counts: Mapping[str, int] = field(repr=False)
    anchor: date


async def load_demo(
    conn: asyncpg.Connection, *, scale: int = 1, seed: int = DEFAULT_SEED, anchor: date | None = None
) -> DemoSummary:
    """Create the demo schema in the connected (empty) database and load it; return what was loaded.

    `anchor` is the company's 'today' (default: today in South Africa): the newest events are on that day.
    """
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    anchor = anchor or demo_today()
    counts = {t.name: t.rows(scale) for t in TABLES}
    ctx = Ctx(seed, scale, counts)
    offset = timedelta(days=shift_days(anchor))
    started = time.perf_counter()
    async with conn.transaction():
        await conn.execute("SET LOCAL synchronous_commit = off; SET LOCAL maintenance_work_mem = '256MB'")
        await conn.execute(PRE_SQL + "\n".join(_create_table(t) for t in TABLES))
        for table in TABLES:
            status = await conn.copy_records_to_table(
                table.bare, schema_name=table.schema, columns=table.column_names, records=_rows(table, ctx, offset)
            )
            loaded = int(re.sub(r"\D", "", status) or -1)
            if loaded != counts[table.name]:
                raise RuntimeError(f"{table.name}: loaded {loaded} rows, expected {counts[table.name]}")
        t_copy = time.perf_counter()
        await conn.execute(_constraints_sql(counts))
        await conn.execute(POST_SQL)
        t_keys = time.perf_counter()
        await conn.execute("ANALYZE " + ", ".join(_qualified(t) for t in TABLES))
    log.debug(
        "demo loaded: %d tables, %d rows (scale %d) in %.1fs (copy %.1fs, keys %.1fs, analyze %.1fs)",
        len(TABLES), sum(counts.values()), scale, time.perf_counter() - started, t_copy - started,
        t_keys - t_copy, time.perf_counter() - t_keys,
    )  # fmt: skip
    return DemoSummary(
        tables=len(TABLES), rows=sum(counts.values()), row_counts=MappingProxyType(counts), anchor=anchor
    )


_DATE_TYPES = ("date", "timestamp", "timestamptz")


async def shift_dates(conn: asyncpg.Connection, days: int) -> list[str]:
    """Move every date and timestamp in the connected demo database by `days` whole days; return the tables.

    Run it inside a transaction: one UPDATE per table (readers see the old or the new data, never a mix);
    a timestamp moves by exactly 24 h a day, as load_demo's offset does, so a shifted database equals one
    generated on the later anchor. Planted defects, row counts and every other column stay as they are.
    """
    if days == 0:
        return []
    rows = await conn.fetch(
        """
        SELECT c.oid::regclass::text AS rel,
               array_agg(format(CASE WHEN a.atttypid = 'date'::regtype THEN '%1$I = %1$I + $1::int'
                                     ELSE '%1$I = %1$I + make_interval(days => $1::int)' END, a.attname)
                         ORDER BY a.attnum) AS sets
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
           AND a.atttypid = ANY ($1::regtype[]) AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
         GROUP BY c.oid ORDER BY 1""",
        list(_DATE_TYPES),
    )
    await conn.execute("SET LOCAL TimeZone = 'UTC'")  # + interval '1 day' is then exactly 24 h
    for r in rows:
        await conn.execute(f"UPDATE {r['rel']} SET {', '.join(r['sets'])}", days)
    return [str(r["rel"]) for r in rows]


def _qualified(table: Table) -> str:
    return f"{table.schema}.{table.bare}"


def _create_table(table: Table) -> str:
    cols = [f"id {table.id_type} GENERATED BY DEFAULT AS IDENTITY"] if table.id_type else []
    cols += [f"{c.name} {c.type}" for c in table.cols]
    return f"CREATE TABLE {_qualified(table)} (\n  " + ",\n  ".join(cols) + "\n);"


def _rows(table: Table, ctx: Ctx, offset: timedelta) -> Iterator[tuple[object, ...]]:
    """The table's rows, generated a chunk at a time (column by column, planted defects, dates moved by offset)."""
    total = ctx.counts[table.name]
    dated = [c.name for c in table.cols if c.type.split()[0] in _DATE_TYPES] if offset else []
    rng = ctx.rng("rows", table.name)
    size = max(total, 1) if table.whole else CHUNK_ROWS
    names = table.column_names
    for start in range(0, total, size):
        chunk = Chunk(ctx, rng, table.name, total, start, min(size, total - start),
                      ctx.scale if table.scaled else 1)  # fmt: skip
        if table.id_type:
            chunk.cols["id"] = list(range(start + 1, start + chunk.n + 1))
        for col in table.cols:
            if col.name in chunk.cols:
                continue
            if col.gen is not None:
                chunk.cols[col.name] = col.gen(chunk)
            elif table.build is not None:
                chunk.cols.update(table.build(chunk))
            if len(chunk.cols.get(col.name, ())) != chunk.n:
                raise RuntimeError(f"{table.name}.{col.name}: generator gave the wrong number of values")
        for post in table.post:
            post(chunk)
        for name in dated:
            chunk.cols[name] = [None if v is None else v + offset for v in chunk.cols[name]]
        yield from zip(*(chunk.cols[name] for name in names), strict=True)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _constraints_sql(counts: Mapping[str, int]) -> str:
    """Keys, identity restarts, unique constraints, indexes, foreign keys and comments."""
    by_name = {t.name: t for t in TABLES}
    out: list[str] = []
    for t in TABLES:
        q = _qualified(t)
        if t.id_type:
            out.append(f"ALTER TABLE {q} ADD PRIMARY KEY (id);")
            out.append(f"ALTER TABLE {q} ALTER COLUMN id RESTART WITH {counts[t.name] + 1};")
        for cols in t.uniques:
            label = "_".join(c.strip() for c in cols.split(","))
            out.append(f"ALTER TABLE {q} ADD CONSTRAINT {t.bare}_{label}_key UNIQUE ({cols});")
        for cols in t.indexes:
            label = "_".join(c.strip() for c in cols.split(","))
            out.append(f"CREATE INDEX {t.bare}_{label}_idx ON {q} ({cols});")
    for t in TABLES:
        q = _qualified(t)
        for col in t.cols:
            if col.fk:
                target = _qualified(by_name[col.fk])
                out.append(
                    f"ALTER TABLE {q} ADD CONSTRAINT {t.bare}_{col.name}_fkey "
                    f"FOREIGN KEY ({col.name}) REFERENCES {target} (id);"
                )
        if t.comment:
            out.append(f"COMMENT ON TABLE {q} IS {_quote(t.comment)};")
        for col in t.cols:
            if col.comment:
                out.append(f"COMMENT ON COLUMN {q}.{col.name} IS {_quote(col.comment)};")
    return "\n".join(out)
