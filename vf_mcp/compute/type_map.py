"""Column types of PostgreSQL and MySQL/MariaDB mapped to one common family, to compare across engines.

Pure: no I/O. ``family(engine, type)`` reads a type as the engine's catalog spells it (PostgreSQL's
format_type(), MySQL's information_schema.COLUMNS.COLUMN_TYPE) and ``type_difference`` says what really
differs between two columns ("precision narrowed"), or None when the two spellings hold the same values:
integer sizes, numeric(p,s) = decimal(p,s), varchar(n)/text = varchar/text/longtext, timestamp = datetime,
timestamptz = MySQL timestamp (both stored in UTC), boolean = tinyint(1) or bit(1), bytea = the blob family,
json/jsonb = json, uuid = char(36) or binary(16), an enum's labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# integer families: (rank, range in bits); unsigned MySQL integers need one more bit
_PG_INTS = {"smallint": 16, "integer": 32, "bigint": 64}
_MY_INTS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}
_MY_TEXT = {"tinytext": 255, "text": 65_535, "mediumtext": 16_777_215, "longtext": None}
_MY_BLOB = {"tinyblob", "blob", "mediumblob", "longblob", "varbinary", "binary"}
_ENUM_LABEL = re.compile(r"'((?:[^']|'')*)'")


@dataclass(frozen=True)
class TypeFamily:
    """A column type in engine-neutral terms."""

    # integer, boolean, decimal, float, text, binary, timestamp, timestamptz, date, time, json, uuid, enum, other
    kind: str
    bits: int | None = None  # integer: range in bits (unsigned counted as one more)
    precision: int | None = None  # decimal: p (None: unbounded); float: 24 or 53; timestamp/time: fractional digits
    scale: int | None = None  # decimal: s
    length: int | None = None  # text/binary: max characters/bytes (None: unbounded)
    fixed: bool = False  # char(n) / binary(n): padded to n
    labels: tuple[str, ...] = ()  # enum labels
    spelling: str = ""  # the type as the catalog spells it

    @property
    def label(self) -> str:
        return self.spelling or self.kind


def _args(text: str) -> list[int]:
    m = re.search(r"\(([\d,\s]+)\)", text)
    return [int(x) for x in m.group(1).split(",") if x.strip()] if m else []


def family(engine: str, type_text: str, labels: tuple[str, ...] = ()) -> TypeFamily:
    """The family of `type_text` on `engine` ('postgresql' or 'mysql'); `labels`: a PostgreSQL enum's labels."""
    t = type_text.strip().lower()
    return _mysql(t, type_text) if engine == "mysql" else _postgres(t, type_text, labels)


def _postgres(t: str, spelling: str, labels: tuple[str, ...]) -> TypeFamily:
    args = _args(t)
    base = re.sub(r"\(.*?\)", "", t).strip()
    if labels:
        return TypeFamily("enum", labels=labels, spelling=spelling)
    if base in _PG_INTS:
        return TypeFamily("integer", bits=_PG_INTS[base], spelling=spelling)
    if base == "boolean":
        return TypeFamily("boolean", spelling=spelling)
    if base == "numeric":
        return TypeFamily(
            "decimal", precision=args[0] if args else None, scale=args[1] if len(args) > 1 else 0, spelling=spelling
        )
    if base in ("real", "double precision"):
        return TypeFamily("float", precision=24 if base == "real" else 53, spelling=spelling)
    if base in ("text", "character varying", "citext", "name"):
        return TypeFamily("text", length=args[0] if args else None, spelling=spelling)
    if base == "character":
        return TypeFamily("text", length=args[0] if args else 1, fixed=True, spelling=spelling)
    if base == "bytea":
        return TypeFamily("binary", spelling=spelling)
    if base.startswith("timestamp"):
        kind = "timestamptz" if "with time zone" in base and "without" not in base else "timestamp"
        return TypeFamily(kind, precision=args[0] if args else 6, spelling=spelling)
    if base.startswith("time"):
        return TypeFamily("time", precision=args[0] if args else 6, spelling=spelling)
    if base == "date":
        return TypeFamily("date", spelling=spelling)
    if base in ("json", "jsonb"):
        return TypeFamily("json", spelling=spelling)
    if base == "uuid":
        return TypeFamily("uuid", spelling=spelling)
    return TypeFamily("other", spelling=spelling)


def _mysql(t: str, spelling: str) -> TypeFamily:
    args = _args(t)
    base = t.split("(")[0].split(" ")[0]
    unsigned = " unsigned" in t
    if base == "tinyint" and args[:1] == [1] and not unsigned:
        return TypeFamily("boolean", spelling=spelling)
    if base in ("bool", "boolean") or (base == "bit" and args[:1] == [1]):
        return TypeFamily("boolean", spelling=spelling)
    if base in _MY_INTS:
        return TypeFamily("integer", bits=_MY_INTS[base] + (1 if unsigned else 0), spelling=spelling)
    if base in ("decimal", "numeric", "dec", "fixed"):
        return TypeFamily(
            "decimal", precision=args[0] if args else 10, scale=args[1] if len(args) > 1 else 0, spelling=spelling
        )
    if base in ("float", "double", "real"):
        return TypeFamily("float", precision=24 if base == "float" else 53, spelling=spelling)
    if base == "char" and args == [36]:
        return TypeFamily("uuid", spelling=spelling)
    if base == "binary" and args == [16]:
        return TypeFamily("uuid", spelling=spelling)
    if base in ("varchar", "char"):
        return TypeFamily("text", length=args[0] if args else 1, fixed=base == "char", spelling=spelling)
    if base in _MY_TEXT:
        return TypeFamily("text", length=_MY_TEXT[base], spelling=spelling)
    if base in _MY_BLOB:
        return TypeFamily("binary", length=args[0] if args else None, fixed=base == "binary", spelling=spelling)
    if base == "datetime":
        return TypeFamily("timestamp", precision=args[0] if args else 0, spelling=spelling)
    if base == "timestamp":
        return TypeFamily("timestamptz", precision=args[0] if args else 0, spelling=spelling)
    if base == "date":
        return TypeFamily("date", spelling=spelling)
    if base == "time":
        return TypeFamily("time", precision=args[0] if args else 0, spelling=spelling)
    if base == "json":
        return TypeFamily("json", spelling=spelling)
    if base in ("enum", "set"):
        found = tuple(m.replace("''", "'") for m in _ENUM_LABEL.findall(spelling))
        return TypeFamily("enum" if base == "enum" else "other", labels=found, spelling=spelling)
    return TypeFamily("other", spelling=spelling)


def type_difference(source: TypeFamily, target: TypeFamily) -> str | None:
    """What differs between a source column's type and its target's (None: the same values fit both)."""
    if source.kind != target.kind:
        if {source.kind, target.kind} == {"integer", "decimal"}:
            return _int_decimal(source, target)
        return f"{source.kind} in source, {target.kind} in target"
    k = source.kind
    if k == "integer" and source.bits != target.bits:
        return "range narrowed" if (target.bits or 0) < (source.bits or 0) else "range widened"
    if k == "decimal":
        return _decimal(source, target)
    if k == "float" and source.precision != target.precision:
        return "precision narrowed" if (target.precision or 0) < (source.precision or 0) else "precision widened"
    if k in ("text", "binary"):
        s_len, t_len = source.length, target.length
        if s_len != t_len and not (s_len is None and t_len is None):
            if t_len is not None and (s_len is None or t_len < s_len):
                return f"length narrowed ({_len(s_len)} -> {_len(t_len)})"
            return f"length widened ({_len(s_len)} -> {_len(t_len)})"
        if source.fixed != target.fixed:
            return "fixed length (padded) in source, variable in target" if source.fixed else "padded in target"
    if k in ("timestamp", "timestamptz", "time") and source.precision != target.precision:
        worse = (target.precision or 0) < (source.precision or 0)
        return f"fractional seconds {'narrowed' if worse else 'widened'} ({source.precision} -> {target.precision})"
    if k == "enum" and source.labels != target.labels:
        return f"labels [{', '.join(source.labels)}] in source, [{', '.join(target.labels)}] in target"
    if k == "other" and _norm(source.spelling) != _norm(target.spelling):
        return f"{source.spelling} in source, {target.spelling} in target"
    return None


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def _len(n: int | None) -> str:
    return "unbounded" if n is None else str(n)


def _decimal(s: TypeFamily, t: TypeFamily) -> str | None:
    if (s.precision, s.scale) == (t.precision, t.scale):
        return None
    if t.precision is None:
        return None
    if s.precision is None:
        return f"precision narrowed (unbounded -> {t.precision},{t.scale})"
    bits = []
    s_int, t_int = s.precision - (s.scale or 0), t.precision - (t.scale or 0)
    if t_int < s_int:
        bits.append("precision narrowed")
    elif t_int > s_int:
        bits.append("precision widened")
    if (t.scale or 0) < (s.scale or 0):
        bits.append("scale narrowed (values rounded)")
    elif (t.scale or 0) > (s.scale or 0):
        bits.append("scale widened")
    return "; ".join(bits) or None


def _int_decimal(s: TypeFamily, t: TypeFamily) -> str | None:
    """integer <-> decimal(p,0) holding the same range is no real difference."""
    dec, integer = (t, s) if s.kind == "integer" else (s, t)
    digits = {8: 3, 9: 3, 16: 5, 17: 5, 24: 8, 25: 8, 32: 10, 33: 10, 64: 19, 65: 20}.get(integer.bits or 64, 19)
    if (dec.scale or 0) == 0 and dec.precision is not None and dec.precision >= digits:
        return None if s.kind == "integer" else "decimal in source, integer in target"
    return f"{s.kind} in source, {t.kind} in target"
