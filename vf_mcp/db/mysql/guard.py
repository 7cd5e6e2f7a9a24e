"""The SQL guard for MySQL and MariaDB: layer 2 of the read-only guarantee on that engine.

Layers, outermost first:

1. The driver: multi-statements off in the handshake (a second statement is a syntax error on the server),
   LOAD DATA LOCAL off, and statements with values run as server-side prepared statements (one statement).
2. This guard, before anything reaches the server:
   * executable comments (``/*! ... */``, ``/*M! ... */``) and optimizer hints (``/*+ ... */``, which can
     lift MAX_EXECUTION_TIME or SET_VAR a session variable) are refused on the raw text: parsers drop them
     as comments while the server runs them;
   * the text is tokenized and parsed with sqlglot's MySQL dialect: exactly one statement, of an allowed
     kind (SELECT, WITH ... SELECT, SHOW of a reviewed list, DESCRIBE/DESC, EXPLAIN of an allowed query);
   * refused anywhere in the statement: INTO (OUTFILE, DUMPFILE, @var), FOR UPDATE / FOR SHARE / LOCK IN
     SHARE MODE, user and system variables (``@x``, ``@@x``), ``:=`` assignments, calls to the deny-list
     (files, locks, sleep, benchmark, replication waits, sequences), schema-qualified calls and stored
     functions or UDFs (the catalog's list) unless in allowed_functions, and the system schemas (mysql,
     performance_schema, sys, information_schema.PROCESSLIST...).
3. The session: SET SESSION TRANSACTION READ ONLY, a server-side statement time limit with a client-side
   KILL QUERY backstop, a least-privilege user (`vf-mcp setup-role`), and a reset (COM_RESET_CONNECTION)
   of every pooled connection on release, so no state a call could leave reaches the next one.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

import sqlglot
from sqlglot import Token, TokenType, exp
from sqlglot.errors import ParseError, TokenError

from vf_mcp.db.guard import CheckedStatement
from vf_mcp.errors import InvalidArgumentError, RefusedError

__all__ = ["DENIED_FUNCTIONS", "SYSTEM_SCHEMAS", "check_mysql_sql", "placeholder_count", "placeholders_to_qmark"]

_ALLOWED_TEXT = "SELECT, WITH ... SELECT, SHOW, DESCRIBE, EXPLAIN"

DENIED_FUNCTIONS: dict[str, str] = {
    "load_file": "reads files on the database server",
    "get_lock": "takes a named lock that outlives the statement",
    "release_lock": "releases named locks",
    "release_all_locks": "releases named locks",
    "is_free_lock": "probes named locks",
    "is_used_lock": "probes named locks",
    "sleep": "sleeps, holding a connection",
    "benchmark": "repeats an expression to burn server time",
    "master_pos_wait": "waits on replication",
    "source_pos_wait": "waits on replication",
    "master_gtid_wait": "waits on replication",
    "wait_for_executed_gtid_set": "waits on replication",
    "wait_until_sql_thread_after_gtids": "waits on replication",
    "nextval": "advances a sequence (a write)",
    "setval": "sets a sequence (a write)",
    "lastval": "reads session sequence state",
    "last_insert_id": "sets session state when given an argument",
    "sys_exec": "runs a shell command (UDF)",
    "sys_eval": "runs a shell command (UDF)",
    "load_xml": "reads files",
    "name_const": "is only for stored-program internals",
}
"""Refused whatever the settings say (allowed_functions cannot lift these)."""

SYSTEM_SCHEMAS = frozenset({"mysql", "performance_schema", "sys"})
"""Schemas holding password hashes, other sessions' statements and server internals."""
_SECRET_INFO_TABLES = frozenset(
    {"processlist", "innodb_trx", "innodb_lock_waits", "innodb_locks", "user_privileges", "user_statistics",
     "client_statistics", "global_variables", "global_status", "session_variables", "session_status"}
)  # fmt: skip

_SHOW_ALLOWED = (
    "tables", "full tables", "columns", "full columns", "fields", "full fields", "index", "indexes", "keys",
    "create table", "create view", "table status", "databases", "schemas", "collation", "character set",
    "charset", "engines", "warnings", "errors", "count(*) warnings", "count(*) errors", "triggers",
    "open tables", "session variables", "variables", "session status", "status",
)  # fmt: skip
_QUOTED = frozenset(
    {TokenType.STRING, TokenType.IDENTIFIER, TokenType.NATIONAL_STRING, TokenType.HEX_STRING,
     TokenType.BIT_STRING, TokenType.BYTE_STRING, TokenType.RAW_STRING}
)  # fmt: skip
_EXEC_COMMENT = re.compile(r"/\*\s*(!|M!|\+)", re.I)
_DOLLAR = re.compile(r"\$([1-9][0-9]{0,3})")


def _refuse(why: str) -> RefusedError:
    return RefusedError(f"Refused: {why}. vf-mcp runs one read-only {_ALLOWED_TEXT} statement on MySQL/MariaDB.")


def _tokens(sql: str) -> list[Token]:
    try:
        return list(sqlglot.tokenize(sql, read="mysql"))
    except TokenError as exc:
        raise _refuse(f"the statement could not be tokenized ({str(exc)[:120]})") from None


def _check_tokens(tokens: list[Token]) -> None:
    """Checks on the token stream that do not depend on how the parser builds its tree."""
    words = [t.text.lower() if t.token_type not in _QUOTED else "" for t in tokens]
    for i, t in enumerate(tokens):
        if t.token_type in _QUOTED:
            continue
        if t.token_type in (TokenType.PARAMETER, TokenType.SESSION_PARAMETER) or t.text.startswith("@"):
            raise _refuse("user and system variables (@x, @@x) carry state between calls or read server settings")
        if t.text == ":=" or t.token_type == TokenType.COLON_EQ:
            raise _refuse("assignments (:=) set session state")
        w = words[i]
        if w in ("outfile", "dumpfile"):
            raise _refuse(f"INTO {w.upper()} writes files on the database server")
        if w == "into":
            raise _refuse("SELECT ... INTO writes into variables or files")
        if w == "for" and i + 1 < len(words) and words[i + 1] in ("update", "share"):
            raise _refuse("FOR UPDATE / FOR SHARE takes row locks")
        if w == "lock" and i + 1 < len(words) and words[i + 1] == "in":
            raise _refuse("LOCK IN SHARE MODE takes row locks")
        if w in DENIED_FUNCTIONS and i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.L_PAREN:
            raise _refuse(f"{w.upper()}() {DENIED_FUNCTIONS[w]}")
        if w == "procedure" and i > 0:
            raise _refuse("SELECT ... PROCEDURE runs a server procedure")


def _statements(sql: str, tokens: list[Token]) -> list[list[Token]]:
    out: list[list[Token]] = [[]]
    for t in tokens:
        if t.token_type == TokenType.SEMICOLON:
            out.append([])
        else:
            out[-1].append(t)
    return [s for s in out if s]


def _kind(tokens: list[Token]) -> str:
    head = tokens[0].text.lower()
    if head in ("select", "with", "("):
        return "select"
    if head in ("describe", "desc", "explain"):
        return "explain"
    if head == "show":
        return "show"
    raise _refuse(f"{head.upper()} statements are not allowed (only {_ALLOWED_TEXT})")


def _check_show(tokens: list[Token]) -> None:
    if any(
        t.token_type == TokenType.WHERE or (t.token_type not in _QUOTED and t.text.lower() == "where") for t in tokens
    ):
        raise _refuse("SHOW ... WHERE takes any expression (subqueries too); use LIKE, or query information_schema")
    words = " ".join(t.text.lower() for t in tokens[1:5])
    words = re.sub(r"\b(global|session)\s+(variables|status)", r"session \2", words)
    if not any(words == s or words.startswith(s + " ") for s in _SHOW_ALLOWED):
        raise _refuse(f"SHOW {' '.join(t.text for t in tokens[1:3]).upper()} is not on the SHOW allow-list")


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return str(node.sql_name()).lower()


def _check_tree(tree: exp.Expr, stored: Collection[str], allowed: Collection[str]) -> frozenset[str]:
    """Walk every node: calls, qualified calls, INTO, locks, system schemas. Returns the functions called."""
    functions: set[str] = set()
    for node in tree.walk():
        if isinstance(node, (exp.Into, exp.Lock)):
            raise _refuse("INTO and locking clauses are not allowed")
        if isinstance(node, (exp.Command, exp.Set)):
            raise _refuse("the statement holds a command the parser does not understand")
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
            raise _refuse("schema-qualified function calls run stored functions (not allowed)")
        if isinstance(node, exp.Func):
            name = _function_name(node)
            functions.add(name)
            if name in DENIED_FUNCTIONS:
                raise _refuse(f"{name.upper()}() {DENIED_FUNCTIONS[name]}")
            if name in stored and name not in allowed:
                raise _refuse(
                    f"{name}() is a stored function or UDF (it may have side effects); an administrator can "
                    "allow it with allowed_functions"
                )
        if isinstance(node, exp.Table):
            schema, name = str(node.db).lower(), str(node.name).lower()
            if schema in SYSTEM_SCHEMAS:
                raise _refuse(f"the {schema} schema holds server internals and other sessions' data")
            if schema == "information_schema" and name in _SECRET_INFO_TABLES:
                raise _refuse(f"information_schema.{name} shows other sessions or server settings")
    return frozenset(functions)


def check_mysql_sql(
    sql: str, *, stored_functions: Collection[str] = (), allowed_functions: Collection[str] = ()
) -> CheckedStatement:
    """Refuse `sql` unless it is one allowed read-only statement; return what the parser saw."""
    return _check(sql, frozenset(stored_functions), frozenset(f.lower() for f in allowed_functions))


@lru_cache(maxsize=512)
def _check(sql: str, stored: frozenset[str], allowed: frozenset[str]) -> CheckedStatement:
    if _EXEC_COMMENT.search(sql):
        raise _refuse("executable comments (/*! */, /*M! */) and optimizer hints (/*+ */) run hidden SQL")
    tokens = _tokens(sql)
    statements = _statements(sql, tokens)
    if not statements:
        raise _refuse("the text holds no statement")
    if len(statements) > 1:
        raise _refuse(f"the text holds {len(statements)} statements; send exactly one")
    body = statements[0]
    kind = _kind(body)  # the statement kind first: its refusal is the clearest
    _check_tokens(body)
    if kind == "show":
        _check_show(body)
        return CheckedStatement(sql=sql, kind="show", functions=frozenset(), relations=frozenset())
    if kind == "explain":
        rest = body[1:]
        if rest and rest[0].text.lower() in ("for", "analyze", "extended", "partitions"):
            if rest[0].text.lower() == "for":
                raise _refuse("EXPLAIN FOR CONNECTION shows other sessions' statements")
            if rest[0].text.lower() == "analyze":
                raise _refuse("EXPLAIN ANALYZE runs the statement; use run_query with explain=true")
            rest = rest[1:]
        while len(rest) >= 3 and rest[0].text.lower() == "format" and rest[1].text == "=":
            rest = rest[3:]
        if rest and rest[0].text.lower() in ("select", "with", "("):
            inner = sql[rest[0].start :]
            checked = _check(inner, stored, allowed)
            return CheckedStatement(sql=sql, kind="explain", functions=checked.functions, relations=checked.relations)
        if rest and rest[0].token_type in (TokenType.VAR, TokenType.IDENTIFIER) and len(rest) <= 4:
            return CheckedStatement(sql=sql, kind="explain", functions=frozenset(), relations=frozenset())
        raise _refuse("EXPLAIN/DESCRIBE is allowed on a table or on a SELECT only")
    try:  # the statement's own text: trailing semicolons and comments are no statement
        trees = sqlglot.parse(sql[body[0].start : body[-1].end + 1], read="mysql")
    except ParseError as exc:
        raise _refuse(f"the statement could not be parsed as MySQL ({str(exc).splitlines()[0][:160]})") from None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise _refuse("send exactly one statement")
    tree = trees[0]
    if not isinstance(tree, exp.Query):
        raise _refuse(f"{type(tree).__name__.upper()} statements are not allowed")
    functions = _check_tree(tree, stored, allowed)
    relations = frozenset(str(t.name) for t in tree.find_all(exp.Table))
    return CheckedStatement(sql=sql, kind="select", functions=functions, relations=relations)


def placeholders_to_qmark(sql: str, params: list[object]) -> tuple[str, list[object]]:
    """`$1, $2 ...` (the PostgreSQL style the tools document) as MySQL `?`, with the values in order.

    Only VAR tokens spelled $n are rewritten (never text inside strings or comments); `?` is kept as is.
    """
    tokens = _tokens(sql)
    marks = [
        t
        for t in tokens
        if t.token_type == TokenType.PLACEHOLDER or (t.token_type == TokenType.VAR and _DOLLAR.fullmatch(t.text))
    ]
    if not any(t.text.startswith("$") for t in marks):
        return sql, params
    if any(t.text == "?" for t in marks):
        raise InvalidArgumentError("The statement mixes $n and ? placeholders; use one style.")
    out: list[str] = []
    values: list[object] = []
    last = 0
    for t in marks:
        n = int(t.text[1:])
        if n > len(params):
            raise InvalidArgumentError(f"${n} has no value: params has {len(params)} value(s).")
        out.append(sql[last : t.start])
        out.append("?")
        values.append(params[n - 1])
        last = t.end + 1
    out.append(sql[last:])
    return "".join(out), values


def placeholder_count(sql: str) -> int:
    """Distinct `$n` numbers, or `?` marks, in `sql` (never inside strings or comments)."""
    tokens = _tokens(sql)
    dollars = {t.text for t in tokens if t.token_type == TokenType.VAR and _DOLLAR.fullmatch(t.text)}
    return len(dollars) or sum(1 for t in tokens if t.token_type == TokenType.PLACEHOLDER)
