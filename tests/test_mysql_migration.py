"""compare_schemas and validate_migration across engines: PostgreSQL <-> MariaDB and MariaDB <-> MariaDB.

Three Chinook tables (artist, album, invoice) are copied row for row from the PostgreSQL test database into a
new PostgreSQL database and a new MariaDB database, with each engine's own DDL for the same columns, plus a
table `kinds` holding one value of each type family (boolean, bytes, uuid, timestamptz, date, exact numbers,
unicode text, NULLs). The two Chinook fixtures themselves are the same public dataset but not the same schema
(PascalCase NVARCHAR columns in the MySQL script, snake_case VARCHAR in the PostgreSQL one), so they are not
used as a migration pair. Planted schema differences, all the MariaDB side: invoice.total decimal(8,2)
(numeric(10,2) in PostgreSQL), kinds.ratio bigint (integer), an extra index on invoice(billing_country).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from conftest import PgCluster

from tests.helpers import call, mcp_client
from tests.mysql_server import MariaDb, admin_sql
from vf_mcp.db.cross_check import cross_check_tables, load_schema
from vf_mcp.db.migration_check import CheckOptions
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.pool import Database
from vf_mcp.settings import Settings, Source

pytestmark = pytest.mark.anyio

PG_DDL = """
CREATE TABLE artist (artist_id int PRIMARY KEY, name varchar(120));
CREATE TABLE album (album_id int PRIMARY KEY, title varchar(160) NOT NULL,
  artist_id int NOT NULL REFERENCES artist(artist_id));
CREATE INDEX album_artist_id_idx ON album (artist_id);
CREATE TABLE invoice (invoice_id int PRIMARY KEY, customer_id int NOT NULL, invoice_date timestamp NOT NULL,
  billing_address varchar(70), billing_city varchar(40), billing_state varchar(40), billing_country varchar(40),
  billing_postal_code varchar(10), total numeric(10,2) NOT NULL);
CREATE TABLE kinds (id int PRIMARY KEY, flag boolean, data bytea, uid uuid, at timestamptz, day date,
  amount numeric(12,3), label text, ratio integer);
"""

MY_DDL = [
    "CREATE TABLE artist (artist_id INT PRIMARY KEY, name VARCHAR(120))",
    "CREATE TABLE album (album_id INT PRIMARY KEY, title VARCHAR(160) NOT NULL, artist_id INT NOT NULL, "
    "KEY album_artist_idx (artist_id), "
    "CONSTRAINT fk_album_artist FOREIGN KEY (artist_id) REFERENCES artist (artist_id))",
    "CREATE TABLE invoice (invoice_id INT PRIMARY KEY, customer_id INT NOT NULL, invoice_date DATETIME NOT NULL, "
    "billing_address VARCHAR(70), billing_city VARCHAR(40), billing_state VARCHAR(40), billing_country VARCHAR(40), "
    "billing_postal_code VARCHAR(10), total DECIMAL(8,2) NOT NULL, KEY invoice_country_idx (billing_country))",
    "CREATE TABLE kinds (id INT PRIMARY KEY, flag TINYINT(1), data LONGBLOB, uid CHAR(36), at TIMESTAMP(6) NULL, "
    "day DATE, amount DECIMAL(12,3), label LONGTEXT, ratio BIGINT)",
]

KINDS = [
    (1, True, b"\x00\xffab", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
     datetime(2024, 3, 1, 12, 30, 0, 250000, tzinfo=UTC), datetime(2024, 2, 29).date(), "37.500", "Grüße, 東京 ✓", 7),
    (2, False, b"", None, datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), None, "-0.010", "", 0),
    (3, None, None, None, None, None, None, None, None),
    (4, True, b"x", "00000000-0000-0000-0000-000000000000", datetime(2030, 1, 1, tzinfo=UTC),
     datetime(2000, 1, 1).date(), "100.000", "NULL", -5),
]  # fmt: skip
TABLES = ("artist", "album", "invoice")


async def _copy(chinook_dsn: str, pg_dsn: str, my: MariaDb, database: str) -> None:
    """The Chinook rows into both new databases, and `kinds` (MySQL: time_zone UTC, so TIMESTAMP reads back)."""
    from asyncmy import connect

    src = await asyncpg.connect(chinook_dsn)
    dst = await asyncpg.connect(pg_dsn)
    mconn = await connect(
        host=my.host, port=my.port, user=my.user, password=my.password, database=database, autocommit=True,
        charset="utf8mb4",
    )  # fmt: skip
    try:
        cur = mconn.cursor()
        await cur.execute("SET time_zone = '+00:00'")
        for table in TABLES:
            rows = [tuple(r) for r in await src.fetch(f"SELECT * FROM {table} ORDER BY 1")]
            await dst.copy_records_to_table(table, records=rows)
            marks = ", ".join(["%s"] * len(rows[0]))
            await cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        await dst.executemany(
            "INSERT INTO kinds VALUES ($1, $2, $3, $4::text::uuid, $5, $6, $7::text::numeric, $8, $9)", KINDS
        )
        my_kinds = [tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in r) for r in KINDS]
        await cur.executemany("INSERT INTO kinds VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", my_kinds)
    finally:
        await src.close()
        await dst.close()
        mconn.close()


async def _databases(pg: PgCluster, chinook_dsn: str, mariadb: MariaDb, name: str) -> tuple[str, str]:
    pg_dsn = await pg.acreate_database(name, PG_DDL)
    await admin_sql(mariadb, f"DROP DATABASE IF EXISTS `{name}`")
    await admin_sql(mariadb, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    for ddl in MY_DDL:
        await admin_sql(mariadb, ddl, name)
    await _copy(chinook_dsn, pg_dsn, mariadb, name)
    return pg_dsn, mariadb.dsn(name)


def _sources(pg_dsn: str, my_dsn: str) -> tuple[Source, Source]:
    return Source(name="pg", dsn=pg_dsn, default=True), Source(name="maria", dsn=my_dsn)


async def test_compare_schemas_postgresql_vs_mariadb_reports_only_real_differences(
    pg: PgCluster, chinook_dsn: str, mariadb: MariaDb
) -> None:
    pg_dsn, my_dsn = await _databases(pg, chinook_dsn, mariadb, "vf_xmig_schema")
    async with mcp_client(pg_dsn, sources=_sources(pg_dsn, my_dsn)) as client:
        found = await call(client, "compare_schemas", {"source": "pg", "target": "maria"})
        back = await call(client, "compare_schemas", {"source": "maria", "target": "maria"})
    got = {(d["kind"], d["name"], d["change"]): d["description"] for d in found["differences"]}
    assert set(got) == {
        ("column", "public.invoice.invoice_date", "changed"),
        ("column", "public.invoice.total", "changed"),
        ("column", "public.kinds.ratio", "changed"),
        ("index", "vf_xmig_schema.invoice.invoice_country_idx", "removed"),
    }, got
    assert "numeric(10,2) vs decimal(8,2): precision narrowed" in got[("column", "public.invoice.total", "changed")]
    assert "integer vs bigint(20): range widened" in got[("column", "public.kinds.ratio", "changed")]
    # a true difference: PostgreSQL's timestamp keeps microseconds, a plain DATETIME whole seconds
    assert (
        "timestamp without time zone vs datetime: fractional seconds narrowed (6 -> 0)"
        in (got[("column", "public.invoice.invoice_date", "changed")])
    )
    assert found["identical"] is False and found["summary"]["column"]["changed"] == 3
    assert "no DDL script" in found["message"] and "postgresql vs mysql" in found["message"]
    narrowed = [got[("column", f"public.invoice.{c}", "changed")] for c in ("invoice_date", "total")]
    assert found["warnings"] == narrowed  # narrowing is destructive
    assert back["identical"] is True and back["differences"] == []  # MariaDB against itself


async def _validate(client: Any, **extra: Any) -> dict[str, Any]:
    return await call(client, "validate_migration", {"source": "pg", "target": "maria", **extra})


async def test_validate_migration_postgresql_to_mariadb(pg: PgCluster, chinook_dsn: str, mariadb: MariaDb) -> None:
    pg_dsn, my_dsn = await _databases(pg, chinook_dsn, mariadb, "vf_xmig_data")
    async with mcp_client(pg_dsn, sources=_sources(pg_dsn, my_dsn)) as client:
        same = await _validate(client)
        tables = {t["table"]: t for t in same["tables"]}
        assert set(tables) == {"public.artist", "public.album", "public.invoice", "public.kinds"}
        for name, t in tables.items():
            short = name.split(".")[1]
            conn = await asyncpg.connect(pg_dsn)
            try:
                pg_count = await conn.fetchval(f"SELECT count(*) FROM {short}")
            finally:
                await conn.close()
            ((my_count,),) = await admin_sql(mariadb, f"SELECT COUNT(*) FROM {short}", "vf_xmig_data")
            assert (t["status"], t["method"], t["source_rows"], t["target_rows"]) == ("ok", "keyed", pg_count, my_count)
        assert same["summary"] == {"ok": 4}
        assert tables["public.invoice"]["retyped_columns"] == [
            "invoice_date: timestamp without time zone in source, datetime in target "
            "(fractional seconds narrowed (6 -> 0); compared as canonical text)",
            "total: numeric(10,2) in source, decimal(8,2) in target (precision narrowed; compared as canonical text)",
        ]
        # one change and one deletion on the MariaDB side, from a separate admin connection
        await admin_sql(mariadb, "UPDATE invoice SET total = total + 0.01 WHERE invoice_id = 200", "vf_xmig_data")
        await admin_sql(mariadb, "DELETE FROM kinds WHERE id = 2", "vf_xmig_data")
        await admin_sql(mariadb, "UPDATE kinds SET label = 'Grüsse' WHERE id = 1", "vf_xmig_data")
        after = await _validate(client)
    tables = {t["table"]: t for t in after["tables"]}
    invoice, kinds = tables["public.invoice"], tables["public.kinds"]
    assert (invoice["status"], invoice["changed"], invoice["missing_in_target"]) == ("differs", 1, 0)
    (rng,) = invoice["differing_ranges"]
    assert rng["first_differing_key"] == {"invoice_id": "200"} and rng["changed"] == 1
    (sample,) = invoice["samples"]["changed"]
    assert sample["key"] == {"invoice_id": "200"}
    conn = await asyncpg.connect(pg_dsn)
    try:
        total = await conn.fetchval("SELECT trim_scale(total)::text FROM invoice WHERE invoice_id = 200")
    finally:
        await conn.close()
    ((my_total,),) = await admin_sql(mariadb, "SELECT total FROM invoice WHERE invoice_id = 200", "vf_xmig_data")
    assert sample["changes"]["total"][0] == total and sample["changes"]["total"][1].rstrip("0") == str(my_total).rstrip(
        "0"
    )
    assert (kinds["missing_in_target"], kinds["changed"], kinds["source_rows"], kinds["target_rows"]) == (1, 1, 4, 3)
    assert [s["key"] for s in kinds["samples"]["missing_in_target"]] == [{"id": "2"}]
    assert kinds["samples"]["changed"][0]["changes"] == {"label": ["Grüße, 東京 ✓", "Grüsse"]}
    assert after["summary"] == {"ok": 2, "differs": 2}
    assert "public.invoice: 1 changed" in after["message"]


async def test_chunks_by_key_range_name_the_chunk(pg: PgCluster, chinook_dsn: str, mariadb: MariaDb) -> None:
    pg_dsn, my_dsn = await _databases(pg, chinook_dsn, mariadb, "vf_xmig_chunks")
    await admin_sql(mariadb, "DELETE FROM invoice WHERE invoice_id IN (7, 333)", "vf_xmig_chunks")
    await admin_sql(mariadb, "INSERT INTO artist VALUES (100000, 'Extra')", "vf_xmig_chunks")
    src, tgt = Database(Settings(dsn=pg_dsn)), MySqlDatabase(Settings(dsn=my_dsn))
    try:
        from vf_mcp.compute.cross_schema import Side, cross_pairs

        s, t = await load_schema(src), await load_schema(tgt)
        pairs = [p for p in cross_pairs(Side(s.snapshot, "postgresql"), Side(t.snapshot, "mysql"), {}, {}) if p.source]
        checks = {c.pair.name: c for c in await cross_check_tables(src, tgt, pairs, CheckOptions(chunk_rows=50))}
    finally:
        await src.close()
        await tgt.close()
    invoice, artist = checks["public.invoice"], checks["public.artist"]
    conn = await asyncpg.connect(pg_dsn)
    try:
        n_invoice = await conn.fetchval("SELECT count(*) FROM invoice")
    finally:
        await conn.close()
    assert invoice.chunks == -(-n_invoice // 50) and invoice.missing_in_target == 2 and invoice.counts_exact
    assert len(invoice.ranges) == 2  # the two chunks holding the deleted keys, and only they
    for r, key in zip(invoice.ranges, (7, 333), strict=True):
        assert r.after is not None and r.upto is not None and int(r.after[0]) < key <= int(r.upto[0])
        assert r.upto[0] and int(r.upto[0]) - int(r.after[0]) <= 50 and r.missing_in_target == 1
    assert {s.key for s in invoice.missing_samples} == {("7",), ("333",)}
    assert artist.extra_in_target == 1 and [s.key for s in artist.extra_samples] == [("100000",)]
    assert checks["public.kinds"].status == "ok" and checks["public.album"].status == "ok"


async def test_validate_migration_mariadb_to_mariadb(pg: PgCluster, chinook_dsn: str, mariadb: MariaDb) -> None:
    _, my_a = await _databases(pg, chinook_dsn, mariadb, "vf_xmig_a")
    _, my_b = await _databases(pg, chinook_dsn, mariadb, "vf_xmig_b")
    await admin_sql(mariadb, "UPDATE album SET title = 'Changed' WHERE album_id = 42", "vf_xmig_b")
    sources = (Source(name="a", dsn=my_a, default=True), Source(name="b", dsn=my_b))
    async with mcp_client(my_a, sources=sources) as client:
        found = await call(client, "validate_migration", {"source": "a", "target": "b", "tables": ["album", "kinds"]})
    tables = {t["table"]: t for t in found["tables"]}
    assert set(tables) == {"vf_xmig_a.album", "vf_xmig_a.kinds"}
    assert tables["vf_xmig_a.kinds"]["status"] == "ok"
    album = tables["vf_xmig_a.album"]
    ((n,),) = await admin_sql(mariadb, "SELECT COUNT(*) FROM album", "vf_xmig_b")
    assert (album["status"], album["changed"], album["target_rows"]) == ("differs", 1, n)
    assert album["samples"]["changed"][0]["changes"]["title"][1] == "Changed"


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        (("postgresql", "numeric(12,2)"), ("mysql", "decimal(12,2)"), None),
        (("postgresql", "numeric(12,2)"), ("mysql", "decimal(10,2)"), "precision narrowed"),
        (
            ("postgresql", "numeric(12,3)"),
            ("mysql", "decimal(12,2)"),
            "precision widened; scale narrowed (values rounded)",
        ),
        (("postgresql", "integer"), ("mysql", "int(11)"), None),
        (("postgresql", "bigint"), ("mysql", "int(10) unsigned"), "range narrowed"),
        (("postgresql", "integer"), ("mysql", "decimal(10,0)"), None),
        (("postgresql", "boolean"), ("mysql", "tinyint(1)"), None),
        (("postgresql", "boolean"), ("mysql", "bit(1)"), None),
        (("postgresql", "smallint"), ("mysql", "tinyint(4)"), "range narrowed"),
        (("postgresql", "text"), ("mysql", "longtext"), None),
        (("postgresql", "text"), ("mysql", "varchar(255)"), "length narrowed (unbounded -> 255)"),
        (("postgresql", "character varying(40)"), ("mysql", "varchar(40)"), None),
        (("postgresql", "character varying"), ("mysql", "longtext"), None),
        (("postgresql", "bytea"), ("mysql", "longblob"), None),
        (("postgresql", "jsonb"), ("mysql", "json"), None),
        (("postgresql", "uuid"), ("mysql", "char(36)"), None),
        (("postgresql", "uuid"), ("mysql", "binary(16)"), None),
        (("postgresql", "timestamp(0) without time zone"), ("mysql", "datetime"), None),
        (("postgresql", "timestamp with time zone"), ("mysql", "timestamp(6)"), None),
        (
            ("postgresql", "timestamp with time zone"),
            ("mysql", "datetime(6)"),
            "timestamptz in source, timestamp in target",
        ),
        (("postgresql", "date"), ("mysql", "date"), None),
        (("mysql", "enum('a','b')"), ("mysql", "enum('a','b','c')"), "labels [a, b] in source, [a, b, c] in target"),
        (("postgresql", "real"), ("mysql", "double"), "precision widened"),
    ],
)
def test_type_families(source: tuple[str, str], target: tuple[str, str], expected: str | None) -> None:
    from vf_mcp.compute.type_map import family, type_difference

    assert type_difference(family(*source), family(*target)) == expected


TRACK_COLUMNS = {
    "track_id": "TrackId",
    "album_id": "AlbumId",
    "media_type_id": "MediaTypeId",
    "genre_id": "GenreId",
    "unit_price": "UnitPrice",
}


async def test_the_two_chinook_fixtures(chinook_dsn: str, chinook_mysql_dsn: str, mariadb: MariaDb) -> None:
    """How closely the PostgreSQL and MariaDB Chinook fixtures match: 8 of 11 tables share a name (but for
    case), the other 3 are snake_case vs PascalCase, as are most column names; the row counts are equal; and
    the Track names differ in exactly the rows whose PostgreSQL name holds a backslash (the MySQL script's
    string literals lose it: backslash is an escape character in MySQL's default sql_mode)."""
    sources = (Source(name="pg", dsn=chinook_dsn, default=True), Source(name="maria", dsn=chinook_mysql_dsn))
    mapping = {"tables": {"public.media_type": "MediaType"}, "columns": {"public.track": TRACK_COLUMNS}}
    async with mcp_client(chinook_dsn, sources=sources) as client:
        schema = await call(client, "compare_schemas", {"source": "pg", "target": "maria"})
        data = await _validate(client, tables=["track", "media_type", "artist"], mapping=mapping)
    tables_diff = {(d["change"], d["name"]) for d in schema["differences"] if d["kind"] == "table"}
    assert {n for c, n in tables_diff if c == "added"} == {
        "public.media_type",
        "public.invoice_line",
        "public.playlist_track",
    }
    # other tests may add tables to the shared MariaDB Chinook: only these three must be among the removed
    assert {"chinook.MediaType", "chinook.InvoiceLine", "chinook.PlaylistTrack"} <= {
        n for c, n in tables_diff if c == "removed"
    }
    tables = {t["table"]: t for t in data["tables"]}
    conn = await asyncpg.connect(chinook_dsn)
    try:
        slashed = [str(r[0]) for r in await conn.fetch("SELECT track_id FROM track WHERE strpos(name, '\\') > 0")]
        for name, target in (("track", "Track"), ("media_type", "MediaType"), ("artist", "Artist")):
            ((mine,),) = await admin_sql(mariadb, f"SELECT COUNT(*) FROM `{target}`", "chinook")
            t = tables[f"public.{name}"]
            assert (t["source_rows"], t["target_rows"]) == (await conn.fetchval(f"SELECT count(*) FROM {name}"), mine)
    finally:
        await conn.close()
    track = tables["public.track"]
    assert track["method"] == "keyed" and track["columns_compared"] == 9 and track["retyped_columns"] == []
    assert 0 < len(slashed) <= 5 and track["changed"] == len(slashed)
    assert sorted(s["key"]["track_id"] for s in track["samples"]["changed"]) == sorted(slashed)
    for sample in track["samples"]["changed"]:
        before, after = sample["changes"]["name"]
        assert before.replace("\\", "") == after
    # artist and media_type ids are named differently: compared as a whole over the shared column (name)
    assert tables["public.artist"]["method"] == "unkeyed" and tables["public.artist"]["status"] == "ok"
    assert tables["public.media_type"]["status"] == "ok"


async def test_mariadb_to_postgresql_and_tables_without_a_key(
    pg: PgCluster, chinook_dsn: str, mariadb: MariaDb
) -> None:
    """The other direction (MariaDB source, PostgreSQL target), and a table without a primary key: counts and
    one whole-table checksum a side, which still tell a changed value from equal data."""
    pg_dsn, my_dsn = await _databases(pg, chinook_dsn, mariadb, "vf_xmig_back")
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("CREATE TABLE notes (at timestamptz, body text, score numeric(6,2))")
        await conn.execute(
            "INSERT INTO notes SELECT timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour', "
            "'note ' || g, g / 4.0 FROM generate_series(1, 300) g"
        )
        pg_notes = await conn.fetchval("SELECT count(*) FROM notes")
    finally:
        await conn.close()
    await admin_sql(mariadb, "CREATE TABLE notes (at TIMESTAMP(6) NULL, body TEXT, score DECIMAL(6,2))", "vf_xmig_back")
    await admin_sql(
        mariadb,
        "INSERT INTO notes WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 300) "
        "SELECT TIMESTAMP('2024-01-01 00:00:00') + INTERVAL n HOUR, CONCAT('note ', n), n / 4 FROM g",
        "vf_xmig_back",
    )
    # MariaDB's session for the INSERT may not be UTC: TIMESTAMP stores instants, so set them in UTC explicitly
    await admin_sql(
        mariadb,
        "UPDATE notes SET at = CONVERT_TZ(TIMESTAMP('2024-01-01 00:00:00') + INTERVAL (score * 4) HOUR, "
        "'+00:00', @@session.time_zone)",
        "vf_xmig_back",
    )
    sources = (Source(name="maria", dsn=my_dsn, default=True), Source(name="pg", dsn=pg_dsn))
    async with mcp_client(my_dsn, sources=sources) as client:
        same = await call(
            client, "validate_migration", {"source": "maria", "target": "pg", "tables": ["notes", "invoice"]}
        )
        await admin_sql(mariadb, "UPDATE notes SET body = 'edited' WHERE score = 10", "vf_xmig_back")
        after = await call(client, "validate_migration", {"source": "maria", "target": "pg", "tables": ["notes"]})
    by = {t["table"]: t for t in same["tables"]}
    ((my_notes,),) = await admin_sql(mariadb, "SELECT COUNT(*) FROM notes", "vf_xmig_back")
    notes = by["vf_xmig_back.notes"]
    assert (notes["status"], notes["method"], notes["source_rows"], notes["target_rows"]) == (
        "ok", "unkeyed", my_notes, pg_notes
    )  # fmt: skip
    assert by["vf_xmig_back.invoice"]["status"] == "ok" and by["vf_xmig_back.invoice"]["method"] == "keyed"
    (changed,) = after["tables"]
    assert (changed["status"], changed["method"], changed["counts_exact"]) == ("differs", "unkeyed", False)
    assert "no primary key in the source" in changed["note"]
