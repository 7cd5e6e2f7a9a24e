"""check_data_quality on MariaDB: every fix suggestion is MySQL. Each suggested query runs on the real server
and finds the rows the finding counts; each suggested change parses with sqlglot's MySQL dialect and is
applied to a throw-away copy of the database (after the offending rows are removed, as the suggestion says);
the phone usual-length rule is compared with hand-written SQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from tests.helpers import call, mcp_client
from tests.mysql_server import MariaDb, admin_sql

pytestmark = pytest.mark.anyio

DB, COPY = "vf_dq", "vf_dq_copy"
ROWS = 200
STATUSES = ["Active", "active", "ACTIVE", "closed", "in-progress", "in progress", "closed", "closed"]


def _client_row(i: int) -> str:
    """One row of `clients`: planted defects at known positions (row 200 repeats row 199 but for its id)."""
    j = 199 if i == ROWS else i
    email = "NULL" if j % 11 == 0 else ("'not-an-email'" if j % 25 == 0 else f"'user{j}@example.com'")
    if j % 10 == 0:
        phone = "NULL"
    elif j % 37 == 0:
        phone = "'12'"  # not 7-15 digits
    elif j % 23 == 0:
        phone = "'+27 21 555 12'"  # usual code, odd length (7)
    elif j % 41 == 0:
        phone = "'021 5551'"  # national, odd length (6)
    elif j % 19 == 0:
        phone = "'+1 (212) 555-0100'"  # another country: not judged by length
    elif j % 3 == 0:
        phone = f"'021 555 {j:04d}'"  # national, 9 digits after the 0
    else:
        phone = f"'+27 21 555 {j:04d}'"  # the usual: +27 and 9 digits
    qty = -3 if j % 50 == 0 else j
    created = {7: "'1850-01-01 00:00:00'", 8: "'2099-01-01 00:00:00'"}.get(j, f"NOW() - INTERVAL {j} HOUR")
    amount = 1_000_000.0 if j == 100 else j * 1.5
    region = 99 if j % 45 == 0 else (j % 5) + 1
    status = STATUSES[j % len(STATUSES)]
    return f"({i}, {email}, {phone}, '{status}', {qty}, 'S{j:04d}', {amount}, {created}, {region})"


async def build(server: MariaDb) -> None:
    await admin_sql(server, f"DROP DATABASE IF EXISTS `{DB}`")
    await admin_sql(server, f"CREATE DATABASE `{DB}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    await admin_sql(server, "CREATE TABLE regions (region_id INT PRIMARY KEY, name VARCHAR(40)) ENGINE=InnoDB", DB)
    regions = ", ".join(f"({k}, {'NULL' if k == 3 else repr(f'Region {k}')})" for k in range(1, 6))
    await admin_sql(server, f"INSERT INTO regions VALUES {regions}", DB)
    await admin_sql(
        server,
        "CREATE TABLE clients (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(80), phone VARCHAR(30), "
        "status VARCHAR(20), quantity INT, signup_code VARCHAR(20), amount DOUBLE, created_at DATETIME, "
        "region_id INT) ENGINE=InnoDB",
        DB,
    )
    values = ", ".join(_client_row(i) for i in range(1, ROWS + 1))
    await admin_sql(server, f"INSERT INTO clients VALUES {values}", DB)
    await admin_sql(server, "CREATE TABLE old_events (id INT PRIMARY KEY, created_at DATETIME) ENGINE=InnoDB", DB)
    events = ", ".join(f"({k}, '2020-01-{k:02d} 10:00:00')" for k in range(1, 21))
    await admin_sql(server, f"INSERT INTO old_events VALUES {events}", DB)


async def copy_database(server: MariaDb) -> None:
    await admin_sql(server, f"DROP DATABASE IF EXISTS `{COPY}`")
    await admin_sql(server, f"CREATE DATABASE `{COPY}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    for table in ("regions", "clients", "old_events"):
        await admin_sql(server, f"CREATE TABLE `{COPY}`.`{table}` LIKE `{DB}`.`{table}`")
        await admin_sql(server, f"INSERT INTO `{COPY}`.`{table}` SELECT * FROM `{DB}`.`{table}`")


_STATEMENT = re.compile(r"(?:^|: |then )((?:SELECT|ALTER TABLE|UPDATE) .*)$")


def statements(recommendation: str) -> list[str]:
    """The SQL statements of a suggestion ("prose; statement; prose, then statement")."""
    found = []
    for part in recommendation.split("; "):
        m = _STATEMENT.search(part)
        if m:
            found.append(m.group(1))
    return found


def parses_as_mysql(sql: str) -> exp.Expression:
    """sqlglot's MySQL dialect reads the statement as a real statement (not its 'unsupported' fallback)."""
    tree = sqlglot.parse_one(sql, read="mysql", error_level=sqlglot.ErrorLevel.RAISE)
    assert not isinstance(tree, exp.Command), sql
    return tree


async def report(server: MariaDb) -> dict[str, Any]:
    await build(server)
    async with mcp_client(server.dsn(DB)) as client:
        out = await call(client, "check_data_quality")
    return out


def finding_list(out: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(t["table"], f) for t in out["tables"] for f in t["findings"]]


async def test_suggested_queries_run_and_find_the_counted_rows(mariadb: MariaDb) -> None:
    out = await report(mariadb)
    found = finding_list(out)
    assert not [f for _, f in found if f["type"] == "error" or "check failed" in f["description"]]
    kinds = set()
    for _table, f in found:
        rec = f["recommendation"]
        assert '"' not in rec and "::" not in rec and "!~" not in rec and "NOT VALID" not in rec, rec
        for sql in statements(rec):
            tree = parses_as_mysql(sql)
            if not isinstance(tree, exp.Select):
                continue
            rows = await admin_sql(mariadb, sql, DB)  # runs unchanged on the real server
            kinds.add((f["type"], f.get("column")))
            text = f["description"]
            if "GROUP BY" in sql:  # duplicates: one row per repeated value or row group
                assert rows and all(r[-1] > 1 for r in rows)
                extra = sum(r[-1] - 1 for r in rows)
                assert extra == f["affected_rows"], (sql, rows)
            elif "max(" in sql:  # freshness: the newest value
                assert len(rows) == 1 and rows[0][0] is not None
            elif "phone" in sql and "digits long" in text:  # the query shows the malformed numbers only
                assert 0 < len(rows) < f["affected_rows"]  # the odd lengths: test_phone_usual_length_matches_sql
            else:
                assert len(rows) == f["affected_rows"], (sql, len(rows), f)
    assert {k for k, _ in kinds} >= {"completeness", "consistency", "duplicates", "outliers", "freshness",
                                      "referential_integrity"}  # fmt: skip
    columns = {c for _, c in kinds}
    assert {"email", "phone", "quantity", "created_at", "signup_code", "amount", "region_id"} <= columns


async def test_suggested_changes_apply_on_a_copy(mariadb: MariaDb) -> None:
    out = await report(mariadb)
    await copy_database(mariadb)
    applied: list[str] = []
    for _table, f in finding_list(out):
        stmts = [s.replace(f"`{DB}`.", f"`{COPY}`.") for s in statements(f["recommendation"])]
        changes = [s for s in stmts if not isinstance(parses_as_mysql(s), exp.Select)]
        if not changes:
            continue
        for sql in stmts:  # first remove the rows the suggestion's query shows ("correct them, then ...")
            tree = parses_as_mysql(sql)
            if isinstance(tree, exp.Select) and "WHERE" in sql and "GROUP BY" not in sql:
                head, where = sql.split(" WHERE ", 1)
                table = head.split(" FROM ", 1)[1]
                alias = table.split(" ")[1] if " " in table else ""
                await admin_sql(mariadb, f"DELETE {alias} FROM {table} WHERE {where}", COPY)
            elif isinstance(tree, exp.Select) and "GROUP BY 1" in sql:  # a repeated key: keep the first row
                col = sql.split(" ")[1].rstrip(",")
                table = sql.split(" FROM ", 1)[1].split(" ")[0]
                await admin_sql(
                    mariadb,
                    f"DELETE a FROM {table} a JOIN {table} b ON a.{col} = b.{col} AND a.`id` > b.`id`",
                    COPY,
                )
        for sql in changes:
            await admin_sql(mariadb, sql, COPY)
            applied.append(sql)
    kinds = " | ".join(applied)
    assert "ADD CONSTRAINT" in kinds and "CHECK" in kinds and "ADD UNIQUE" in kinds
    assert "ADD FOREIGN KEY" in kinds and "ADD COLUMN created_at" in kinds and "UPDATE" in kinds
    # what the changes did, read back from the copy's catalog and data
    checks = await admin_sql(
        mariadb,
        "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s",
        params=(COPY,),
    )
    assert any("quantity" in c[0] for c in checks)
    fks = await admin_sql(
        mariadb,
        "SELECT TABLE_NAME, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS "
        "WHERE CONSTRAINT_SCHEMA = %s",
        params=(COPY,),
    )
    assert ("clients", "regions") in {tuple(r) for r in fks}
    (stray,) = (
        await admin_sql(
            mariadb,
            "SELECT COUNT(DISTINCT CAST(status AS BINARY)) - COUNT(DISTINCT LOWER(REPLACE(status, '-', ' '))) "
            "FROM clients",
            COPY,
        )
    )[0]
    assert stray == 0  # every spelling group now has one spelling
    cols = await admin_sql(
        mariadb,
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'regions'",
        params=(COPY,),
    )
    assert {"created_at", "updated_at"} <= {c[0] for c in cols}
    await admin_sql(mariadb, f"DROP DATABASE `{COPY}`")


async def test_phone_usual_length_matches_sql(mariadb: MariaDb) -> None:
    await build(mariadb)
    async with mcp_client(mariadb.dsn(DB)) as client:
        out = await call(client, "check_data_quality", {"table_name": "clients", "checks": ["consistency"]})
    (table,) = out["tables"]
    (phone,) = [f for f in table["findings"] if f.get("column") == "phone"]
    # hand-written: strip separators; judge national numbers (leading 0) and the most common country code's
    stripped = "REGEXP_REPLACE(phone, '[ ().-]', '')"
    (bad, national_odd, coded_odd, usual_code, usual_length) = (
        await admin_sql(
            mariadb,
            "SELECT SUM(p NOT REGEXP '^[+]?[0-9]{7,15}$'), "
            "SUM(p REGEXP '^0[0-9]+$' AND CHAR_LENGTH(p) - 1 <> 9), "
            "SUM(p REGEXP '^[+]27[0-9]+$' AND CHAR_LENGTH(p) - 3 <> 9 AND CHAR_LENGTH(p) BETWEEN 7 AND 16), "
            "(SELECT SUBSTRING(x, 2, 2) FROM (SELECT " + stripped + " AS x FROM clients) c WHERE x LIKE '+%' "
            "GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1), "
            "(SELECT CHAR_LENGTH(x) - 3 FROM (SELECT " + stripped + " AS x FROM clients) c WHERE x LIKE '+27%' "
            f"GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1) FROM (SELECT {stripped} AS p FROM clients) t",
            DB,
        )
    )[0]
    assert (usual_code, usual_length) == ("27", 9)
    assert bad == 5 and national_odd == 4 and coded_odd == 8  # the fixture's plan, counted by the server
    assert phone["affected_rows"] == bad + national_odd + coded_odd
    assert "not 9 digits long" in phone["description"] and "e.g. '12'" in phone["description"]
    async with mcp_client(mariadb.dsn(DB), large_table_rows=50, stats_sample_rows=120) as client:
        sampled = await call(client, "check_data_quality", {"table_name": "clients"})
    (table,) = sampled["tables"]
    assert table["exact"] is False and 0 < table["sample_size"] < ROWS  # the same statements on a RAND(42) sample
    assert not [f for f in table["findings"] if "check failed" in f["description"]]
