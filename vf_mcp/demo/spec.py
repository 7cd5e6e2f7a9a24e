"""A small declarative layer for the demo tables: table/column specs and seeded column generators.

Every generator is a function of a `Chunk` (a block of consecutive rows of one table) returning one
list of values per column. Randomness comes only from `random.Random` instances seeded from the
demo seed and the table name, so the same seed and scale give the same data.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from statistics import NormalDist
from typing import Any, TypeVar, cast

from vf_mcp.demo.pools import PHONE_PREFIXES

_T = TypeVar("_T")

SAST = timezone(timedelta(hours=2), "SAST")
ANCHOR = datetime(2026, 11, 20, 17, 0, tzinfo=SAST)
"""The canonical 'now' the generators work in: every event is at or before it. load_demo moves every
date and timestamp by whole days so that it falls on the anchor date (the day the database is made)."""
HISTORY_START = datetime(2025, 1, 6, 7, 0, tzinfo=SAST)
"""Start of the drop-installation history (about 22.5 months before ANCHOR)."""


def demo_today() -> date:
    """Today where the demo company works (South Africa): the anchor date of a demo made now."""
    return datetime.now(SAST).date()


def shift_days(anchor: date) -> int:
    """Whole days that move the canonical ANCHOR onto `anchor` (negative for an earlier date)."""
    return (anchor - ANCHOR.date()).days


class Ctx:
    """What generators share: seed, scale, every table's row count and cached derived data."""

    def __init__(self, seed: int, scale: int, counts: dict[str, int]) -> None:
        self.seed = seed
        self.scale = scale
        self.counts = counts
        self._cache: dict[tuple[object, ...], object] = {}

    def rng(self, *parts: object) -> random.Random:
        """A fresh generator for `parts`; string seeds are hashed with SHA-512, so this is stable."""
        return random.Random(":".join([str(self.seed), *map(str, parts)]))

    def cached(self, key: tuple[object, ...], make: Callable[[], _T]) -> _T:
        if key not in self._cache:
            self._cache[key] = make()
        return cast(_T, self._cache[key])  # each key is always made by the same `make`

    def positions(
        self, table: str, tag: str, k: int, total: int, *, odd: bool = False, exclude: Collection[int] = ()
    ) -> list[int]:
        """`k` distinct row indexes (0-based) of `table`, chosen once per (table, tag).

        `odd` restricts the choice to odd indexes, so no two are adjacent and none starts a chunk.
        """

        def make() -> list[int]:
            rng = self.rng("positions", table, tag)
            chosen: set[int] = set()
            room = (total // 2 if odd else total) - len(exclude)
            while len(chosen) < min(k, room):
                p = rng.randrange(total // 2) * 2 + 1 if odd else rng.randrange(total)
                if p not in exclude:
                    chosen.add(p)
            return sorted(chosen)

        result: list[int] = self.cached(("positions", table, tag, k, total), make)
        return result

    def zipf_cum_weights(self, table: str, s: float) -> list[float]:
        """Cumulative Zipf weights over ids 1..n of `table`, ranks shuffled once per seed."""

        def make() -> list[float]:
            n = self.counts[table]
            ranks = list(range(1, n + 1))
            self.rng("zipf", table).shuffle(ranks)
            return list(itertools.accumulate(1.0 / r**s for r in ranks))

        result: list[float] = self.cached(("zipf", table, s), make)
        return result


@dataclass
class Chunk:
    """Consecutive rows [start, start + n) of a table that has `total` rows."""

    ctx: Ctx
    rng: random.Random
    table: str
    total: int
    start: int
    n: int
    mult: int  # the scale for scaled tables, else 1
    cols: dict[str, list[Any]] = field(default_factory=dict)  # earlier columns, read back by later generators

    def local(self, positions: Sequence[int]) -> list[int]:
        """The chunk-relative indexes of the global row `positions` that fall in this chunk."""
        lo = bisect.bisect_left(positions, self.start)
        hi = bisect.bisect_left(positions, self.start + self.n)
        return [p - self.start for p in positions[lo:hi]]

    def fraction(self, i: int) -> float:
        """Row i's position in the whole table, in [0, 1)."""
        return (self.start + i + self.rng.random()) / self.total


Gen = Callable[[Chunk], list[object]]
Post = Callable[[Chunk], None]


@dataclass(frozen=True)
class Col:
    """A column: name, SQL type (with NOT NULL etc.), its generator, an optional FK target, comment."""

    name: str
    type: str
    gen: Gen | None
    fk: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class Table:
    """A table: regclass-style name ('drops', 'ops.work_orders'), rows at scale 1 and its columns."""

    name: str
    base_rows: int
    cols: tuple[Col, ...]
    scaled: bool = False
    id_type: str | None = "integer"  # None: no id primary key
    comment: str | None = None
    build: Callable[[Chunk], dict[str, list[object]]] | None = None  # fills columns whose gen is None
    post: tuple[Post, ...] = ()
    indexes: tuple[str, ...] = ()  # column lists, one index each
    uniques: tuple[str, ...] = ()  # column lists, one unique constraint each
    whole: bool = False  # generate in a single chunk (build needs the whole table)

    def rows(self, scale: int) -> int:
        return self.base_rows * scale if self.scaled else self.base_rows

    @property
    def schema(self) -> str:
        return self.name.split(".")[0] if "." in self.name else "public"

    @property
    def bare(self) -> str:
        return self.name.split(".")[-1]

    @property
    def column_names(self) -> list[str]:
        return (["id"] if self.id_type else []) + [c.name for c in self.cols]


# --- value helpers ---------------------------------------------------------------------------------


def office_hours(rng: random.Random, day: date, *, sundays: bool = False) -> datetime:
    """A time on `day` between 07:00 and 17:00 SAST; Sundays move to Monday unless `sundays`."""
    if day.weekday() == 6 and not sundays:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 7, tzinfo=SAST) + timedelta(seconds=rng.randrange(36_000))


def sa_phone(rng: random.Random) -> str:
    """A South African number, '+27 82 123 4567' or '082 123 4567'."""
    prefix = rng.choice(PHONE_PREFIXES)
    body = f"{rng.randrange(1000):03d} {rng.randrange(10000):04d}"
    return f"+27 {prefix} {body}" if rng.random() < 0.45 else f"0{prefix} {body}"


def email_local(first: str, last: str) -> str:
    return f"{first}.{last}".lower().replace(" ", "")


def money(rng: random.Random, lo: float, hi: float) -> Decimal:
    """A Decimal with two places, uniform in [lo, hi)."""
    return Decimal(rng.randrange(int(lo * 100), int(hi * 100))) / 100


# --- column generators -----------------------------------------------------------------------------


def values(seq: Sequence[object]) -> Gen:
    """Fixed values, one per row (the table's row count must equal len(seq))."""
    return lambda c: list(seq[c.start : c.start + c.n])


def const(value: object) -> Gen:
    return lambda c: [value] * c.n


def code(fmt: str, offset: int = 0) -> Gen:
    """Codes from the 1-based row number, e.g. code('WO-{:06d}')."""
    return lambda c: [fmt.format(c.start + i + 1 + offset) for i in range(c.n)]


def pick(options: Sequence[object], weights: Sequence[float] | None = None, *, null: float = 0.0) -> Gen:
    """Random choice per row (weighted if `weights`), None with probability `null`."""

    def gen(c: Chunk) -> list[object]:
        out = c.rng.choices(options, weights, k=c.n)
        return _nullify(c, out, null)

    return gen


def ref(table: str, *, zipf: float | None = None, null: float = 0.0) -> Gen:
    """Ids 1..count(table), uniform or Zipf-skewed (`zipf` exponent)."""

    def gen(c: Chunk) -> list[object]:
        n = c.ctx.counts[table]
        ids = range(1, n + 1)
        if zipf is None:
            rnd = c.rng.random
            out: list[object] = [int(rnd() * n) + 1 for _ in range(c.n)]
        else:
            out = c.rng.choices(ids, cum_weights=c.ctx.zipf_cum_weights(table, zipf), k=c.n)
        return _nullify(c, out, null)

    return gen


def ints(lo: int, hi: int, *, null: float = 0.0) -> Gen:
    """Uniform integers in [lo, hi]."""
    span = hi - lo + 1

    def gen(c: Chunk) -> list[object]:
        rnd = c.rng.random
        return _nullify(c, [lo + int(rnd() * span) for _ in range(c.n)], null)

    return gen


def floats(lo: float, hi: float, places: int = 2, *, null: float = 0.0) -> Gen:
    """Uniform floats in [lo, hi), rounded."""
    width = hi - lo

    def gen(c: Chunk) -> list[object]:
        rnd = c.rng.random
        return _nullify(c, [round(lo + rnd() * width, places) for _ in range(c.n)], null)

    return gen


_NORMAL_GRID = 4096
_STD_NORMAL = [NormalDist().inv_cdf((k + 0.5) / _NORMAL_GRID) for k in range(_NORMAL_GRID)]


def normal(mu: float, sigma: float, places: int = 2) -> Gen:
    """Normally distributed floats (from a fine quantile grid, much faster than random.gauss)."""
    grid = [round(mu + sigma * z, places) for z in _STD_NORMAL]

    def gen(c: Chunk) -> list[object]:
        rnd = c.rng.random
        return [grid[int(rnd() * _NORMAL_GRID)] for _ in range(c.n)]

    return gen


def amounts(lo: float, hi: float, *, null: float = 0.0) -> Gen:
    """Decimal money amounts in [lo, hi)."""
    return lambda c: _nullify(c, [money(c.rng, lo, hi) for _ in range(c.n)], null)


def bools(p_true: float) -> Gen:
    return lambda c: [c.rng.random() < p_true for _ in range(c.n)]


def timeline(start: datetime = HISTORY_START, end: datetime = ANCHOR, *, growth: float = 1.0) -> Gen:
    """Timestamps that rise with the row number (ids are chronological), jittered.

    `growth` > 1 makes later periods busier (density grows like t**(growth - 1)).
    """
    span = (end - start).total_seconds()
    power = 1 / growth
    start = start.astimezone(UTC)  # same instants; UTC datetimes encode a little faster

    def gen(c: Chunk) -> list[object]:
        rnd, first, total = c.rng.random, c.start, c.total
        return [start + timedelta(seconds=int(span * ((first + i + rnd()) / total) ** power)) for i in range(c.n)]

    return gen


def stamps(start: datetime = HISTORY_START, end: datetime = ANCHOR, *, null: float = 0.0) -> Gen:
    """Uniform random timestamps in [start, end]."""
    span = int((end - start).total_seconds())
    start = start.astimezone(UTC)

    def gen(c: Chunk) -> list[object]:
        rnd = c.rng.random
        return _nullify(c, [start + timedelta(seconds=int(rnd() * span)) for _ in range(c.n)], null)

    return gen


def days(start: date, end: date, *, null: float = 0.0) -> Gen:
    """Uniform random dates in [start, end]."""
    span = (end - start).days
    return lambda c: _nullify(c, [start + timedelta(days=c.rng.randint(0, span)) for _ in range(c.n)], null)


def after(
    col: str, lo_hours: float, hi_hours: float, *, null: float = 0.0, as_date: bool = False, clamp: bool = True
) -> Gen:
    """`col` (a timestamp or date) plus a random delay in hours; None where `col` is None.

    With `clamp` (for things that already happened) the result is never later than ANCHOR.
    """

    def gen(c: Chunk) -> list[object]:
        out: list[object] = []
        for base in c.cols[col]:
            if base is None:
                out.append(None)
                continue
            delay = timedelta(hours=c.rng.uniform(lo_hours, hi_hours))
            if isinstance(base, datetime):
                t = (base + delay).replace(microsecond=0)
                t = min(t, ANCHOR) if clamp else t
                out.append(t.date() if as_date else t)
            else:
                d = base + timedelta(days=delay.days)
                out.append(min(d, ANCHOR.date()) if clamp else d)
        return _nullify(c, out, null)

    return gen


def cover(table: str) -> Gen:
    """Ids of `table`: each id once for the first rows (so every parent has a child), then random."""

    def gen(c: Chunk) -> list[object]:
        n = c.ctx.counts[table]
        return [g + 1 if g < n else c.rng.randint(1, n) for g in range(c.start, c.start + c.n)]

    return gen


def at_row(c: Chunk, i: int, start: datetime = HISTORY_START, end: datetime = ANCHOR) -> datetime:
    """A timestamp between start and end that rises with the row number."""
    return start + timedelta(seconds=int((end - start).total_seconds() * c.fraction(i)))


def derive(fn: Callable[[Chunk, int], object]) -> Gen:
    """A value computed per row from the chunk (earlier columns are in c.cols)."""
    return lambda c: [fn(c, i) for i in range(c.n)]


def distinct_pairs(a: str, b: str, which: int) -> Gen:
    """Component `which` (0 or 1) of distinct (id in a, id in b) pairs; whole-table tables only."""

    def gen(c: Chunk) -> list[object]:
        def make() -> list[tuple[int, int]]:
            na, nb = c.ctx.counts[a], c.ctx.counts[b]
            idx = c.ctx.rng("pairs", c.table).sample(range(na * nb), c.total)
            return sorted((i // nb + 1, i % nb + 1) for i in idx)

        pairs: list[tuple[int, int]] = c.ctx.cached(("pairs", c.table), make)
        return [p[which] for p in pairs[c.start : c.start + c.n]]

    return gen


def _nullify(c: Chunk, out: list[object], p: float) -> list[object]:
    if p > 0:
        rnd = c.rng.random
        return [None if rnd() < p else v for v in out]
    return out


# --- planted defects (post-processing hooks) -------------------------------------------------------


def null_out(cols: Sequence[str], k: int, tag: str = "nulls") -> Post:
    """Set `cols` to NULL in exactly k (times the scale, for scaled tables) rows."""

    def post(c: Chunk) -> None:
        for i in c.local(c.ctx.positions(c.table, tag, k * c.mult, c.total)):
            for col in cols:
                c.cols[col][i] = None

    return post


def duplicate_rows(k: int) -> Post:
    """Make k (times the scale) rows exact copies of the row before them, except for the id."""

    def post(c: Chunk) -> None:
        for i in c.local(dup_positions(c, k)):
            for name, col in c.cols.items():
                if name != "id":
                    col[i] = col[i - 1]

    return post


def dup_positions(c: Chunk, k: int) -> list[int]:
    """The rows `duplicate_rows(k)` overwrites (odd indexes: never adjacent, never a chunk start)."""
    return c.ctx.positions(c.table, "dups", k * c.mult, c.total, odd=True)


def orphans(col: str, target: str, k: int, *, dups: int = 0) -> Post:
    """Point `col` of k (times the scale) rows at ids that `target` does not have.

    `dups` is the table's duplicate_rows count; those rows and their originals are left alone.
    """

    def post(c: Chunk) -> None:
        top = c.ctx.counts[target]
        rng = c.ctx.rng("orphans", c.table, c.start)
        taken = dup_positions(c, dups) if dups else []
        exclude = frozenset(taken) | {p - 1 for p in taken}
        for i in c.local(c.ctx.positions(c.table, "orphans", k * c.mult, c.total, exclude=exclude)):
            c.cols[col][i] = top + rng.randint(1, 5_000)

    return post


def corrupt(col: str, fixes: Sequence[Callable[[str], str]], *, nulls: int = 0, tag: str) -> Post:
    """Set `col` to NULL in `nulls` rows and apply each of `fixes` to one other row (rows chosen once)."""

    def post(c: Chunk) -> None:
        pos = c.ctx.positions(c.table, tag, nulls + len(fixes), c.total)
        order = c.ctx.rng("corrupt-order", c.table, tag).sample(pos, len(pos))
        rank = {p: r for r, p in enumerate(order)}
        for i in c.local(pos):
            r = rank[c.start + i]
            c.cols[col][i] = None if r < nulls else fixes[r - nulls](c.cols[col][i])

    return post
