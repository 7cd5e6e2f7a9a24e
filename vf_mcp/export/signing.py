"""HMAC-signed, expiring download links: /exports/{name}?expires=UNIX&sig=HEX (SHA-256 over name and expiry)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Literal
from urllib.parse import quote, urlencode

Verdict = Literal["ok", "forbidden", "expired"]


def signature(secret: bytes, name: str, expires: int) -> str:
    return hmac.new(secret, f"{name}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(base_url: str, secret: bytes, name: str, expires: int) -> str:
    query = urlencode({"expires": str(expires), "sig": signature(secret, name, expires)})
    return f"{base_url.rstrip('/')}/exports/{quote(name, safe='.')}?{query}"


def verify(secret: bytes, name: str, expires: str | None, sig: str | None, now: float | None = None) -> Verdict:
    """'ok', 'forbidden' (missing, malformed or wrong signature: tampered) or 'expired' (signed, but too late)."""
    if not expires or not sig or not expires.isdigit() or len(expires) > 12:
        return "forbidden"
    if not hmac.compare_digest(signature(secret, name, int(expires)), sig):
        return "forbidden"
    return "expired" if (time.time() if now is None else now) > int(expires) else "ok"
