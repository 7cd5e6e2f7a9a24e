"""Base for tool outputs, and the schema compaction applied to every published tool schema.

The tools/list answer (descriptions, input and output schemas) goes into the model's context on every
conversation, so schemas are published without titles, null defaults or `anyOf [T, null]` wrappers.
"""

from __future__ import annotations

from pydantic import BaseModel, model_validator

from vf_mcp.models.lenient import lenient_fields


def compact_schema(node: object, *, output: bool, optional: bool = False) -> None:
    """Shrink a JSON schema in place: titles, null defaults and `anyOf [T, null]` wrappers go.

    An optional input (`optional`: not in its object's `required`) is published with its non-null type: a model
    omits it rather than sending null (the server still accepts null). Outputs keep null where a value can be
    null (clients validate results against the schema) and drop `required`, validation details and
    descriptions: the shape is what a client needs; what each number means is in the tool's description and in
    every answer's `conventions`.
    """
    if isinstance(node, list):
        for item in node:
            compact_schema(item, output=output)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("title"), str):
        del node["title"]
    if output and isinstance(node.get("description"), str):
        del node["description"]
    if isinstance(node.get("description"), str):
        node["description"] = compact_text(node["description"])
    if node.get("items") == {}:
        del node["items"]  # same meaning, and clients that validate results skip a per-cell walk
    if "default" in node and node["default"] is None:
        del node["default"]
    if output:  # the shape and what each field means; validation details are for inputs
        for key in ("required", "default", "format", "examples"):
            node.pop(key, None)
    if node.get("maximum") == 2**31 - 1:
        del node["maximum"]  # the int4 bound is no advice
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        other = next(o for o in options if o != {"type": "null"})
        if other == {}:
            del node["anyOf"]
        elif isinstance(other, dict) and isinstance(other.get("type"), str) and "$ref" not in other:
            del node["anyOf"]
            node.update({k: v for k, v in other.items() if k != "type"})
            if optional and not output:
                node["type"] = other["type"]
                if isinstance(node.get("enum"), list):
                    node["enum"] = [v for v in node["enum"] if v is not None]
            else:
                node["type"] = [other["type"], "null"]
                if isinstance(node.get("enum"), list) and None not in node["enum"]:
                    node["enum"] = [*node["enum"], None]  # null stays allowed by the enum too
        elif optional and not output and isinstance(other, dict) and "$ref" in other and len(other) == 1:
            del node["anyOf"]
            node["$ref"] = other["$ref"]
    if output and node.get("type") in ("array", ["array", "null"]):
        node.pop("items", None)  # the rows/lists themselves show their elements
    for key, value in list(node.items()):
        if key == "properties" and isinstance(value, dict):
            required = node.get("required", ())
            for name, prop in value.items():
                compact_schema(prop, output=output, optional=name not in required)
        elif key == "$defs" and isinstance(value, dict):
            for sub in value.values():
                compact_schema(sub, output=output)
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties", "prefixItems"):
            compact_schema(value, output=output)


UNLISTED_OUTPUT_FIELDS = (
    "message",
    "from_cache",
    "calculation_time_ms",
    "execution_time_ms",
    "elapsed_ms",
    "statements",
    "sql",
    "params",
)
"""Bookkeeping every answer carries, left out of the published output schemas (context every call pays)."""


def compact_text(text: str) -> str:
    """A docstring as published: dedented, paragraphs kept, lines within a paragraph joined."""
    import inspect

    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def shallow_output_schema(schema: dict[str, object] | None) -> None:
    """Publish nested output objects as plain objects: top-level fields keep their types, nested models
    (documented in the tool description and visible in every result) no longer cost context."""
    if not schema:
        return
    schema.pop("$defs", None)
    props = schema.get("properties")
    if isinstance(props, dict):
        for name in UNLISTED_OUTPUT_FIELDS:  # still in every result; a schema without them accepts them
            props.pop(name, None)

    def flatten(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                node.pop("$ref")
                node["type"] = "object"
            for value in node.values():
                flatten(value)
        elif isinstance(node, list):
            for item in node:
                flatten(item)

    flatten(schema.get("properties"))


def drop_free_form(schema: dict[str, object] | None) -> None:
    """Leave the free-form and optional parts out of a compacted output schema: lists and objects whose shape
    depends on the query (rows, groups, findings) say nothing as a bare `{"type": "array"}`, and fields that
    are null when they do not apply show up in the answers that have them. A schema without them still
    accepts them; the fields every answer carries stay, typed."""
    props = schema.get("properties") if schema else None
    if not isinstance(props, dict):
        return
    for name, prop in list(props.items()):
        if isinstance(prop, dict) and set(prop) <= {"type", "additionalProperties", "enum"} and _free(prop.get("type")):
            del props[name]


def _free(kind: object) -> bool:
    if kind is None:
        return True
    kinds = {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()
    return bool(kinds) and ("null" in kinds or kinds <= {"array", "object"})


class Out(BaseModel):
    """A tool output model."""


class In(BaseModel):
    """A tool input model (nested in arguments): accepts the common shapes and spellings (models/lenient.py).

    The tool arguments themselves get the same treatment from the registered tool (tools/common.VfTool).
    """

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: object) -> object:
        return lenient_fields(cls, data)

    @classmethod
    def from_mapping(cls, data: dict[str, object]) -> list[dict[str, object]] | None:
        """Objects for a list of this model sent as one mapping, e.g. {"status": "done"} (None: not such a shape)."""
        return None
