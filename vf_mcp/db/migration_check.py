"""Row-level comparison of a table in two databases, computed inside each database in key-range chunks.

How one table is compared (a primary key on both sides, the same columns):

1. The source is read in key order, ``chunk_rows`` keys at a time (keyset pagination:
   ``WHERE key > $last ORDER BY key LIMIT n``). Each chunk returns only (rows, digest, last key).
2. The target is summed over the *same key range* (previous last key, this last key], so that rows missing
   in one place shift no later chunk; a last range (last key, end) catches extra target rows at the end.
   The target query of chunk i runs while the source reads chunk i+1 (two connections).
3. The digest of a range is the sum of the first 64 bits of md5(row text) over its rows: equal multisets of
   rows give equal sums, the sum needs no sort and constant memory on the server, and only two numbers
   reach Python per chunk. Row text includes the key, so a key-range digest stands for its (key, row) pairs.
4. A range whose digests differ is narrowed to its rows: both sides return (key, 64-bit row hash) for it
   (at most 2 x chunk_rows rows, two statements), and the keys missing, extra and changed come out exactly.
   At most ``max_detailed_chunks`` ranges are narrowed; beyond that the counts are lower bounds from the
   row counts (``counts_exact`` false).
5. Up to ``sample_rows`` keys of each kind are fetched with their column values (one statement per side).

Row text: ``ARRAY[col1::text, col2::text, ...]::text`` over the columns present on both sides (after
renames), in source column order, with NULL distinct from the string 'NULL'. A target column whose type
differs is cast to the *source* column's type first (``col::numeric(10,2)::text``), so a compatible type
change (integer 37 vs numeric 37.00) compares equal and a lossy one (37.5 -> 38) differs. When that cast
fails in the target, the table is compared again with both sides' plain text (``note`` says so). Sessions
use fixed TimeZone, DateStyle, IntervalStyle, extra_float_digits and bytea_output, so text is canonical.
Text keys sort by their collation; when the two sides' collations differ the keys are compared with
COLLATE "C" on both sides (correct, but without the index order: slower).

Without a usable primary key the table is compared as a whole: row counts plus the same order-independent
digest over all rows (differences cannot be located).

Every statement runs in the sources' READ ONLY transactions with their statement_timeout; one session per
side per table.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace

import asyncpg

from vf_mcp.compute.snapshot import qualified_sql, quote_ident
from vf_mcp.compute.validation import ColumnPair, RowDiff, TablePair, diff_rows
from vf_mcp.concurrency import gather_all
from vf_mcp.db.catalog import split_identifier
from vf_mcp.db.pool import Database
from vf_mcp.db.schema_snapshot import run_statement
from vf_mcp.errors import InvalidArgumentError, QueryError, VfError

CHUNK_ROWS = 10_000
MAX_DETAILED_CHUNKS = 20
MAX_RANGES = 10

CANONICAL_SESSION_SQL = """
SELECT set_config('search_path', '', true), set_config('TimeZone', 'UTC', true),
       set_config('DateStyle', 'ISO, YMD', true), set_config('IntervalStyle', 'iso_8601', true),
       set_config('extra_float_digits', '1', true), set_config('bytea_output', 'hex', true)
"""

Key = tuple[str, ...]
Progress = Callable[[int, int, str], Awaitable[None]]


@dataclass(frozen=True)
class DifferingRange:
    after: Key | None  # exclusive lower bound (None: from the first key)
    upto: Key | None  # inclusive upper bound (None: to the end)
    source_rows: int
    target_rows: int
    missing_in_target: int | None  # None: the range was not narrowed to rows
    extra_in_target: int | None
    changed: int | None
    first_key: Key | None = None  # first and last differing key, when narrowed
    last_key: Key | None = None
    bucket: str | None = None  # the hashed method: which bucket ("7 of 64"), instead of a key range


@dataclass(frozen=True)
class RowSample:
    key: Key
    source: tuple[str | None, ...] | None  # values of the compared columns, as compared (text)
    target: tuple[str | None, ...] | None


@dataclass(frozen=True)
class TableCheck:
    pair: TablePair
    status: str  # ok | differs | missing_in_target | missing_in_source | error
    method: str  # keyed | hashed | unkeyed | none
    source_rows: int | None = None
    target_rows: int | None = None
    missing_in_target: int | None = None
    extra_in_target: int | None = None
    changed: int | None = None
    counts_exact: bool = True
    ranges: tuple[DifferingRange, ...] = ()
    missing_samples: tuple[RowSample, ...] = ()
    extra_samples: tuple[RowSample, ...] = ()
    changed_samples: tuple[RowSample, ...] = ()
    chunks: int = 0
    statements: int = 0
    elapsed_s: float = 0.0
    compared_as_text: tuple[str, ...] = ()  # retyped columns compared as plain text (the cast failed)
    note: str | None = None


# --------------------------------------------------------------------------------------------------
# SQL text (identifiers always quoted; values always parameters)


@dataclass(frozen=True)
class _Side:
    """How one database's side of a table pair is written in SQL."""

    table_sql: str
    key_cols: tuple[str, ...]
    key_types: tuple[str, ...]
    key_collate_c: tuple[bool, ...]
    key_text: tuple[str, ...]  # canonical text of each key column
    value_text: tuple[str, ...]  # canonical text of each compared column

    @property
    def row_text(self) -> str:
        return f"ARRAY[{', '.join(self.value_text)}]::text"

    @property
    def row_hash(self) -> str:
        return f"('x' || left(md5({self.row_text}), 16))::bit(64)::bigint"

    @property
    def key_array(self) -> str:
        return f"ARRAY[{', '.join(self.key_text)}]::text[]"

    def order_exprs(self, prefix: str = "t.") -> list[str]:
        return [
            f"{prefix}{quote_ident(c)}" + (' COLLATE "C"' if cc else "")
            for c, cc in zip(self.key_cols, self.key_collate_c, strict=True)
        ]

    def key_params(self, start: int) -> list[str]:
        return [
            f"${start + i}::text::{t}" + (' COLLATE "C"' if cc else "")
            for i, (t, cc) in enumerate(zip(self.key_types, self.key_collate_c, strict=True))
        ]

    def compare(self, op: str, start: int) -> str:
        """`(key) op (params $start...)` as a row comparison (plain for one column)."""
        left, right = self.order_exprs(), self.key_params(start)
        if len(left) == 1:
            return f"{left[0]} {op} {right[0]}"
        return f"({', '.join(left)}) {op} ({', '.join(right)})"

    def range_where(self, after: Key | None, upto: Key | None) -> tuple[str, list[str]]:
        conds, args = [], []
        if after is not None:
            conds.append(self.compare(">", 1))
            args += list(after)
        if upto is not None:
            conds.append(self.compare("<=", len(args) + 1))
            args += list(upto)
        return (" WHERE " + " AND ".join(conds)) if conds else "", args

    def chunk_sql(self, *, first: bool, limit: int) -> str:
        """The source's next chunk: rows, digest and last key of the next `limit` keys."""
        raw = ", ".join(f"t.{quote_ident(c)} AS r{i}" for i, c in enumerate(self.key_cols))
        where = "" if first else f" WHERE {self.compare('>', 1)}"
        outer = ", ".join(f"r{i}" + (' COLLATE "C"' if cc else "") + " DESC" for i, cc in enumerate(self.key_collate_c))
        inner = ", ".join(self.order_exprs())
        return (
            f"WITH c AS MATERIALIZED (SELECT {raw}, {self.key_array} AS k, {self.row_hash} AS h "
            f"FROM {self.table_sql} t{where} ORDER BY {inner} LIMIT {int(limit)}) "
            f"SELECT count(*)::bigint AS rows, coalesce(sum(h), 0)::text AS digest, "
            f"(SELECT k FROM c ORDER BY {outer} LIMIT 1) AS last_key FROM c"
        )

    def range_sql(self, after: Key | None, upto: Key | None) -> tuple[str, list[str]]:
        where, args = self.range_where(after, upto)
        sql = (
            f"SELECT count(*)::bigint AS rows, coalesce(sum({self.row_hash}), 0)::text AS digest "
            f"FROM {self.table_sql} t{where}"
        )
        return sql, args

    def rows_sql(self, after: Key | None, upto: Key | None, limit: int) -> tuple[str, list[str]]:
        where, args = self.range_where(after, upto)
        sql = (
            f"SELECT {self.key_array} AS k, left(md5({self.row_text}), 16) AS h FROM {self.table_sql} t{where} "
            f"ORDER BY {', '.join(self.order_exprs())} LIMIT {int(limit)}"
        )
        return sql, args

    def values_sql(self) -> str:
        """Rows by key ($1.. are text arrays, one per key column): key text and compared values as text."""
        cols = ", ".join(f"t.{quote_ident(c)}" for c in self.key_cols)
        casts = ", ".join(f"u.a{i}::{t}" for i, t in enumerate(self.key_types))
        arrays = ", ".join(f"${i + 1}::text[]" for i in range(len(self.key_cols)))
        names = ", ".join(f"a{i}" for i in range(len(self.key_cols)))
        target = f"({cols})" if len(self.key_cols) > 1 else cols
        return (
            f"SELECT {self.key_array} AS k, ARRAY[{', '.join(self.value_text)}]::text[] AS v "
            f"FROM {self.table_sql} t WHERE {target} IN (SELECT {casts} FROM unnest({arrays}) AS u({names}))"
        )

    def whole_sql(self) -> str:
        return (
            f"SELECT count(*)::bigint AS rows, coalesce(sum({self.row_hash}), 0)::text AS digest "
            f"FROM {self.table_sql} t"
        )


def _sides(pair: TablePair, *, text_only: bool) -> tuple[_Side, _Side]:
    assert pair.source is not None and pair.target is not None
    collate_c = tuple(not k.same_order and k.source_collation is not None for k in pair.key)

    def target_text(p: ColumnPair) -> str:
        col = f"t.{quote_ident(p.target)}"
        return f"{col}::text" if not p.retyped or text_only else f"{col}::{p.source_type}::text"

    src = _Side(
        table_sql=qualified_sql(*pair.source),
        key_cols=tuple(k.source for k in pair.key),
        key_types=tuple(k.source_type for k in pair.key),
        key_collate_c=collate_c,
        key_text=tuple(f"t.{quote_ident(k.source)}::text" for k in pair.key),
        value_text=tuple(f"t.{quote_ident(p.source)}::text" for p in pair.columns),
    )
    tgt = _Side(
        table_sql=qualified_sql(*pair.target),
        key_cols=tuple(k.target for k in pair.key),
        key_types=tuple(k.target_type for k in pair.key),
        key_collate_c=collate_c,
        key_text=tuple(target_text(k) for k in pair.key),
        value_text=tuple(target_text(p) for p in pair.columns),
    )
    return src, tgt


# --------------------------------------------------------------------------------------------------
# Running it


@dataclass
class _Session:
    """One side's open read-only session and its statement count."""

    db: Database
    conn: asyncpg.Connection
    statements: int = 0

    async def fetch(self, sql: str, *args: object) -> list[asyncpg.Record]:
        self.statements += 1
        return await run_statement(self.db, self.conn, sql, *args)


@dataclass
class _Tally:
    missing: int = 0
    extra: int = 0
    changed: int = 0
    exact: bool = True
    detailed: int = 0
    chunks: int = 0
    source_rows: int = 0
    target_rows: int = 0
    ranges: list[DifferingRange] = field(default_factory=list)
    missing_keys: list[Key] = field(default_factory=list)
    extra_keys: list[Key] = field(default_factory=list)
    changed_keys: list[Key] = field(default_factory=list)


@dataclass(frozen=True)
class CheckOptions:
    sample_rows: int = 5
    chunk_rows: int = CHUNK_ROWS
    max_detailed_chunks: int = MAX_DETAILED_CHUNKS


async def check_table(source: Database, target: Database, pair: TablePair, options: CheckOptions) -> TableCheck:
    """Compare one table pair (both sides present); a retyped column whose cast fails is compared as text."""
    started = time.perf_counter()
    try:
        result = await _check(source, target, pair, options, text_only=False)
    except QueryError as exc:
        retyped = tuple(p.source for p in pair.columns if p.retyped)
        if not retyped:
            raise
        result = await _check(source, target, pair, options, text_only=True)
        result = replace(
            result,
            compared_as_text=retyped,
            note=_join(
                result.note,
                f"retyped column(s) {', '.join(retyped)} did not cast to the source type in the target "
                f"({exc.message.split(' Detail:')[0]}); compared as plain text",
            ),
        )
    return replace(result, elapsed_s=round(time.perf_counter() - started, 3))


def _join(*notes: str | None) -> str | None:
    text = "; ".join(n for n in notes if n)
    return text or None


async def _check(
    source: Database, target: Database, pair: TablePair, options: CheckOptions, *, text_only: bool
) -> TableCheck:
    src_side, tgt_side = _sides(pair, text_only=text_only)
    async with source.read_only() as sconn, target.read_only() as tconn:
        s, t = _Session(source, sconn), _Session(target, tconn)
        await gather_all(s.fetch(CANONICAL_SESSION_SQL), t.fetch(CANONICAL_SESSION_SQL))
        if not pair.key:
            return await _check_unkeyed(pair, src_side, tgt_side, s, t)
        tally = await _scan(src_side, tgt_side, s, t, options)
        samples = await _samples(pair, src_side, tgt_side, s, t, tally, options.sample_rows)
    differs = tally.missing or tally.extra or tally.changed or not tally.exact
    collated = [k.source for k, c in zip(pair.key, src_side.key_collate_c, strict=True) if c]
    note = None
    if collated:
        note = f'key column(s) {", ".join(collated)} sort differently in the two databases: compared with COLLATE "C"'
    if not tally.exact:
        note = _join(
            note,
            f"some differing key ranges were not narrowed to rows (at most {options.max_detailed_chunks} are, "
            f"each with at most {2 * options.chunk_rows} rows a side): there missing/extra are lower bounds "
            "from row counts and changed rows are not counted",
        )
    return TableCheck(
        pair=pair,
        status="differs" if differs else "ok",
        method="keyed",
        source_rows=tally.source_rows,
        target_rows=tally.target_rows,
        missing_in_target=tally.missing,
        extra_in_target=tally.extra,
        changed=tally.changed,
        counts_exact=tally.exact,
        ranges=tuple(tally.ranges),
        missing_samples=samples[0],
        extra_samples=samples[1],
        changed_samples=samples[2],
        chunks=tally.chunks,
        statements=s.statements + t.statements,
        note=note,
    )


async def _check_unkeyed(pair: TablePair, src: _Side, tgt: _Side, s: _Session, t: _Session) -> TableCheck:
    (a,), (b,) = await gather_all(s.fetch(src.whole_sql()), t.fetch(tgt.whole_sql()))
    same = a["rows"] == b["rows"] and a["digest"] == b["digest"]
    missing = max(0, a["rows"] - b["rows"])
    extra = max(0, b["rows"] - a["rows"])
    return TableCheck(
        pair=pair,
        status="ok" if same else "differs",
        method="unkeyed",
        source_rows=a["rows"],
        target_rows=b["rows"],
        missing_in_target=missing,
        extra_in_target=extra,
        changed=None if not same else 0,
        counts_exact=same,
        chunks=1,
        statements=s.statements + t.statements,
        note=f"{pair.key_note}: compared row counts and an order-independent checksum of all rows; "
        + ("they match" if same else "differences cannot be located (missing/extra are lower bounds)"),
    )


async def _scan(src: _Side, tgt: _Side, s: _Session, t: _Session, options: CheckOptions) -> _Tally:
    """Source chunks in key order; the target summed over the same ranges, one step behind (pipelined)."""
    tally = _Tally()
    n = options.chunk_rows
    pending: tuple[Key | None, Key, int, str, asyncio.Task[list[asyncpg.Record]]] | None = None
    after: Key | None = None
    try:
        while True:
            sql = src.chunk_sql(first=after is None, limit=n)
            (row,) = await s.fetch(sql, *(after or ()))
            if pending is not None:
                await _settle(src, tgt, s, t, tally, options, pending)
                pending = None
            rows = int(row["rows"])
            if rows == 0:
                break
            upto: Key = tuple(row["last_key"])
            range_sql, args = tgt.range_sql(after, upto)
            task = asyncio.ensure_future(t.fetch(range_sql, *args))
            pending = (after, upto, rows, row["digest"], task)
            after = upto
            if rows < n:
                break
        if pending is not None:
            await _settle(src, tgt, s, t, tally, options, pending)
            pending = None
        # the range after the source's last key: rows there exist only in the target
        range_sql, args = tgt.range_sql(after, None)
        task = asyncio.ensure_future(t.fetch(range_sql, *args))
        await _settle(src, tgt, s, t, tally, options, (after, None, 0, "0", task))
    finally:
        if pending is not None:  # an error while the target's sum was in flight: stop it and collect it
            if not pending[4].done():
                pending[4].cancel()
            await asyncio.gather(pending[4], return_exceptions=True)
    return tally


async def _settle(
    src: _Side,
    tgt: _Side,
    s: _Session,
    t: _Session,
    tally: _Tally,
    options: CheckOptions,
    pending: tuple[Key | None, Key | None, int, str, asyncio.Task[list[asyncpg.Record]]],
) -> None:
    """Compare one range's two summaries; narrow a differing range to its rows while the budget lasts."""
    after, upto, s_rows, s_digest, task = pending
    (trow,) = await task
    t_rows, t_digest = int(trow["rows"]), trow["digest"]
    tally.chunks += 1
    tally.source_rows += s_rows
    tally.target_rows += t_rows
    if s_rows == t_rows and s_digest == t_digest:
        return
    n = options.chunk_rows
    detail: RowDiff | None = None  # every differing row of the range
    sampled: RowDiff | None = None  # some keys of a one-sided range
    known = True
    if tally.detailed < options.max_detailed_chunks and s_rows <= 2 * n and t_rows <= 2 * n:
        tally.detailed += 1
        detail = await _rows_of_range(src, tgt, s, t, after, upto, s_rows, t_rows)
        missing, extra, changed = len(detail.missing), len(detail.extra), len(detail.changed)
    elif s_rows == 0 or t_rows == 0:  # one side empty: every row of the other is missing / extra
        missing, extra, changed = s_rows, t_rows, 0
        bucket = tally.extra_keys if s_rows == 0 else tally.missing_keys
        if len(bucket) < options.sample_rows:
            side, session = (tgt, t) if s_rows == 0 else (src, s)
            sql, args = side.rows_sql(after, upto, options.sample_rows)
            keys = tuple(tuple(r["k"]) for r in await session.fetch(sql, *args))
            sampled = RowDiff(missing=keys if t_rows == 0 else (), extra=keys if s_rows == 0 else (), changed=())
    else:
        known = False
        tally.exact = False
        missing, extra, changed = max(0, s_rows - t_rows), max(0, t_rows - s_rows), 0
    tally.missing += missing
    tally.extra += extra
    tally.changed += changed
    for found in (detail, sampled):
        if found is None:
            continue
        for keys, bucket in (
            (found.missing, tally.missing_keys),
            (found.extra, tally.extra_keys),
            (found.changed, tally.changed_keys),
        ):
            bucket.extend(keys[: max(0, options.sample_rows - len(bucket))])
    if len(tally.ranges) < MAX_RANGES:
        differing = [*detail.missing, *detail.extra, *detail.changed] if detail is not None else []
        tally.ranges.append(
            DifferingRange(
                after=after,
                upto=upto,
                source_rows=s_rows,
                target_rows=t_rows,
                missing_in_target=missing if known else None,
                extra_in_target=extra if known else None,
                changed=changed if known else None,
                first_key=min(differing, key=_sort_key) if differing else None,
                last_key=max(differing, key=_sort_key) if differing else None,
            )
        )


def _sort_key(key: Key) -> tuple[tuple[int, float | str], ...]:
    """Order keys for display: numbers numerically, anything else as text."""
    out: list[tuple[int, float | str]] = []
    for part in key:
        try:
            out.append((0, float(part)))
        except ValueError:
            out.append((1, part))
    return tuple(out)


async def _rows_of_range(
    src: _Side,
    tgt: _Side,
    s: _Session,
    t: _Session,
    after: Key | None,
    upto: Key | None,
    s_rows: int,
    t_rows: int,
) -> RowDiff:
    """(key, row hash) of every row of a range on both sides (both bounded by 2 x chunk_rows), compared."""
    s_sql, s_args = src.rows_sql(after, upto, max(1, s_rows))
    t_sql, t_args = tgt.rows_sql(after, upto, max(1, t_rows))
    s_found, t_found = await asyncio.gather(
        s.fetch(s_sql, *s_args) if s_rows else _nothing(), t.fetch(t_sql, *t_args) if t_rows else _nothing()
    )
    return diff_rows({tuple(r["k"]): r["h"] for r in s_found}, {tuple(r["k"]): r["h"] for r in t_found})


async def _nothing() -> list[asyncpg.Record]:
    return []


async def _samples(
    pair: TablePair, src: _Side, tgt: _Side, s: _Session, t: _Session, tally: _Tally, limit: int
) -> tuple[tuple[RowSample, ...], tuple[RowSample, ...], tuple[RowSample, ...]]:
    """Column values of the sampled keys: source rows for missing and changed, target rows for extra and changed."""
    missing, extra, changed = tally.missing_keys[:limit], tally.extra_keys[:limit], tally.changed_keys[:limit]
    if not (missing or extra or changed):
        return (), (), ()

    async def values(side: _Side, session: _Session, keys: list[Key]) -> dict[Key, tuple[str | None, ...]]:
        if not keys:
            return {}
        columns = [[k[i] for k in keys] for i in range(len(side.key_cols))]
        rows = await session.fetch(side.values_sql(), *columns)
        return {tuple(r["k"]): tuple(r["v"]) for r in rows}

    before, after = await asyncio.gather(values(src, s, missing + changed), values(tgt, t, extra + changed))
    return (
        tuple(RowSample(k, before.get(k), None) for k in missing),
        tuple(RowSample(k, None, after.get(k)) for k in extra),
        tuple(RowSample(k, before.get(k), after.get(k)) for k in changed),
    )


async def count_rows(db: Database, table: tuple[str, str]) -> int:
    """Exact row count of a table present on one side only."""
    rows = await db.fetch(f"SELECT count(*)::bigint AS n FROM {qualified_sql(*table)}")
    return int(rows[0]["n"])


async def check_tables(
    source: Database,
    target: Database,
    pairs: Sequence[TablePair],
    options: CheckOptions,
    *,
    concurrency: int = 2,
    progress: Progress | None = None,
) -> list[TableCheck]:
    """Check every pair (tables on one side only: their row count), `concurrency` tables at a time."""

    async def check(pair: TablePair) -> TableCheck:
        return await check_table(source, target, pair, options)

    return await fan_out(
        pairs,
        (functools.partial(count_rows, source), functools.partial(count_rows, target)),
        check,
        concurrency=concurrency,
        progress=progress,
    )


async def fan_out(
    pairs: Sequence[TablePair],
    counts: tuple[Callable[[tuple[str, str]], Awaitable[int]], Callable[[tuple[str, str]], Awaitable[int]]],
    check: Callable[[TablePair], Awaitable[TableCheck]],
    *,
    concurrency: int,
    progress: Progress | None,
) -> list[TableCheck]:
    """Run `check` on every pair present on both sides and `counts` (source, target) on one-sided ones,
    `concurrency` at a time; a VfError becomes that table's error; progress after each table."""
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0

    async def one(pair: TablePair) -> TableCheck:
        nonlocal done
        async with gate:
            started = time.perf_counter()
            try:
                if pair.target is None:
                    assert pair.source is not None
                    n = await counts[0](pair.source)
                    result = TableCheck(
                        pair=pair, status="missing_in_target", method="none", source_rows=n, statements=1
                    )
                elif pair.source is None:
                    n = await counts[1](pair.target)
                    result = TableCheck(
                        pair=pair, status="missing_in_source", method="none", target_rows=n, statements=1
                    )
                else:
                    result = await check(pair)
            except VfError as exc:
                result = TableCheck(pair=pair, status="error", method="none", note=exc.message)
            if not result.elapsed_s:
                result = replace(result, elapsed_s=round(time.perf_counter() - started, 3))
        done += 1
        if progress is not None:
            await progress(done, len(pairs), f"{pair.name}: {result.status}")
        return result

    return list(await asyncio.gather(*(one(p) for p in pairs)))


def resolve_table(name: str, tables: Collection[tuple[str, str]]) -> tuple[str, str] | None:
    """`name` (table, schema.table, quoted parts) among `tables`; None when absent, an error when ambiguous."""
    parts = split_identifier(name)

    def fold(actual: str, part: tuple[str, bool]) -> bool:
        return actual == part[0] if part[1] else actual.lower() == part[0].lower()

    if len(parts) == 2:
        exact = [t for t in tables if t == (parts[0][0], parts[1][0])]
        cands = exact or [t for t in tables if fold(t[0], parts[0]) and fold(t[1], parts[1])]
    else:
        exact = [t for t in tables if t[1] == parts[0][0]]
        cands = exact or [t for t in tables if fold(t[1], parts[0])]
        if len(cands) > 1 and sum(t[0] == "public" for t in cands) == 1:
            cands = [t for t in cands if t[0] == "public"]
    if len(cands) > 1:
        raise InvalidArgumentError(
            f"Table name {name!r} is ambiguous: {', '.join(sorted(f'{s}.{n}' for s, n in cands))}. "
            "Qualify it with its schema."
        )
    return cands[0] if cands else None
