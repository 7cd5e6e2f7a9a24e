"""Output of export_results (the return model is its MCP outputSchema)."""

from __future__ import annotations

from pydantic import Field

from vf_mcp.models.base import Out


class ExportResult(Out):
    export_id: str
    format: str
    file_name: str
    file_path: str
    file_size: str
    file_size_bytes: int
    row_count: int
    download_url: str | None = None
    resource_uri: str
    metadata_path: str | None = None
    metadata_url: str | None = None
    expires_at: str
    warnings: list[str] = Field(default_factory=list)
    message: str
