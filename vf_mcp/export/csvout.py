"""CSV exactly as PostgreSQL's `COPY (query) TO STDOUT WITH (FORMAT csv, HEADER)` writes it, built by PostgreSQL.

Each value is the type's own text output (what COPY and psql print, in the session's settings: DateStyle,
IntervalStyle, TimeZone for timestamptz with its offset, bytea as \\x hex, arrays as {..}, booleans t/f),
quoted by COPY's rules: a value is quoted when it is empty (so NULL, written as nothing, stays distinct from
'') or contains a comma, a double quote, CR or LF (quotes doubled); a lone \\. in a one-column result is
quoted too. Lines end with LF, UTF-8.

Two ways to the same bytes. When nothing per value is needed in Python (no parameters, no masked column,
no value-pattern net for the caller's PII policy), COPY itself writes the file (`copyout.py`; the statement
checked by the guard, its COPY wrapping parsed again, inside the same READ ONLY transaction). Otherwise
(bound parameters: asyncpg would inline them into COPY by text substitution, which also rewrites `$1` inside
comments and string literals; masking) the guarded statement stays a prepared statement with bound
parameters and PostgreSQL builds each line in the cursor's query (`csv_line_sql`): one text value per row,
about 3x the time of COPY. Under a policy with a value-pattern net, a second column flags the lines that may
hold a pattern, and only those are netted in Python. tests/test_export.py and tests/test_export_copy.py
compare both ways with COPY.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from vf_mcp.db.convert import Converters, JSONValue, convert_row
from vf_mcp.export.columns import ExportColumn

# Types whose text output can never be empty nor hold a comma, quote, CR or LF (in any DateStyle/IntervalStyle).
_PLAIN = frozenset(
    {"bool", "int2", "int4", "int8", "oid", "float4", "float8", "numeric", "date", "time", "timestamp",
     "timestamptz", "interval", "uuid", "inet", "cidr", "macaddr", "macaddr8", "pg_lsn", "xid", "xid8", "cid"}
)  # fmt: skip


def statement_text(sql: str) -> str:
    """The one statement in `sql` without a trailing semicolon (the guard has checked it is exactly one)."""
    from pglast import parser  # loaded on first use, not at start-up

    stmt = parser.parse_sql(sql)[0]
    start = stmt.stmt_location or 0
    return sql[start : start + stmt.stmt_len] if stmt.stmt_len else sql[start:]


# Types whose text output (in any DateStyle) never holds an '@' nor a digit run the value-pattern net
# (pii.PiiPolicy.mask_text) would mask: no run of 8+ digits (int2, int4 stay under 11 digits without a leading
# 0), or runs that end in a 2-digit group or hold a '.' with other separators (dates, times, timestamps).
_NO_PATTERN = frozenset({"bool", "int2", "int4", "oid", "date", "time", "timetz", "timestamp", "timestamptz"})
# A digit run of 8+ digits (at most two of the net's separators between digits) or an '@': lines without
# one anywhere are never changed by the net.
_PATTERN_RE = "@|[0-9]([ .()-]{0,2}[0-9]){7}"


def _may_hold_pattern(value: str, col: ExportColumn) -> str | None:
    """SQL true when the value's text may be changed by the value-pattern net (None: never)."""
    if col.pg_catalog and col.type_kind == "scalar":
        if col.type_name in _NO_PATTERN:
            return None
        if col.type_name == "int8":  # 12 digits or fewer, no leading 0: neither phone, ID nor card
            return f"{value} >= 1000000000000"
        if col.type_name in ("float4", "float8"):  # past 1e12 a float may print 13+ digits without a '.'
            return f"{value} >= 1e12"
        if col.type_name == "numeric":  # with a '.', two groups: never phone, ID nor card
            return f"({value} >= 1000000000000 AND scale({value}) = 0)"
    return f"concat({value}) ~ '{_PATTERN_RE}'"


def csv_line_sql(statement: str, columns: Sequence[ExportColumn], *, flag: bool = False) -> str:
    """A query returning one CSV line (text) per row of `statement` (a SELECT, VALUES or TABLE).

    With `flag`, a second column tells whether the line may hold a value pattern (NULL or false: it cannot),
    so the value-pattern net runs only on those lines.
    """
    single = len(columns) == 1
    cells = []
    for i, col in enumerate(columns, 1):
        value = f'q."{i}"'
        text = f"concat({value})"  # the type's output function (a ::text cast is not: bpchar, inet, bool)
        if col.pg_catalog and col.type_kind == "scalar" and col.type_name in _PLAIN:
            cells.append(text)  # NULL -> ''
            continue
        needs = f"{text} = '' OR {text} ~ '[\",\\r\\n]'"
        if single:
            needs += f" OR {text} = '\\.'"
        cells.append(
            f"CASE WHEN {value} IS NULL THEN '' WHEN {needs} "
            f"THEN '\"' || replace({text}, '\"', '\"\"') || '\"' ELSE {text} END"
        )
    aliases = ", ".join(f'"{i}"' for i in range(1, len(columns) + 1))
    line = " || ',' || ".join(cells)
    if flag:
        checks = [c for i, col in enumerate(columns, 1) if (c := _may_hold_pattern(f'q."{i}"', col)) is not None]
        line += f", {' OR '.join(checks) if checks else 'false'} AS scan"
    return f"SELECT {line} FROM (\n{statement}\n) AS q({aliases})"


def csv_field(text: str | None, single: bool) -> str:
    """One field by COPY's CSV rules (used for the header and for EXPLAIN/SHOW results)."""
    if text is None:
        return ""
    if text == "" or any(c in text for c in ',"\r\n') or (single and text == "\\."):
        return '"' + text.replace('"', '""') + '"'
    return text


def _as_text(value: JSONValue) -> str | None:
    import json

    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class CsvWriter:
    """Writes lines PostgreSQL built (`lines=True`) or, for EXPLAIN/SHOW, rows of converted values."""

    def __init__(self, path: Path, columns: Sequence[ExportColumn], converters: Converters, *, lines: bool) -> None:
        self.warnings: list[str] = []
        self._lines = lines
        self._converters = converters
        self._single = len(columns) == 1
        self._file: io.TextIOWrapper = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._file.write(",".join(csv_field(c.name, self._single) for c in columns) + "\n")

    def write(self, rows: Sequence[Sequence[object]]) -> int:
        if self._lines:
            text = "\n".join([r[0] for r in cast("Sequence[Sequence[str]]", rows)])  # lines PostgreSQL built
        else:
            text = "\n".join(
                ",".join(csv_field(_as_text(v), self._single) for v in convert_row(r, self._converters)) for r in rows
            )
        self._file.write(text)
        self._file.write("\n")
        return len(text) + 1

    def write_copy(self, chunks: Sequence[bytes]) -> int:
        """Append CSV data COPY produced (UTF-8 bytes, whole or partial lines) after the header."""
        self._file.flush()
        for chunk in chunks:
            self._file.buffer.write(chunk)
        return sum(map(len, chunks))

    def close(self, metadata: dict[str, object] | None) -> None:
        self._file.close()

    def abort(self) -> None:
        self._file.close()
