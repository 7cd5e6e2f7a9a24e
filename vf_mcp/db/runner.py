"""Run one model-written statement: guard, prepare (extended protocol), cursor-fetch within caps, convert.

The cap stops the database work too: rows come from a portal, `limit + 1` at a time, so a capped query
reads only what it returns.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from typing import Any

from vf_mcp.db.catalog import Catalog
from vf_mcp.db.convert import JSONValue, convert_row, converters_for, type_label
from vf_mcp.db.gate import check_user_sql
from vf_mcp.db.guard import CheckedStatement
from vf_mcp.db.pool import Database, note_sql
from vf_mcp.errors import InvalidArgumentError, db_errors


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
    plan: Any = None
    used_window: bool = False
    row_json: tuple[str, ...] = ()


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


async def run_guarded(
    db: Database,
    catalog: Catalog,
    sql: str,
    params: Sequence[Any] = (),
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
    started = time.perf_counter()
    plan = None
    async with db.read_only(timeout_ms=timeout_ms) as conn:
        with db_errors(statement_timeout_ms=effective):
            note_sql(sql)
            stmt = await conn.prepare(sql, timeout=client_timeout)
            ptypes = [p.name for p in stmt.get_parameters()]
            used_window = False
            if params_for_window is not None and len(ptypes) == 2:
                params, used_window = [params_for_window[0].isoformat(), params_for_window[1].isoformat()], True
            if len(ptypes) != len(params):
                raise InvalidArgumentError(
                    f"The statement has {len(ptypes)} parameter(s) ($1..${len(ptypes)}) but {len(params)} "
                    "value(s) were given in params."
                )
            args = [_coerce_param(v, t) for v, t in zip(params, ptypes, strict=True)]
            attrs = stmt.get_attributes()
            columns = tuple(Column(a.name, type_label(a)) for a in attrs)
            converters = converters_for(attrs)
            rows: list[list[JSONValue]] = []
            row_json: list[str] = []  # each row encoded once: measured for the cap, reused for the text
            size = 2
            truncated_reason: str | None = None
            if attrs:
                cursor = await stmt.cursor(*args, timeout=client_timeout)
                if offset:
                    await cursor.forward(offset, timeout=client_timeout)
                batch = await cursor.fetch(limit + 1, timeout=client_timeout)
                for rec in batch[:limit]:
                    row = convert_row(rec, converters)
                    encoded = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)
                    row_bytes = len(encoded) + 1
                    if size + row_bytes > settings.max_result_bytes:
                        truncated_reason = (
                            f"result reached the {settings.max_result_bytes}-byte cap (max_result_bytes) "
                            f"after {len(rows)} rows"
                        )
                        break
                    rows.append(row)
                    row_json.append(encoded)
                    size += row_bytes
                if truncated_reason is None and len(batch) > limit:
                    truncated_reason = f"more than {limit} rows (limit)"
            else:
                await stmt.fetch(*args, timeout=client_timeout)
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            if explain and checked.kind in ("select", "values", "table"):
                plan_rows = await conn.fetch(f"EXPLAIN (FORMAT JSON) {sql}", *args, timeout=client_timeout)
                raw = plan_rows[0][0]
                plan = json.loads(raw) if isinstance(raw, str) else raw
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
    )


async def fetch_converted(
    db: Database, sql: str, params: Sequence[Any] = (), *, timeout_ms: int | None = None
) -> tuple[list[Column], list[list[JSONValue]], float]:
    """Run one statement vf-mcp built itself (quoted identifiers, bound values); return JSON-ready rows."""
    effective = db.effective_timeout_ms(timeout_ms)
    started = time.perf_counter()
    async with db.read_only(timeout_ms=timeout_ms) as conn:
        with db_errors(statement_timeout_ms=effective):
            note_sql(sql)
            stmt = await conn.prepare(sql, timeout=db.client_timeout_s(timeout_ms))
            records = await stmt.fetch(*params, timeout=db.client_timeout_s(timeout_ms))
            attrs = stmt.get_attributes()
    converters = converters_for(attrs)
    rows = [convert_row(r, converters) for r in records]
    columns = [Column(a.name, type_label(a)) for a in attrs]
    return columns, rows, round((time.perf_counter() - started) * 1000.0, 3)
