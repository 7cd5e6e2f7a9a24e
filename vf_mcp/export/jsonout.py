"""JSON (one array of objects, one object per line) and JSON Lines (one object per line).

Values are exactly run_query's (vf_mcp.db.convert): numeric as an exact number or a string, timestamptz in
UTC ISO 8601, bytea base64, arrays as lists, json/jsonb parsed, NaN/Infinity as strings (strict JSON).
Keys are the column names, made unique where a name repeats (a, a_2).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

from vf_mcp.db.convert import Converters, convert_row
from vf_mcp.export.columns import ExportColumn

_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class JsonWriter:
    def __init__(self, path: Path, columns: Sequence[ExportColumn], converters: Converters, *, lines: bool) -> None:
        self.warnings: list[str] = []
        self._keys = [c.key for c in columns]
        self._converters = converters
        self._lines = lines
        self._first = True
        self._file: io.TextIOWrapper = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
        if not lines:
            self._file.write("[")

    def write(self, rows: Sequence[Sequence[object]]) -> int:
        keys, converters, encode = self._keys, self._converters, _ENCODER.encode
        text = (",\n" if not self._lines else "\n").join(
            [encode(dict(zip(keys, convert_row(r, converters), strict=True))) for r in rows]
        )
        if self._lines:
            text += "\n"
        elif self._first:
            text = "\n" + text
        else:
            text = ",\n" + text
        self._first = False
        self._file.write(text)
        return len(text)

    def close(self, metadata: dict[str, object] | None) -> None:
        if not self._lines:
            self._file.write("]\n" if self._first else "\n]\n")
        self._file.close()

    def abort(self) -> None:
        self._file.close()
