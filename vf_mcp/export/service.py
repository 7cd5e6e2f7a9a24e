"""The exports service of a running server: where files go, how download links are signed, where they point.

Built from the settings in the server lifespan and held by the Hub (`Hub.exports`); nothing module-level.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vf_mcp.export.store import ExportStore, default_exports_dir
from vf_mcp.settings import Settings

if TYPE_CHECKING:
    from vf_mcp.app import App

__all__ = ["Exports", "ServerExports"]


@dataclass
class Exports:
    """Per running server: the exports directory, the link-signing key and the public base URL."""

    store: ExportStore
    secret: bytes
    base_url: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Exports:
        directory = Path(settings.exports_dir).expanduser() if settings.exports_dir else default_exports_dir()
        secret = (
            settings.export_secret.get_secret_value().encode()
            if settings.export_secret is not None
            else secrets.token_bytes(32)
        )
        return cls(
            store=ExportStore(
                directory,
                ttl_s=settings.export_ttl_hours * 3600.0,
                max_total_bytes=settings.export_max_total_bytes,
            ),
            secret=secret,
            base_url=_base_url(settings),
        )


def _base_url(settings: Settings) -> str | None:
    """Where HTTP clients reach this server (None under stdio: no download links then)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    if settings.transport == "stdio":
        return None
    host = settings.host if settings.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


@dataclass
class ServerExports:
    """One server's exports: its Exports while its lifespan runs, else lazily built ones (by id(App))."""

    running: list[Exports] = field(default_factory=list)
    lazy: dict[int, Exports] = field(default_factory=dict)  # when the lifespan hook is not in place

    def of(self, app: App) -> Exports:
        if self.running:
            return self.running[-1]
        found = self.lazy.get(id(app))
        if found is None:
            found = self.lazy[id(app)] = Exports.from_settings(app.settings)
        return found
