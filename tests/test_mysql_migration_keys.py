"""validate_migration PostgreSQL -> MariaDB locates differences under any key, not only a single integer one.

Composite keys (Chinook's playlist_track / PlaylistTrack, copied into a database of its own on MariaDB) and
text keys (a `codes` table whose keys mix case, accents and scripts, compared under MariaDB's case- and
accent-insensitive utf8mb4_unicode_ci) are bucketed by the md5 of the key's canonical text, computed in each
engine and here in Python (the independent answer); planted missing, extra and changed rows on the MariaDB side
must come back as exactly the keys a hand-written comparison of both sides finds.
"""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
import pytest
from conftest import PgCluster

from tests.helpers import call, mcp_client
from tests.mysql_server import MariaDb, admin_sql
from vf_mcp.compute.cross_schema import Side, cross_pairs
from vf_mcp.db.cross_check import cross_check_tables, load_schema
from vf_mcp.db.migration_check import CheckOptions, TableCheck
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.pool import Database
from vf_mcp.settings import Settings, Source

pytestmark = pytest.mark.anyio

CODES = [f"K{i:04d}" for i in range(0, 400, 3)] + [
    "key-x", "Zürich", "ß-7", "東京", "naïve", "Ελλάδα", "a b", "tab\tin", "quote'in", "back\\slash", "ümlaut",
    "ÅLAND", "emoji ✓",
]  # fmt: skip
PG_CODES = "CREATE TABLE codes (code varchar(40) PRIMARY KEY, label text, n int);"
MY_CODES = "CREATE TABLE codes (code VARCHAR(40) PRIMARY KEY, label TEXT, n INT)"


def key_bucket(key: tuple[str, ...], buckets: int) -> int:
    """The bucket of a key, computed here as both engines must: md5 of 'v'+text joined by chr(31)."""
    text = "\x1f".join("v" + k for k in key)
    return int(hashlib.md5(text.encode()).hexdigest()[:15], 16) % buckets


async def _pg_rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def _playlist_copy(mariadb: MariaDb, database: str) -> str:
    """Chinook's PlaylistTrack in a database of its own (the shared Chinook stays as loaded)."""
    await admin_sql(mariadb, f"DROP DATABASE IF EXISTS `{database}`")
    await admin_sql(mariadb, f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    await admin_sql(mariadb, "CREATE TABLE PlaylistTrack LIKE chinook.PlaylistTrack", database)
    await admin_sql(mariadb, "INSERT INTO PlaylistTrack SELECT * FROM chinook.PlaylistTrack", database)
    return mariadb.dsn(database)


async def _expected(chinook_dsn: str, mariadb: MariaDb, database: str) -> tuple[list[tuple[str, str]], ...]:
    """Missing and extra (playlist, track) keys by hand: every key of both sides, compared here."""
    pg = {(str(a), str(b)) for a, b in await _pg_rows(chinook_dsn, "SELECT playlist_id, track_id FROM playlist_track")}
    my = {
        (str(a), str(b)) for a, b in await admin_sql(mariadb, "SELECT PlaylistId, TrackId FROM PlaylistTrack", database)
    }
    return sorted(pg - my), sorted(my - pg)


async def _check(src_dsn: str, my_dsn: str, options: CheckOptions) -> TableCheck:
    """playlist_track -> PlaylistTrack, called directly (chunk_rows and the narrowing bound are options here)."""
    src, tgt = Database(Settings(dsn=src_dsn)), MySqlDatabase(Settings(dsn=my_dsn))
    try:
        s, t = await load_schema(src), await load_schema(tgt)
        renames = {"playlist_track": {"playlist_id": "PlaylistId", "track_id": "TrackId"}}
        pairs = cross_pairs(
            Side(s.snapshot, "postgresql"), Side(t.snapshot, "mysql"), {"playlist_track": "PlaylistTrack"}, renames
        )
        (pair,) = [p for p in pairs if p.source == ("public", "playlist_track")]
        (check,) = await cross_check_tables(src, tgt, [pair], options)
        return check
    finally:
        await src.close()
        await tgt.close()


async def test_composite_key_differences_located_by_key_hash(chinook_dsn: str, mariadb: MariaDb) -> None:
    my_dsn = await _playlist_copy(mariadb, "vf_xkeys_playlist")
    await admin_sql(
        mariadb, "DELETE FROM PlaylistTrack WHERE (PlaylistId, TrackId) IN ((1, 3402), (8, 3))", "vf_xkeys_playlist"
    )
    await admin_sql(mariadb, "INSERT INTO PlaylistTrack VALUES (2, 1)", "vf_xkeys_playlist")
    missing, extra = await _expected(chinook_dsn, mariadb, "vf_xkeys_playlist")
    assert (missing, extra) == ([("1", "3402"), ("8", "3")], [("2", "1")])  # the planted rows, by hand
    check = await _check(chinook_dsn, my_dsn, CheckOptions(chunk_rows=100))
    (n_pg,) = (await _pg_rows(chinook_dsn, "SELECT count(*) FROM playlist_track"))[0]
    ((n_my,),) = await admin_sql(mariadb, "SELECT COUNT(*) FROM PlaylistTrack", "vf_xkeys_playlist")
    buckets = -(-max(n_pg, n_my) // 100)
    assert (check.method, check.status, check.counts_exact) == ("hashed", "differs", True)
    assert (check.source_rows, check.target_rows, check.chunks) == (n_pg, n_my, buckets)
    assert (check.missing_in_target, check.extra_in_target, check.changed) == (2, 1, 0)
    assert [s.key for s in check.missing_samples] == missing and [s.key for s in check.extra_samples] == extra
    assert check.missing_samples[0].source == ("1", "3402") and check.extra_samples[0].target == ("2", "1")
    # the differing buckets are the planted keys' buckets, as computed here: both engines hash the same text
    want = {key_bucket(k, buckets) for k in missing + extra}
    assert {r.bucket for r in check.ranges} == {f"{b} of {buckets}" for b in want}
    for r in check.ranges:
        assert r.first_key is not None and r.bucket == f"{key_bucket(r.first_key, buckets)} of {buckets}"


async def test_bounded_narrowing_is_stated(chinook_dsn: str, mariadb: MariaDb) -> None:
    my_dsn = await _playlist_copy(mariadb, "vf_xkeys_bound")
    await admin_sql(mariadb, "DELETE FROM PlaylistTrack WHERE PlaylistId = 1 AND TrackId <= 1500", "vf_xkeys_bound")
    missing, extra = await _expected(chinook_dsn, mariadb, "vf_xkeys_bound")
    assert len(missing) > 20 and extra == []
    every = await _check(chinook_dsn, my_dsn, CheckOptions(chunk_rows=500, sample_rows=5))
    assert (every.missing_in_target, every.counts_exact) == (len(missing), True)
    assert [s.key for s in every.missing_samples] == missing[:5]  # the first 5 of the exact list, in key text order
    assert every.note is not None and "at most 5 key(s) of each kind listed" in every.note
    few = await _check(chinook_dsn, my_dsn, CheckOptions(chunk_rows=100, max_detailed_chunks=2))
    differing = {key_bucket(k, few.chunks) for k in missing}
    assert few.counts_exact is False and few.status == "differs" and len(differing) > 2
    assert few.note is not None and f"2 of {len(differing)} differing bucket(s) narrowed" in few.note
    narrowed = [r for r in few.ranges if r.missing_in_target is not None]
    assert len(narrowed) == 2 and all(r.first_key in missing for r in narrowed)
    assert len(few.ranges) == min(10, len(differing))  # the first 10 differing buckets are listed
    assert few.missing_in_target == len(missing)  # deletions only: the bucket counts still add up exactly


async def test_text_key_under_case_insensitive_collation(pg: PgCluster, mariadb: MariaDb) -> None:
    rows = [(c, f"label {i}", i) for i, c in enumerate(CODES)]
    pg_dsn = await pg.acreate_database("vf_xkeys_codes", PG_CODES)
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.executemany("INSERT INTO codes VALUES ($1, $2, $3)", rows)
    finally:
        await conn.close()
    await admin_sql(mariadb, "DROP DATABASE IF EXISTS vf_xkeys_codes")
    await admin_sql(mariadb, "CREATE DATABASE vf_xkeys_codes CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    await admin_sql(mariadb, MY_CODES, "vf_xkeys_codes")
    for row in rows:
        await admin_sql(mariadb, "INSERT INTO codes VALUES (%s, %s, %s)", "vf_xkeys_codes", params=row)
    # planted on MariaDB: a changed label, a deleted key, and a key whose case changed (equal under _ci)
    await admin_sql(mariadb, "UPDATE codes SET label = 'moved' WHERE code = 'Zürich'", "vf_xkeys_codes")
    await admin_sql(mariadb, "DELETE FROM codes WHERE code = 'ß-7'", "vf_xkeys_codes")
    await admin_sql(mariadb, "UPDATE codes SET code = 'KEY-X' WHERE code = 'key-x'", "vf_xkeys_codes")
    assert await admin_sql(mariadb, "SELECT code FROM codes WHERE code = 'key-x'", "vf_xkeys_codes") == [("KEY-X",)]
    sources = (Source(name="pg", dsn=pg_dsn, default=True), Source(name="maria", dsn=mariadb.dsn("vf_xkeys_codes")))
    async with mcp_client(pg_dsn, sources=sources) as client:
        out = await call(client, "validate_migration", {"source": "pg", "target": "maria", "sample_rows": 10})
    (codes,) = out["tables"]
    # by hand: both sides' rows as exact text, compared here
    pg_rows = {r[0]: (r[1], r[2]) for r in await _pg_rows(pg_dsn, "SELECT code, label, n FROM codes")}
    my_rows = {
        r[0]: (r[1], r[2]) for r in await admin_sql(mariadb, "SELECT code, label, n FROM codes", "vf_xkeys_codes")
    }
    missing = sorted(set(pg_rows) - set(my_rows))
    extra = sorted(set(my_rows) - set(pg_rows))
    changed = sorted(k for k in set(pg_rows) & set(my_rows) if pg_rows[k] != my_rows[k])
    assert (missing, extra, changed) == (["key-x", "ß-7"], ["KEY-X"], ["Zürich"])
    assert (codes["method"], codes["status"], codes["counts_exact"]) == ("hashed", "differs", True)
    assert (codes["source_rows"], codes["target_rows"]) == (len(pg_rows), len(my_rows))
    assert (codes["missing_in_target"], codes["extra_in_target"], codes["changed"]) == (2, 1, 1)
    samples = codes["samples"]
    assert [s["key"]["code"] for s in samples["missing_in_target"]] == missing
    assert [s["key"]["code"] for s in samples["extra_in_target"]] == extra
    (moved,) = samples["changed"]
    assert moved["key"] == {"code": "Zürich"} and moved["changes"] == {"label": [pg_rows["Zürich"][0], "moved"]}
    assert samples["missing_in_target"][1]["source"] == {
        "code": "ß-7",
        "label": pg_rows["ß-7"][0],
        "n": str(pg_rows["ß-7"][1]),
    }
    assert "located by the md5 of the key text" in codes["note"]
