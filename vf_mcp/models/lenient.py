"""The argument shapes and spellings models actually send, accepted before strict validation.

One vocabulary for every tool: a bare value where a list is expected (`group_by: "status"`, one filter
object), a one-element list where one value is expected, enum values in any case and with `_`, `-` or
spaces (`COUNT`, `not_in`), word forms of the same value (`monthly` = `month`, `desc` = `top`,
`xlsx` = `excel`), a direction after a name (`order_by: "value desc"`), and common argument names
(`op` = `operator`, `table` = `table_name`). Published schemas keep their canonical values only.
`describe_errors` turns a pydantic ValidationError into one line per problem: the argument, what was
given and what is valid.
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

SYNONYMS: tuple[frozenset[str], ...] = tuple(
    frozenset(group)
    for group in (
        ("day", "daily", "today", "days"),
        ("week", "weekly", "weeks"),
        ("month", "monthly", "months"),
        ("quarter", "quarterly", "quarters"),
        ("year", "yearly", "annual", "annually", "years"),
        ("top", "desc", "descending", "highest", "largest", "most"),
        ("bottom", "asc", "ascending", "lowest", "smallest", "least"),
        ("excel", "xlsx", "xls", "spreadsheet"),
        ("jsonl", "ndjson", "json lines", "jsonlines"),
        ("avg", "average", "mean"),
        ("distinct", "count distinct", "unique", "nunique"),
        ("stddev", "std", "stdev", "standard deviation"),
        ("median", "p50"),
        ("=", "==", "eq", "equals", "is"),
        ("!=", "<>", "ne", "neq", "not equal", "not equals"),
        (">", "gt", "greater than"),
        ("<", "lt", "less than"),
        (">=", "gte", "ge"),
        ("<=", "lte", "le"),
        ("not in", "nin"),
        ("is null", "null", "isnull"),
        ("is not null", "not null", "notnull"),
        ("previous period", "previous", "prior period", "last period", "period over period"),
        ("last year", "previous year", "prior year", "year over year", "yoy"),
    )
)
"""Words that mean the same value; a value is replaced by the member its field allows."""

KEY_SYNONYMS: tuple[frozenset[str], ...] = tuple(
    frozenset(group)
    for group in (
        ("table_name", "table", "table_names"),
        ("tables", "table", "table_names"),
        ("sql", "query", "statement"),
        ("operator", "op", "operand", "comparison", "comparator"),
        ("column", "col", "field", "column_name"),
        ("value", "values", "val"),
        ("filters", "filter", "where", "conditions"),
        ("group_by", "groupby", "group", "group_by_columns"),
        ("order_by", "direction", "order", "sort", "sort_order", "orderby"),
        ("metric", "aggregation", "agg", "aggregate", "function"),
        ("period", "timeframe", "interval", "granularity", "frequency", "bucket"),
        ("params", "parameters", "args", "bind_params"),
        ("time_column", "date_column", "timestamp_column"),
        ("format", "file_format", "output_format"),
        ("limit", "top_n", "max_rows"),
    )
)
"""Argument names models use for the same argument; an unknown name is renamed when its field is absent."""

_ANYTHING = (object, typing.Any)
_NEGATIONS = frozenset({"not", "no", "non", "never"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NAME_LIST = re.compile(r'^\s*[\w."]+(?:\s*,\s*[\w."]+)+\s*$')
_DATETIME_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]")


def norm(text: str) -> str:
    """Case, `_`, `-` and runs of spaces do not matter: `NOT_IN` -> `not in`."""
    return " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())


def _unwrap(annotation: object) -> object:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _members(annotation: object) -> tuple[object, ...] | None:
    """The non-None members of a union (None: not a union)."""
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return tuple(_unwrap(a) for a in get_args(annotation) if a is not type(None))
    return None


def literal_values(annotation: object) -> tuple[object, ...] | None:
    """The values a Literal (or Optional Literal, or a union of Literals) allows; None when it is not one."""
    annotation = _unwrap(annotation)
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    members = _members(annotation)
    if members and all(get_origin(m) is Literal for m in members):
        return tuple(v for m in members for v in get_args(m))
    return None


def match_literal(allowed: tuple[object, ...], given: str) -> object:
    """The allowed value `given` means (any case, a synonym, or one word of several), else `given` itself."""
    by_norm = {norm(v): v for v in allowed if isinstance(v, str)}
    key = norm(given)
    if key in by_norm:
        return by_norm[key]
    found = _synonym(by_norm, key)
    if found is not None:
        return found
    compact = {k.replace(" ", ""): v for k, v in by_norm.items()}  # NOTIN, ReferentialIntegrity
    if key.replace(" ", "") in compact:
        return compact[key.replace(" ", "")]
    words = [norm(w) for w in re.split(r"[\s,;:]+", given) if w.strip()]
    if len(words) > 1 and not _NEGATIONS & set(words):  # "value desc" -> desc; never "not in" -> in
        hits = {m for w in words if (m := by_norm.get(w, _synonym(by_norm, w))) is not None}
        if len(hits) == 1:
            return hits.pop()
    return given


def _synonym(by_norm: Mapping[str, object], key: str) -> object:
    for group in SYNONYMS:
        if key in group:
            for allowed_key, value in by_norm.items():  # the allowed values in their declared order
                if allowed_key in group:
                    return value
    return None


def coerce(annotation: object, value: object) -> object:
    """`value` reshaped towards `annotation` where a common shape or spelling is clear; else unchanged."""
    annotation = _unwrap(annotation)
    if value is None:
        return value
    members = _members(annotation)
    if members is not None:
        return _coerce_union(members, value)
    origin = get_origin(annotation)
    if origin is Literal:
        return match_literal(get_args(annotation), value) if isinstance(value, str) else value
    if origin is list:
        (item,) = get_args(annotation) or (object,)
        return [coerce(item, v) for v in _as_list(_unwrap(item), value)]
    if annotation is str and isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return value[0]
    if annotation is date and isinstance(value, str) and _DATETIME_PREFIX.match(value.strip()):
        return value.strip()[:10]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, str):
        try:  # a nested object sent as JSON text
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, dict) else value
    return value


def _as_list(item: object, value: object) -> list[object]:
    """A list's items from a bare value: itself; names separated by commas; one object per key of a mapping."""
    if isinstance(value, list):
        return value
    if isinstance(value, str) and _NAME_LIST.match(value) and _takes_text(item):
        return [part.strip() for part in value.split(",")]  # "status, region" (never SQL or free text)
    hook = getattr(item, "from_mapping", None)
    if isinstance(value, dict) and callable(hook):
        many = hook(value)
        if isinstance(many, list):
            return many
    return [value]


def _takes_text(annotation: object) -> bool:
    members = _members(annotation) or (annotation,)
    return any(m is str or get_origin(m) is Literal for m in members)


def _kind_fits(annotation: object, value: object) -> bool:
    origin = get_origin(annotation)
    if origin is list:
        return isinstance(value, list)
    if origin is Literal:
        return isinstance(value, str) and match_literal(get_args(annotation), value) in get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return isinstance(value, dict)
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if annotation is str:
        return isinstance(value, str)
    if annotation in (int, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is bool:
        return isinstance(value, bool)
    return annotation in _ANYTHING


def _coerce_union(members: tuple[object, ...], value: object) -> object:
    for member in members:  # a member the value already fits (after spelling fixes)
        if _kind_fits(member, value):
            return coerce(member, value)
    for member in members:  # else the first member that reshapes it: a list wraps a bare value
        if get_origin(member) is list:
            return coerce(member, value)
    return coerce(members[0], value) if len(members) == 1 else value


def _key_synonym(key: str, fields: Mapping[str, object], data: Mapping[str, object]) -> str | None:
    """The field an unknown argument name means (snake_case of camelCase, or a common synonym)."""
    snake = _CAMEL.sub("_", key).lower().replace("-", "_").replace(" ", "_")
    if snake in fields and snake not in data:
        return snake
    for group in KEY_SYNONYMS:
        if snake in group:
            targets = [f for f in fields if f in group and f not in data]
            if len(targets) == 1:
                return targets[0]
    return None


def names_a_field(model: type[BaseModel], data: dict[str, object]) -> bool:
    """Whether some key of `data` is (or means) a field of `model`."""
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    return any(key in fields or _key_synonym(str(key), fields, {}) is not None for key in data)


def lenient_fields(model: type[BaseModel], data: object) -> object:
    """`data` for `model` with argument names and values reshaped per field annotation (mode="before")."""
    return lenient_arguments(model, data) if isinstance(data, dict) else data


def lenient_arguments(model: type[BaseModel], data: dict[str, object]) -> dict[str, object]:
    """Tool arguments (or a nested object) with names and values reshaped per field annotation."""
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    out: dict[str, object] = {}
    for key, value in data.items():
        target = key if key in fields else (_key_synonym(str(key), fields, data) or key)
        if target in out:
            continue
        info = fields.get(target)
        out[target] = coerce(info.annotation, value) if info is not None else value
    return out


# ---------- validation errors, one line per problem ----------


def describe_errors(model: type[BaseModel], exc: ValidationError) -> str:
    """One line per problem: `argument: got X; valid values: a, b` (or `expected ...`), no documentation links."""
    errors = exc.errors(include_url=False)
    lines: dict[str, str] = {}
    paths = [(_display_path(model, e["loc"]), e) for e in errors]
    names = [p for p, _ in paths]
    for path, err in paths:
        if any(other != path and other.startswith(path + ("." if path else "")) for other in names):
            continue  # a deeper error of a union member says more (group_by[0].period vs group_by[0])
        if path in lines:
            continue
        lines[path] = _line(model, path, err)
    return "\n".join(lines.values())


def _display_path(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """`filters[0].operator`: field names and list indexes, union member tags left out."""
    out = ""
    current: object = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            out += f"[{part}]"
            current = _item(current)
            continue
        field = _field(current, part)
        if field is None:
            continue  # a union member tag such as 'str' or 'TimeBucket'
        out += f".{part}" if out else part
        current = field
    return out


def _item(annotation: object) -> object:
    annotation = _unwrap(annotation)
    members = _members(annotation)
    for candidate in members or (annotation,):
        if get_origin(candidate) is list:
            args = get_args(candidate)
            return args[0] if args else object
    return object


def _field(annotation: object, name: str) -> object:
    """The annotation of field `name` of a model (or of a model member of a union); None if there is none."""
    annotation = _unwrap(annotation)
    for candidate in _members(annotation) or (annotation,):
        candidate = _unwrap(candidate)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            for field_name, info in candidate.model_fields.items():
                if name in (field_name, info.alias):
                    return info.annotation
    return None


def _annotation_at(model: type[BaseModel], path: str) -> object:
    current: object = model
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        current = _item(current) if part.startswith("[") else _field(current, part)
        if current is None:
            return None
    return current


def _given(value: object) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _expected(annotation: object) -> str:
    """A short phrase for what a field takes (used for missing arguments)."""
    annotation = _unwrap(annotation)
    members = _members(annotation)
    if members:
        return " or ".join(dict.fromkeys(_expected(m) for m in members))
    origin = get_origin(annotation)
    if origin is list:
        (item,) = get_args(annotation) or (object,)
        return f"a list of {_expected(item)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "an object {" + ", ".join(annotation.model_fields) + "}"
    if annotation is date:
        return "a date YYYY-MM-DD"
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    return names.get(annotation, "a value") if isinstance(annotation, type) else "a value"


def _line(model: type[BaseModel], path: str, err: ErrorDetails) -> str:
    name = path or "arguments"
    annotation = _annotation_at(model, path) if path else None
    allowed = literal_values(annotation) if annotation is not None else None
    if err["type"] == "literal_error" and allowed is None:
        allowed = tuple(re.findall(r"'([^']*)'", str((err.get("ctx") or {}).get("expected", ""))))
    valid = f"valid values: {', '.join(str(v) for v in allowed)}" if allowed else ""
    if err["type"] == "missing":
        if not valid:
            valid = f"expected {_expected(annotation)}" if annotation is not None else "see the input schema"
        return f"{name}: not given (required); {valid}"
    given = _given(err.get("input"))
    if valid:
        return f"{name}: got {given}; {valid}"
    msg = str(err.get("msg", "invalid"))
    for prefix in ("Input should be ", "Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
            break
    return f"{name}: got {given}; expected {msg[:1].lower()}{msg[1:]}"
