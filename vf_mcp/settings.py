"""One settings object. Precedence: command-line flags > VF_MCP_* environment variables > TOML file > defaults.

Every setting is documented in config/vf-mcp.toml (a test checks that the two agree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Transport = Literal["stdio", "sse", "http"]
PiiMode = Literal["mask", "hash", "allow"]
Role = Literal["analyst", "admin"]


class ApiKey(BaseModel):
    """One HTTP/SSE client: a name (in the audit log), the SHA-256 of its bearer token, a role and a rate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of the token (vf-mcp hash-key TOKEN)")
    role: Role = "analyst"
    requests_per_hour: int | None = Field(
        default=None, ge=1, description="tool calls per hour (default: rate_limit_per_hour)"
    )
    unmask_pii: bool = Field(default=False, description="admin only: tool results show PII unmasked")


class SshTunnel(BaseModel):
    """An SSH bastion through which a source is reached (local port forward opened by the server)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int = Field(default=22, ge=1, le=65535)
    user: str
    private_key_path: str
    passphrase_env: str | None = Field(default=None, description="environment variable holding the key passphrase")
    passphrase_file: str | None = Field(default=None, description="file holding the key passphrase")
    known_hosts: str | None = Field(default=None, description="known_hosts file (default: ~/.ssh/known_hosts)")
    check_host_key: bool = Field(default=True, description="refuse unknown host keys (leave on)")
    connect_timeout_s: float = Field(default=10.0, gt=0)


class Source(BaseModel):
    """A named database. Unset per-source limits fall back to the global settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    default: bool = False
    dsn: SecretStr | None = None
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    password: SecretStr | None = None
    database: str | None = None
    replica_dsns: tuple[SecretStr, ...] = ()
    ssh: SshTunnel | None = None
    statement_timeout_ms: int | None = Field(default=None, ge=100)
    max_rows: int | None = Field(default=None, ge=1)
    pii_mode: PiiMode | None = None
    pii_columns: dict[str, PiiMode] = Field(default_factory=dict)

    def dsn_value(self) -> str:
        """The DSN in clear text (from `dsn` or the parts), for connecting only."""
        if self.dsn is not None:
            return self.dsn.get_secret_value()
        from urllib.parse import quote

        user = quote(self.user or "", safe="")
        pw = f":{quote(self.password.get_secret_value(), safe='')}" if self.password else ""
        auth = f"{user}{pw}@" if user else ""
        host = self.host or "localhost"
        host = f"[{host}]" if ":" in host else host
        return f"postgresql://{auth}{host}:{self.port or 5432}/{quote(self.database or '', safe='')}"


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
    pool_acquire_timeout_ms: int = Field(
        5_000, ge=10, description="Longest wait for a free pooled connection before a 'server busy' error."
    )
    export_max_concurrent: int = Field(
        2,
        ge=1,
        description="Most export_results running at once per database (also at most pool_max_size - 1, so "
        "interactive tools always keep a connection).",
    )
    temp_file_limit_kb: int = Field(
        1_048_576,
        ge=0,
        description="temp_file_limit per session in kB (0: leave the role's setting); needs superuser or "
        "GRANT SET ON PARAMETER temp_file_limit, else a warning is logged and the role's setting applies.",
    )

    max_rows: int = Field(1_000, ge=1, description="Row cap on every result (truncated: true beyond it).")
    max_result_bytes: int = Field(
        131_072,
        ge=1024,
        description="Byte cap on the JSON rows of every result (truncated beyond it; the answer carries them as "
        "text and as structured content, so about twice this goes over the wire).",
    )
    max_sql_bytes: int = Field(
        1_048_576, ge=1024, description="Longest statement accepted from a client (refused before parsing beyond it)."
    )
    schema_cache_ttl_s: float = Field(600.0, ge=0, description="How long catalog answers are cached.")
    query_cache_ttl_s: float = Field(300.0, ge=0, description="How long run_query results are cached (0: off).")
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

    kpi_dir: str = Field(
        "", description="Directory of KPI TOML files (default: the VelocityFibre KPIs shipped in vf_mcp/kpis)."
    )

    exports_dir: str = Field("", description="Where export_results writes files (default: user cache dir/exports).")
    export_ttl_hours: float = Field(24.0, gt=0, description="Exported files and download links expire after this.")
    export_max_total_bytes: int = Field(
        5 * 1024**3, ge=1024, description="Most bytes the exports directory may hold (new exports are refused beyond)."
    )
    export_max_value_bytes: int = Field(
        64 * 1024**2,
        ge=1024,
        description="Largest single value export_results writes (a larger one stops the export with a message).",
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
    quality_optional_null_severity: Literal["info", "warning", "critical"] = Field(
        "info",
        description="Highest severity of NULLs in an optional column (nullable, not a key); keys and key-like "
        "columns use the quality_null_* thresholds alone.",
    )
    quality_fresh_hours: float = Field(24.0, gt=0, description="Newest row at most this old: freshness 100.")
    quality_stale_hours: float = Field(720.0, gt=0, description="Newest row at least this old: freshness 0, stale.")
    quality_outlier_sigma: float = Field(3.0, gt=0, description="Outlier threshold in standard deviations.")
    quality_enum_max_values: int = Field(20, ge=2, description="Most distinct values of an enum-like text column.")
    quality_weight_completeness: float = Field(0.4, ge=0, description="Weight of completeness in quality scores.")
    quality_weight_freshness: float = Field(0.3, ge=0, description="Weight of freshness in quality scores.")
    quality_weight_consistency: float = Field(0.3, ge=0, description="Weight of consistency in quality scores.")

    require_readonly_role: bool = Field(False, description="Refuse to start when the role can write or is a superuser.")
    allowed_functions: tuple[str, ...] = Field(
        (), description="Extra VOLATILE functions the SQL guard lets through (reviewed by you)."
    )
    admin_reads_system_secrets: bool = Field(
        False,
        description="Let admin keys (and the local stdio user) query password hashes, user mappings, "
        "other sessions' queries and planner statistics.",
    )
    log_level: str = Field("INFO", description="Log level for stderr logging.")
    tools: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Tool families to publish (empty: all): core, quality, relationships, analytics, kpi, dba, "
        "export, migration, sources. Fewer tools cost the model less context.",
    )

    ui: bool = Field(
        True,
        description="MCP Apps views (charts, dashboards, diagrams) for clients that negotiate the extension, "
        "and the /ui page over HTTP.",
    )

    sources: tuple[Source, ...] = Field(
        (), description="Named databases ([[sources]] tables); --dsn alone makes one source called 'default'."
    )
    replica_dsns: tuple[SecretStr, ...] = Field(
        (), description="Read replicas of dsn: reads go to them round-robin, the primary is the fallback."
    )
    pool_idle_close_s: float = Field(
        300.0, ge=0, description="Close a source's pool after this long unused (0: never)."
    )

    api_keys: tuple[ApiKey, ...] = Field(
        (), description="HTTP/SSE clients ([[api_keys]]: name, sha256, role, requests_per_hour, unmask_pii)."
    )
    rate_limit_per_hour: int = Field(100, ge=1, description="Tool calls per hour per API key (token bucket).")
    allowed_hosts: tuple[str, ...] = Field(
        (), description="Host headers accepted over HTTP (DNS-rebinding protection; default: the bind address)."
    )
    allowed_origins: tuple[str, ...] = Field((), description="Origin headers accepted over HTTP (browsers).")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="HTTP/SSE worker processes sharing the port (stateless HTTP; limits and cache are shared "
        "only through redis_url).",
    )
    stateless_http: bool = Field(
        True, description="Streamable HTTP without sessions (several instances can share a load balancer)."
    )
    ssl_certfile: str = Field("", description="Serve HTTPS directly with this certificate (PEM).")
    ssl_keyfile: str = Field("", description="Private key for ssl_certfile.")
    redis_url: SecretStr | None = Field(
        None, description="Redis shared by several instances: rate-limit buckets and cached results live there."
    )

    pii_mode: PiiMode = Field(
        "mask", description="What tool results and exports do with personal data: mask, hash or allow."
    )
    pii_columns: dict[str, PiiMode] = Field(
        default_factory=dict, description='Per-column modes: {"email" = "hash", "crm.contacts.notes" = "mask"}.'
    )
    pii_hash_secret: SecretStr | None = Field(
        None,
        description="Key of the stable PII hash (default: random per start; set it to keep hashes stable).",
    )

    audit_log_path: str = Field(
        "", description="Audit log file, JSON lines (default: user state dir/audit.jsonl; 'off' disables)."
    )
    audit_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Rotate the audit log at this size.")
    audit_backups: int = Field(10, ge=1, description="Rotated audit files kept.")
    audit_dsn: SecretStr | None = Field(
        None, description="Also write audit records to this separate, writable PostgreSQL database (never the target)."
    )

    table_stats_cache_ttl_s: float = Field(600.0, ge=0, description="How long table statistics are cached.")
    aggregation_cache_ttl_s: float = Field(300.0, ge=0, description="How long aggregation results are cached.")
    kpi_cache_ttl_s: float = Field(60.0, ge=0, description="How long KPI dashboards are cached.")

    retry_attempts: int = Field(
        3, ge=1, description="Attempts for retryable failures (lost connection, too many connections...)."
    )
    retry_base_delay_ms: int = Field(100, ge=1, description="First retry delay; doubles each attempt, with jitter.")
    breaker_failures: int = Field(5, ge=1, description="Consecutive connection failures that open the circuit breaker.")
    breaker_cooldown_s: float = Field(10.0, gt=0, description="Seconds the breaker stays open before a trial call.")

    @field_validator("allowed_functions", "tools", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            text = v.strip().strip("[]")  # "a,b" or a JSON list from the environment
            return tuple(x.strip().strip("'\"").lower() for x in text.split(",") if x.strip().strip("'\""))
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
    """The DSN (URL or keyword form) with every password position replaced by ***, for logs and messages."""
    from vf_mcp.redaction import redact_dsn as structural

    return structural(dsn)


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
        d = f.get_default(call_default_factory=True)
        if name in _TABLE_EXAMPLES:
            lines += [f"# {f.description} (example at the end)", f"# {name} = []", ""]
            continue
        if name == "dsn":
            val = '"postgresql://vf_readonly:PASSWORD@localhost:5432/velocityfibre"'
        elif isinstance(d, bool):
            val = "true" if d else "false"
        elif isinstance(d, (int, float)):
            val = repr(d)
        elif isinstance(d, tuple):
            val = json.dumps(list(d))
        elif isinstance(d, dict):
            val = "{}"
        else:
            val = json.dumps(d)
        lines += [f"# {f.description} (env VF_MCP_{name.upper()})", f"# {name} = {val}", ""]
    for example in _TABLE_EXAMPLES.values():
        lines += [f"#   {line}" if line else "" for line in example.strip().splitlines()] + [""]
    return "\n".join(lines)


_TABLE_EXAMPLES = {
    "sources": """
Named databases. Every tool takes source="name"; without it the default source answers.
[[sources]]
name = "production"
description = "VelocityFibre production (read replica)"
default = true
dsn = "postgresql://vf_readonly:PASSWORD@db.internal:5432/velocityfibre"
statement_timeout_ms = 15000
max_rows = 500
pii_columns = { "staff.email" = "hash" }

[[sources]]
name = "legacy"
description = "The old system, reached through a bastion"
host = "10.0.0.12"
port = 5432
user = "vf_readonly"
password = "PASSWORD"
database = "vf_legacy"
[sources.ssh]
host = "bastion.example.com"
user = "tunnel"
private_key_path = "~/.ssh/id_ed25519"
passphrase_env = "VF_BASTION_PASSPHRASE"
""",
    "api_keys": """
HTTP/SSE clients. Store only hashes: vf-mcp hash-key prints the SHA-256 of a token.
[[api_keys]]
name = "analyst-team"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
role = "analyst"
requests_per_hour = 100

[[api_keys]]
name = "ops-admin"
sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
role = "admin"
unmask_pii = true
""",
}
