"""The SQL guard: layer 2 of vf-mcp's read-only guarantee, a real-parser check of every statement.

Layers, outermost first:

1. asyncpg's extended protocol (prepared statements): one statement per call at the wire level.
2. This guard: the text is parsed once with PostgreSQL's own parser (pglast / libpg_query) and refused
   unless it is exactly one SELECT / VALUES / TABLE / EXPLAIN (of one of those) / SHOW statement with
   no SELECT INTO, no FOR UPDATE/SHARE, no data-modifying WITH, and no call, anywhere in the tree, to
   a function on the built-in deny list or to a VOLATILE function (per the catalog list the caller
   passes) that is not on the reviewed allow-list of harmless volatile functions. The gate
   (vf_mcp/db/gate.py) then refuses, by resolved OID, relations that hold secrets (vf_mcp/db/secrets.py).
3. A READ ONLY transaction with statement_timeout, under a least-privilege role (`vf-mcp setup-role`).

The tree is walked generically (every dict of the parse tree passes through one hook), so a call is
seen wherever it is: select list, FROM, JOIN ON, WHERE, GROUP BY, HAVING, windows, ORDER BY, LIMIT,
VALUES, CASE, FILTER, function arguments, sub-queries, CTEs, LATERAL, EXPLAIN. Calls written in
attribute notation (``t.f`` meaning ``f(t)``) are checked against the catalog's volatile functions
outside pg_catalog.

What only layer 3 covers, because it is not in the text of the query: functions reached indirectly,
that is functions called by operators (including custom ones), casts and type input functions, domain
checks, the bodies of views and of STABLE/IMMUTABLE user functions, and default argument expressions.
Inside the READ ONLY transaction none of them can write to tables, and the role decides what they can
read (a role from `vf-mcp setup-role` cannot read pg_authid, user mappings or planner statistics); but
a side effect the transaction does not stop (a sequence, a lock, a file, another connection) inside such
a function is stopped only by the role's privileges, not by this guard.

Matching is by name and deliberately conservative: names are compared in lower case (a quoted
"PG_READ_FILE" is refused too, although PostgreSQL would treat it as a different function); the deny
list matches the bare name in any schema and cannot be lifted by settings; a call counts as volatile
if its bare or its schema-qualified name is in the catalog list. The reviewed volatile allow-list
matches pg_catalog's functions only: a call written with another schema, or an unqualified call while
a VOLATILE function of that name exists outside pg_catalog (which overloading or search_path could pick
instead), is a user function and is refused unless in allowed_functions. The few extension functions
on the list (uuid-ossp's uuid_generate_*, pgcrypto's gen_random_bytes) match in any schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from vf_mcp.errors import RefusedError

__all__ = [
    "ALLOWED_EXTENSION_FUNCTIONS",
    "ALLOWED_VOLATILE_FUNCTIONS",
    "ALLOWED_VOLATILE_PREFIXES",
    "DENIED_FUNCTIONS",
    "DENIED_PREFIXES",
    "CheckedStatement",
    "check_sql",
    "denied_reason",
]

_ALLOWED_TEXT = "SELECT, VALUES, TABLE, EXPLAIN, SHOW"
_TOP_LEVEL = frozenset({"SelectStmt", "ExplainStmt", "VariableShowStmt"})


@dataclass(frozen=True)
class CheckedStatement:
    """A statement that passed the guard, with what the parser saw in it."""

    sql: str
    """The original text, unchanged."""
    kind: str
    """'select' | 'values' | 'table' | 'explain' | 'show'."""
    functions: frozenset[str]
    """Lower-case names of the functions called, schema-qualified when written so."""
    relations: frozenset[str]
    """Relation names referenced (as the parser folded them; CTE names excluded). Informational."""
    relation_refs: frozenset[tuple[str, str]] = frozenset()
    """Every (schema or "", relation) named anywhere, as the parser folded them, CTE-named ones included
    (a CTE's scope is not tracked, so the gate resolves these names conservatively)."""
    star: bool = False
    """A `*` column list (or TABLE) anywhere: its columns follow the schema, so its shape is never remembered."""


# --------------------------------------------------------------------------------------------------
# Function lists
# --------------------------------------------------------------------------------------------------

_FILES = "reads or lists files on the database server"
_FILE_WRITE = "writes files on the database server"
_LARGE_OBJECT = "works with large objects (server-side storage that can import and export files)"
_REMOTE = "opens connections to other databases, outside this read-only transaction"
_NESTED = "runs SQL passed to it as text, which the guard cannot check"
_SESSION = "changes session settings or state"
_SEQUENCE = "changes or depends on sequence state of the session"
_ADMIN = "is a server administration function"
_LOCK = "takes or releases advisory locks"
_XID = "assigns a transaction ID (a write)"
_NOTIFY = "sends notifications to other sessions"
_WAL = "writes to the write-ahead log"
_INDEX = "modifies an index"
_STATS = "modifies or resets collected statistics"
_REPLICATION = "manages replication slots or origins"
_CACHE = "loads relations into the shared buffer cache, affecting other workloads"

DENIED_FUNCTIONS: dict[str, str] = {
    # server files (pg_ls_* and adminpack's pg_file_* are prefixes below)
    "pg_read_file": _FILES,
    "pg_read_binary_file": _FILES,
    "pg_stat_file": _FILES,
    "pg_logdir_ls": _FILES,
    "pg_show_all_file_settings": _FILES,
    "pg_hba_file_rules": _FILES,
    "pg_ident_file_mappings": _FILES,
    "autoprewarm_dump_now": _FILE_WRITE,
    # large objects (lo_* is a prefix below)
    "loread": _LARGE_OBJECT,
    "lowrite": _LARGE_OBJECT,
    # SQL given as text
    "ts_stat": _NESTED,
    "connectby": _NESTED,
    # session state
    "set_config": _SESSION,
    "setseed": _SESSION,
    # sequences
    "nextval": _SEQUENCE,
    "setval": _SEQUENCE,
    "currval": _SEQUENCE,
    "lastval": _SEQUENCE,
    # administration
    "pg_terminate_backend": _ADMIN,
    "pg_cancel_backend": _ADMIN,
    "pg_reload_conf": _ADMIN,
    "pg_rotate_logfile": _ADMIN,
    "pg_rotate_logfile_old": _ADMIN,
    "pg_promote": _ADMIN,
    "pg_log_backend_memory_contexts": _ADMIN,
    "pg_import_system_collations": _ADMIN,
    "pg_backup_start": _ADMIN,
    "pg_backup_stop": _ADMIN,
    "pg_start_backup": _ADMIN,
    "pg_stop_backup": _ADMIN,
    "pg_create_restore_point": _ADMIN,
    "pg_switch_wal": _ADMIN,
    "pg_switch_xlog": _ADMIN,
    "pg_wal_replay_pause": _ADMIN,
    "pg_wal_replay_resume": _ADMIN,
    "pg_xlog_replay_pause": _ADMIN,
    "pg_xlog_replay_resume": _ADMIN,
    "pg_nextoid": _ADMIN,
    "pg_stop_making_pinned_objects": _ADMIN,
    "pg_extension_config_dump": _ADMIN,
    "pg_log_standby_snapshot": _ADMIN,
    "autoprewarm_start_worker": _ADMIN,
    "pg_prewarm": _CACHE,
    # locks, transaction ids, notifications, WAL
    "txid_current": _XID,
    "pg_current_xact_id": _XID,
    "pg_notify": _NOTIFY,
    "pg_logical_emit_message": _WAL,
    # index maintenance
    "gin_clean_pending_list": _INDEX,
    "brin_summarize_new_values": _INDEX,
    "brin_summarize_range": _INDEX,
    "brin_desummarize_range": _INDEX,
    # planner statistics (PostgreSQL 18)
    "pg_restore_relation_stats": _STATS,
    "pg_restore_attribute_stats": _STATS,
    "pg_clear_relation_stats": _STATS,
    "pg_clear_attribute_stats": _STATS,
    "pg_set_relation_stats": _STATS,
    "pg_set_attribute_stats": _STATS,
    # replication (pg_logical_slot_* and pg_replication_origin_* are prefixes below)
    "pg_create_physical_replication_slot": _REPLICATION,
    "pg_create_logical_replication_slot": _REPLICATION,
    "pg_drop_replication_slot": _REPLICATION,
    "pg_copy_physical_replication_slot": _REPLICATION,
    "pg_copy_logical_replication_slot": _REPLICATION,
    "pg_replication_slot_advance": _REPLICATION,
    "pg_sync_replication_slots": _REPLICATION,
}
"""Functions refused whatever the catalog says (bare lower-case name -> reason). Not overridable."""

DENIED_PREFIXES: tuple[tuple[str, str], ...] = (
    ("pg_ls_", _FILES),
    ("pg_file_", _FILE_WRITE),  # adminpack: pg_file_write, pg_file_rename, pg_file_unlink, pg_file_sync
    ("lo_", _LARGE_OBJECT),
    ("dblink", _REMOTE),
    ("pg_background_", _REMOTE),  # runs SQL in a background worker, in its own (writable) transaction
    ("query_to_xml", _NESTED),
    ("cursor_to_xml", _NESTED),
    ("table_to_xml", _NESTED),
    ("schema_to_xml", _NESTED),
    ("database_to_xml", _NESTED),
    ("crosstab", _NESTED),
    ("pg_advisory_", _LOCK),
    ("pg_try_advisory_", _LOCK),
    ("pg_stat_reset", _STATS),
    ("pg_logical_slot_", _REPLICATION),
    ("pg_replication_origin_", _REPLICATION),
    ("binary_upgrade_", _ADMIN),
)
"""Name prefixes refused whatever the catalog says. Also refused: pg_*_reset* and 2-argument ts_rewrite."""

_DENIED_PREFIX_TUPLE = tuple(prefix for prefix, _ in DENIED_PREFIXES)

_DENY_HINTS: dict[str, str] = {
    _SEQUENCE: " To read a sequence's current value, use SELECT last_value FROM the_sequence.",
    _NESTED: " Run the inner query directly instead.",
    _SESSION: " Session settings cannot be changed through this server.",
    _XID: " pg_current_snapshot() shows transaction state without assigning an ID.",
}
_NAME_HINTS: dict[str, str] = {
    "crosstab": " Pivot with aggregates and FILTER (WHERE ...) or CASE expressions instead.",
    "connectby": " Walk the hierarchy with WITH RECURSIVE instead.",
    "ts_stat": " Compute the statistics with a query over the tsvector column (e.g. unnest(tsvector)).",
}

ALLOWED_VOLATILE_FUNCTIONS: frozenset[str] = frozenset(
    {
        # clocks (now(), statement_timestamp() and transaction_timestamp() are STABLE, so already fine)
        "clock_timestamp",
        "timeofday",
        # randomness and identifiers
        "random",
        "random_normal",
        "array_shuffle",
        "array_sample",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        # sleeping: how people test timeouts; statement_timeout bounds it
        "pg_sleep",
        "pg_sleep_for",
        "pg_sleep_until",
        # sizes and partitions: VOLATILE only because they change between calls
        "pg_relation_size",
        "pg_table_size",
        "pg_indexes_size",
        "pg_total_relation_size",
        "pg_database_size",
        "pg_tablespace_size",
        "pg_partition_tree",
        "pg_partition_ancestors",
        # read-only server status
        "pg_is_in_recovery",
        "pg_current_wal_lsn",
        "pg_current_wal_insert_lsn",
        "pg_current_wal_flush_lsn",
        "pg_last_wal_receive_lsn",
        "pg_last_wal_replay_lsn",
        "pg_last_xact_replay_timestamp",
        "pg_is_wal_replay_paused",
        "pg_get_wal_replay_pause_state",
        "pg_blocking_pids",
        "pg_lock_status",
        "pg_jit_available",
        "pg_xact_commit_timestamp",
        "pg_xact_status",
        "txid_status",
        "current_query",
        # VOLATILE because its 2-argument form runs a query; that form is on the deny list
        "ts_rewrite",
    }
)
"""pg_catalog's VOLATILE functions reviewed as harmless (they must resolve to pg_catalog, see the module doc)."""

ALLOWED_VOLATILE_PREFIXES: tuple[str, ...] = ("pg_stat_get_",)  # read-only accessors behind pg_stat_* views

ALLOWED_EXTENSION_FUNCTIONS: frozenset[str] = frozenset(
    {"uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "gen_random_bytes"}
)
"""Extension functions (uuid-ossp, pgcrypto) reviewed as harmless, matched by bare name in any schema."""


def denied_reason(name: str, nargs: int = 0) -> str | None:
    """Why the function with bare lower-case `name` is on the deny list, or None if it is not."""
    reason = DENIED_FUNCTIONS.get(name)
    if reason is not None:
        return reason
    if name.startswith(_DENIED_PREFIX_TUPLE):
        return next(why for prefix, why in DENIED_PREFIXES if name.startswith(prefix))
    if name.startswith("pg_") and "_reset" in name:  # pg_stat_statements_reset, pg_qualstats_reset...
        return _STATS
    if name == "ts_rewrite" and nargs == 2:  # ts_rewrite(tsquery, text): the text is a query it runs
        return _NESTED
    return None


def _allowed_volatile(bare: str) -> bool:
    """Whether `bare` names a reviewed harmless volatile function (of pg_catalog or a listed extension)."""
    return (
        bare in ALLOWED_VOLATILE_FUNCTIONS
        or bare in ALLOWED_EXTENSION_FUNCTIONS
        or bare.startswith(ALLOWED_VOLATILE_PREFIXES)
    )


@lru_cache(maxsize=16)
def _volatile_outside_catalog(volatile: frozenset[str]) -> frozenset[str]:
    """Bare names of every VOLATILE function outside pg_catalog (they may shadow pg_catalog's)."""
    return frozenset(
        bare for name in volatile for schema, dot, bare in [name.rpartition(".")] if dot and schema != "pg_catalog"
    )


def _reviewed_call(schema: str | None, bare: str, volatile: frozenset[str]) -> bool:
    """Whether a call of `bare` written with `schema` (None: unqualified) reaches a reviewed harmless function."""
    if bare in ALLOWED_EXTENSION_FUNCTIONS:
        return True
    if bare not in ALLOWED_VOLATILE_FUNCTIONS and not bare.startswith(ALLOWED_VOLATILE_PREFIXES):
        return False
    if schema is not None:
        return schema == "pg_catalog"
    return bare not in _volatile_outside_catalog(volatile)


@lru_cache(maxsize=16)
def _user_volatile_names(volatile: frozenset[str]) -> frozenset[str]:
    """Bare names of volatile functions outside pg_catalog (candidates for row.func attribute notation)."""
    out = set()
    for name in volatile:
        schema, dot, bare = name.rpartition(".")
        if dot and schema != "pg_catalog" and bare not in ALLOWED_EXTENSION_FUNCTIONS:
            out.add(bare)
    return frozenset(out)


# --------------------------------------------------------------------------------------------------
# Statement names, for messages
# --------------------------------------------------------------------------------------------------


@cache
def _nested_stmt_nodes() -> frozenset[str]:
    """pglast's statement node names other than SELECT (pglast loads on the first check, not at start-up)."""
    from pglast import ast

    return frozenset(name for name in dir(ast) if name.endswith("Stmt") and name not in ("SelectStmt", "RawStmt"))


_STMT_LABELS: dict[str, str] = {
    "InsertStmt": "INSERT",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE",
    "MergeStmt": "MERGE",
    "CreateStmt": "CREATE TABLE",
    "CreateTableAsStmt": "CREATE TABLE AS",
    "AlterTableStmt": "ALTER TABLE",
    "TruncateStmt": "TRUNCATE",
    "CopyStmt": "COPY",
    "DoStmt": "DO",
    "CallStmt": "CALL",
    "ExecuteStmt": "EXECUTE",
    "PrepareStmt": "PREPARE",
    "DeallocateStmt": "DEALLOCATE",
    "ListenStmt": "LISTEN",
    "UnlistenStmt": "UNLISTEN",
    "NotifyStmt": "NOTIFY",
    "DiscardStmt": "DISCARD",
    "CheckPointStmt": "CHECKPOINT",
    "LoadStmt": "LOAD",
    "LockStmt": "LOCK",
    "DeclareCursorStmt": "DECLARE CURSOR",
    "ClosePortalStmt": "CLOSE",
    "IndexStmt": "CREATE INDEX",
    "ViewStmt": "CREATE VIEW",
    "CreateSeqStmt": "CREATE SEQUENCE",
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "RefreshMatViewStmt": "REFRESH MATERIALIZED VIEW",
    "CreateTrigStmt": "CREATE TRIGGER",
    "RuleStmt": "CREATE RULE",
    "ExplainStmt": "EXPLAIN",
    "VariableShowStmt": "SHOW",
    "SelectStmt": "SELECT",
}
_TRANSACTION_LABELS: dict[str, str] = {
    "TRANS_STMT_BEGIN": "BEGIN",
    "TRANS_STMT_START": "START TRANSACTION",
    "TRANS_STMT_COMMIT": "COMMIT",
    "TRANS_STMT_ROLLBACK": "ROLLBACK",
    "TRANS_STMT_SAVEPOINT": "SAVEPOINT",
    "TRANS_STMT_RELEASE": "RELEASE SAVEPOINT",
    "TRANS_STMT_ROLLBACK_TO": "ROLLBACK TO SAVEPOINT",
    "TRANS_STMT_PREPARE": "PREPARE TRANSACTION",
    "TRANS_STMT_COMMIT_PREPARED": "COMMIT PREPARED",
    "TRANS_STMT_ROLLBACK_PREPARED": "ROLLBACK PREPARED",
}
_LOCK_LABELS: dict[str, str] = {
    "LCS_FORKEYSHARE": "FOR KEY SHARE",
    "LCS_FORSHARE": "FOR SHARE",
    "LCS_FORNOKEYUPDATE": "FOR NO KEY UPDATE",
    "LCS_FORUPDATE": "FOR UPDATE",
}
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def _stmt_label(node_type: str, fields: dict[str, Any]) -> str:
    """A SQL-ish name for a statement node: 'DELETE', 'COMMIT', 'SET', 'DROP TABLE'..."""
    if node_type == "TransactionStmt":
        return _TRANSACTION_LABELS.get(str(fields.get("kind")), "transaction control")
    if node_type == "VariableSetStmt":
        verb = "RESET" if str(fields.get("kind", "")).startswith("VAR_RESET") else "SET"
        name = fields.get("name")
        return f"{verb} {name}" if name else verb
    if node_type == "DropStmt":
        obj = str(fields.get("removeType", "")).removeprefix("OBJECT_").replace("_", " ")
        return f"DROP {obj}".strip()
    if node_type == "VacuumStmt":
        return "VACUUM" if fields.get("is_vacuumcmd") else "ANALYZE"
    if node_type == "GrantStmt":
        return "GRANT" if fields.get("is_grant") else "REVOKE"
    if node_type == "FetchStmt":
        return "MOVE" if fields.get("ismove") else "FETCH"
    if node_type == "CreateTableAsStmt" and fields.get("objtype") == "OBJECT_MATVIEW":
        return "CREATE MATERIALIZED VIEW"
    label = _STMT_LABELS.get(node_type)
    if label is None:
        label = _CAMEL.sub(" ", node_type.removesuffix("Stmt")).upper()
    return label


_STMT_HINTS: dict[str, str] = {
    "transaction": " Each query already runs in its own read-only transaction; transaction control is not allowed.",
    "set": " Session settings cannot be changed through this server.",
    "copy": " Use a SELECT to read the data instead.",
    "prepare": " Send the statement itself; $1-style parameters are supported.",
    "code": " Procedural code cannot be run; express the logic as a single SELECT.",
    "into": " Use a plain SELECT; results are returned to you, not stored.",
}


def _stmt_hint(node_type: str) -> str:
    if node_type == "TransactionStmt":
        return _STMT_HINTS["transaction"]
    if node_type == "VariableSetStmt":
        return _STMT_HINTS["set"]
    if node_type == "CopyStmt":
        return _STMT_HINTS["copy"]
    if node_type in ("PrepareStmt", "ExecuteStmt", "DeallocateStmt"):
        return _STMT_HINTS["prepare"]
    if node_type in ("DoStmt", "CallStmt"):
        return _STMT_HINTS["code"]
    if node_type == "CreateTableAsStmt":
        return _STMT_HINTS["into"]
    return ""


# --------------------------------------------------------------------------------------------------
# Parsing: pglast's JSON tree, decoded once; the decoder's object_hook is the tree walk
# --------------------------------------------------------------------------------------------------


@cache
def _interesting() -> frozenset[str]:
    return frozenset(
        {"FuncCall", "ColumnRef", "A_Indirection", "RangeVar", "CommonTableExpr", "LockingClause", "intoClause"}
        | _nested_stmt_nodes()
    )


class _Collector:
    """What the checks need from the parse tree, gathered from its interesting dicts."""

    __slots__ = ("attrs", "cte_dml", "ctes", "funcs", "into", "locking", "relations", "star", "stmts")

    def __init__(self) -> None:
        self.funcs: list[tuple[list[str], int, bool]] = []  # (name parts, nargs, SQL-syntax form)
        self.stmts: list[tuple[str, dict[str, Any]]] = []  # statement nodes other than SELECT
        self.cte_dml: list[tuple[str, str]] = []  # (statement label, CTE name)
        self.ctes: set[str] = set()
        self.relations: list[dict[str, Any]] = []
        self.attrs: list[tuple[str, str]] = []  # (as written, candidate function name): row.func notation
        self.into = False
        self.locking: str | None = None
        self.star = False  # a * column list anywhere (t.* or *)

    def add(self, d: dict[str, Any]) -> None:
        for key, value in d.items():
            if key == "FuncCall":
                parts = [p["String"]["sval"] for p in value.get("funcname", ()) if "String" in p]
                sql_syntax = value.get("funcformat") == "COERCE_SQL_SYNTAX"
                self.funcs.append((parts, len(value.get("args", ())), sql_syntax))
            elif key == "RangeVar":
                self.relations.append(value)
            elif key == "ColumnRef":
                fields = value.get("fields", ())
                if any("A_Star" in f for f in fields):
                    self.star = True
                if len(fields) >= 2 and "String" in fields[-1]:
                    written = ".".join(f["String"]["sval"] if "String" in f else "*" for f in fields)
                    self.attrs.append((written, fields[-1]["String"]["sval"]))
            elif key == "A_Indirection":
                for ind in value.get("indirection", ()):
                    if "String" in ind:
                        name = ind["String"]["sval"]
                        self.attrs.append((f"(...).{name}", name))
            elif key == "CommonTableExpr":
                name = str(value.get("ctename", ""))
                self.ctes.add(name)
                query = value.get("ctequery") or {}
                for qtype, qfields in query.items():
                    if qtype != "SelectStmt":
                        self.cte_dml.append((_stmt_label(qtype, qfields), name))
            elif key == "LockingClause":
                if self.locking is None:
                    self.locking = _LOCK_LABELS.get(str(value.get("strength")), "FOR UPDATE/SHARE")
            elif key == "intoClause":
                self.into = True
            elif key in _nested_stmt_nodes():
                self.stmts.append((key, value))


def _decode(text: str) -> tuple[Any, list[dict[str, Any]]]:
    """Decode pglast's JSON parse tree; also return its dicts that hold an interesting key, bottom-up.

    The object_hook sees every dict exactly once, so this is the whole tree walk, done by the decoder.
    """
    found: list[dict[str, Any]] = []
    isdisjoint = _interesting().isdisjoint
    append = found.append

    def hook(d: dict[str, Any]) -> dict[str, Any]:
        if not isdisjoint(d):
            append(d)
        return d

    try:
        return json.loads(text, object_hook=hook), found
    except RecursionError:  # very deep trees (hundreds of chained operators): same result, without recursion
        found.clear()
        return _loads_iterative(text, hook), found


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+')


def _loads_iterative(text: str, hook: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """json.loads(text, object_hook=hook) without recursion, for trees deeper than the recursion limit."""
    containers: list[Any] = []
    keys: list[str | None] = []  # per open container: the dict key waiting for its value
    result: Any = None
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first in ",:":
            continue
        if first in "{[":
            containers.append({} if first == "{" else [])
            keys.append(None)
            continue
        value: Any
        if first in "}]":
            value = containers.pop()
            keys.pop()
            if first == "}":
                value = hook(value)
        elif first == '"':
            value = token[1:-1] if "\\" not in token else json.loads(token)
            if containers and keys[-1] is None and type(containers[-1]) is dict:
                keys[-1] = value
                continue
        else:
            value = json.loads(token)  # number, true, false, null
        if not containers:
            result = value
        elif type(containers[-1]) is dict:
            containers[-1][keys[-1]] = value
            keys[-1] = None
        else:
            containers[-1].append(value)
    return result


def _parse_error(sql: str, exc: Exception) -> RefusedError:
    message = str(exc.args[0]) if exc.args else str(exc)
    index = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
    where = ""
    if index is not None and 0 <= index <= len(sql):
        line_no = sql.count("\n", 0, index) + 1
        line_start = sql.rfind("\n", 0, index) + 1
        line_end = sql.find("\n", index)
        line = sql[line_start : line_end if line_end != -1 else len(sql)]
        column = index - line_start + 1
        where = f" at line {line_no}, column {column} (character {index + 1}): {line.strip()[:200]!r}"
    return RefusedError(
        f"Refused: the SQL could not be parsed: {message}{where}. "
        "PostgreSQL would reject it too; fix the syntax and retry."
    )


def _refuse_statement(node_type: str, fields: dict[str, Any], *, explain: str = "") -> RefusedError:
    label = _stmt_label(node_type, fields)
    if explain:
        return RefusedError(
            f"Refused: EXPLAIN is allowed only of read-only statements (SELECT, VALUES, TABLE); "
            f"got {explain} {label}.{_stmt_hint(node_type)}"
        )
    hint = _stmt_hint(node_type)
    return RefusedError(f"Refused: only read-only statements are allowed ({_ALLOWED_TEXT}); got {label}.{hint}")


def _select_kind(fields: dict[str, Any]) -> str:
    if fields.get("op", "SETOP_NONE") != "SETOP_NONE":
        return "select"
    if "valuesLists" in fields:
        return "values"
    # TABLE x is raw-parsed as SELECT * FROM x with no source location on the star.
    target = fields.get("targetList")
    if target and len(target) == 1 and target[0].get("ResTarget", {}).get("location") == -1:
        return "table"
    return "select"


def _explain_prefix(fields: dict[str, Any]) -> str:
    names = {str(o.get("DefElem", {}).get("defname", "")) for o in fields.get("options", ())}
    return "EXPLAIN ANALYZE" if "analyze" in names else "EXPLAIN"


def _as_set(names: Collection[str]) -> frozenset[str]:
    return names if isinstance(names, frozenset) else frozenset(names)


# --------------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------------


def check_sql(
    sql: str,
    *,
    volatile_functions: Collection[str] = (),
    allowed_functions: Collection[str] = (),
) -> CheckedStatement:
    """Parse `sql` and return what it does if it is one allowed read-only statement; else raise RefusedError.

    `volatile_functions`: lower-case names (bare and schema.name) of the database's VOLATILE functions,
    from pg_proc; pass a frozenset (it is used as is, and cached per object). `allowed_functions`:
    extra function names (bare or schema-qualified) the operator reviewed as harmless; they lift the
    volatile rule but never the built-in deny list.
    """
    if "\x00" in sql:
        # The C parser would stop at the NUL and never see what follows it.
        raise RefusedError("Refused: the SQL contains a NUL character (\\x00); remove it.")
    from pglast import parser  # loaded on the first check, not at start-up

    try:
        text = parser.parse_sql_json(sql)
    except parser.ParseError as exc:
        raise _parse_error(sql, exc) from None
    tree, found = _decode(text)
    collector = _Collector()
    for node in found:
        collector.add(node)

    stmts: list[dict[str, Any]] = [s["stmt"] for s in tree.get("stmts", ()) if "stmt" in s]
    if not stmts:
        raise RefusedError(
            "Refused: no SQL statement found (the text is empty or only comments). Send one statement "
            "(SELECT, VALUES, TABLE, EXPLAIN or SHOW)."
        )
    if len(stmts) > 1:
        typed = [next(iter(s.items())) for s in stmts]
        labels = [_stmt_label(node_type, fields) for node_type, fields in typed]
        bad = list(dict.fromkeys(lab for (t, _), lab in zip(typed, labels, strict=True) if t not in _TOP_LEVEL))
        extra = (
            f" {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not allowed at all: only read-only "
            f"statements ({_ALLOWED_TEXT}) can run."
            if bad
            else " Send them one at a time."
        )
        counted = f"found {len(stmts)} ({', '.join(labels)})"
        raise RefusedError(f"Refused: only one statement per call is allowed; {counted}.{extra}")

    ((top_type, top_fields),) = stmts[0].items()
    kind: str
    if top_type == "SelectStmt":
        kind = _select_kind(top_fields)
    elif top_type == "VariableShowStmt":
        kind = "show"
    elif top_type == "ExplainStmt":
        kind = "explain"
        query = top_fields.get("query") or {}
        ((q_type, q_fields),) = query.items() if query else (("?", {}),)
        if q_type != "SelectStmt":
            raise _refuse_statement(q_type, q_fields, explain=_explain_prefix(top_fields))
    else:
        raise _refuse_statement(top_type, top_fields)

    if collector.cte_dml:
        label, cte = collector.cte_dml[0]
        raise RefusedError(
            f"Refused: data-modifying statements are not allowed, including inside WITH; got {label} in "
            f"WITH {cte}. Only SELECT can be used in a WITH query here."
        )
    for node_type, fields in collector.stmts:  # any other statement nested where the grammar allows
        if fields is not top_fields:
            raise _refuse_statement(node_type, fields)
    if collector.into:
        raise RefusedError(
            "Refused: SELECT ... INTO creates a table and is not allowed (read-only access). Remove the INTO "
            "clause; results are returned to you."
        )
    if collector.locking is not None:
        raise RefusedError(
            f"Refused: SELECT ... {collector.locking} takes row locks and is not allowed (read-only access). "
            f"Remove the {collector.locking} clause."
        )

    functions = _check_functions(collector, _as_set(volatile_functions), allowed_functions)
    relations = frozenset(
        name for name in _relation_names(collector.relations) if "." in name or name not in collector.ctes
    )
    refs = frozenset((str(rv.get("schemaname") or ""), str(rv.get("relname") or "")) for rv in collector.relations)
    return CheckedStatement(
        sql=sql,
        kind=kind,
        functions=functions,
        relations=relations,
        relation_refs=refs,
        star=collector.star or kind == "table",
    )


def _relation_names(nodes: Iterable[dict[str, Any]]) -> Iterable[str]:
    for rv in nodes:
        parts = [rv.get("catalogname"), rv.get("schemaname"), rv.get("relname")]
        yield ".".join(str(p) for p in parts if p)


def _check_functions(
    collector: _Collector, volatile: frozenset[str], allowed_functions: Collection[str]
) -> frozenset[str]:
    allowed = frozenset(a.lower() for a in allowed_functions) if allowed_functions else frozenset()
    allowed_bare = frozenset(a.rpartition(".")[2] for a in allowed)
    names: set[str] = set()
    problems: list[str] = []
    seen_problem: set[str] = set()
    for parts, nargs, sql_syntax in collector.funcs:
        if sql_syntax and len(parts) == 2 and parts[0] == "pg_catalog":
            parts = parts[1:]  # EXTRACT(...), x AT TIME ZONE y...: written without a schema
        written = ".".join(parts)
        name = written.lower()
        names.add(name)
        if name in seen_problem:
            continue
        bare = name.rpartition(".")[2]
        qualified = ".".join(name.split(".")[-2:])
        schema = qualified.rpartition(".")[0] or None
        reason = denied_reason(bare, nargs)
        if reason is not None:
            hint = next((h for k, h in _NAME_HINTS.items() if bare.startswith(k)), _DENY_HINTS.get(reason, ""))
            problems.append(f"function {written}() is not allowed: it {reason}.{hint}")
            seen_problem.add(name)
            continue
        if not volatile or (bare not in volatile and qualified not in volatile):
            continue
        if _reviewed_call(schema, bare, volatile) or qualified in allowed or bare in allowed:
            continue
        if "." not in name and bare in allowed_bare:
            continue
        if _allowed_volatile(bare):  # a reviewed pg_catalog name, but the call may reach a user function
            where = f"in schema {schema}" if schema else "outside pg_catalog, which this call could resolve to"
            problems.append(
                f"function {written}() is a user-defined VOLATILE function ({where}), not pg_catalog's "
                f"{bare}(). Call pg_catalog.{bare}() for the built-in; if the user function is read-only, "
                "the server operator can add it to the allowed_functions setting."
            )
            seen_problem.add(name)
            continue
        problems.append(
            f"function {written}() is VOLATILE (it may change data or state) and is not on the reviewed list "
            "of harmless volatile functions. Remove the call; if it is in fact read-only, the server "
            "operator can add it to the allowed_functions setting."
        )
        seen_problem.add(name)
    if not problems and volatile and collector.attrs:
        user_volatile = _user_volatile_names(volatile)
        for written, attr in collector.attrs:
            bare = attr.lower()
            if bare in user_volatile and bare not in allowed and bare not in allowed_bare:
                problems.append(
                    f"{written} may call the VOLATILE function {attr}() through attribute notation "
                    f"(row.func is the same as func(row)). If {attr} is a column, reference it without the "
                    "table qualifier; if the function is read-only, the server operator can add it to the "
                    "allowed_functions setting."
                )
                break
    if problems:
        raise RefusedError("Refused: " + " Also: ".join(problems))
    return frozenset(names)
