"""The SQL guard (vf_mcp.db.guard): pure parser-level tests, no database needed."""

from __future__ import annotations

import json
import time

import pytest
from pglast import parser

from vf_mcp.db.guard import (
    ALLOWED_VOLATILE_FUNCTIONS,
    CheckedStatement,
    _loads_iterative,
    check_sql,
    denied_reason,
)
from vf_mcp.errors import RefusedError

# A realistic slice of what the catalog reports as VOLATILE (PostgreSQL 18 pg_catalog + extensions + user).
_CATALOG_VOLATILE = [
    "random",
    "random_normal",
    "setseed",
    "clock_timestamp",
    "timeofday",
    "gen_random_uuid",
    "uuidv7",
    "pg_sleep",
    "nextval",
    "setval",
    "currval",
    "lastval",
    "set_config",
    "pg_read_file",
    "pg_ls_dir",
    "lo_import",
    "pg_relation_size",
    "pg_total_relation_size",
    "pg_database_size",
    "pg_stat_get_xact_numscans",
    "pg_stat_clear_snapshot",
    "pg_export_snapshot",
    "system",
    "bernoulli",
    "query_to_xml",
    "uuid_generate_v4",
    "ts_rewrite",
]
VOLATILE = frozenset(
    _CATALOG_VOLATILE
    + [f"pg_catalog.{n}" for n in _CATALOG_VOLATILE if n != "uuid_generate_v4"]
    + ["public.uuid_generate_v4", "bump_counter", "public.bump_counter", "log_access", "audit.log_access"]
)


def check(sql: str, **kwargs: object) -> CheckedStatement:
    kwargs.setdefault("volatile_functions", VOLATILE)
    return check_sql(sql, **kwargs)  # type: ignore[arg-type]


def refused(sql: str, **kwargs: object) -> str:
    with pytest.raises(RefusedError) as info:
        check(sql, **kwargs)
    message = info.value.message
    assert message.startswith("Refused: ")
    return message


# --------------------------------------------------------------------------------------------------
# Legitimate analytics passes
# --------------------------------------------------------------------------------------------------

ALLOWED: list[tuple[str, str]] = [
    ("SELECT 1", "select"),
    ("SELECT 1;", "select"),
    (
        "SELECT region, amount, rank() OVER (PARTITION BY region ORDER BY amount DESC) AS r, "
        "sum(amount) OVER w, lag(amount, 1) OVER (ORDER BY day ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) "
        "FROM orders WINDOW w AS (PARTITION BY region)",
        "select",
    ),
    ("WITH a AS (SELECT 1 AS x), b AS MATERIALIZED (SELECT x + 1 AS y FROM a) SELECT * FROM b", "select"),
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 10) SELECT sum(n) FROM t",
        "select",
    ),
    (
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount), "
        "percentile_disc(ARRAY[0.25, 0.75]) WITHIN GROUP (ORDER BY amount), mode() WITHIN GROUP (ORDER BY x) "
        "FROM orders",
        "select",
    ),
    ("SELECT count(*) FILTER (WHERE status = 'done'), avg(x) FILTER (WHERE x > 0) FROM orders", "select"),
    ("SELECT a, b, sum(c) FROM t GROUP BY GROUPING SETS ((a, b), (a), ())", "select"),
    ("SELECT a, b, sum(c), grouping(a, b) FROM t GROUP BY ROLLUP (a, b)", "select"),
    ("SELECT a, b, sum(c) FROM t GROUP BY CUBE (a, b) HAVING sum(c) > 10", "select"),
    (
        "SELECT s.name, o.* FROM staff s CROSS JOIN LATERAL "
        "(SELECT * FROM orders WHERE staff_id = s.id ORDER BY created_at DESC LIMIT 3) o",
        "select",
    ),
    (
        "SELECT jsonb_agg(t), json_build_object('a', 1, 'b', x), doc ->> 'name', doc -> 'a' -> 'b', "
        "doc #>> '{a,b}', jsonb_path_query(doc, '$.items[*] ? (@.price > 10)'), doc @> '{\"a\": 1}' "
        "FROM docs t",
        "select",
    ),
    (
        "SELECT JSON_QUERY(doc, '$.a'), JSON_VALUE(doc, '$.b' RETURNING int), JSON_EXISTS(doc, '$.c') FROM docs",
        "select",
    ),
    (
        "SELECT date_trunc('month', created_at), extract(year FROM created_at), "
        "EXTRACT(dow FROM now()), created_at AT TIME ZONE 'UTC', d::date - interval '1 day' "
        "FROM orders, generate_series(now() - interval '1 year', now(), interval '1 month') AS d",
        "select",
    ),
    (
        "SELECT string_agg(name, ', ' ORDER BY name), regexp_replace(email, '@.*$', ''), "
        "regexp_matches(x, '(\\d+)', 'g'), x ~* '^a', substring(x FROM 2 FOR 3), trim(both ' ' FROM x), "
        "position('a' IN x), overlay(x PLACING 'y' FROM 1) FROM staff GROUP BY x",
        "select",
    ),
    ("SELECT st_distance(a.geom, b.geom), public.my_stable_fn(1) FROM places a, places b", "select"),
    ("SELECT now(), current_timestamp, current_user, session_user, current_date, localtime", "select"),
    (
        "SELECT random(), random_normal(), clock_timestamp(), timeofday(), gen_random_uuid(), uuidv7()",
        "select",
    ),
    ("SELECT pg_sleep(60)", "select"),
    ("SELECT pg_catalog.pg_sleep(1), pg_catalog.random()", "select"),
    ("SELECT public.uuid_generate_v4()", "select"),
    (
        "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)), pg_relation_size(oid) "
        "FROM pg_class ORDER BY 2 DESC LIMIT 10",
        "select",
    ),
    ("SELECT pg_database_size(current_database()), pg_stat_get_xact_numscans('t'::regclass)", "select"),
    ("SELECT * FROM staff TABLESAMPLE SYSTEM (10) REPEATABLE (42)", "select"),
    ("SELECT * FROM staff TABLESAMPLE BERNOULLI (1)", "select"),
    ("SELECT h.system, h.bernoulli, h.random FROM hosts h", "select"),
    ("SELECT bump_counter FROM staff", "select"),  # a bare name is always a column, never a call
    ("EXPLAIN SELECT * FROM staff WHERE id = 1", "explain"),
    ("EXPLAIN (FORMAT JSON) SELECT * FROM staff", "explain"),
    ("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT count(*) FROM staff", "explain"),
    ("EXPLAIN ANALYZE VALUES (1)", "explain"),
    ("EXPLAIN TABLE staff", "explain"),
    ("SHOW statement_timeout", "show"),
    ("SHOW ALL", "show"),
    ("show TIME ZONE", "show"),
    ("TABLE staff", "table"),
    ("TABLE public.staff ORDER BY 1 LIMIT 5", "table"),
    ("VALUES (1, 'a'), (2, 'b')", "values"),
    ("VALUES (1), (2) ORDER BY 1", "values"),
    ("SELECT 1 UNION SELECT 2 INTERSECT SELECT 2 EXCEPT SELECT 3", "select"),
    ("(SELECT a FROM t) UNION ALL (SELECT b FROM u ORDER BY 1 LIMIT 1)", "select"),
    ("VALUES (1) UNION VALUES (2)", "select"),
    ("SELECT * FROM staff WHERE id = $1 AND name ILIKE $2 LIMIT $3::int", "select"),
    ("-- top comment\nSELECT /* inline */ 1 -- trailing\n", "select"),
    ("/* only the block */ SELECT 1 /* nested /* comment */ still */", "select"),
    ('SELECT "名前", café, "Größe" FROM "données" AS д', "select"),
    ("SELECT $$DROP TABLE staff; COMMIT$$ AS s, $tag$'; DELETE FROM x; --$tag$", "select"),
    ("SELECT 'COMMIT; DROP TABLE x'", "select"),
    ("SELECT E'\\x27; DROP TABLE x; --'", "select"),
    ("SELECT 'pg_read_file(''/etc/passwd'')', 'nextval' AS nextval", "select"),
    ('SELECT x AS "DELETE", y AS "FOR UPDATE" FROM "INSERT"', "select"),
    (
        "SELECT CASE WHEN x > 0 THEN coalesce(y, 0) ELSE greatest(a, b) END, nullif(a, 0), "
        "ARRAY(SELECT unnest(tags)), EXISTS (SELECT 1 FROM t2 WHERE t2.id = t.id) FROM t",
        "select",
    ),
    (
        "SELECT * FROM XMLTABLE('/a/b' PASSING ('<a><b>1</b></a>'::xml) COLUMNS v int PATH '.') x, "
        "JSON_TABLE('[1,2]'::jsonb, '$[*]' COLUMNS (v int PATH '$')) j",
        "select",
    ),
    (
        "SELECT txid_current_if_assigned(), pg_current_snapshot(), ts_rewrite('a'::tsquery, 'a', 'b')",
        "select",
    ),
    ("SELECT * FROM staff ORDER BY a FETCH FIRST 3 ROWS WITH TIES", "select"),
    ("SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b DESC NULLS LAST", "select"),
]


@pytest.mark.parametrize(("sql", "kind"), ALLOWED)
def test_allowed(sql: str, kind: str) -> None:
    checked = check(sql)
    assert checked.kind == kind
    assert checked.sql == sql


@pytest.mark.parametrize(("sql", "kind"), ALLOWED[:12])
def test_allowed_without_catalog(sql: str, kind: str) -> None:
    assert check_sql(sql).kind == kind


def test_functions_and_relations_are_reported() -> None:
    checked = check(
        "WITH recent AS (SELECT * FROM public.orders WHERE created_at > now() - interval '7 days') "
        "SELECT pg_catalog.lower(s.name), EXTRACT(year FROM r.created_at), count(*) "
        "FROM recent r JOIN staff s ON s.id = r.staff_id JOIN generate_series(1, 3) g ON true "
        'WHERE s.id IN (SELECT staff_id FROM audit."Events") GROUP BY 1, 2'
    )
    assert checked.functions == frozenset({"now", "pg_catalog.lower", "extract", "count", "generate_series"})
    assert checked.relations == frozenset({"public.orders", "staff", "audit.Events"})


def test_quoted_and_unicode_escaped_function_names_are_folded() -> None:
    checked = check("SELECT \"lower\"('A'), U&\"\\0075pper\"('a')")
    assert checked.functions == frozenset({"lower", "upper"})


# --------------------------------------------------------------------------------------------------
# Attacks are refused, with a message naming the rule and the statement or function
# --------------------------------------------------------------------------------------------------

REFUSED: list[tuple[str, list[str]]] = [
    # several statements
    ("COMMIT; DROP TABLE staff", ["only one statement", "found 2", "COMMIT", "DROP TABLE"]),
    ("END; CREATE TABLE pwned(x int)", ["only one statement", "found 2", "COMMIT", "CREATE TABLE"]),
    (
        "SELECT 1; UPDATE staff SET email='x'",
        ["only one statement", "found 2", "UPDATE", "not allowed at all"],
    ),
    ("ROLLBACK; BEGIN READ WRITE; DELETE FROM staff", ["found 3", "ROLLBACK", "BEGIN", "DELETE"]),
    ("SELECT 1; SELECT 2", ["only one statement", "found 2", "one at a time"]),
    ("/* x */ COMMIT; DROP TABLE staff", ["only one statement", "COMMIT", "DROP TABLE"]),
    ("SELECT 'a'; -- ; \n DROP TABLE staff", ["only one statement", "DROP TABLE"]),
    # not a read-only statement
    ("CoMmIt", ["only read-only statements", "got COMMIT", "transaction control"]),
    ("-- c\nDROP TABLE staff", ["only read-only statements", "got DROP TABLE"]),
    ("SET TRANSACTION READ WRITE", ["only read-only statements", "got SET TRANSACTION", "settings"]),
    ("SET default_transaction_read_only = off", ["got SET default_transaction_read_only"]),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", ["got SET SESSION CHARACTERISTICS"]),
    ("RESET ALL", ["got RESET"]),
    ("SET ROLE postgres", ["got SET role"]),
    ("BEGIN", ["got BEGIN"]),
    ("START TRANSACTION READ WRITE", ["got START TRANSACTION"]),
    ("SAVEPOINT a", ["got SAVEPOINT"]),
    ("PREPARE TRANSACTION 'x'", ["got PREPARE TRANSACTION"]),
    ("COPY staff TO PROGRAM 'id'", ["only read-only statements", "got COPY"]),
    ("COPY (SELECT 1) TO '/tmp/x'", ["got COPY"]),
    ("DO $$BEGIN EXECUTE 'DROP TABLE staff'; END$$", ["only read-only statements", "got DO", "Procedural"]),
    ("CALL p()", ["got CALL"]),
    ("CREATE TABLE x AS SELECT 1", ["got CREATE TABLE AS"]),
    ("CREATE MATERIALIZED VIEW m AS SELECT 1", ["got CREATE MATERIALIZED VIEW"]),
    ("PREPARE p AS SELECT 1", ["got PREPARE", "parameters"]),
    ("EXECUTE p", ["got EXECUTE"]),
    ("DEALLOCATE ALL", ["got DEALLOCATE"]),
    ("LISTEN x", ["got LISTEN"]),
    ("NOTIFY x, 'y'", ["got NOTIFY"]),
    ("DISCARD ALL", ["got DISCARD"]),
    ("VACUUM staff", ["got VACUUM"]),
    ("ANALYZE staff", ["got ANALYZE"]),
    ("CHECKPOINT", ["got CHECKPOINT"]),
    ("LOAD 'plpgsql'", ["got LOAD"]),
    ("LOCK TABLE staff IN ACCESS EXCLUSIVE MODE", ["got LOCK"]),
    ("TRUNCATE staff", ["got TRUNCATE"]),
    ("INSERT INTO staff SELECT * FROM staff", ["got INSERT"]),
    ("UPDATE staff SET email = 'x'", ["got UPDATE"]),
    ("DELETE FROM staff", ["got DELETE"]),
    ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", ["got MERGE"]),
    ("ALTER SYSTEM SET fsync = off", ["got ALTER SYSTEM"]),
    ("GRANT ALL ON staff TO public", ["got GRANT"]),
    ("DECLARE c CURSOR FOR SELECT 1", ["got DECLARE CURSOR"]),
    ("FETCH ALL FROM c", ["got FETCH"]),
    ("REFRESH MATERIALIZED VIEW m", ["got REFRESH MATERIALIZED VIEW"]),
    ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", ["got CREATE FUNCTION"]),
    ("ALTER ROLE app SET default_transaction_read_only = off", ["got ALTER ROLE SET"]),
    # EXPLAIN of something else (EXPLAIN ANALYZE would run it)
    ("EXPLAIN ANALYZE DELETE FROM staff", ["EXPLAIN is allowed only of read-only", "EXPLAIN ANALYZE DELETE"]),
    ("EXPLAIN UPDATE staff SET x = 1", ["EXPLAIN is allowed only", "got EXPLAIN UPDATE"]),
    ("EXPLAIN (ANALYZE) CREATE TABLE x AS SELECT 1", ["EXPLAIN ANALYZE CREATE TABLE AS"]),
    ("EXPLAIN EXECUTE p", ["EXPLAIN EXECUTE"]),
    ("EXPLAIN SELECT * INTO x FROM y", ["SELECT ... INTO creates a table"]),
    # SELECT INTO, row locks, data-modifying WITH
    ("SELECT * INTO pwned FROM staff", ["SELECT ... INTO creates a table"]),
    ("SELECT * INTO TEMP pwned FROM staff", ["SELECT ... INTO"]),
    ("SELECT * FROM staff FOR UPDATE", ["FOR UPDATE takes row locks"]),
    ("SELECT * FROM staff FOR NO KEY UPDATE NOWAIT", ["FOR NO KEY UPDATE"]),
    ("SELECT * FROM staff FOR KEY SHARE SKIP LOCKED", ["FOR KEY SHARE"]),
    ("WITH x AS (SELECT 1 FROM staff FOR SHARE) SELECT * FROM x", ["FOR SHARE takes row locks"]),
    ("SELECT * FROM (SELECT * FROM staff FOR UPDATE) s", ["FOR UPDATE"]),
    ("SELECT * FROM t WHERE id IN (SELECT id FROM u FOR UPDATE OF u)", ["FOR UPDATE"]),
    ("SELECT 1 UNION (SELECT 2 FROM t FOR UPDATE)", ["FOR UPDATE"]),
    ("EXPLAIN ANALYZE SELECT * FROM staff FOR UPDATE", ["FOR UPDATE"]),
    ("WITH d AS (DELETE FROM staff RETURNING *) SELECT * FROM d", ["data-modifying", "DELETE in WITH d"]),
    ("WITH i AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1", ["data-modifying", "INSERT in WITH i"]),
    ("WITH u AS (UPDATE t SET x = 1 RETURNING *) TABLE u", ["UPDATE in WITH u"]),
    (
        "WITH a AS (WITH b AS (UPDATE t SET x = 1 RETURNING 1) SELECT * FROM b) SELECT * FROM a",
        ["data-modifying", "UPDATE in WITH b"],
    ),
    (
        "SELECT * FROM (WITH m AS (MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE RETURNING 1) "
        "SELECT * FROM m) z",
        ["data-modifying", "MERGE in WITH m"],
    ),
    ("EXPLAIN ANALYZE WITH d AS (DELETE FROM staff RETURNING 1) SELECT 1", ["DELETE in WITH d"]),
    # denied functions, anywhere in the tree, however they are spelled
    (
        "SELECT set_config('default_transaction_read_only','off',false)",
        ["function set_config() is not allowed", "session settings"],
    ),
    ("SELECT * FROM pg_read_file('/etc/passwd')", ["function pg_read_file() is not allowed", "server"]),
    ("SELECT pg_catalog.pg_read_file('x')", ["function pg_catalog.pg_read_file() is not allowed"]),
    ("SELECT mydb.pg_catalog.pg_read_file('x')", ["pg_read_file() is not allowed"]),
    ("SELECT \"pg_read_file\"('/etc/passwd')", ["function pg_read_file() is not allowed"]),
    ("SELECT \"PG_READ_FILE\"('/etc/passwd')", ["function PG_READ_FILE() is not allowed"]),
    ("SELECT U&\"\\0070g_read_file\"('/etc/passwd')", ["function pg_read_file() is not allowed"]),
    ("SELECT PG_READ_BINARY_FILE('x')", ["pg_read_binary_file() is not allowed", "files"]),
    ("SELECT pg_ls_dir('.')", ["function pg_ls_dir() is not allowed", "files"]),
    ("SELECT * FROM pg_ls_waldir()", ["pg_ls_waldir()"]),
    ("SELECT pg_stat_file('postgresql.conf')", ["pg_stat_file()"]),
    ("SELECT lo_import('/etc/passwd')", ["function lo_import() is not allowed", "large objects"]),
    ("SELECT lo_export(1, '/tmp/x')", ["lo_export()"]),
    ("SELECT lo_from_bytea(0, 'x'), lowrite(0, 'x')", ["lo_from_bytea()", "lowrite()"]),
    ("SELECT nextval('staff_id_seq')", ["function nextval() is not allowed", "last_value"]),
    ("SELECT setval('s', 1), currval('s'), lastval()", ["setval()", "currval()", "lastval()"]),
    (
        "SELECT query_to_xml('DELETE FROM staff RETURNING 1', true, true, '')",
        ["function query_to_xml() is not allowed", "runs SQL passed to it as text"],
    ),
    ("SELECT query_to_xml_and_xmlschema('SELECT 1', true, true, '')", ["query_to_xml_and_xmlschema()"]),
    ("SELECT table_to_xml('staff', true, true, ''), cursor_to_xml('c', 1, true, true, '')", ["table_to_xml"]),
    ("SELECT schema_to_xml('public', true, true, ''), database_to_xml(true, true, '')", ["schema_to_xml()"]),
    ("SELECT ts_stat('SELECT vector FROM docs')", ["ts_stat()", "SQL passed to it as text"]),
    ("SELECT ts_rewrite('a'::tsquery, 'SELECT t, s FROM aliases')", ["ts_rewrite()"]),
    ("SELECT * FROM crosstab('SELECT 1, 2, 3') AS c(a int, b int)", ["crosstab()", "FILTER"]),
    ("SELECT dblink_exec('host=x', 'DROP TABLE staff')", ["function dblink_exec() is not allowed", "other"]),
    ("SELECT * FROM dblink('host=x', 'SELECT 1') AS t(x int)", ["dblink()"]),
    ("SELECT pg_terminate_backend(1), pg_cancel_backend(2)", ["pg_terminate_backend()", "administration"]),
    ("SELECT pg_reload_conf()", ["pg_reload_conf()"]),
    ("SELECT pg_advisory_lock(1)", ["pg_advisory_lock()", "advisory locks"]),
    ("SELECT pg_try_advisory_xact_lock_shared(1)", ["pg_try_advisory_xact_lock_shared()"]),
    ("SELECT txid_current()", ["txid_current()", "assigns a transaction ID"]),
    ("SELECT pg_current_xact_id()", ["pg_current_xact_id()"]),
    ("SELECT pg_notify('c', 'x')", ["pg_notify()", "notifications"]),
    ("SELECT pg_logical_emit_message(true, 'p', 'x')", ["pg_logical_emit_message()", "write-ahead log"]),
    ("SELECT pg_create_logical_replication_slot('s', 'pgoutput')", ["pg_create_logical_replication_slot()"]),
    ("SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)", ["pg_logical_slot_get_changes()"]),
    ("SELECT pg_switch_wal(), pg_promote()", ["pg_switch_wal()", "pg_promote()"]),
    ("SELECT pg_file_write('x', 'y', false)", ["pg_file_write()", "writes files"]),
    ("SELECT pg_stat_reset(), pg_stat_statements_reset()", ["pg_stat_reset()", "pg_stat_statements_reset()"]),
    ("SELECT pg_restore_relation_stats('relation', 'staff')", ["pg_restore_relation_stats()", "statistics"]),
    ("SELECT gin_clean_pending_list('i'::regclass)", ["gin_clean_pending_list()", "index"]),
    ("SELECT pg_prewarm('staff')", ["pg_prewarm()"]),
    ("SELECT setseed(0.5)", ["setseed()"]),
    # nested places
    ("SELECT (SELECT nextval('s'))", ["nextval()"]),
    ("SELECT * FROM staff WHERE id IN (SELECT pg_advisory_lock(1))", ["pg_advisory_lock()"]),
    (
        "SELECT * FROM generate_series(1,2) g, LATERAL (SELECT dblink_exec('x','y')) z",
        ["dblink_exec()"],
    ),
    ("SELECT lower(pg_read_file('x'))", ["pg_read_file()"]),
    ("SELECT * FROM t ORDER BY nextval('s')", ["nextval()"]),
    ("SELECT a FROM t GROUP BY a, nextval('s')", ["nextval()"]),
    ("SELECT a FROM t GROUP BY a HAVING count(*) > currval('s')", ["currval()"]),
    ("SELECT sum(x) OVER (ORDER BY nextval('s')) FROM t", ["nextval()"]),
    ("SELECT sum(x) OVER w FROM t WINDOW w AS (PARTITION BY setval('s', 1))", ["setval()"]),
    ("SELECT count(*) FILTER (WHERE set_config('a.b', 'c', false) IS NULL) FROM t", ["set_config()"]),
    ("SELECT * FROM a JOIN b ON pg_sleep(1) IS NULL AND currval('s') > 0", ["currval()"]),
    ("VALUES (nextval('s'))", ["nextval()"]),
    ("SELECT CASE WHEN true THEN set_config('a','b',false) END", ["set_config()"]),
    ("SELECT * FROM ROWS FROM (generate_series(1,2), pg_ls_dir('.')) r", ["pg_ls_dir()"]),
    ("SELECT x FROM t LIMIT (SELECT nextval('s'))", ["nextval()"]),
    ("WITH a AS (SELECT lo_import('/etc/passwd')) SELECT * FROM a", ["lo_import()"]),
    ("SELECT json_build_object('a', nextval('s'))", ["nextval()"]),
    ("SELECT * FROM t TABLESAMPLE SYSTEM (nextval('s'))", ["nextval()"]),
    ("SELECT array_agg(x ORDER BY nextval('s')) FROM t", ["nextval()"]),
    ("EXPLAIN ANALYZE SELECT nextval('s')", ["nextval()"]),
    ("SELECT 1 UNION SELECT pg_advisory_lock(2)", ["pg_advisory_lock()"]),
    ("SELECT $1 FROM t WHERE x = pg_read_file($2)", ["pg_read_file()"]),
    # volatile functions from the catalog
    ("SELECT public.bump_counter()", ["function public.bump_counter() is VOLATILE", "allowed_functions"]),
    ("SELECT bump_counter()", ["function bump_counter() is VOLATILE"]),
    ("SELECT * FROM staff WHERE audit.log_access(id) IS NOT NULL", ["audit.log_access() is VOLATILE"]),
    ("SELECT pg_export_snapshot()", ["pg_export_snapshot() is VOLATILE"]),
    ("SELECT s.log_access FROM staff s", ["s.log_access", "attribute notation", "log_access()"]),
    ("SELECT (s).log_access FROM staff s", ["log_access", "attribute notation"]),
    # not one statement, or not SQL
    ("", ["no SQL statement found"]),
    ("   \n\t ", ["no SQL statement found"]),
    ("-- just a comment", ["no SQL statement found"]),
    ("/* SELECT 1 */", ["no SQL statement found"]),
    (";", ["no SQL statement found"]),
    ("SELECT 1\x00; DROP TABLE x", ["NUL character"]),
    ("SELECT * FORM staff", ["could not be parsed", 'syntax error at or near "FORM"', "line 1, column 10"]),
    ("SELECT a,\n  b\nFROM t WHERE x = = 1", ["could not be parsed", "line 3, column 18", "WHERE x = = 1"]),
    ("SELECT 'unterminated", ["could not be parsed", "unterminated quoted string", "line 1, column 8"]),
    ("DROP TABLE staff CASCADE; SELEC 1", ["could not be parsed", "SELEC"]),
    ("SELECT 1; DROP TABLE staff", ["only one statement", "DROP TABLE is not allowed at all"]),
]


@pytest.mark.parametrize(("sql", "expected"), REFUSED)
def test_refused(sql: str, expected: list[str]) -> None:
    message = refused(sql)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize(
    "sql",
    [
        "COMMIT; DROP TABLE staff",
        "SET TRANSACTION READ WRITE",
        "SELECT set_config('default_transaction_read_only','off',false)",
        "SELECT * FROM pg_read_file('/etc/passwd')",
        "SELECT nextval('staff_id_seq')",
        "SELECT pg_advisory_lock(1)",
        "SELECT query_to_xml('DELETE FROM staff RETURNING 1', true, true, '')",
        "WITH d AS (DELETE FROM staff RETURNING *) SELECT * FROM d",
        "SELECT * FROM staff FOR UPDATE",
    ],
)
def test_refused_without_catalog(sql: str) -> None:
    """The deny list and statement rules hold with an empty volatile set (catalog not loaded)."""
    with pytest.raises(RefusedError):
        check_sql(sql)


def test_every_refusal_is_a_refused_error_with_code() -> None:
    with pytest.raises(RefusedError) as info:
        check_sql("DELETE FROM staff")
    assert info.value.code == "refused"
    assert str(info.value) == info.value.message


def test_several_bad_functions_are_reported_together() -> None:
    message = refused("SELECT pg_read_file('x'), nextval('s'), public.bump_counter()")
    assert "pg_read_file()" in message
    assert "nextval()" in message
    assert "public.bump_counter()" in message


# --------------------------------------------------------------------------------------------------
# The volatile rule and its allow-lists
# --------------------------------------------------------------------------------------------------


def test_volatile_functions_pass_without_catalog() -> None:
    assert check_sql("SELECT public.bump_counter()").functions == frozenset({"public.bump_counter"})


@pytest.mark.parametrize("allowed", [["bump_counter"], ["public.bump_counter"], ["PUBLIC.Bump_Counter"]])
def test_allowed_functions_lift_the_volatile_rule(allowed: list[str]) -> None:
    checked = check("SELECT public.bump_counter(), bump_counter()", allowed_functions=allowed)
    assert checked.functions == frozenset({"public.bump_counter", "bump_counter"})


def test_allowed_functions_lift_attribute_notation() -> None:
    assert check("SELECT s.log_access FROM staff s", allowed_functions=["log_access"]).kind == "select"


def test_qualified_allowance_does_not_cover_other_schemas() -> None:
    message = refused("SELECT other.bump_counter()", allowed_functions=["public.bump_counter"])
    assert "other.bump_counter() is VOLATILE" in message


@pytest.mark.parametrize("sql", ["SELECT pg_read_file('x')", "SELECT nextval('s')", "SELECT dblink('a','b')"])
def test_allowed_functions_never_lift_the_deny_list(sql: str) -> None:
    message = refused(sql, allowed_functions=["pg_read_file", "pg_catalog.pg_read_file", "nextval", "dblink"])
    assert "is not allowed" in message


def test_volatile_set_may_be_any_collection() -> None:
    message = refused("SELECT bump_counter()", volatile_functions=["bump_counter"])
    assert "bump_counter() is VOLATILE" in message


def test_allow_list_does_not_overlap_deny_list() -> None:
    for name in ALLOWED_VOLATILE_FUNCTIONS:
        assert denied_reason(name) is None, name


@pytest.mark.parametrize(
    "name",
    [
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_ls_logdir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "lo_create",
        "lo_creat",
        "lo_unlink",
        "lo_put",
        "lo_from_bytea",
        "lo_open",
        "lowrite",
        "lo_truncate",
        "lo_truncate64",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "dblink_send_query",
        "set_config",
        "nextval",
        "setval",
        "currval",
        "lastval",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_advisory_lock",
        "pg_advisory_xact_lock_shared",
        "pg_advisory_unlock_all",
        "pg_try_advisory_lock",
        "txid_current",
        "pg_current_xact_id",
        "pg_notify",
        "query_to_xml",
        "query_to_xml_and_xmlschema",
        "query_to_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "table_to_xml",
        "table_to_xml_and_xmlschema",
        "schema_to_xml",
        "database_to_xml",
        "database_to_xmlschema",
        "pg_logical_emit_message",
        "pg_create_physical_replication_slot",
        "pg_create_logical_replication_slot",
        "pg_drop_replication_slot",
        "pg_switch_wal",
        "pg_promote",
        "pg_file_write",
        "pg_file_unlink",
        "pg_import_system_collations",
        "pg_backup_start",
        "pg_backup_stop",
        "pg_create_restore_point",
        "pg_log_backend_memory_contexts",
        "pg_stat_reset",
        "pg_stat_reset_shared",
        "pg_stat_statements_reset",
        "pg_prewarm",
        "binary_upgrade_set_next_pg_type_oid",
        "pg_replication_origin_create",
        "pg_background_launch",
    ],
)
def test_deny_list_covers(name: str) -> None:
    assert denied_reason(name) is not None
    assert f"{name}()" in refused(f"SELECT {name}()", volatile_functions=frozenset())


# --------------------------------------------------------------------------------------------------
# Robustness and speed
# --------------------------------------------------------------------------------------------------

TYPICAL = """
WITH monthly AS (
    SELECT date_trunc('month', o.created_at) AS month,
           s.region,
           count(*) FILTER (WHERE o.status = 'done') AS done,
           sum(o.amount) AS revenue,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY o.amount) AS median_amount
    FROM orders o
    JOIN staff s ON s.id = o.staff_id
    LEFT JOIN LATERAL (SELECT max(e.at) AS last_event FROM events e WHERE e.order_id = o.id) le ON true
    WHERE o.created_at >= now() - interval '1 year'
      AND o.region_id IN (SELECT id FROM regions WHERE active)
    GROUP BY ROLLUP (1, 2)
)
SELECT month, region, done, revenue,
       revenue - lag(revenue) OVER (PARTITION BY region ORDER BY month) AS delta,
       rank() OVER w AS rnk,
       jsonb_build_object('m', month, 'r', revenue) ->> 'm' AS j
FROM monthly
WINDOW w AS (PARTITION BY month ORDER BY revenue DESC)
ORDER BY month, region NULLS LAST
LIMIT 100
"""


def test_typical_query_is_fast() -> None:
    volatile = VOLATILE | frozenset(f"ext.f{i}" for i in range(5000))
    check_sql(TYPICAL, volatile_functions=volatile)  # warm the per-set cache
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        check_sql(TYPICAL, volatile_functions=volatile)
    per_call = (time.perf_counter() - start) / runs
    assert per_call < 0.005, f"{per_call * 1e6:.0f} µs per check"  # measured ≈ 0.2 ms; generous for CI


def test_typical_query_checks() -> None:
    checked = check(TYPICAL)
    assert checked.kind == "select"
    assert {
        "date_trunc",
        "count",
        "percentile_cont",
        "lag",
        "rank",
        "jsonb_build_object",
    } <= checked.functions
    assert checked.relations == frozenset({"orders", "staff", "events", "regions"})


@pytest.mark.parametrize("terms", [600, 3000])
def test_very_deep_trees_are_still_checked(terms: int) -> None:
    chain = " + ".join(f"c{i}" for i in range(terms))
    assert check(f"SELECT {chain} FROM t").kind == "select"
    assert "nextval()" in refused(f"SELECT {chain} + nextval('s') FROM t")
    nested = "SELECT " + "(SELECT " * 300 + "pg_read_file('x')" + ")" * 300
    assert "pg_read_file()" in refused(nested)


@pytest.mark.parametrize(
    "sql",
    [
        TYPICAL,
        'SELECT \'a"b\\\\c\u00e9\n\', U&"d\\0061t", $$x"y\\$$, -1.5e3, true, null, \'{}[],:\' FROM "t""x"',
    ],
)
def test_iterative_json_decoder_matches_json_loads(sql: str) -> None:
    text = parser.parse_sql_json(sql)
    assert _loads_iterative(text, lambda d: d) == json.loads(text)
