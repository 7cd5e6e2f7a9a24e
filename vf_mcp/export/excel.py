"""Excel (.xlsx) with xlsxwriter in constant_memory mode: typed cells, a bold frozen header, column widths
from the first rows, an autofilter, and a `metadata` sheet. Past Excel's 1,048,576 rows per sheet, the data
continues on `data (2)`, `data (3)`, ... (each with the header).

Cells: booleans, numbers (numeric and floats as Excel's doubles; bigint beyond 2**53 stays text so ids are
never rounded), dates, timestamps (timestamptz in UTC; Excel keeps milliseconds) and times are native Excel
values; values Excel cannot hold (infinity, BC or pre-1900 dates, 24:00:00, NaN) and every other type are
text exactly as in JSON exports. Text is never a formula. Text past Excel's 32,767 characters per cell is
cut (and the result says how many cells).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Protocol, cast

import xlsxwriter

from vf_mcp.db.convert import Converters
from vf_mcp.errors import InvalidArgumentError
from vf_mcp.export.columns import Counter, ExportColumn

EXCEL_MAX_ROWS = 1_048_576
"""Rows per worksheet, header included (module-level so tests can lower it)."""
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_TEXT = 32_767
_MAX_EXACT_INT = 2**53 - 1
_MAX_WIDTH = 60
_MAX_DOUBLE = Decimal("1e308")

Cell = Callable[[int, int, object], object]  # what a cell writer returns is ignored


class _Sheet(Protocol):
    """The part of xlsxwriter's Worksheet this writer uses (xlsxwriter ships no type hints)."""

    def write_string(self, row: int, col: int, text: str, cell_format: object = None) -> int: ...
    def write_number(self, row: int, col: int, number: float, cell_format: object = None) -> int: ...
    def write_boolean(self, row: int, col: int, boolean: object, cell_format: object = None) -> int: ...
    def write_datetime(self, row: int, col: int, value: date | time, cell_format: object = None) -> int: ...
    def set_column(self, first_col: int, last_col: int, width: float) -> int: ...
    def freeze_panes(self, row: int, col: int) -> None: ...
    def autofilter(self, first_row: int, first_col: int, last_row: int, last_col: int) -> None: ...


def _text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ExcelWriter:
    def __init__(self, path: Path, columns: Sequence[ExportColumn], converters: Converters, *, tmpdir: Path) -> None:
        if len(columns) > EXCEL_MAX_COLUMNS:
            raise InvalidArgumentError(
                f"The result has {len(columns):,} columns; Excel holds {EXCEL_MAX_COLUMNS:,} per sheet. "
                "Select fewer columns, or export as csv or parquet."
            )
        self.warnings: list[str] = []
        self._columns = list(columns)
        self._converters = converters
        self._counter = Counter()
        self._book = xlsxwriter.Workbook(
            str(path),
            {
                "constant_memory": True,
                "tmpdir": str(tmpdir),
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "use_zip64": True,
            },
        )
        self._header = self._book.add_format({"bold": True, "bottom": 1})
        self._date = self._book.add_format({"num_format": "yyyy-mm-dd"})
        self._ts = self._book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self._ts_ms = self._book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss.000"})
        self._time = self._book.add_format({"num_format": "hh:mm:ss"})
        self._time_ms = self._book.add_format({"num_format": "hh:mm:ss.000"})
        self._sheet: _Sheet | None = None
        self._sheets = 0
        self._row = 0  # next row on the current sheet
        self._widths: list[float] = []
        self._cells: list[Cell] = []
        self.rows = 0

    # -- per-column cell writers, chosen once from the type and the first chunk ---------------------------

    def _cell_writers(self, sample: Sequence[Sequence[object]]) -> list[Cell]:
        out: list[Cell] = []
        for i, col in enumerate(self._columns):
            values = [r[i] for r in sample]
            out.append(self._cell_writer(i, col, values))
        return out

    def _cell_writer(self, i: int, col: ExportColumn, values: list[object]) -> Cell:
        sheet = self._current  # the current sheet changes past 1,048,576 rows
        convert = self._converters[i]
        name = col.type_name if col.pg_catalog and col.type_kind == "scalar" else ""
        fraction = any(isinstance(v, (datetime, time)) and v.microsecond for v in values)

        def text(r: int, c: int, v: object) -> None:
            s = _text(convert(v))
            if len(s) > EXCEL_MAX_TEXT:
                s = s[:EXCEL_MAX_TEXT]
                self._counter.add(f"text cells cut at Excel's {EXCEL_MAX_TEXT:,}-character limit")
            sheet().write_string(r, c, s)

        if name == "bool":
            return lambda r, c, v: sheet().write_boolean(r, c, v)
        if name in ("int2", "int4", "oid", "xid", "cid"):
            return lambda r, c, v: sheet().write_number(r, c, cast(int, v))
        if name == "int8":

            def int8(r: int, c: int, v: object) -> None:
                n = cast(int, v)
                if -_MAX_EXACT_INT <= n <= _MAX_EXACT_INT:
                    sheet().write_number(r, c, n)
                else:
                    sheet().write_string(r, c, str(v))  # an id past 2**53 must not be rounded

            return int8
        if name in ("float4", "float8", "numeric"):

            def number(r: int, c: int, v: object) -> None:
                j = convert(v)
                if isinstance(j, (int, float)):
                    sheet().write_number(r, c, j)
                elif isinstance(v, Decimal) and v.is_finite() and abs(v) < _MAX_DOUBLE:
                    sheet().write_number(r, c, float(v))  # Excel numbers are doubles (15 significant digits)
                else:
                    sheet().write_string(r, c, str(j))  # NaN, Infinity

            return number
        if name == "date":
            return self._temporal(text, date, self._date, sheet)
        if name in ("timestamp", "timestamptz"):
            return self._temporal(text, datetime, self._ts_ms if fraction else self._ts, sheet)
        if name == "time":
            return self._temporal(text, time, self._time_ms if fraction else self._time, sheet)
        return text

    def _current(self) -> _Sheet:
        return cast(_Sheet, self._sheet)  # cells are written only after _new_sheet()

    @staticmethod
    def _temporal(text: Cell, kind: type, fmt: object, sheet: Callable[[], _Sheet]) -> Cell:
        def cell(r: int, c: int, v: object) -> None:
            if isinstance(v, kind) and (isinstance(v, time) or cast(date, v).year >= 1900):
                if isinstance(v, datetime) and v.tzinfo is not None:
                    v = v.astimezone(UTC).replace(tzinfo=None)
                sheet().write_datetime(r, c, cast("date | time", v), fmt)
            else:
                text(r, c, v)  # infinity, BC, years before 1900 (Excel's calendar starts in 1900), 24:00:00

        return cell

    def _new_sheet(self) -> None:
        self._sheets += 1
        name = "data" if self._sheets == 1 else f"data ({self._sheets})"
        sheet: _Sheet = self._book.add_worksheet(name)
        self._sheet = sheet
        for c, width in enumerate(self._widths):
            sheet.set_column(c, c, width)
        for c, col in enumerate(self._columns):
            sheet.write_string(0, c, col.name, self._header)
        sheet.freeze_panes(1, 0)
        self._row = 1

    def _finish_sheet(self) -> None:
        if self._sheet is not None and self._columns:
            self._sheet.autofilter(0, 0, max(self._row - 1, 0), len(self._columns) - 1)

    def write(self, rows: Sequence[Sequence[object]]) -> int:
        if not self._cells:
            sample = rows[:200]
            self._widths = [
                min(
                    _MAX_WIDTH,
                    max([len(col.name) + 2, 8] + [len(_text(self._converters[i](r[i]))) + 1 for r in sample]),
                )
                for i, col in enumerate(self._columns)
            ]
            self._cells = self._cell_writers(sample)
            self._new_sheet()
        cells = list(enumerate(self._cells))
        approx = 0
        for rec in rows:
            if self._row >= EXCEL_MAX_ROWS:
                self._finish_sheet()
                self._new_sheet()
            r = self._row
            for c, cell in cells:
                v = rec[c]
                if v is not None:
                    cell(r, c, v)
            self._row += 1
            approx += 16 * len(cells)
        self.rows += len(rows)
        return approx

    def close(self, metadata: dict[str, object] | None) -> None:
        if self._sheet is None:
            self._widths = [max(len(c.name) + 2, 8) for c in self._columns]
            self._new_sheet()
        self._finish_sheet()
        self.warnings = self._counter.messages()
        if self._sheets > 1:
            self.warnings.append(
                f"rows continue over {self._sheets} sheets (Excel holds {EXCEL_MAX_ROWS - 1:,} data rows per sheet)"
            )
        if metadata is not None:
            self._metadata_sheet({**metadata, "warnings": self.warnings or metadata.get("warnings")})
        self._book.close()

    def _metadata_sheet(self, metadata: dict[str, object]) -> None:
        sheet = self._book.add_worksheet("metadata")
        sheet.set_column(0, 0, 22)
        sheet.set_column(1, 1, 80)
        sheet.set_column(2, 2, 30)
        row = 0
        for key, value in metadata.items():
            if key == "columns" or value is None:
                continue
            sheet.write_string(row, 0, key, self._header)
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            sheet.write_string(row, 1, text[:EXCEL_MAX_TEXT])
            row += 1
        row += 1
        for c, title in enumerate(("column", "PostgreSQL type", "Excel cells")):
            sheet.write_string(row, c, title, self._header)
        for col in self._columns:
            row += 1
            sheet.write_string(row, 0, col.name)
            sheet.write_string(row, 1, col.type)
            sheet.write_string(row, 2, _excel_note(col))

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # best effort: the partial file is deleted anyway
            self._book.close()


def _excel_note(col: ExportColumn) -> str:
    name = col.type_name if col.pg_catalog and col.type_kind == "scalar" else ""
    return {
        "bool": "boolean",
        "int2": "number",
        "int4": "number",
        "int8": "number (text beyond 2^53, never rounded)",
        "numeric": "number (a double: 15 significant digits; NaN/Infinity as text)",
        "float4": "number (NaN/Infinity as text)",
        "float8": "number (NaN/Infinity as text)",
        "date": "date",
        "timestamp": "date-time",
        "timestamptz": "date-time in UTC",
        "time": "time",
    }.get(name, "text, as in JSON exports")
