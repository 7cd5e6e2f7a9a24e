"""validate_migration across engines (PostgreSQL <-> MySQL/MariaDB, MySQL <-> MySQL): counts and checksums
computed inside each database, in chunks by primary-key range, over values canonicalised the same way in both.

Canonical text of a value, written in each engine's SQL (``canonical_sql``), so that equal data hashes equal:
integers as decimal text; exact numbers as decimal text without trailing fraction zeros (numeric(12,2) 37.50
and decimal(10,3) 37.500 are both "37.5"; an integer 37 and 37.00 are both "37"); booleans as 0/1 (MySQL's
tinyint(1)); timestamps as UTC ISO text ``YYYY-MM-DDTHH:MM:SS.ffffff`` (PostgreSQL timestamptz converted to
UTC; MySQL sessions run with time_zone '+00:00', so TIMESTAMP reads in UTC; timestamp without time zone and
DATETIME are compared as written, which assumes they hold the same wall-clock times); dates ``YYYY-MM-DD``;
bytes as lower-case hex; uuid as 32 hex digits (char(36) and binary(16) too); text as UTF-8 (MySQL converts
to utf8mb4 first). A NULL is the marker 'n', any value 'v' + its text, joined with the unit separator
(chr 31). Floats and JSON are compared as each engine prints them (the note says so when a table has any).

A row's hash is the first 60 bits of md5(row text) (positive in both engines' integer types); a chunk's
checksum is the sum of its rows' hashes. With a single integer primary key, the key span of both sides is cut into
ranges of ``width`` keys, about ``chunk_rows`` rows each; each side returns one (range, rows, sum) per range
in one GROUP BY statement, and a range whose sums differ is narrowed to its rows (key, row hash) on both
sides. Every other primary key (composite, text, uuid, dates: keys whose order or equality the engines' collations
may not share) is located by hashing instead: a row's bucket is the md5 of its key's canonical text (the same
text as the values', joined the same way) modulo the number of buckets, computed identically in both engines;
each side returns one (bucket, rows, sum) per bucket, and the rows of up to ``max_detailed_chunks`` differing
buckets come back as (key text, row hash) in one statement a side, so the differing keys are exact text matches
whatever the collations say. Without a key the table is compared as a whole: counts and one checksum a side.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from vf_mcp.compute.type_map import TypeFamily, family
from vf_mcp.compute.validation import ColumnPair, TablePair, diff_rows
from vf_mcp.db.migration_check import (
    CheckOptions,
    DifferingRange,
    Key,
    Progress,
    RowSample,
    TableCheck,
    fan_out,
)
from vf_mcp.db.pool import Database
from vf_mcp.db.schema_snapshot import LoadedSchema, load_snapshot

Fetch = Callable[[str], Awaitable[list[dict[str, object]]]]


@dataclass(frozen=True)
class Engine:
    """One side: its engine name, how it runs vf-mcp's own statements, and its statement count."""

    name: str  # postgresql | mysql
    fetch: Fetch

    def ident(self, name: str) -> str:
        if self.name == "mysql":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def table(self, key: tuple[str, str]) -> str:
        return f"{self.ident(key[0])}.{self.ident(key[1])}"


def side_of(db: Database) -> Engine:
    """How to reach `db`: MySQL through its own pool, PostgreSQL through Database.fetch."""
    if getattr(db, "engine_name", "postgresql") == "mysql":
        from vf_mcp.db.mysql.pool import MySqlDatabase

        assert isinstance(db, MySqlDatabase)
        my = db

        async def my_fetch(sql: str) -> list[dict[str, object]]:
            return list(await my.fetch_rows(sql))

        return Engine("mysql", my_fetch)

    async def pg_fetch(sql: str) -> list[dict[str, object]]:
        return [dict(r) for r in await db.fetch(sql)]

    return Engine("postgresql", pg_fetch)


_UUID_BINARY = "binary(16)"


def canonical_sql(engine: str, fam: TypeFamily, col: str) -> str:
    """The canonical text of column expression `col` of family `fam` in `engine`'s SQL (NULL stays NULL)."""
    k = fam.kind
    if engine == "mysql":
        if k == "boolean":
            return f"CASE WHEN {col} IS NULL THEN NULL WHEN {col} THEN '1' ELSE '0' END"
        if k in ("integer", "float"):
            return f"CAST({col} AS CHAR)"
        if k == "decimal":
            s = f"CAST({col} AS CHAR)"
            return (
                f"CASE WHEN INSTR({s}, '.') > 0 THEN TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {s})) ELSE {s} END"
            )
        if k in ("timestamp", "timestamptz"):
            return f"DATE_FORMAT({col}, '%Y-%m-%dT%H:%i:%s.%f')"
        if k == "date":
            return f"DATE_FORMAT({col}, '%Y-%m-%d')"
        if k == "time":
            return f"TIME_FORMAT({col}, '%H:%i:%s.%f')"
        if k == "binary" or (k == "uuid" and fam.spelling.lower().startswith(_UUID_BINARY)):
            return f"LOWER(HEX({col}))"
        if k == "uuid":
            return f"LOWER(REPLACE({col}, '-', ''))"
        return f"CONVERT({col} USING utf8mb4)"
    if k == "boolean":
        return f"CASE WHEN {col} THEN '1' WHEN NOT {col} THEN '0' END"
    if k == "decimal":
        return f"trim_scale({col})::text"
    if k == "float":
        return f"{col}::float8::text"
    if k == "timestamp":
        return f"""to_char({col}, 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    if k == "timestamptz":
        return f"""to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    if k == "date":
        return f"to_char({col}, 'YYYY-MM-DD')"
    if k == "time":
        return f"to_char('2000-01-01'::date + {col}::time, 'HH24:MI:SS.US')"
    if k == "binary":
        return f"encode({col}, 'hex')"
    if k == "uuid":
        return f"replace({col}::text, '-', '')"
    return f"{col}::text"


@dataclass(frozen=True)
class _Sql:
    """One side's statements for one table."""

    side: Engine
    table: str
    key: str | None  # the key column, quoted (None: whole-table comparison)
    values: tuple[str, ...]  # canonical text per compared column

    keys: tuple[str, ...] = ()  # canonical text per key column (the hashed method)

    def _joined(self, values: Sequence[str]) -> str:
        """The canonical texts as one string: 'v' + text or 'n' for NULL, joined with chr(31)."""
        if self.side.name == "mysql":
            parts = ", ".join(f"COALESCE(CONCAT('v', {v}), 'n')" for v in values)
            return f"CONCAT_WS(CHAR(31 USING utf8mb4), {parts})"
        parts = ", ".join(f"coalesce('v' || {v}, 'n')" for v in values)
        return f"concat_ws(chr(31), {parts})"

    @property
    def row_text(self) -> str:
        return self._joined(self.values)

    @property
    def key_md5(self) -> str:
        """md5 (32 hex digits) of the key's canonical text: the same in both engines for the same key."""
        return f"md5({self._joined(self.keys)})"

    def key_bucket(self, buckets: int) -> str:
        """The key's bucket: its md5's first 60 bits (a positive integer in both engines) modulo `buckets`."""
        if self.side.name == "mysql":
            return f"(CAST(CONV(LEFT({self.key_md5}, 15), 16, 10) AS UNSIGNED) MOD {int(buckets)})"
        return f"((('x' || left({self.key_md5}, 15))::bit(60)::bigint) % {int(buckets)})"

    def hashed_buckets(self, buckets: int) -> str:
        b = self.key_bucket(buckets)
        return (
            f"SELECT {self._text(b)} AS b, count(*) AS n, {self._text(f'sum({self.row_hash})')} AS d "
            f"FROM {self.table} t GROUP BY {b}"
        )

    def hashed_rows(self, buckets: int, chosen: Sequence[int]) -> str:
        """(bucket, key column texts k0.., key md5, row hash) of the rows in the `chosen` buckets."""
        b = self.key_bucket(buckets)
        keys = ", ".join(f"{k} AS k{i}" for i, k in enumerate(self.keys))
        listed = ", ".join(str(int(x)) for x in chosen)
        return (
            f"SELECT {self._text(b)} AS b, {keys}, {self.key_md5} AS km, LEFT(MD5({self.row_text}), 15) AS h "
            f"FROM {self.table} t WHERE {b} IN ({listed})"
        )

    def hashed_sample(self, digests: Sequence[str]) -> str:
        """Canonical values of the rows whose key md5 is one of `digests` (hex text: safe as literals)."""
        cols = ", ".join(f"{v} AS v{i}" for i, v in enumerate(self.values))
        listed = ", ".join(f"'{d}'" for d in digests if all(c in "0123456789abcdef" for c in d))
        return f"SELECT {self.key_md5} AS km, {cols} FROM {self.table} t WHERE {self.key_md5} IN ({listed})"

    @property
    def row_hash(self) -> str:
        if self.side.name == "mysql":
            return f"CAST(CONV(LEFT(MD5({self.row_text}), 15), 16, 10) AS UNSIGNED)"
        return f"('x' || left(md5({self.row_text}), 15))::bit(60)::bigint"

    def _text(self, expr: str) -> str:
        return f"CAST({expr} AS CHAR)" if self.side.name == "mysql" else f"({expr})::text"

    def whole(self) -> str:
        return f"SELECT count(*) AS n, {self._text(f'coalesce(sum({self.row_hash}), 0)')} AS d FROM {self.table} t"

    def bounds(self) -> str:
        lo, hi = self._text(f"min({self.key})"), self._text(f"max({self.key})")
        return f"SELECT count(*) AS n, {lo} AS lo, {hi} AS hi FROM {self.table} t"

    def buckets(self, lo: int, width: int) -> str:
        if self.side.name == "mysql":
            b = f"FLOOR((CAST({self.key} AS DECIMAL(21,0)) - {lo}) / {width})"
        else:
            b = f"floor(({self.key}::numeric - {lo}) / {width})::bigint"
        return (
            f"SELECT {self._text(b)} AS b, count(*) AS n, {self._text(f'sum({self.row_hash})')} AS d "
            f"FROM {self.table} t GROUP BY {b}"
        )

    def rows(self, after: int, upto: int) -> str:
        return (
            f"SELECT {self._text(self.key or '')} AS k, LEFT(MD5({self.row_text}), 15) AS h FROM {self.table} t "
            f"WHERE {self.key} > {after} AND {self.key} <= {upto}"
        )

    def sample(self, keys: Sequence[int]) -> str:
        cols = ", ".join(f"{v} AS v{i}" for i, v in enumerate(self.values))
        listed = ", ".join(str(k) for k in keys)
        return f"SELECT {self._text(self.key or '')} AS k, {cols} FROM {self.table} t WHERE {self.key} IN ({listed})"


def _sql_for(
    side: Engine,
    key: tuple[str, str],
    cols: Sequence[tuple[str, str]],
    key_col: str | None,
    hashed_key: Sequence[tuple[str, str]] = (),
) -> _Sql:
    """cols: (column name, its type as this engine spells it), in compared order; hashed_key: the key columns
    (name, type) when differences are located by hashing the key text."""

    def canon(name: str, ty: str) -> str:
        return canonical_sql(side.name, family(side.name, ty), f"t.{side.ident(name)}")

    values = tuple(canon(name, ty) for name, ty in cols)
    keys = tuple(canon(name, ty) for name, ty in hashed_key)
    return _Sql(side, side.table(key), None if key_col is None else f"t.{side.ident(key_col)}", values, keys)


def _int_key(pair: TablePair, s_engine: str, t_engine: str) -> ColumnPair | None:
    if len(pair.key) != 1:
        return None
    k = pair.key[0]
    if family(s_engine, k.source_type).kind == "integer" and family(t_engine, k.target_type).kind == "integer":
        return k
    return None


async def cross_check_table(source: Engine, target: Engine, pair: TablePair, options: CheckOptions) -> TableCheck:
    """Compare one table pair present on both sides."""
    assert pair.source is not None and pair.target is not None
    started = time.perf_counter()
    key = _int_key(pair, source.name, target.name)
    hashed = key is None and bool(pair.key)
    s = _sql_for(
        source, pair.source, [(c.source, c.source_type) for c in pair.columns], key.source if key else None,
        [(k.source, k.source_type) for k in pair.key] if hashed else (),
    )  # fmt: skip
    t = _sql_for(
        target, pair.target, [(c.target, c.target_type) for c in pair.columns], key.target if key else None,
        [(k.target, k.target_type) for k in pair.key] if hashed else (),
    )  # fmt: skip
    loose = [c.source for c in pair.columns if family(source.name, c.source_type).kind in ("float", "json")]
    notes = []
    if loose:
        notes.append(f"float/json column(s) {', '.join(loose)} compared as each engine prints them")
    if hashed:
        return await _hashed(pair, s, t, options, notes, started)
    if key is None:
        notes.append(
            (pair.key_note or "the table has no primary key")
            + ": counts and a whole-table checksum (differences not located)"
        )
        (sr,), (tr,) = await asyncio.gather(source.fetch(s.whole()), target.fetch(t.whole()))
        same = int(str(sr["n"])) == int(str(tr["n"])) and str(sr["d"]) == str(tr["d"])
        return TableCheck(
            pair=pair, status="ok" if same else "differs", method="unkeyed", source_rows=int(str(sr["n"])),
            target_rows=int(str(tr["n"])), counts_exact=same, chunks=1, statements=2,
            elapsed_s=round(time.perf_counter() - started, 3), note="; ".join(notes),
        )  # fmt: skip
    return await _keyed(pair, s, t, options, notes, started)


async def _keyed(
    pair: TablePair, s: _Sql, t: _Sql, options: CheckOptions, notes: list[str], started: float
) -> TableCheck:
    (sb,), (tb,) = await asyncio.gather(s.side.fetch(s.bounds()), t.side.fetch(t.bounds()))
    n = max(int(str(sb["n"])), int(str(tb["n"])))  # both sides' key span: no side yields more ranges than rows
    ends = [int(str(v)) for v in (sb["lo"], sb["hi"], tb["lo"], tb["hi"]) if v is not None]
    lo, hi = (min(ends), max(ends)) if ends else (0, 0)
    width = max(1, math.ceil((hi - lo + 1) / max(1, math.ceil(n / options.chunk_rows))))
    s_rows, t_rows = await asyncio.gather(s.side.fetch(s.buckets(lo, width)), t.side.fetch(t.buckets(lo, width)))
    statements = 4
    s_map = {int(str(r["b"])): (int(str(r["n"])), str(r["d"])) for r in s_rows}
    t_map = {int(str(r["b"])): (int(str(r["n"])), str(r["d"])) for r in t_rows}
    missing: list[Key] = []
    extra: list[Key] = []
    changed: list[Key] = []
    ranges: list[DifferingRange] = []
    exact = True
    detailed = 0
    counts = [0, 0, 0]
    for bucket in sorted(s_map.keys() | t_map.keys()):
        sn, sd = s_map.get(bucket, (0, "0"))
        tn, td = t_map.get(bucket, (0, "0"))
        if (sn, sd) == (tn, td):
            continue
        after, upto = lo + bucket * width - 1, lo + (bucket + 1) * width - 1
        if detailed < options.max_detailed_chunks and sn <= 2 * options.chunk_rows and tn <= 2 * options.chunk_rows:
            detailed += 1
            statements += 2
            sr, tr = await asyncio.gather(s.side.fetch(s.rows(after, upto)), t.side.fetch(t.rows(after, upto)))
            d = diff_rows({(str(r["k"]),): str(r["h"]) for r in sr}, {(str(r["k"]),): str(r["h"]) for r in tr})
            found = (len(d.missing), len(d.extra), len(d.changed))
            missing += d.missing
            extra += d.extra
            changed += d.changed
            keys = sorted([*d.missing, *d.extra, *d.changed], key=lambda k: int(k[0]))
            first, last = (keys[0], keys[-1]) if keys else (None, None)
            known: tuple[int | None, int | None, int | None] = found
        else:
            exact = False
            found = (max(0, sn - tn), max(0, tn - sn), 0)
            first = last = None
            known = (None, None, None)
        counts = [a + x for a, x in zip(counts, found, strict=True)]
        if len(ranges) < 10:
            ranges.append(
                DifferingRange((str(after),), (str(upto),), sn, tn, known[0], known[1], known[2], first, last)
            )
    samples, more = await _samples(s, t, missing, extra, changed, options.sample_rows)
    if not exact:
        notes.append("some differing key ranges were too large to narrow to rows: counts there are lower bounds")
    differs = any(counts) or not exact
    return TableCheck(
        pair=pair, status="differs" if differs else "ok", method="keyed",
        source_rows=sum(v[0] for v in s_map.values()), target_rows=sum(v[0] for v in t_map.values()),
        missing_in_target=counts[0], extra_in_target=counts[1], changed=counts[2], counts_exact=exact,
        ranges=tuple(ranges), missing_samples=samples[0], extra_samples=samples[1], changed_samples=samples[2],
        chunks=len(s_map.keys() | t_map.keys()), statements=statements + more,
        elapsed_s=round(time.perf_counter() - started, 3), note="; ".join(notes) or None,
    )  # fmt: skip


async def _hashed(
    pair: TablePair, s: _Sql, t: _Sql, options: CheckOptions, notes: list[str], started: float
) -> TableCheck:
    """Locate differences under any key: buckets by the md5 of the key text, then the differing buckets' rows."""
    (sc,), (tc,) = await asyncio.gather(s.side.fetch(s.whole()), t.side.fetch(t.whole()))
    n = max(int(str(sc["n"])), int(str(tc["n"])))
    buckets = max(1, math.ceil(n / options.chunk_rows))
    statements = 4
    s_map: dict[int, tuple[int, str]] = {}
    t_map: dict[int, tuple[int, str]] = {}
    if str(sc["n"]) != str(tc["n"]) or str(sc["d"]) != str(tc["d"]):  # equal counts and checksums: nothing to locate
        s_rows, t_rows = await asyncio.gather(
            s.side.fetch(s.hashed_buckets(buckets)), t.side.fetch(t.hashed_buckets(buckets))
        )
        s_map = {int(str(r["b"])): (int(str(r["n"])), str(r["d"])) for r in s_rows}
        t_map = {int(str(r["b"])): (int(str(r["n"])), str(r["d"])) for r in t_rows}
        statements += 2
    differing = [b for b in sorted(s_map.keys() | t_map.keys()) if s_map.get(b, (0, "0")) != t_map.get(b, (0, "0"))]
    limit = 2 * options.chunk_rows
    chosen = [b for b in differing if s_map.get(b, (0, ""))[0] <= limit and t_map.get(b, (0, ""))[0] <= limit][
        : options.max_detailed_chunks
    ]
    by_bucket: dict[int, list[list[Key]]] = {}
    digest: dict[Key, str] = {}
    if chosen:
        s_keyed, t_keyed = await asyncio.gather(
            s.side.fetch(s.hashed_rows(buckets, chosen)), t.side.fetch(t.hashed_rows(buckets, chosen))
        )
        statements += 2
        sides: list[dict[int, dict[Key, str]]] = [{}, {}]
        for side, rows in zip(sides, (s_keyed, t_keyed), strict=True):
            for r in rows:
                k = tuple(_str(r[f"k{i}"]) for i in range(len(s.keys)))
                side.setdefault(int(str(r["b"])), {})[k] = _str(r["h"])
                digest[k] = _str(r["km"])
        for b in chosen:
            d = diff_rows(sides[0].get(b, {}), sides[1].get(b, {}))
            by_bucket[b] = [sorted(d.missing), sorted(d.extra), sorted(d.changed)]
    counts, exact = [0, 0, 0], True
    ranges: list[DifferingRange] = []
    for b in differing:
        sn, tn = s_map.get(b, (0, "0"))[0], t_map.get(b, (0, "0"))[0]
        found = by_bucket.get(b)
        if found is None:
            exact = False
            counts[0], counts[1] = counts[0] + max(0, sn - tn), counts[1] + max(0, tn - sn)
        else:
            counts = [a + len(x) for a, x in zip(counts, found, strict=True)]
        keys = sorted(k for kind in found or [] for k in kind)
        if len(ranges) < 10:
            known: list[int | None] = [len(x) for x in found] if found is not None else [None, None, None]
            first, last = (keys[0], keys[-1]) if keys else (None, None)
            ranges.append(
                DifferingRange(None, None, sn, tn, known[0], known[1], known[2], first, last, f"{b} of {buckets}")
            )
    missing, extra, changed = (sorted(k for f in by_bucket.values() for k in f[i]) for i in range(3))
    samples, more = await _hashed_samples(s, t, (missing, extra, changed), digest, options.sample_rows)
    notes.append(
        f"key not a single integer: located by the md5 of the key text in {buckets} bucket(s), "
        f"{len(chosen)} of {len(differing)} differing bucket(s) narrowed to keys"
        + (f"; at most {options.sample_rows} key(s) of each kind listed" if any(counts) else "")
    )
    if not exact:
        notes.append("some differing buckets were too many or too large to narrow: counts there are lower bounds")
    return TableCheck(
        pair=pair, status="differs" if any(counts) or not exact else "ok", method="hashed",
        source_rows=int(str(sc["n"])), target_rows=int(str(tc["n"])), missing_in_target=counts[0],
        extra_in_target=counts[1], changed=counts[2], counts_exact=exact, ranges=tuple(ranges),
        missing_samples=samples[0], extra_samples=samples[1], changed_samples=samples[2],
        chunks=buckets, statements=statements + more, elapsed_s=round(time.perf_counter() - started, 3),
        note="; ".join(notes),
    )  # fmt: skip


async def _hashed_samples(
    s: _Sql, t: _Sql, kinds: tuple[list[Key], list[Key], list[Key]], digest: dict[Key, str], limit: int
) -> tuple[tuple[tuple[RowSample, ...], tuple[RowSample, ...], tuple[RowSample, ...]], int]:
    """Canonical values of up to `limit` keys of each kind (found by their key md5), from the side(s) holding them."""
    m, e, c = (k[:limit] for k in kinds)

    async def values(q: _Sql, keys: list[Key]) -> dict[str, tuple[str | None, ...]]:
        if not keys:
            return {}
        rows = await q.side.fetch(q.hashed_sample([digest[k] for k in keys]))
        width = len(q.values)
        return {
            _str(r["km"]): tuple(None if r[f"v{i}"] is None else _str(r[f"v{i}"]) for i in range(width)) for r in rows
        }

    before, after = await asyncio.gather(values(s, m + c), values(t, e + c))
    out = (
        tuple(RowSample(k, before.get(digest[k]), None) for k in m),
        tuple(RowSample(k, None, after.get(digest[k])) for k in e),
        tuple(RowSample(k, before.get(digest[k]), after.get(digest[k])) for k in c),
    )
    return out, int(bool(m or c)) + int(bool(e or c))


async def _samples(
    s: _Sql, t: _Sql, missing: list[Key], extra: list[Key], changed: list[Key], limit: int
) -> tuple[tuple[tuple[RowSample, ...], tuple[RowSample, ...], tuple[RowSample, ...]], int]:
    """Canonical values of up to `limit` keys of each kind, from the side(s) holding them."""
    m, e, c = missing[:limit], extra[:limit], changed[:limit]
    if not (m or e or c):
        return ((), (), ()), 0

    async def values(q: _Sql, keys: list[Key]) -> dict[Key, tuple[str | None, ...]]:
        if not keys:
            return {}
        rows = await q.side.fetch(q.sample([int(k[0]) for k in keys]))
        return {
            (str(r["k"]),): tuple(None if r[f"v{i}"] is None else _str(r[f"v{i}"]) for i in range(len(q.values)))
            for r in rows
        }

    before, after = await asyncio.gather(values(s, m + c), values(t, e + c))
    out = (
        tuple(RowSample(k, before.get(k), None) for k in m),
        tuple(RowSample(k, None, after.get(k)) for k in e),
        tuple(RowSample(k, before.get(k), after.get(k)) for k in c),
    )
    return out, int(bool(m or c)) + int(bool(e or c))


def _str(v: object) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


async def count_rows(side: Engine, key: tuple[str, str]) -> int:
    (r,) = await side.fetch(f"SELECT count(*) AS n FROM {side.table(key)}")
    return int(str(r["n"]))


async def cross_check_tables(
    source: Database,
    target: Database,
    pairs: Sequence[TablePair],
    options: CheckOptions,
    *,
    concurrency: int = 2,
    progress: Progress | None = None,
) -> list[TableCheck]:
    """Check every pair across engines, `concurrency` tables at a time (one-sided tables: their row count)."""
    s_side, t_side = side_of(source), side_of(target)

    async def check(pair: TablePair) -> TableCheck:
        return await cross_check_table(s_side, t_side, pair, options)

    return await fan_out(
        pairs,
        (functools.partial(count_rows, s_side), functools.partial(count_rows, t_side)),
        check,
        concurrency=concurrency,
        progress=progress,
    )


def engine_name(db: Database) -> str:
    """'mysql' for a MySQL/MariaDB source, else 'postgresql'."""
    return "mysql" if getattr(db, "engine_name", "postgresql") == "mysql" else "postgresql"


async def load_schema(db: Database, schemas: Sequence[str] | None = None) -> LoadedSchema:
    """The schema snapshot of either engine (`schemas` applies to PostgreSQL; MySQL: the connected database)."""
    if engine_name(db) == "mysql":
        from vf_mcp.db.mysql.pool import MySqlDatabase
        from vf_mcp.db.mysql.schema_snapshot import load_mysql_snapshot

        assert isinstance(db, MySqlDatabase)
        return await load_mysql_snapshot(db)
    return await load_snapshot(db, schemas)
