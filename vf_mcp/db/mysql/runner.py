"""Run one model-written statement on MySQL/MariaDB: gate, bind, cap inside the server, convert.

The statement passes the size limit and the guard (vf_mcp/db/mysql/guard.py), its `$n`/`?` placeholders
are bound as escaped literals at the guard's token positions (the text protocol keeps zero dates and the
server's own float text, which the binary protocol loses), and a query gets its row cap inside the server:
`LIMIT limit+1 OFFSET offset` appended when it has no LIMIT of its own, else it is wrapped as a derived
table. Rows are converted (vf_mcp/db/mysql/convert.py) until max_rows or max_result_bytes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from vf_mcp.compute.periods import zone_info
from vf_mcp.db.convert import NUMERIC_AS_TEXT, uniform_numerics
from vf_mcp.db.gate import current_caller
from vf_mcp.db.guard import CheckedStatement
from vf_mcp.db.mysql.convert import (
    Converter,
    MyField,
    convert_rows,
    converter_for,
    decimal_columns,
    type_name,
)
from vf_mcp.db.mysql.fields import result_fields
from vf_mcp.db.mysql.guard import check_mysql_sql, placeholder_count, placeholders_to_qmark
from vf_mcp.db.mysql.pool import MyConn, MySqlDatabase
from vf_mcp.db.offload import OFF_LOOP_CHARS, off_loop
from vf_mcp.db.pool import note_sql
from vf_mcp.db.runner import Column, QueryOutcome, cut_json_value
from vf_mcp.errors import InvalidArgumentError, RefusedError
from vf_mcp.jsontypes import JSONValue

if TYPE_CHECKING:
    from vf_mcp.db.mysql.catalog import MySqlCatalog


async def check_mysql_user_sql(db: MySqlDatabase, catalog: MySqlCatalog, sql: str) -> CheckedStatement:
    """The gate: size limit, then the guard (in a worker process for long text)."""
    limit = db.settings.max_sql_bytes
    size = len(sql.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise RefusedError(
            f"Refused: the statement is {size:,} bytes, over the {limit:,}-byte limit (max_sql_bytes). "
            "Send a shorter statement: put long value lists in params, or aggregate in SQL."
        )
    stored = await catalog.volatile_functions()
    allowed = db.settings.allowed_functions
    if len(sql) > OFF_LOOP_CHARS:
        return await off_loop(check_mysql_sql, sql, stored_functions=stored, allowed_functions=allowed)
    return check_mysql_sql(sql, stored_functions=stored, allowed_functions=allowed)


def _literal(conn: MyConn, value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, dict)):
        value = json.dumps(value)
    return str(conn.literal(str(value)))


def bind(conn: MyConn, sql: str, params: Sequence[object]) -> str:
    """`sql` with each `?` placeholder token replaced by its escaped literal (`$n` already turned into `?`)."""
    if not params and "?" not in sql:
        return sql
    import sqlglot
    from sqlglot import TokenType

    marks = [t for t in sqlglot.tokenize(sql, read="mysql") if t.token_type == TokenType.PLACEHOLDER]
    if len(marks) != len(params):
        raise InvalidArgumentError(
            f"The statement has {len(marks)} placeholder(s) (? or $n) but {len(params)} value(s) were given in params."
        )
    out: list[str] = []
    last = 0
    for t, value in zip(marks, params, strict=True):
        out += [sql[last : t.start], _literal(conn, value)]
        last = t.end + 1
    out.append(sql[last:])
    return "".join(out)


def _body(sql: str) -> str:
    """The one statement without its trailing semicolons and comments (the guard checked it is one)."""
    text = sql.rstrip()
    if ";" not in text:
        return text
    from sqlglot import TokenType

    from vf_mcp.db.mysql.guard import _tokens

    last = [t for t in _tokens(text) if t.token_type != TokenType.SEMICOLON]
    return text[: last[-1].end + 1] if last else text


def _has_limit(sql: str) -> bool:
    import sqlglot

    tree = sqlglot.parse_one(sql, read="mysql")
    return tree is not None and tree.args.get("limit") is not None


async def _query(conn: MyConn, sql: str) -> tuple[list[MyField], list[tuple[object, ...]]]:
    cur = conn.cursor()
    # one statement only: CLIENT_MULTI_STATEMENTS is cleared before the handshake (pool._connect) and the guard
    # refuses more than one statement (tests/test_mysql_attacks.py: stacked payloads)
    await cur.execute(sql)
    rows = list(await cur.fetchall() or ())
    fields = result_fields(cur)
    await cur.close()
    return fields, rows


async def run_mysql_guarded(
    db: MySqlDatabase,
    catalog: MySqlCatalog,
    sql: str,
    params: Sequence[object] = (),
    *,
    limit: int,
    offset: int = 0,
    timeout_ms: int | None = None,
    explain: bool = False,
    params_for_window: tuple[datetime, datetime] | None = None,
) -> QueryOutcome:
    """Guard and run one read-only statement; at most `limit` rows and max_result_bytes bytes."""
    settings = db.settings
    checked = await check_mysql_user_sql(db, catalog, sql)
    limit = max(0, min(limit, settings.max_rows))
    if offset < 0:
        raise InvalidArgumentError("offset must be >= 0")
    used_window = False
    if params_for_window is not None and not params and placeholder_count(sql) == 2:  # a KPI's period
        window = [w.strftime("%Y-%m-%d %H:%M:%S.%f") for w in params_for_window]  # wall time in the session zone
        text, values = placeholders_to_qmark(sql, list(window))
        used_window = True
    else:
        text, values = placeholders_to_qmark(sql, list(params))
    body = _body(text)
    if checked.kind == "select":
        if _has_limit(body):
            body = f"SELECT * FROM (\n{body}\n) AS q0 LIMIT {limit + 1} OFFSET {int(offset)}"
        else:
            body = f"{body}\nLIMIT {limit + 1} OFFSET {int(offset)}"
    zone = zone_info(settings.time_zone)
    plan: JSONValue = None
    async with db.connection(timeout_ms) as conn:
        final = bind(conn, body, values)
        note_sql(final)
        started = time.perf_counter()
        fields, raw = await db.guarded_call(conn, _query(conn, final), timeout_ms)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        if explain and checked.kind == "select":
            _, plan_rows = await db.guarded_call(
                conn, _query(conn, "EXPLAIN FORMAT=JSON " + bind(conn, _body(text), values)), timeout_ms
            )
            plan = json.loads(str(plan_rows[0][0])) if plan_rows else None
    if checked.kind != "select" and offset:
        raw = raw[offset:]
    codes = [int(f.type_code) for f in fields]
    converters = [
        converter_for(int(f.type_code), int(f.flags), int(f.charsetnr), int(getattr(f, "length", 0)), zone)
        for f in fields
    ]
    columns = tuple(Column(str(f.name), type_name(int(f.type_code), int(f.flags), int(f.charsetnr))) for f in fields)
    rows, row_json, size, reason, cut = _take(raw, converters, columns, limit, settings.max_result_bytes, offset)
    if changed := uniform_numerics(rows, decimal_columns(codes)):
        columns = tuple(Column(c.name, c.type + NUMERIC_AS_TEXT) if j in changed else c for j, c in enumerate(columns))
        row_json = [json.dumps(r, ensure_ascii=False, separators=(",", ":"), default=str) for r in rows]
    if current_caller().pii is not None and rows:
        rows, row_json = await _masked(catalog, _body(text), fields, columns, rows, row_json)  # PII by lineage
    return QueryOutcome(
        columns=columns,
        rows=rows,
        truncated=reason is not None,
        truncated_reason=reason,
        execution_time_ms=round(elapsed_ms, 3),
        result_bytes=size,
        statement=checked,
        plan=plan,
        used_window=used_window,
        row_json=tuple(row_json),
        cut_values=tuple(cut),
    )


def _take(
    raw: Sequence[Sequence[object]],
    converters: Sequence[Converter],
    columns: tuple[Column, ...],
    limit: int,
    cap: int,
    offset: int,
) -> tuple[list[list[JSONValue]], list[str], int, str | None, list[str]]:
    """Convert rows until `limit` rows or `cap` bytes; a single row over the cap comes back with its long
    values cut to a preview."""
    rows: list[list[JSONValue]] = []
    encoded: list[str] = []
    cut: list[str] = []
    size = 2
    reason: str | None = None
    for index, row in enumerate(convert_rows(raw[:limit], converters)):
        text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)
        if size + len(text) + 1 > cap:
            if rows:
                reason = f"result reached the {cap}-byte cap (max_result_bytes) after {len(rows)} rows"
                break
            pairs = [cut_json_value(v) for v in row]
            row = [v for v, _ in pairs]
            cut += [
                f"row {offset + index + 1}, column {columns[j].name}: {n:,} bytes"
                for j, (v, n) in enumerate(pairs)
                if isinstance(v, str) and v.endswith(" bytes]")
            ]
            text = json.dumps(row, ensure_ascii=False, separators=(",", ":"), default=str)
            reason = (
                f"row {offset + index + 1} alone is over the {cap:,}-byte cap (max_result_bytes): "
                "its long values are cut"
            )
            rows.append(row)
            encoded.append(text)
            size += len(text) + 1
            break
        rows.append(row)
        encoded.append(text)
        size += len(text) + 1
    if reason is None and len(raw) > limit:
        reason = f"more than {limit} rows (limit)"
    return rows, encoded, size, reason, cut


async def _masked(
    catalog: MySqlCatalog,
    sql: str,
    fields: Sequence[MyField],
    columns: tuple[Column, ...],
    rows: list[list[JSONValue]],
    row_json: list[str],
) -> tuple[list[list[JSONValue]], list[str]]:
    """Rows with personal data masked by lineage (vf_mcp/db/mysql/masking.py); name rules and value patterns
    apply in `respond`, as on PostgreSQL. Re-encoded only when something changed."""
    from vf_mcp.db.mysql.masking import field_origins, mask_mysql_rows

    masked = await mask_mysql_rows(catalog, sql, [c.name for c in columns], rows, field_origins(fields))
    if masked is rows:
        return rows, row_json
    encoded = [
        enc if new == old else json.dumps(new, ensure_ascii=False, separators=(",", ":"), default=str)
        for new, old, enc in zip(masked, rows, row_json, strict=True)
    ]
    return masked, encoded


async def fetch_mysql_statement(
    db: MySqlDatabase, sql: str, params: Sequence[object] = (), *, timeout_ms: int | None = None
) -> tuple[list[Column], list[list[JSONValue]], float]:
    """Run one statement vf-mcp built for MySQL (backquoted identifiers, `?` values); JSON-ready rows."""
    zone = zone_info(db.settings.time_zone)
    db.counter.statements += 1
    async with db.connection(timeout_ms) as conn:
        final = bind(conn, sql, params)
        note_sql(final)
        started = time.perf_counter()
        fields, raw = await db.guarded_call(conn, _query(conn, final), timeout_ms)
        elapsed = round((time.perf_counter() - started) * 1000.0, 3)
    converters = [
        converter_for(int(f.type_code), int(f.flags), int(f.charsetnr), int(getattr(f, "length", 0)), zone)
        for f in fields
    ]
    rows = convert_rows(raw, converters)
    changed = uniform_numerics(rows, decimal_columns([int(f.type_code) for f in fields]))
    columns = [
        Column(
            str(f.name),
            type_name(int(f.type_code), int(f.flags), int(f.charsetnr)) + (NUMERIC_AS_TEXT if j in changed else ""),
        )
        for j, f in enumerate(fields)
    ]
    if current_caller().pii is not None and rows:  # PII by lineage, as fetch_converted on PostgreSQL
        from vf_mcp.db.mysql.masking import field_origins, mask_mysql_rows

        rows = await mask_mysql_rows(None, sql, [c.name for c in columns], rows, field_origins(fields))
    return columns, rows, elapsed
