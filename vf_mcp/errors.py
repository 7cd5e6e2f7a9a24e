"""One error hierarchy for vf-mcp, and the one place that maps PostgreSQL errors onto it.

Every error carries a message written for the model: what went wrong and what to do next.
The server layer turns these into MCP ``ToolError``s; nothing below it imports ``mcp``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg
else:
    from vf_mcp.lazy import asyncpg  # imported on first use: not before the stdio handshake


class VfError(Exception):
    """Base class: a failure whose message is safe and useful to show to the client."""

    code = "error"

    def __init__(
        self, message: str, *, retryable: bool = False, sqlstate: str | None = None, subject: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable  # a transient failure: the same call may succeed when retried
        self.sqlstate = sqlstate  # the PostgreSQL error it was translated from
        self.subject = subject  # the unknown relation or column, or the enum type, the error is about


class ConfigError(VfError):
    """Settings are missing or inconsistent (no DSN, bad config file...)."""

    code = "config"


class NotFoundError(VfError):
    """A table, column, schema or resource does not exist."""

    code = "not_found"


class InvalidArgumentError(VfError):
    """A tool argument is well-typed but makes no sense (bad pattern, bad offset...)."""

    code = "invalid_argument"


class RefusedError(VfError):
    """The SQL guard refused a statement; the message names the rule and the offending part."""

    code = "refused"


class QueryTimeoutError(VfError):
    """The statement ran past its statement_timeout and was cancelled by the server."""

    code = "timeout"


class QueryError(VfError):
    """PostgreSQL rejected the statement (syntax error, unknown column, division by zero...)."""

    code = "query"


class PermissionDeniedError(VfError):
    """The database role lacks a privilege (or tried to write inside the READ ONLY transaction)."""

    code = "permission"


class DatabaseUnavailableError(VfError):
    """The database cannot be reached or the connection broke."""

    code = "unavailable"


class QueryCancelledError(VfError):
    """A database administrator cancelled the statement or terminated its session (never retried)."""

    code = "cancelled"


class ServerBusyError(VfError):
    """Every pooled connection (or export slot) stayed in use for the whole acquire timeout."""

    code = "busy"


class ResourceLimitError(VfError):
    """The statement hit a server resource limit (temp_file_limit, memory, disk)."""

    code = "resource_limit"


LOOKUP_HINT = " (use list_tables / get_table_schema to see what exists)"
"""Appended to unknown-name errors; replaced by the closest names when they can be found (db/name_hints.py)."""
_UNKNOWN_RELATION = re.compile(r'relation "((?:[^"]|"")+)" does not exist')
_UNKNOWN_COLUMN = re.compile(r'column (?:"((?:[^"]|"")+)"|(\S+)) (?:of relation \S+ )?does not exist')
_BAD_ENUM = re.compile(r"invalid input value for enum ([^:\s]+):")


def _subject(state: str, message: str) -> str | None:
    """The name an unknown-relation, unknown-column or bad-enum-value error is about (for suggestions)."""
    pattern = {"42P01": _UNKNOWN_RELATION, "42703": _UNKNOWN_COLUMN, "22P02": _BAD_ENUM}.get(state)
    found = pattern.search(message) if pattern is not None else None
    if found is None:
        return None
    name = next(g for g in found.groups() if g is not None)
    return name.replace('""', '"')


_VALUE_CLASSES = ("22", "23", "21", "27", "2F", "38", "39", "44", "P0", "XX")
"""SQLSTATE classes whose messages can echo data values (data exceptions, constraint and PL/pgSQL errors)."""
_DOUBLE_QUOTED = re.compile(r'"[^\n]*"|"[^\n]*$', re.DOTALL)
_SINGLE_QUOTED = re.compile(r"'[^\n]*'")
_KEY_VALUE = re.compile(r"\)=\(.*\)", re.DOTALL)
_HEX_BYTES = re.compile(r"0x[0-9a-fA-F]{2}(?:\s+0x[0-9a-fA-F]{2})*")
_VALUE_CUT = "\u2026"


def without_values(text: str) -> str:
    """`text` with the data values a data-exception message echoes cut out: quoted text, Key (c)=(v), bytes.

    Everything between the first and the last quote of a line goes (values may contain quotes themselves):
    `invalid input syntax for type integer: "lerato@example.com"` -> `... integer: "…"`.
    """
    text = _KEY_VALUE.sub(f")=({_VALUE_CUT})", text)
    text = _HEX_BYTES.sub(f"0x{_VALUE_CUT}", text)
    text = _DOUBLE_QUOTED.sub(f'"{_VALUE_CUT}"', text)
    return _SINGLE_QUOTED.sub(f"'{_VALUE_CUT}'", text)


def _sqlstate_message(exc: asyncpg.PostgresError) -> str:
    msg = str(getattr(exc, "message", None) or exc)
    detail = getattr(exc, "detail", None)
    hint = getattr(exc, "hint", None)
    parts = [msg]
    if detail:
        parts.append(f"Detail: {detail}")
    if hint:
        parts.append(f"Hint: {hint}")
    if str(getattr(exc, "sqlstate", "") or "").startswith(_VALUE_CLASSES):  # never echo a value (personal data)
        return " ".join(without_values(p) for p in parts) + " (values in the message are not shown)"
    return " ".join(parts)


def translate(exc: BaseException, *, statement_timeout_ms: int | None = None) -> VfError:
    """Map an asyncpg / OS error to a VfError by SQLSTATE class, never by parsing messages."""
    if isinstance(exc, VfError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        state: str = getattr(exc, "sqlstate", "") or ""
        text = _sqlstate_message(exc)
        if state == "08003" and "due to administrator command" in text:
            state = "57P01"  # a session terminated mid-statement: asyncpg reports the lost connection (08003)
        if state == "57014" and "user request" in text:  # pg_cancel_backend (SQLSTATE is the same as a timeout)
            return QueryCancelledError(
                "The query was cancelled by a database administrator (pg_cancel_backend); it was not retried. "
                "Ask before running it again, or make it cheaper (filters, LIMIT, aggregate in SQL)."
            )
        if state == "57P01":  # admin_shutdown: pg_terminate_backend, or a server shutting down
            return QueryCancelledError(
                "The query's database session was terminated by an administrator (pg_terminate_backend) or by a "
                "server shutdown; it was not retried. Call again only if it should run; if the server is "
                "restarting, the next call reconnects by itself."
            )
        if state == "57014":  # query_canceled (statement_timeout)
            limit = f"{statement_timeout_ms} ms " if statement_timeout_ms is not None else ""
            return QueryTimeoutError(
                f"Query cancelled after the {limit}statement timeout. Add filters or a LIMIT, aggregate in SQL, "
                "or raise the limit with the timeout_ms argument (up to the server's statement_timeout_ms "
                "setting, env VF_MCP_STATEMENT_TIMEOUT_MS)."
            )
        if state == "55P03":  # lock_not_available
            return QueryTimeoutError(
                f"Gave up waiting for a lock (lock_timeout_ms setting, env VF_MCP_LOCK_TIMEOUT_MS): {text}"
            )
        if state == "25006":  # read_only_sql_transaction
            return PermissionDeniedError(f"Refused: this server is read-only. {text}")
        if state in ("42501",) or state.startswith("28"):
            return PermissionDeniedError(f"Permission denied: {text}")
        subject = _subject(state, str(getattr(exc, "message", None) or exc))
        if state in ("42P01", "42703", "42883", "3F000", "42704"):
            return QueryError(f"{text}{LOOKUP_HINT}", sqlstate=state, subject=subject)
        if state.startswith(("08", "57P")):
            return DatabaseUnavailableError(f"Database connection problem: {text}. Retry in a moment.", retryable=True)
        if state == "53400" and "temp_file_limit" in text:  # configuration_limit_exceeded
            return ResourceLimitError(
                f"The query needed more temporary files than allowed ({text}; temp_file_limit, vf-mcp setting "
                "temp_file_limit_kb). Sort or hash less data: add filters, aggregate earlier, or select fewer columns."
            )
        if state in ("53100", "53200", "53400"):  # disk_full, out_of_memory, configuration_limit_exceeded
            return ResourceLimitError(
                f"The database ran out of a resource for this query: {text}. Make the query cheaper (filters, "
                "fewer columns, aggregate in SQL)."
            )
        if state.startswith("53"):
            return DatabaseUnavailableError(f"Database out of resources: {text}", retryable=state == "53300")
        if state in ("40001", "40P01"):
            return QueryError(f"PostgreSQL error {state}: {text}", retryable=True, sqlstate=state)
        return QueryError(f"PostgreSQL error {state}: {text}", sqlstate=state, subject=subject)
    if isinstance(exc, asyncpg.InternalClientError):  # the driver's protocol state broke (a connection killed mid-use)
        return DatabaseUnavailableError(f"The database connection broke: {exc}. Retry in a moment.", retryable=True)
    if isinstance(exc, asyncpg.exceptions.ConnectionDoesNotExistError):
        return DatabaseUnavailableError(f"The database connection was lost: {exc}. Retry in a moment.", retryable=True)
    if isinstance(exc, asyncpg.InterfaceError):
        return QueryError(f"Database driver refused the request: {exc}")
    if isinstance(exc, UnicodeDecodeError):
        return QueryError(
            "A value could not be decoded (a record/ROW containing money or another text-only type): "
            "select its fields as separate columns, or cast the value to text."
        )
    if isinstance(exc, (OSError, asyncpg.exceptions.ConnectionDoesNotExistError)):
        return DatabaseUnavailableError(
            f"Cannot reach the database: {exc}. Check the DSN and that it is up.", retryable=True
        )
    if isinstance(exc, TimeoutError):
        limit = f"{statement_timeout_ms} ms " if statement_timeout_ms is not None else ""
        return QueryTimeoutError(f"Query did not answer within the {limit}statement timeout and was cancelled.")
    raise exc


@contextmanager
def db_errors(*, statement_timeout_ms: int | None = None) -> Iterator[None]:
    """Translate database errors raised inside the block into VfErrors."""
    try:
        yield
    except VfError:
        raise
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        OSError,
        TimeoutError,
        UnicodeDecodeError,
    ) as exc:
        raise translate(exc, statement_timeout_ms=statement_timeout_ms) from exc
