"""Secrets out of vf-mcp's own output: DSN passwords, configured secrets, and the untrusted-data wrapper.

Two kinds of redaction, applied to tool output, errors, the audit log, /health and every log record:

- structural (always on): the password position of a DSN, whatever its form: URL userinfo
  (`postgresql://user:***@host/db`), URL query (`?password=***`), libpq keyword form (`password=***`,
  `password='***'`), and the same for `sslpassword`, `passfile`, `passphrase`, `pwd`. The user, host and
  database stay readable.
- literal: the configured secrets themselves (DSN passwords, `[[sources]].password`, replica, audit and
  Redis DSNs, export/PII HMAC keys, SSH passphrases) wherever they appear in free text, matched as whole
  words only, and only when at least MIN_LITERAL_CHARS long and not equal to a user, host or database
  name of a DSN (`postgres:postgres` keeps the user name readable; a short password never mangles words).

The literal registry is process-wide, like logging itself: `register_settings` adds to it (never removes),
so a secret configured for any server in the process is redacted from every record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar, cast
from urllib.parse import parse_qsl, unquote, urlsplit

if TYPE_CHECKING:
    from pydantic import SecretStr

    from vf_mcp.settings import Settings

_J = TypeVar("_J")

MASK = "***"
MIN_LITERAL_CHARS = 8
"""Shorter secrets are only redacted structurally (in a DSN's password position), never as free-text words."""

_SECRET_KEYS = r"password|passwd|pwd|sslpassword|passfile|passphrase|pgpassword"
# scheme://user:PASSWORD@  (the password never holds '/', '@' or whitespace unencoded)
_URL_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@?#]*:)([^\s@/]*)@", re.IGNORECASE)
# password=..., ?password=..., "password": "...", password='quoted value'
_KEY_VALUE = re.compile(
    rf"""((?<![\w-])(?:{_SECRET_KEYS})["']?\s*[=:]\s*)('(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|[^\s&'",;)}}\]{{\[(][^\s&'",;)}}\]]*)""",
    re.IGNORECASE,
)
_WORD = r"[A-Za-z0-9_]"

_lock = threading.Lock()
_secrets: set[str] = set()
_escaped: tuple[str, ...] = ()  # the secrets JSON-escaped (as they appear inside a JSON string)
_literal: re.Pattern[str] | None = None


def redact_dsn(dsn: str) -> str:
    """The DSN (URL or keyword form) with its password positions replaced by ***; user, host and db kept."""
    return _structural(dsn)


def redact_text(text: str) -> str:
    """Free text with DSN passwords (structurally) and configured secrets (as whole words) replaced by ***."""
    if not text:
        return text
    out = _structural(text)
    pattern = _literal
    if pattern is not None:
        out = pattern.sub(MASK, out)
    return out


def redact_json(value: _J, *, blob: str | None = None) -> _J:
    """redact_text applied to every string (and key) of a JSON-like value; the same object when unchanged.

    A whole document is first checked as one JSON text: with no URL, no password-like key and no registered
    secret anywhere in it, no string in it can change, and the walk is skipped.
    """
    if isinstance(value, (dict, list)) and not _may_hold_secrets(value, blob):
        return value
    return _redact_walk(value)


def _may_hold_secrets(value: object, blob: str | None) -> bool:
    if blob is None:
        try:
            blob = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            return True
    if "://" in blob and _URL_USERINFO.search(blob):  # a URL with a password (plain URLs need no walk)
        return True
    low = blob.lower()
    if ("pass" in low or "pwd" in low) and _KEY_VALUE.search(blob):
        return True
    # JSON escaping only adds backslashes inside strings: whatever matches in a string still matches here
    return any(s in blob for s in _escaped)  # each secret as it appears inside a JSON string


def _redact_walk(value: _J) -> _J:
    if isinstance(value, str):
        return cast(_J, redact_text(value))
    if isinstance(value, dict):
        changed = False
        out: dict[object, object] = {}
        for k, v in value.items():
            nk = redact_text(k) if isinstance(k, str) else k
            nv = _redact_walk(v)
            changed = changed or nk is not k or nv is not v
            out[nk] = nv
        return cast(_J, out) if changed else value  # the same shape, strings redacted
    if isinstance(value, list):
        items = [_redact_walk(v) for v in value]
        return cast(_J, items) if any(a is not b for a, b in zip(items, value, strict=True)) else value
    return value


def _structural(text: str) -> str:
    if "://" in text:
        text = _URL_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    low = text.lower()
    if "pass" in low or "pwd" in low:
        text = _KEY_VALUE.sub(_mask_value, text)
    return text


def _mask_value(m: re.Match[str]) -> str:
    value = m.group(2)
    if value == MASK or value.strip("'\"") == MASK:
        return m.group(0)
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{m.group(1)}{quote}{MASK}{quote}"


# --- the literal registry ---------------------------------------------------------------------------------


def dsn_parts(dsn: str) -> tuple[set[str], set[str]]:
    """(passwords, names) in a DSN: passwords from userinfo, query and keywords; names are user/host/dbname."""
    passwords: set[str] = set()
    names: set[str] = set()
    if re.match(r"^[a-z][a-z0-9+.-]*://", dsn, re.IGNORECASE):
        try:
            parts = urlsplit(dsn)
            userinfo, _, hostinfo = parts.netloc.rpartition("@")
            user, colon, pw = userinfo.partition(":")
            if colon and pw:
                passwords.update({pw, unquote(pw)})
            names.update({unquote(user), *(h.rsplit(":", 1)[0] for h in hostinfo.split(","))})
            names.add(unquote(parts.path.lstrip("/")))
            for k, v in parse_qsl(parts.query, keep_blank_values=False):
                (passwords if re.fullmatch(_SECRET_KEYS, k, re.IGNORECASE) else names).add(v)
        except ValueError:
            pass
    else:
        for k, raw in re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn):
            v = raw[1:-1].replace("\\'", "'").replace("\\\\", "\\") if raw.startswith("'") else raw
            (passwords if re.fullmatch(_SECRET_KEYS, k, re.IGNORECASE) else names).add(v)
    return {p for p in passwords if p}, {n for n in names if n}


def register_secrets(secrets: Iterable[str], *, names: Iterable[str] = ()) -> None:
    """Add secrets to the literal registry (those too short or equal to one of `names` are skipped)."""
    global _literal, _escaped
    lowered = {n.lower() for n in names}
    fresh = {s for s in secrets if len(s) >= MIN_LITERAL_CHARS and s.lower() not in lowered and s != MASK}
    with _lock:
        if fresh <= _secrets:
            return
        _secrets.update(fresh)
        _escaped = tuple({e for x in _secrets for e in (x, json.dumps(x, ensure_ascii=False)[1:-1])})
        alternatives = "|".join(re.escape(s) for s in sorted(_secrets, key=len, reverse=True))
        _literal = re.compile(f"(?<!{_WORD})(?:{alternatives})(?!{_WORD})")


def register_settings(settings: Settings) -> None:
    """Register every secret a Settings object holds: DSNs and their passwords, HMAC keys, SSH passphrases."""
    import os
    from pathlib import Path

    dsns: list[str] = []
    plain: list[str] = []
    names: set[str] = set()

    def value(secret: SecretStr | None) -> str | None:
        return None if secret is None else str(secret.get_secret_value())

    for v in (settings.dsn, settings.audit_dsn, settings.redis_url, *settings.replica_dsns):
        if (s := value(v)) is not None:
            dsns.append(s)
    plain += [s for s in (value(settings.export_secret), value(settings.pii_hash_secret)) if s]
    for source in settings.sources:
        for v in (source.dsn, *source.replica_dsns):
            if (s := value(v)) is not None:
                dsns.append(s)
        if (pw := value(source.password)) is not None:
            plain.append(pw)
        names.update(n for n in (source.user, source.host, source.database) if n)
        ssh = source.ssh
        if ssh is not None:
            names.update(n for n in (ssh.user, ssh.host) if n)
            if ssh.passphrase_env and os.environ.get(ssh.passphrase_env):
                plain.append(os.environ[ssh.passphrase_env])
            if ssh.passphrase_file:
                with contextlib.suppress(OSError):
                    plain.append(Path(ssh.passphrase_file).expanduser().read_text().strip())
    for dsn in dsns:
        passwords, dsn_names = dsn_parts(dsn)
        plain += passwords
        names |= dsn_names
    register_secrets(plain, names=names)


# --- logging ----------------------------------------------------------------------------------------------


class RedactingFilter(logging.Filter):
    """Redacts every record passing a handler: message, arguments, exception and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as usual
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
            record.exc_info = None  # formatters print exc_text as is; none renders the raw traceback again
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Put the redacting filter on every handler configured now (root, vf_mcp, uvicorn...). Idempotent."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)


# --- the untrusted-data wrapper -----------------------------------------------------------------------------

_LT = "<\uff1c\ufe64\u2039\u3008\u27e8\u2329\u276e\u02c2"  # < and look-alikes: fullwidth, small, angle quotes
_SLASH = "/\uff0f\u2044\u2215\u29f8\u2571"
_GAP = r"(?:\s|\\[nrtfb]|\\u200[b-f]|\\ufeff|[\u200b-\u200f\u2060\ufeff\u00ad])*"
_DASH = r"[-_\u2010-\u2015\u2212\ufe63\uff0d\uff3f]?"


def _letters(word: str) -> str:
    return "".join(f"[{c}{c.upper()}{chr(ord(c) + 0xFEE0)}{chr(ord(c.upper()) + 0xFEE0)}]" for c in word)


_WRAPPER_TAG = re.compile(
    f"[{_LT}]{_GAP}[{_SLASH}]?{_GAP}{_letters('untrusted')}{_GAP}{_DASH}{_GAP}{_letters('data')}",
)


def neutralise_wrapper(text: str) -> str:
    """Text in which no `<untrusted-data` / `</untrusted-data` look-alike can open or close the wrapper.

    The bracket of each look-alike becomes a JSON-style `\\u003c` escape: inside a JSON string the value
    decodes unchanged, and as text it is no longer a tag.
    """
    return _WRAPPER_TAG.sub(lambda m: f"\\u{ord(m.group(0)[0]):04x}" + m.group(0)[1:], text)
