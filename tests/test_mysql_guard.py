"""The MySQL guard on its own (no server): what it lets through and what it refuses, and why."""

from __future__ import annotations

import pytest

from vf_mcp.db.mysql.guard import check_mysql_sql, placeholder_count, placeholders_to_qmark
from vf_mcp.errors import InvalidArgumentError, RefusedError

ALLOWED = [
    ("SELECT 1", "select"),
    ("select * from Track where Name = 'into outfile @x; drop table t'", "select"),  # text in a string is text
    ("SELECT `into`, `select` FROM t", "select"),
    ("WITH a AS (SELECT 1 AS x) SELECT * FROM a", "select"),
    ("(SELECT 1) UNION ALL (SELECT 2)", "select"),
    ("SELECT 1;", "select"),
    ("SELECT JSON_EXTRACT(j, '$.a'), DATE_FORMAT(d, '%Y-%m') FROM t", "select"),
    ("SELECT Email FROM Customer WHERE Email LIKE '%@gmail.com'", "select"),
    ("SELECT COUNT(*) FROM t -- a comment\n", "select"),
    ("SELECT COUNT(*) FROM t # a comment", "select"),
    ("SHOW TABLES", "show"),
    ("SHOW FULL COLUMNS FROM Track", "show"),
    ("SHOW CREATE TABLE Track", "show"),
    ("SHOW INDEX FROM Track", "show"),
    ("SHOW TABLES LIKE 'Inv%'", "show"),
    ("DESCRIBE Track", "explain"),
    ("DESC Track", "explain"),
    ("EXPLAIN SELECT * FROM Track", "explain"),
    ("EXPLAIN FORMAT=JSON SELECT * FROM Track", "explain"),
]

REFUSED = [
    ("SELECT 1; SELECT 2", "2 statements"),
    ("SELECT 1; DROP TABLE t", "2 statements"),
    ("/*!50000 DROP TABLE t */", "executable comments"),
    ("SELECT 1 /*!50000 , SLEEP(10) */", "executable comments"),
    ("SELECT 1 /*M!100000 , SLEEP(10) */", "executable comments"),
    ("SELECT /*+ MAX_EXECUTION_TIME(0) */ 1", "optimizer hints"),
    ("SELECT /*+ SET_VAR(sql_mode='') */ 1", "optimizer hints"),
    ("SELECT * FROM t INTO OUTFILE '/tmp/x'", "INTO"),
    ("SELECT 'x' INTO DUMPFILE '/tmp/x'", "INTO"),
    ("SELECT 1 INTO @v", "variables"),
    ("SELECT @x := 1", "variables"),
    ("SELECT @@global.secure_file_priv", "variables"),
    ("SELECT LOAD_FILE('/etc/passwd')", "LOAD_FILE"),
    ("SELECT load_file ('/etc/passwd')", "LOAD_FILE"),
    ("SELECT GET_LOCK('a', 0)", "GET_LOCK"),
    ("SELECT RELEASE_ALL_LOCKS()", "RELEASE_ALL_LOCKS"),
    ("SELECT SLEEP(5)", "SLEEP"),
    ("SELECT BENCHMARK(1e9, MD5('x'))", "BENCHMARK"),
    ("SELECT MASTER_POS_WAIT('f', 4)", "MASTER_POS_WAIT"),
    ("SELECT NEXTVAL(s)", "NEXTVAL"),
    ("SELECT * FROM (SELECT SLEEP(1)) x", "SLEEP"),
    ("SELECT * FROM t WHERE id IN (SELECT GET_LOCK('a', 0))", "GET_LOCK"),
    ("SELECT * FROM t FOR UPDATE", "FOR UPDATE"),
    ("SELECT * FROM t FOR SHARE", "FOR UPDATE / FOR SHARE"),
    ("SELECT * FROM t LOCK IN SHARE MODE", "LOCK IN SHARE MODE"),
    ("SELECT mydb.f(1)", "schema-qualified"),
    ("SELECT my_udf(1)", "stored function"),
    ("SELECT * FROM mysql.user", "mysql schema"),
    ("SELECT * FROM performance_schema.events_statements_history", "performance_schema"),
    ("SELECT * FROM sys.session", "sys schema"),
    ("SELECT * FROM information_schema.PROCESSLIST", "processlist"),
    ("SHOW PROCESSLIST", "allow-list"),
    ("SHOW TABLES WHERE (SELECT COUNT(*) FROM mysql.user) > 0", "SHOW ... WHERE"),
    ("SHOW VARIABLES WHERE SLEEP(1)", "SLEEP"),
    ("SHOW GRANTS", "allow-list"),
    ("SHOW ENGINE INNODB STATUS", "allow-list"),
    ("EXPLAIN FOR CONNECTION 5", "other sessions"),
    ("EXPLAIN ANALYZE SELECT 1", "runs the statement"),
    ("EXPLAIN DELETE FROM t", "EXPLAIN/DESCRIBE"),
    ("SET @a = 1", "SET statements"),
    ("SET SESSION max_statement_time = 0", "SET statements"),
    ("SET STATEMENT max_statement_time=0 FOR SELECT 1", "SET statements"),
    ("SET NAMES latin1", "SET statements"),
    ("USE mysql", "USE statements"),
    ("HANDLER t OPEN", "HANDLER statements"),
    ("KILL 5", "KILL statements"),
    ("XA START 'x'", "XA statements"),
    ("LOCK TABLES t WRITE", "LOCK TABLES statements"),
    ("DO SLEEP(1)", "DO statements"),
    ("CALL p()", "CALL statements"),
    ("CREATE TABLE t (a INT)", "CREATE statements"),
    ("CREATE TEMPORARY TABLE t (a INT)", "CREATE statements"),
    ("DROP TABLE t", "DROP statements"),
    ("INSERT INTO t VALUES (1)", "INSERT statements"),
    ("LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE t", "LOAD statements"),
    ("PREPARE s FROM 'DROP TABLE t'", "PREPARE statements"),
    ("GRANT ALL ON *.* TO x", "GRANT statements"),
    ("INSTALL SONAME 'x'", "INSTALL statements"),
    ("SHUTDOWN", "SHUTDOWN statements"),
    ("FLUSH TABLES", "FLUSH statements"),
    ("WITH x AS (SELECT 1) DELETE FROM t", "not allowed"),
    ("", "no statement"),
]


@pytest.mark.parametrize(("sql", "kind"), ALLOWED)
def test_allowed(sql: str, kind: str) -> None:
    assert check_mysql_sql(sql).kind == kind


@pytest.mark.parametrize(("sql", "why"), REFUSED)
def test_refused(sql: str, why: str) -> None:
    with pytest.raises(RefusedError) as err:
        check_mysql_sql(sql, stored_functions={"my_udf"})
    assert why.lower() in err.value.message.lower()
    assert err.value.message.startswith("Refused:") and "\n" not in err.value.message


def test_allowed_functions_lift_stored_functions_only() -> None:
    assert check_mysql_sql("SELECT my_udf(1)", stored_functions={"my_udf"}, allowed_functions=("my_udf",))
    with pytest.raises(RefusedError):
        check_mysql_sql("SELECT SLEEP(1)", allowed_functions=("sleep",))  # the deny-list is not negotiable


def test_placeholders() -> None:
    assert placeholders_to_qmark("SELECT $2, $1, '$3' FROM t", [1, 2]) == ("SELECT ?, ?, '$3' FROM t", [2, 1])
    assert placeholders_to_qmark("SELECT ? FROM t", [1]) == ("SELECT ? FROM t", [1])
    assert placeholder_count("SELECT $1, $2, $1") == 2 and placeholder_count("SELECT '?', ?") == 1
    with pytest.raises(InvalidArgumentError):
        placeholders_to_qmark("SELECT $1, ?", [1, 2])
    with pytest.raises(InvalidArgumentError):
        placeholders_to_qmark("SELECT $2", [1])
