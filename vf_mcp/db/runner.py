"""Run one model-written statement: guard, prepare (extended protocol), cursor-fetch within caps, convert.

The cap stops the database work too: rows come from a portal, `limit + 1` at a time, so a capped query
reads only what it returns. The caps also bound memory: a SELECT/VALUES/TABLE with variable-length columns is
wrapped (`bounded_sql`) so that, inside PostgreSQL, a value over max_result_bytes becomes a short preview
ending "… [value cut: N bytes]" and rows starting past max_result_bytes come back empty: one call never
holds much more than max_result_bytes plus one row (each value at most max_result_bytes) of result data.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from vf_mcp.db.catalog import Catalog
from vf_mcp.db.convert import (
    NUMERIC_AS_TEXT,
    Converters,
    JSONValue,
    PgAttribute,
    PgType,
    convert_row,
    converters_for,
    numeric_columns,
    type_label,
    uniform_numerics,
)
from vf_mcp.db.gate import check_user_sql
from vf_mcp.db.guard import CheckedStatement
from vf_mcp.db.masking import mask_by_lineage, masked_json_rows
from vf_mcp.db.offload import OFF_LOOP_CHARS, off_loop
from vf_mcp.db.pool import Database, note_sql
from vf_mcp.errors import InvalidArgumentError, db_errors
from vf_mcp.identifiers import quote_ident

if TYPE_CHECKING:
    from asyncpg import Record

# Types whose values have a fixed, small size (typlen > 0): never cut, never measured.
_FIXED_TYPES = frozenset(
    (
        "bool", "int2", "int4", "int8", "oid", "xid", "xid8", "cid", "float4", "float8", "money", "char",
        "name", "date", "time", "timetz", "timestamp", "timestamptz", "interval", "uuid", "macaddr",
        "macaddr8", "point", "lseg", "box", "line", "circle", "tid", "pg_lsn", "regclass", "regtype",
        "regproc", "regprocedure", "regoper", "regoperator", "regconfig", "regdictionary", "regnamespace",
        "regrole", "regcollation", "void",
    )
)  # fmt: skip
# Types whose octet_length is their (uncompressed) size, without converting them.
_OCTET_TYPES = frozenset(("text", "varchar", "bpchar", "bytea", "bit", "varbit", "citext"))
_TEXT_SIZED = frozenset(("json", "xml"))  # the ::text cast is their stored text
PREVIEW_CHARS = 200
"""Characters of a cut value kept in the answer (before the '… [value cut: N bytes]' marker)."""


def is_variable_length(attr: PgAttribute) -> bool:
    """True when a result column's values can be arbitrarily large (typlen -1: text, bytea, json, arrays...)."""
    t = attr.type
    return not (t.kind == "scalar" and t.schema == "pg_catalog" and t.name in _FIXED_TYPES)


def _size_sql(value: str, attr: PgAttribute, value_cap: int) -> str:
    """SQL for the byte size of `value` as it would leave the server (uncompressed)."""
    t = attr.type
    if t.kind == "scalar" and t.schema == "pg_catalog" and t.name in _OCTET_TYPES:
        return f"octet_length({value})::int8"
    if t.kind == "scalar" and t.schema == "pg_catalog" and t.name in _TEXT_SIZED:
        return f"octet_length({value}::text)::int8"
    # pg_column_size is the stored size, maybe compressed (up to ~256x): measure the text form when it could
    # decompress past the cap.
    return (
        f"CASE WHEN pg_column_size({value})::int8 * 256 <= {value_cap} THEN pg_column_size({value})::int8 "
        f"ELSE greatest(pg_column_size({value})::int8, octet_length({value}::text)::int8) END"
    )


def strip_statement(sql: str) -> str:
    """The one statement in `sql` without a trailing semicolon (the guard checked it is exactly one)."""
    if ";" not in sql:
        return sql
    from pglast import parser as pg_parser

    stmt = pg_parser.parse_sql(sql)[0]
    start = stmt.stmt_location or 0
    return sql[start : start + stmt.stmt_len] if stmt.stmt_len else sql[start:]


async def statement_body(sql: str) -> str:
    """strip_statement without blocking the event loop: the parser runs only when a ';' is present."""
    text = sql.rstrip()
    while text.endswith(";"):
        text = text[:-1].rstrip()
    if ";" not in text:
        return text
    if len(text) > OFF_LOOP_CHARS:
        return await off_loop(strip_statement, sql)
    return strip_statement(sql)


@dataclass(frozen=True)
class Bounded:
    """A statement rewritten so no value larger than `value_cap` bytes leaves PostgreSQL whole.

    Result columns: the original n columns (same types; a value over the cap comes back NULL), then one text
    column per entry of `var_columns` (the cut preview with its marker, NULL unless cut), then, with a row
    cap, `_vf_before` (bytes of the rows before this one) and `_vf_row` (this row's bytes).
    """

    sql: str
    width: int
    var_columns: tuple[int, ...]
    row_capped: bool


def bounded_sql(
    statement: str,
    attrs: Sequence[PgAttribute],
    *,
    value_cap: int,
    row_cap: int | None = None,
    offset: int = 0,
    row_limit: int | None = None,
) -> Bounded:
    """Wrap `statement` (a SELECT, VALUES or TABLE) to cut values over `value_cap` bytes inside PostgreSQL.

    With `row_cap`, rows that start past `row_cap` bytes (counted from `offset`) come back with their
    variable-length values NULL, so fetching them costs nothing. With `row_limit`, at most that many rows.
    """
    n = len(attrs)
    aliases = ", ".join(f"c{i}" for i in range(1, n + 1))
    var = tuple(i for i, a in enumerate(attrs) if is_variable_length(a))
    cells: list[str] = []
    cuts: list[str] = []
    sizes: list[str] = []
    measured: list[str] = []
    for i, attr in enumerate(attrs):
        col = f"q.c{i + 1}"
        if i not in var:
            cells.append(f"{col} AS c{i + 1}")
            sizes.append("8")
            continue
        measured.append(f"{_size_sql(col, attr, value_cap)} AS s{i + 1}")
        size = f"q.s{i + 1}"
        cells.append(f"CASE WHEN {size} <= {value_cap} THEN {col} END AS c{i + 1}")
        cuts.append(
            f"CASE WHEN {size} > {value_cap} THEN left({col}::text, {PREVIEW_CHARS}) || '… [value cut: ' || "
            f"to_char({size}, 'FM999,999,999,999,999') || ' bytes]' END AS k{i + 1}"
        )
        sizes.append(f"CASE WHEN {size} > {value_cap} THEN {PREVIEW_CHARS + 40} ELSE coalesce({size}, 0) END")
    inner = f"SELECT * FROM (\n{statement}\n) AS q0({aliases}) OFFSET {int(offset)}"
    if measured:
        inner = f"SELECT q.*, {', '.join(measured)} FROM ({inner}) AS q OFFSET 0"
    layer = f"SELECT {', '.join(cells + cuts)}, ({' + '.join(sizes)})::int8 AS _vf_row FROM ({inner}) AS q OFFSET 0"
    tail = "" if row_limit is None else f" LIMIT {int(row_limit)}"
    if row_cap is None:
        names = [f"l.c{i + 1}" for i in range(n)] + [f"l.k{i + 1}" for i in var] + ["l._vf_row"]
        return Bounded(f"SELECT {', '.join(names)} FROM ({layer}) AS l{tail}", n, var, False)
    window = (
        f"SELECT l.*, sum(l._vf_row) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - l._vf_row "
        f"AS _vf_before FROM ({layer}) AS l"
    )
    names = []
    for i in range(n):
        names.append(f"CASE WHEN w._vf_before <= {row_cap} THEN w.c{i + 1} END" if i in var else f"w.c{i + 1}")
    names += [f"CASE WHEN w._vf_before <= {row_cap} THEN w.k{i + 1} END" for i in var]
    names += ["w._vf_before", "w._vf_row"]
    return Bounded(f"SELECT {', '.join(names)} FROM ({window}) AS w{tail}", n, var, True)


@lru_cache(maxsize=256)
def _bounded_memo(body: str, attrs: tuple[PgAttribute, ...], cap: int, offset: int, row_limit: int) -> Bounded:
    """run_guarded's bounded form (the same statement, shape and page again: built once)."""
    return bounded_sql(body, attrs, value_cap=cap, row_cap=cap, offset=offset, row_limit=row_limit)


def cut_json_value(value: JSONValue, limit_chars: int = PREVIEW_CHARS) -> tuple[JSONValue, int]:
    """A long converted value as a short preview string with its marker; returns (value, JSON size)."""
    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(encoded) <= limit_chars + 40:
        return value, len(encoded)
    text = value if isinstance(value, str) else encoded
    return f"{text[:limit_chars]}… [value cut: {len(encoded):,} bytes]", len(encoded)


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class QueryOutcome:
    """A capped, converted result."""

    columns: tuple[Column, ...]
    rows: list[list[JSONValue]]
    truncated: bool
    truncated_reason: str | None
    execution_time_ms: float
    result_bytes: int
    statement: CheckedStatement
    plan: JSONValue = None
    used_window: bool = False
    row_json: tuple[str, ...] = ()
    cut_values: tuple[str, ...] = ()
    """'row R, column C: N bytes' for each value cut to a preview (over max_result_bytes)."""


def _coerce_param(value: Any, type_name: str) -> Any:
    """Turn a JSON argument into the Python value asyncpg expects for a parameter of `type_name`."""
    if value is None:
        return None
    try:
        if type_name in ("int2", "int4", "int8", "oid"):
            return int(value)
        if type_name in ("float4", "float8"):
            return float(value)
        if type_name == "numeric":
            return Decimal(str(value))
        if type_name == "bool":
            if isinstance(value, str):
                return value.strip().lower() in ("true", "t", "1", "yes", "on")
            return bool(value)
        if type_name == "date":
            return date.fromisoformat(str(value)[:10]) if not isinstance(value, date) else value
        if type_name in ("timestamp", "timestamptz"):
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if type_name == "timestamp" and dt.tzinfo is not None:
                dt = dt.replace(tzinfo=None)
            return dt
        if type_name == "time":
            return dtime.fromisoformat(str(value))
        if type_name == "uuid":
            return uuid.UUID(str(value))
        if type_name in ("json", "jsonb"):
            return value if isinstance(value, str) else json.dumps(value)
        if type_name in ("text", "varchar", "bpchar", "name", "unknown", "citext"):
            return (
                value
                if isinstance(value, str)
                else json.dumps(value)
                if isinstance(value, (list, dict))
                else str(value)
            )
        if type_name.startswith("_") and isinstance(value, list):
            return [_coerce_param(v, type_name[1:]) for v in value]
    except (ValueError, TypeError, InvalidOperation) as exc:
        raise InvalidArgumentError(f"Parameter value {value!r} is not a valid {type_name}: {exc}") from exc
    return value


@dataclass
class _Taken:
    """The rows of one fetched batch that fit the caps, encoded once, and why the rest was left out."""

    rows: list[list[JSONValue]] = field(default_factory=list)
    row_json: list[str] = field(default_factory=list)  # each row encoded once: measured, reused for the text
    size: int = 2
    truncated_reason: str | None = None


def _take_rows(
    batch: Sequence[Record],
    *,
    limit: int,
    width: int,
    bounded: Bounded | None,
    converters: Converters,
    columns: tuple[Column, ...],
    offset: int,
    cap: int,
    cut_values: list[str],
) -> _Taken:
    """Convert `batch` row by row until `limit` rows or `cap` bytes (values cut inside PostgreSQL kept cut)."""
    taken = _Taken()
    rows, row_json = taken.rows, taken.row_json
    size = 2
    truncated_reason: str | None = None
    for index, rec in enumerate(batch[:limit]):
        if bounded is not None and rec[width + len(bounded.var_columns)] > cap and rows:
            truncated_reason = f"result reached the {cap}-byte cap (max_result_bytes) after {len(rows)} rows"
            break
        row = convert_row([rec[j] for j in range(width)] if bounded else rec, converters)
        if bounded is not None:
            for k, j in enumerate(bounded.var_columns):
                preview = rec[width + k]
                if preview is not None:
                    row[j] = preview
                    cut_values.append(
                        f"row {offset + index + 1}, column {columns[j].name}: " + preview[preview.rfind("[") + 12 : -1]
                    )
        encoded = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)
        row_bytes = len(encoded) + 1
        if size + row_bytes > cap and not rows:
            # one row alone is over the cap: return it with its long values cut, never nothing
            cut = [cut_json_value(v) for v in row]
            row = [v for v, _ in cut]
            for j, (v, n) in enumerate(cut):
                if isinstance(v, str) and v.endswith(" bytes]") and n > PREVIEW_CHARS + 40:
                    cut_values.append(f"row {offset + index + 1}, column {columns[j].name}: {n:,} bytes")
            encoded = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)
            rows.append(row)
            row_json.append(encoded)
            size += len(encoded) + 1
            truncated_reason = (
                f"row {offset + index + 1} alone is {row_bytes - 1:,} bytes, over the {cap:,}-byte cap "
                "(max_result_bytes): its long values are cut"
            )
            break
        if size + row_bytes > cap:
            truncated_reason = f"result reached the {cap}-byte cap (max_result_bytes) after {len(rows)} rows"
            break
        rows.append(row)
        row_json.append(encoded)
        size += row_bytes
    taken.size, taken.truncated_reason = size, truncated_reason
    return taken


_UNPINNED = frozenset(("bit", "char", "record", "unknown", "void", "cstring", "internal", "trigger", "opaque"))
"""Built-in types a bare cast would change (bit means bit(1), "char" one byte) or that cannot be cast to."""


def _cast_to(t: PgType) -> str:
    """`::type` pinning a result column to its described built-in type (or its array), else nothing: user
    types (enums, domains, composites) and pseudo-types pass as they are, and a cast never fails on a fresh
    description."""
    if t.schema != "pg_catalog" or t.kind not in ("scalar", "array"):
        return ""
    name, suffix = (t.name[:-2], "[]") if t.kind == "array" and t.name.endswith("[]") else (t.name, "")
    if (t.kind == "array" and not suffix) or name in _UNPINNED or name.startswith("any"):
        return ""
    return f"::pg_catalog.{quote_ident(name)}{suffix}"


def _pinned(query: str, attrs: Sequence[PgAttribute], width: int) -> str:
    """`query` (whose first len(attrs) of `width` columns are the statement's own) with those columns cast to
    their described types: a remembered form answers in the shape it was described with, or fails."""
    cells = [f"q.c{i + 1}{_cast_to(a.type)}" for i, a in enumerate(attrs)]
    cells += [f"q.c{i + 1}" for i in range(len(attrs), width)]  # cut previews and sizes
    aliases = ", ".join(f"c{i + 1}" for i in range(width))
    return f"SELECT {', '.join(cells)} FROM (\n{query}\n) AS q({aliases})"


@dataclass(frozen=True)
class _Described:
    """A model-written statement's parameter types and result columns, remembered like vf-mcp's own shapes."""

    ptypes: tuple[str, ...]
    attrs: tuple[PgAttribute, ...]


@dataclass
class _Run:
    attrs: tuple[PgAttribute, ...]
    columns: tuple[Column, ...]
    used_window: bool
    args: list[Any]
    rows: list[list[JSONValue]] = field(default_factory=list)
    row_json: list[str] = field(default_factory=list)
    size: int = 2
    truncated_reason: str | None = None
    cut_values: list[str] = field(default_factory=list)


async def _run_once(
    conn: Any,
    db: Database,
    sql: str,
    params: Sequence[object],
    key: str,
    pin: bool,
    *,
    remembered: bool,
    wrapped: bool,
    limit: int,
    offset: int,
    client_timeout: float,
    params_for_window: tuple[datetime, datetime] | None,
) -> _Run:
    """Describe (or recall) and run the statement once: capped rows, converted, values cut inside PostgreSQL.

    A statement without * (`pin`) is remembered with its described columns: later runs take one round trip, the
    wrapped form with every column cast to its described type (the answer keeps its shape until the catalog
    refreshes; a form the schema no longer fits fails, and run_guarded describes it afresh).
    """
    known = db.shapes.get(key) if pin and remembered else None
    stmt = None
    if isinstance(known, _Described):
        ptypes, attrs = list(known.ptypes), known.attrs
    else:
        stmt = await conn.prepare(sql, name="", timeout=client_timeout)  # unnamed: no Close round trip later
        ptypes = [p.name for p in stmt.get_parameters()]
        attrs = tuple(stmt.get_attributes())
        if pin and attrs:
            db.shapes.put(key, _Described(tuple(ptypes), attrs))
    used_window = False
    if params_for_window is not None and len(ptypes) == 2:
        params, used_window = [params_for_window[0].isoformat(), params_for_window[1].isoformat()], True
    if len(ptypes) != len(params):
        raise InvalidArgumentError(
            f"The statement has {len(ptypes)} parameter(s) ($1..${len(ptypes)}) but {len(params)} "
            "value(s) were given in params."
        )
    args = [_coerce_param(v, t) for v, t in zip(params, ptypes, strict=True)]
    columns = tuple(Column(a.name, type_label(a)) for a in attrs)
    run = _Run(attrs=attrs, columns=columns, used_window=used_window, args=args)
    if not attrs:
        if stmt is None:
            stmt = await conn.prepare(sql, name="", timeout=client_timeout)
        await stmt.fetch(*args, timeout=client_timeout)
        return run
    cap = db.settings.max_result_bytes
    bounded = None
    if wrapped:
        body = await statement_body(sql)
        if any(is_variable_length(a) for a in attrs):
            # Values over the cap are cut and rows past the cap are emptied inside PostgreSQL: the fetch below
            # never brings more than about one row over max_result_bytes into memory.
            bounded = _bounded_memo(body, attrs, cap, offset, limit + 1)
            query, width = bounded.sql, bounded.width + len(bounded.var_columns) + 2
        else:
            query = f"SELECT * FROM (\n{body}\n) AS q0 OFFSET {int(offset)} LIMIT {limit + 1}"
            width = len(attrs)
        if pin:
            query = _pinned(query, attrs, width)
        batch = await conn.fetch(query, *args, timeout=client_timeout)  # asyncpg keeps it prepared
    else:
        assert stmt is not None  # only wrapped statements are remembered
        cursor = await stmt.cursor(*args, timeout=client_timeout)
        if offset:
            await cursor.forward(offset, timeout=client_timeout)
        batch = await cursor.fetch(limit + 1, timeout=client_timeout)
    taken = _take_rows(
        batch,
        limit=limit,
        width=len(attrs),
        bounded=bounded,
        converters=converters_for(attrs),
        columns=columns,
        offset=offset,
        cap=cap,
        cut_values=run.cut_values,
    )
    run.rows, run.row_json, run.size, run.truncated_reason = (
        taken.rows,
        taken.row_json,
        taken.size,
        taken.truncated_reason,
    )
    if run.truncated_reason is None and len(batch) > limit:
        run.truncated_reason = f"more than {limit} rows (limit)"
    return run


async def run_guarded(
    db: Database,
    catalog: Catalog,
    sql: str,
    params: Sequence[object] = (),
    *,
    limit: int,
    offset: int = 0,
    timeout_ms: int | None = None,
    explain: bool = False,
    params_for_window: tuple[datetime, datetime] | None = None,
) -> QueryOutcome:
    """Guard and run one read-only statement; return at most `limit` rows and `max_result_bytes` bytes.

    With `params_for_window` (configured KPI SQL), a statement using $1 and $2 gets the window's start and end;
    a statement without parameters is a snapshot.
    """
    settings = db.settings
    checked = await check_user_sql(db, catalog, sql)
    limit = max(0, min(limit, settings.max_rows))
    if offset < 0:
        raise InvalidArgumentError("offset must be >= 0")
    effective = db.effective_timeout_ms(timeout_ms)
    client_timeout = db.client_timeout_s(timeout_ms)
    plan = None
    # A query is wrapped with its limit and fetched in one statement: no cursor, so no explicit transaction.
    wrapped = checked.kind in ("select", "values", "table")
    async with db.read_only(timeout_ms=timeout_ms, transaction=not wrapped) as conn:
        started = time.perf_counter()  # after the wait for a connection
        with db_errors(statement_timeout_ms=effective):
            note_sql(sql)
            key = "run_query\x00" + sql
            pin = wrapped and not checked.star  # a * or TABLE follows the schema: its shape is never remembered
            once = functools.partial(
                _run_once,
                conn,
                db,
                sql,
                params,
                key,
                pin,
                wrapped=wrapped,
                limit=limit,
                offset=offset,
                client_timeout=client_timeout,
                params_for_window=params_for_window,
            )
            run = await _recalling(db, key, once)
            attrs, columns, used_window, args = run.attrs, run.columns, run.used_window, run.args
            rows, row_json, size, truncated_reason = run.rows, run.row_json, run.size, run.truncated_reason
            cut_values = run.cut_values
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            if explain and checked.kind in ("select", "values", "table"):
                plan_rows = await conn.fetch(f"EXPLAIN (FORMAT JSON) {sql}", *args, timeout=client_timeout)
                raw = plan_rows[0][0]
                plan = json.loads(raw) if isinstance(raw, str) else raw
    if changed := uniform_numerics(rows, numeric_columns(attrs)):  # one JSON type per numeric column
        columns = tuple(Column(c.name, c.type + NUMERIC_AS_TEXT) if j in changed else c for j, c in enumerate(columns))
        row_json = [json.dumps(r, ensure_ascii=False, separators=(",", ":"), default=str) for r in rows]
    rows, row_json = await masked_json_rows(catalog, sql, columns, rows, row_json)  # PII by lineage
    return QueryOutcome(
        columns=columns,
        rows=rows,
        truncated=truncated_reason is not None,
        truncated_reason=truncated_reason,
        execution_time_ms=round(elapsed_ms, 3),
        result_bytes=size,
        statement=checked,
        plan=plan,
        used_window=used_window,
        row_json=tuple(row_json),
        cut_values=tuple(cut_values),
    )


def _is_query(sql: str) -> bool:
    """A statement vf-mcp built that can be wrapped as a subquery (SELECT, WITH ... SELECT, VALUES, TABLE)."""
    head = sql.lstrip().split(None, 1)[0].lower() if sql.strip() else ""
    return head in ("select", "with", "values", "table", "(select")


def _answered(exc: asyncpg.PostgresError) -> bool:
    """An error that is the statement's own outcome (a timeout, a cancel, a lost connection, no resources),
    not a sign that the schema changed under its remembered form."""
    state = getattr(exc, "sqlstate", "") or ""
    return state.startswith(("08", "53", "57", "58"))


T = TypeVar("T")


async def _recalling(db: Database, key: str, attempt: Callable[..., Awaitable[T]]) -> T:
    """`attempt(remembered=True)`; when a remembered form fails for a reason other than the statement's own
    outcome (the schema changed under it), it is forgotten and the statement described afresh, once."""
    recalled = db.shapes.get(key) is not None
    try:
        return await attempt(remembered=True)
    except asyncpg.PostgresError as exc:
        if not recalled or _answered(exc):
            raise
    db.shapes.forget(key)
    return await attempt(remembered=False)


@dataclass(frozen=True)
class _Shape:
    """A statement's described result (remembered in Database.shapes) and the form that runs it again.

    `sql` runs the statement (or its bounded form) with every one of its own columns cast to the type it was
    described with: until the catalog refreshes, the answer keeps that shape, so the converters and the cutting
    of long values stay right; a column whose type changed so that the cast fails sends it back to a fresh
    description.
    """

    attrs: tuple[PgAttribute, ...]
    bounded: Bounded | None
    sql: str

    @staticmethod
    def of(sql: str, attrs: tuple[PgAttribute, ...], bounded: Bounded | None) -> _Shape:
        inner = sql if bounded is None else bounded.sql
        width = len(attrs) if bounded is None else bounded.width + len(bounded.var_columns) + 1
        return _Shape(attrs, bounded, _pinned(inner, attrs, width))


async def _fetch_once(
    conn: Any,
    db: Database,
    sql: str,
    params: Sequence[object],
    client_timeout: float,
    *,
    remembered: bool,
) -> tuple[_Shape, list[Record]]:
    """Run one of vf-mcp's own statements in its remembered form (one round trip), or describe it first."""
    known = db.shapes.get(sql) if remembered else None
    if isinstance(known, _Shape):  # asyncpg keeps the remembered form prepared on each connection
        return known, await conn.fetch(known.sql, *params, timeout=client_timeout)
    stmt = await conn.prepare(sql, name="", timeout=client_timeout)  # unnamed: no Close later
    attrs = tuple(stmt.get_attributes())
    bounded = None
    if attrs and _is_query(sql) and any(is_variable_length(a) for a in attrs):
        # values over max_result_bytes (a group key of 200 MB...) are cut inside PostgreSQL
        bounded = bounded_sql(await statement_body(sql), attrs, value_cap=db.settings.max_result_bytes)
        records = await conn.fetch(bounded.sql, *params, timeout=client_timeout)
    else:
        records = await stmt.fetch(*params, timeout=client_timeout)
    shape = _Shape.of(await statement_body(sql), attrs, bounded)
    if attrs and _is_query(sql):
        db.shapes.put(sql, shape)
    return shape, records


async def fetch_converted(
    db: Database, sql: str, params: Sequence[object] = (), *, timeout_ms: int | None = None
) -> tuple[list[Column], list[list[JSONValue]], float]:
    """Run one statement vf-mcp built itself (quoted identifiers, bound values); return JSON-ready rows.

    Its result shape is described once and remembered with the catalog (Database.shapes): later runs take one
    round trip, in the described types (see _Shape); a remembered form the schema no longer fits fails and
    runs again, described afresh.
    """
    effective = db.effective_timeout_ms(timeout_ms)
    client_timeout = db.client_timeout_s(timeout_ms)
    async with db.read_only(timeout_ms=timeout_ms, transaction=False) as conn:  # one statement
        started = time.perf_counter()  # after the wait for a connection
        with db_errors(statement_timeout_ms=effective):
            note_sql(sql)
            shape, records = await _recalling(
                db, sql, functools.partial(_fetch_once, conn, db, sql, params, client_timeout)
            )
    attrs, bounded = shape.attrs, shape.bounded
    converters = converters_for(attrs)
    if bounded is None:
        rows = [convert_row(r, converters) for r in records]
    else:
        width, var = bounded.width, bounded.var_columns
        rows = []
        for rec in records:
            row = convert_row([rec[j] for j in range(width)], converters)
            for k, j in enumerate(var):
                if rec[width + k] is not None:
                    row[j] = rec[width + k]
            rows.append(row)
    changed = uniform_numerics(rows, numeric_columns(attrs))  # one JSON type per numeric column
    columns = [Column(a.name, type_label(a) + (NUMERIC_AS_TEXT if j in changed else "")) for j, a in enumerate(attrs)]
    rows = await mask_by_lineage(None, sql, [c.name for c in columns], rows)  # PII by lineage
    return columns, rows, round((time.perf_counter() - started) * 1000.0, 3)
