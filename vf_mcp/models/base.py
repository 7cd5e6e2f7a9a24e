"""Base for tool outputs: compact JSON schemas (the outputSchema goes into the model's context)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


def _compact(schema: dict[str, Any]) -> None:
    """Drop titles and null defaults; fold `anyOf: [T, null]` into `type: [T, "null"]`."""
    schema.pop("title", None)
    schema.pop("required", None)  # outputs always carry every field; the list only costs context
    for prop in (schema.get("properties") or {}).values():
        prop.pop("title", None)
        prop.pop("default", None)  # outputs always carry every field
        options = prop.get("anyOf")
        if options and len(options) == 2 and {"type": "null"} in options:
            other = next(o for o in options if o != {"type": "null"})
            if set(other) == {"type"} and isinstance(other["type"], str):
                del prop["anyOf"]
                prop["type"] = [other["type"], "null"]
            elif other == {}:
                del prop["anyOf"]
        if prop.get("items") == {}:
            del prop["items"]


class Out(BaseModel):
    """A tool output model."""

    model_config = ConfigDict(json_schema_extra=_compact)
