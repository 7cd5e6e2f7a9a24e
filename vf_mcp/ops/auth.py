"""API keys: bearer tokens checked against stored SHA-256 hashes, giving an Identity (role, rate, PII rights)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from vf_mcp.settings import ApiKey, Settings

IdentityRole = Literal["analyst", "admin", "local"]


def hash_token(token: str) -> str:
    """Hex SHA-256 of a bearer token (what api_keys[].sha256 stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Identity:
    """Who is calling. requests_per_hour None means no rate limit."""

    name: str
    role: IdentityRole
    requests_per_hour: int | None
    unmask_pii: bool

    @classmethod
    def local(cls) -> Identity:
        """The stdio user: owns the process, so admin rights and no rate limit (PII follows the pii_mode setting)."""
        return cls(name="stdio", role="local", requests_per_hour=None, unmask_pii=False)

    @property
    def is_admin(self) -> bool:
        """Admin key or the local user."""
        return self.role in ("admin", "local")


class KeyRing:
    """The configured API keys. `lookup` checks every key in constant time per key, with no early exit."""

    def __init__(self, keys: Sequence[ApiKey], default_per_hour: int) -> None:
        self._keys = tuple(keys)
        self._hashes = tuple(k.sha256.lower().encode("ascii") for k in self._keys)
        self._default_per_hour = default_per_hour

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """KeyRing(settings.api_keys, settings.rate_limit_per_hour)."""
        return cls(settings.api_keys, settings.rate_limit_per_hour)

    @property
    def enabled(self) -> bool:
        """True when at least one key is configured (HTTP then requires a bearer token)."""
        return bool(self._keys)

    def lookup(self, authorization_header: str | None) -> Identity | None:
        """The Identity for an `Authorization: Bearer <token>` header, or None (missing, malformed or unknown)."""
        token = _bearer_token(authorization_header)
        if token is None or not self._keys:
            return None
        digest = hash_token(token).encode("ascii")
        found: ApiKey | None = None
        for key, stored in zip(self._keys, self._hashes, strict=True):
            # Compare against every key; never break early, so timing does not tell which key was close.
            if hmac.compare_digest(digest, stored) and found is None:
                found = key
        if found is None:
            return None
        return Identity(
            name=found.name,
            role=found.role,
            requests_per_hour=found.requests_per_hour or self._default_per_hour,
            unmask_pii=found.unmask_pii and found.role == "admin",
        )


def _bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
