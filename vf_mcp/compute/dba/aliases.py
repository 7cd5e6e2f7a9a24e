"""Names for the loosely typed data the DBA analysis reads: JSON plans, statistics rows, pglast parse trees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

PlanDict: TypeAlias = dict[str, Any]
"""One node of an EXPLAIN (FORMAT JSON) plan, keyed as PostgreSQL names its fields ("Node Type", "Plans")."""

StatRow: TypeAlias = Mapping[str, Any]
"""One row of a statistics or catalog query (column name -> converted value)."""

PgNode: TypeAlias = Any
"""A node of pglast's JSON parse tree (dicts, lists and scalars as libpg_query emits them)."""

Evidence: TypeAlias = dict[str, object]
"""The numbers behind a finding, as plain JSON-able values."""

EvidenceView: TypeAlias = Mapping[str, object]
"""A finding's evidence as its holder exposes it (read-only)."""
