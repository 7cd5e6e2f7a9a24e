"""Parquet through pyarrow's ParquetWriter: one row group per fetched chunk, zstd, PostgreSQL types as Arrow types.

- boolean -> bool; smallint, integer, bigint -> int16, int32, int64 (oid, xid, cid -> int64)
- real, double precision -> float32, float64 (NaN and infinities kept)
- numeric -> decimal128(38, s), or decimal256(76, s) for wider values, s = the largest scale in the first
  chunk; later values with more decimals are rounded half-even, NaN/Infinity become null (both counted in
  the warnings); string (exact text) when 76 digits are not enough or the first chunk has no value
- date -> date32; timestamp -> timestamp[us]; timestamp with time zone -> timestamp[us, tz=UTC];
  time -> time64[us]; bytea -> binary
- one-dimensional arrays of boolean, integers, floats, text/varchar/char/name, date, timestamp(tz), uuid ->
  list<element type> (a multi-dimensional value becomes null, counted)
- json, jsonb -> string holding the JSON text
- everything else (uuid, interval, timetz, money, enums, ranges, composites, network, geometric, other
  arrays ...) -> string, exactly as in JSON exports (composites and other arrays as JSON text)

Values a type cannot hold (date/timestamp infinity or outside years 1-9999, time 24:00:00) become null and
are counted in the warnings. Each field carries its PostgreSQL type in the field metadata (`pg_type`); the
export metadata is file key-value metadata.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import cast

import pyarrow as pa
import pyarrow.parquet as pq

from vf_mcp.db.convert import Converter, Converters
from vf_mcp.export.columns import Counter, ExportColumn

_SCALARS: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "oid": pa.int64(),
    "xid": pa.int64(),
    "cid": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "time": pa.time64("us"),
    "bytea": pa.binary(),
}
_LIST_ELEMENTS: dict[str, pa.DataType] = {
    **{k: v for k, v in _SCALARS.items() if k not in ("bytea", "time", "oid", "xid", "cid")},
    **dict.fromkeys(("text", "varchar", "bpchar", "name", "uuid"), pa.string()),
}
_PYTHON_TYPE: dict[str, type | tuple[type, ...]] = {
    "date": date,
    "timestamp": datetime,
    "timestamptz": datetime,
    "time": time,
}
_FAST_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError, OverflowError)

Build = Callable[[list[object]], pa.Array]


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ParquetWriter:
    def __init__(self, path: Path, columns: Sequence[ExportColumn], converters: Converters) -> None:
        self.warnings: list[str] = []
        self._path = path
        self._columns = list(columns)
        self._converters = converters
        self._counter = Counter()
        self._writer: pq.ParquetWriter | None = None
        self._builds: list[Build] = []
        self._schema: pa.Schema | None = None

    # -- planning -----------------------------------------------------------------------------------------

    def _plan(self, sample: Sequence[Sequence[object]]) -> None:
        fields, builds = [], []
        for i, col in enumerate(self._columns):
            arrow, build = self._column_plan(i, col, [r[i] for r in sample])
            fields.append(pa.field(col.key, arrow, metadata={"pg_type": col.type}))
            builds.append(build)
        self._schema = pa.schema(fields)
        self._builds = builds
        self._writer = pq.ParquetWriter(str(self._path), self._schema, compression="zstd")

    def _column_plan(self, i: int, col: ExportColumn, values: list[object]) -> tuple[pa.DataType, Build]:
        convert = self._converters[i]
        name = col.type_name if col.pg_catalog else ""
        if col.type_kind == "scalar" and name in _SCALARS:
            arrow = _SCALARS[name]
            kind = _PYTHON_TYPE.get(name)
            return arrow, self._typed(arrow, kind, col.name)
        if col.type_kind == "scalar" and name == "numeric":
            decimal = _decimal_type(values)
            if decimal is not None:
                return decimal, self._decimal(decimal, col.name)
        element = col.element if col.pg_catalog else None
        if element in _LIST_ELEMENTS and not any(
            isinstance(v, list) and any(isinstance(e, list) for e in v) for v in values
        ):
            inner = _LIST_ELEMENTS[element]
            return pa.list_(inner), self._list(inner, _PYTHON_TYPE.get(element), convert, element == "uuid", col.name)
        if col.type_kind == "scalar" and name in ("json", "jsonb"):
            return pa.string(), lambda vs: pa.array(
                [None if v is None else _dumps(convert(v)) for v in vs], pa.string()
            )

        def text(vs: list[object]) -> pa.Array:
            out = []
            for v in vs:
                j = convert(v)
                out.append(j if j is None or isinstance(j, str) else _dumps(j))
            return pa.array(out, pa.string())

        return pa.string(), text

    def _typed(self, arrow: pa.DataType, kind: type | tuple[type, ...] | None, column: str) -> Build:
        counter = self._counter

        def build(vs: list[object]) -> pa.Array:
            try:
                return pa.array(vs, arrow)
            except _FAST_ERRORS:
                if kind is None:
                    raise
            clean = []
            for v in vs:
                if v is None or isinstance(v, kind):
                    clean.append(v)
                else:
                    clean.append(None)
                    counter.add(f"values of {column} that {arrow} cannot hold (infinity, out of range) written as null")
            return pa.array(clean, arrow)

        return build

    def _decimal(self, arrow: pa.Decimal128Type | pa.Decimal256Type, column: str) -> Build:
        counter = self._counter
        quantum = Decimal(1).scaleb(-arrow.scale)
        max_int_digits = arrow.precision - arrow.scale

        def build(vs: list[object]) -> pa.Array:
            try:
                return pa.array(vs, arrow)
            except _FAST_ERRORS:
                pass
            clean: list[Decimal | None] = []
            for v in vs:
                if v is None:
                    clean.append(None)
                    continue
                d = cast(Decimal, v)
                if not d.is_finite():
                    counter.add(f"NaN/Infinity values of {column} written as null")
                    clean.append(None)
                    continue
                try:
                    q = d.quantize(quantum, rounding=ROUND_HALF_EVEN)
                except InvalidOperation:
                    q = None
                if q is None or q.adjusted() + 1 > max_int_digits:
                    counter.add(f"values of {column} too wide for {arrow} written as null")
                    clean.append(None)
                    continue
                if q != d:
                    counter.add(f"values of {column} rounded to {arrow.scale} decimals")
                clean.append(q)
            return pa.array(clean, arrow)

        return build

    def _list(
        self, inner: pa.DataType, kind: type | tuple[type, ...] | None, convert: Converter, as_text: bool, column: str
    ) -> Build:
        counter = self._counter
        arrow = pa.list_(inner)

        def build(vs: list[object]) -> pa.Array:
            if as_text:
                vs = [convert(v) for v in vs]
            try:
                return pa.array(vs, arrow)
            except _FAST_ERRORS:
                pass
            clean: list[object] = []
            for v in vs:
                if v is None:
                    clean.append(None)
                    continue
                elements = cast("list[object]", v)
                if any(isinstance(e, list) for e in elements):
                    counter.add(f"multi-dimensional arrays in {column} written as null")
                    clean.append(None)
                else:
                    items = []
                    for e in elements:
                        if e is None or kind is None or isinstance(e, kind):
                            items.append(e)
                        else:
                            counter.add(f"array elements of {column} outside the {inner} range written as null")
                            items.append(None)
                    clean.append(items)
            return pa.array(clean, arrow)

        return build

    # -- writing ------------------------------------------------------------------------------------------

    def write(self, rows: Sequence[Sequence[object]]) -> int:
        if self._writer is None:
            self._plan(rows)
        assert self._writer is not None and self._schema is not None
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in self._columns]
        arrays = [build(list(values)) for build, values in zip(self._builds, columns, strict=True)]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self._schema)
        self._writer.write_batch(batch)  # one row group per chunk
        return int(batch.nbytes)

    def close(self, metadata: dict[str, object] | None) -> None:
        if self._writer is None:
            self._plan([])
        assert self._writer is not None
        self.warnings = self._counter.messages()
        if metadata is not None:
            kv = {"vf_mcp.export": _dumps({**metadata, "warnings": self.warnings})}
            for key, value in metadata.items():
                if value is not None:
                    kv[f"vf_mcp.{key}"] = value if isinstance(value, str) else json.dumps(value, default=str)
            self._writer.add_key_value_metadata(kv)
        self._writer.close()

    def abort(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):  # best effort: the partial file is deleted anyway
                self._writer.close()


def _decimal_type(values: list[object]) -> pa.Decimal128Type | pa.Decimal256Type | None:
    """decimal128(38, s) / decimal256(76, s) from the first chunk's numerics (None: use text)."""
    scale, int_digits, seen = 0, 1, False
    for v in values:
        if not isinstance(v, Decimal) or not v.is_finite():
            continue
        seen = True
        t = v.as_tuple()
        exp = int(t.exponent)
        scale = max(scale, -exp)
        int_digits = max(int_digits, len(t.digits) + exp)
    if not seen:
        return None
    if int_digits + scale <= 38:
        return pa.decimal128(38, scale)
    if int_digits + scale <= 76:
        return pa.decimal256(76, scale)
    return None
