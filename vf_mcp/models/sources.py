"""list_sources output."""

from __future__ import annotations

from pydantic import Field

from vf_mcp.models.base import Out


class SourceInfo(Out):
    name: str
    description: str
    default: bool
    status: str = Field(description="ok, or unavailable (see error)")
    server_version: str | None = None
    role: str | None = None
    read_only_role: bool | None = Field(None, description="False: the role could write if every other layer failed")
    safety_warning: str | None = None
    via_ssh: bool = False
    replicas: int = 0
    statement_timeout_ms: int
    max_rows: int
    pool_open: bool
    error: str | None = None


class SourceList(Out):
    sources: list[SourceInfo]
    message: str
