"""One settings object. Precedence: command-line flags > VF_MCP_* environment variables > TOML file > defaults.

Every setting is documented in config/vf-mcp.toml (a test checks that the two agree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Transport = Literal["stdio", "sse", "http"]


class Settings(BaseSettings):
    """vf-mcp settings (frozen)."""

    model_config = SettingsConfigDict(env_prefix="VF_MCP_", frozen=True, extra="forbid")

    dsn: SecretStr | None = Field(None, description="PostgreSQL connection URL (libpq style).")
    transport: Transport = Field("stdio", description="stdio, sse or http (streamable HTTP at /mcp).")
    host: str = Field("127.0.0.1", description="Bind address for sse/http.")
    port: int = Field(8000, ge=1, le=65535, description="Port for sse/http.")

    statement_timeout_ms: int = Field(30_000, ge=100, description="Server-side statement_timeout per call.")
    lock_timeout_ms: int = Field(2_000, ge=10, description="Server-side lock_timeout per call.")
    idle_in_transaction_session_timeout_ms: int = Field(
        60_000, ge=1000, description="Server-side idle_in_transaction_session_timeout for pooled sessions."
    )
    connect_timeout_s: float = Field(10.0, gt=0, description="Seconds to wait for a new connection.")
    pool_min_size: int = Field(1, ge=0, description="Connections kept open.")
    pool_max_size: int = Field(5, ge=1, description="Most connections open at once.")

    max_rows: int = Field(1_000, ge=1, description="Row cap on every result (truncated: true beyond it).")
    max_result_bytes: int = Field(
        131_072,
        ge=1024,
        description="Byte cap on the JSON rows of every result (truncated beyond it; the answer carries them as "
        "text and as structured content, so about twice this goes over the wire).",
    )
    schema_cache_ttl_s: float = Field(600.0, ge=0, description="How long catalog answers are cached.")
    query_cache_ttl_s: float = Field(
        300.0, ge=0, description="How long run_query results are cached (0: off)."
    )
    query_cache_max_entries: int = Field(256, ge=0, description="Most cached query results.")
    query_cache_max_bytes: int = Field(32 * 1024 * 1024, ge=0, description="Most bytes of cached results.")

    large_table_rows: int = Field(
        200_000, ge=0, description="Tables above this estimate use sampling/statistics in get_table_stats."
    )
    stats_sample_rows: int = Field(10_000, ge=100, description="Default sample size for large tables.")
    sample_rows: int = Field(5, ge=0, le=100, description="Sample rows shown by get_table_stats.")

    time_zone: str = Field("UTC", description="Time zone for date buckets and period boundaries (timestamptz).")
    compare_stable_threshold_pct: float = Field(
        2.0, ge=0, description="Changes smaller than this percentage count as 'stable' (compare, trends)."
    )

    kpi_dir: str = Field("", description="Directory of KPI TOML files (default: config/kpis beside the package).")

    exports_dir: str = Field("", description="Where export_results writes files (default: user cache dir/exports).")
    export_ttl_hours: float = Field(24.0, gt=0, description="Exported files and download links expire after this.")
    export_max_total_bytes: int = Field(
        5 * 1024**3, ge=1024, description="Most bytes the exports directory may hold (new exports are refused beyond)."
    )
    export_statement_timeout_ms: int = Field(
        300_000, ge=100, description="statement_timeout for export_results (longer than run_query's)."
    )
    export_secret: SecretStr | None = Field(
        None, description="HMAC key for signed download URLs (default: random per server start)."
    )
    public_base_url: str = Field(
        "", description="Base URL clients use to reach this server over HTTP (default: http://host:port)."
    )

    quality_null_warning: float = Field(0.05, ge=0, le=1, description="NULL share making a completeness warning.")
    quality_null_critical: float = Field(0.5, ge=0, le=1, description="NULL share making a completeness critical.")
    quality_fresh_hours: float = Field(24.0, gt=0, description="Newest row at most this old: freshness 100.")
    quality_stale_hours: float = Field(720.0, gt=0, description="Newest row at least this old: freshness 0, stale.")
    quality_outlier_sigma: float = Field(3.0, gt=0, description="Outlier threshold in standard deviations.")
    quality_enum_max_values: int = Field(20, ge=2, description="Most distinct values of an enum-like text column.")
    quality_weight_completeness: float = Field(0.4, ge=0, description="Weight of completeness in quality scores.")
    quality_weight_freshness: float = Field(0.3, ge=0, description="Weight of freshness in quality scores.")
    quality_weight_consistency: float = Field(0.3, ge=0, description="Weight of consistency in quality scores.")

    require_readonly_role: bool = Field(
        False, description="Refuse to start when the role can write or is a superuser."
    )
    allowed_functions: tuple[str, ...] = Field(
        (), description="Extra VOLATILE functions the SQL guard lets through (reviewed by you)."
    )
    log_level: str = Field("INFO", description="Log level for stderr logging.")

    @field_validator("allowed_functions", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            return tuple(x.strip().lower() for x in v.split(",") if x.strip())
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = settings_cls.model_config.get("toml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def dsn_value(self) -> str:
        """The DSN in clear text, for connecting only (never log it)."""
        from vf_mcp.errors import ConfigError

        if self.dsn is None:
            raise ConfigError("No database DSN: pass --dsn, set VF_MCP_DSN, or set dsn in the config file.")
        return self.dsn.get_secret_value()


def load_settings(config_file: Path | str | None = None, **flags: Any) -> Settings:
    """Build Settings from flags (None values ignored), VF_MCP_* env vars and an optional TOML file."""
    given = {k: v for k, v in flags.items() if v is not None}
    if config_file is None:
        return Settings(**given)
    path = Path(config_file)
    if not path.is_file():
        from vf_mcp.errors import ConfigError

        raise ConfigError(f"Config file not found: {path}")

    class FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=path)

    return Settings.model_validate(FileSettings(**given).model_dump())


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced by ***, for logs and messages."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "<dsn>"
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def documented_toml() -> str:
    """config/vf-mcp.toml: every setting with its description and default (a test keeps the file in sync)."""
    import json

    lines = [
        "# vf-mcp settings. Every setting with its default (commented out).",
        "# Precedence: command-line flags > environment variables VF_MCP_<NAME> (upper case) > this file > defaults.",
        "# Use it with: vf-mcp serve --config config/vf-mcp.toml",
        "# Regenerate after adding a setting: python -c 'from vf_mcp.settings import documented_toml as d; print(d())'",
        "",
    ]
    for name, f in Settings.model_fields.items():
        d = f.default
        if name == "dsn":
            val = '"postgresql://vf_readonly:PASSWORD@localhost:5432/velocityfibre"'
        elif isinstance(d, bool):
            val = "true" if d else "false"
        elif isinstance(d, (int, float)):
            val = repr(d)
        elif isinstance(d, tuple):
            val = json.dumps(list(d))
        else:
            val = json.dumps(d)
        lines += [f"# {f.description} (env VF_MCP_{name.upper()})", f"# {name} = {val}", ""]
    return "\n".join(lines)
