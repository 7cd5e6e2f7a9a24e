"""Personal data on MySQL/MariaDB cannot be side-stepped: aliases, expressions, sub-queries, CTEs, set operations,
views, tools, exports and error messages never leak it (the PostgreSQL attacks of test_pii_attacks.py, on a real
MariaDB with Chinook loaded into its own database).

Each attack runs through a real MCP client on a server with masking on (mask mode). The original values are read
independently (an admin connection, hand-written SQL); no value, nor its upper / lower / reversed / hex / base64
form, nor any 4-character piece of a name or of an email's local part, may appear in the structured content,
the text, the export files, the audit log or the server log. Non-personal columns are compared with hand-written
SQL: masking leaves them as they are.
"""

from __future__ import annotations

import base64
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from mcp import Client

from tests.helpers import call
from tests.mysql_server import MariaDb, admin_sql, load_chinook
from vf_mcp.db.lineage import QueryLineage
from vf_mcp.db.mysql.lineage import MyTables, aligned, analyze_mysql, with_origin
from vf_mcp.db.mysql.masking import without_mysql_values
from vf_mcp.pii import PiiPolicy
from vf_mcp.server import build_server
from vf_mcp.settings import Settings

pytestmark = pytest.mark.anyio

DATABASE = "chinook_pii"
VIEWS = [
    "CREATE VIEW pii_people AS SELECT CustomerId AS id, CONCAT(FirstName, ' ', LastName) AS person, "
    "Email AS contact, Country FROM Customer",
    "CREATE VIEW pii_people2 AS SELECT id, person AS who, UPPER(contact) AS reach FROM pii_people",
]
MALFORMED = (
    "INSERT INTO Customer (CustomerId, FirstName, LastName, Email, Phone, City, Country) VALUES "
    "(60, 'Xolile', 'Qwabe', 'xolile at mail dot test', '082 555 0311 ext', 'Pretoria', 'South Africa'), "
    "(61, 'Xolile', 'Qwabe', 'xolile at mail dot test', '082 555 0311 ext', 'Pretoria', 'South Africa')"
)
"""A malformed email and phone (quality examples) in a duplicated row (duplicate findings)."""

ATTACKS = [
    "SELECT FirstName AS x FROM Customer",
    "SELECT eMaIl AS x, FIRSTNAME AS y FROM Customer",  # column names resolve without case
    "SELECT CONCAT(FirstName, ' ', LastName) AS who FROM Customer",
    "SELECT CONCAT_WS('|', FirstName, LastName, Phone) AS all3 FROM Customer",
    "SELECT UPPER(Email) AS u, LOWER(FirstName) AS l FROM Customer",
    "SELECT UPPER(Email), LOWER(FirstName) FROM Customer",  # unnamed expressions
    "SELECT t.* FROM (SELECT Email AS a, FirstName AS b, Phone AS c FROM Customer) t",
    "SELECT q.anything FROM (SELECT Email AS anything FROM Customer) q",
    "SELECT a FROM (SELECT UPPER(FirstName) a FROM Customer) d",
    "WITH c AS (SELECT FirstName AS n FROM Customer) SELECT n AS alias_of_alias FROM c",
    "WITH c (n, m) AS (SELECT LastName, Email FROM Customer) SELECT * FROM c",
    "WITH RECURSIVE r (a, n) AS (SELECT Email, 1 FROM Customer UNION ALL SELECT SUBSTR(a, 2), n + 1 FROM r "
    "WHERE n < 3) SELECT a, n FROM r",
    "SELECT City AS x FROM Customer UNION ALL SELECT Email FROM Customer",
    "SELECT Country FROM Customer UNION SELECT LastName FROM Employee",
    "SELECT * FROM pii_people",
    "SELECT person AS p, contact AS q FROM pii_people",
    "SELECT * FROM pii_people2",
    "SELECT GROUP_CONCAT(Email SEPARATOR ',') AS e, GROUP_CONCAT(DISTINCT LastName ORDER BY LastName) AS n "
    "FROM Customer",
    "SELECT JSON_OBJECT('a', Email, 'n', LastName) AS j FROM Customer",
    "SELECT JSON_ARRAYAGG(Email) AS a, JSON_ARRAY(FirstName, Phone) AS b FROM Customer",
    "SELECT TO_BASE64(Email) AS b, HEX(FirstName) AS h FROM Customer",
    "SELECT CAST(Email AS CHAR) AS c, CONVERT(LastName USING utf8mb4) AS d, CAST(Phone AS BINARY) AS e FROM Customer",
    "SELECT COALESCE(NULL, Email) AS a, IF(CustomerId > 0, FirstName, NULL) AS b, "
    "CASE WHEN CustomerId > 0 THEN LastName END AS c, IFNULL(Phone, '') AS d FROM Customer",
    "SELECT SUBSTRING_INDEX(Email, '@', 1) AS l, REVERSE(LastName) AS r, REPLACE(Email, '@', ' at ') AS s, "
    "LEFT(FirstName, 3) AS f, INSERT(LastName, 1, 0, '>') AS i FROM Customer",
    "SELECT (SELECT Email FROM Employee e WHERE e.EmployeeId = c.SupportRepId) AS rep, c.Country FROM Customer c",
    "SELECT * FROM Customer",
    "SELECT c.* FROM Customer c",
    "SELECT e.*, c.FirstName AS buyer FROM Employee e JOIN Customer c ON c.SupportRepId = e.EmployeeId",
    "SELECT * FROM Customer JOIN Invoice USING (CustomerId)",
    "SELECT * FROM Customer NATURAL JOIN Invoice",
    "SELECT MIN(Email) AS lo, MAX(FirstName) AS hi, MIN(Phone) AS p FROM Customer",
    "SELECT ROW_NUMBER() OVER (ORDER BY Email) AS rn, FIRST_VALUE(Email) OVER (ORDER BY CustomerId) AS f FROM Customer",
    "SELECT LENGTH(FirstName) AS n, MD5(Email) AS h, ASCII(SUBSTR(Email, 2, 1)) AS a FROM Customer",
    "SELECT CONVERT(Email USING utf8mb4) COLLATE utf8mb4_bin AS c FROM Customer",
    "SELECT `Email` AS `e``x`, `c`.`LastName` FROM `Customer` AS `c`",
    "SELECT j.x FROM Customer c, JSON_TABLE(JSON_ARRAY(c.Email), '$[*]' COLUMNS (x VARCHAR(200) PATH '$')) j",
    "SELECT * FROM (SELECT Email FROM Customer) AS d JOIN (SELECT 1 AS one) AS o",
    "SELECT * FROM (Customer c JOIN Invoice i USING (CustomerId))",
    "SELECT BillingAddress AS w, Total FROM Invoice",
    "SELECT (SELECT GROUP_CONCAT(LastName) FROM Employee) AS names",
    "SELECT x FROM (SELECT Email x FROM Customer UNION ALL SELECT FirstName FROM Employee) u",
    "SELECT SHA2(Email, 256) AS h, CRC32(Phone) AS c, SOUNDEX(LastName) AS s FROM Customer",
    "SELECT ELT(1, Email) AS a, FIELD(Email, 'x') AS f, CHAR_LENGTH(LastName) AS n FROM Customer",
    "SELECT REGEXP_REPLACE(Email, '@.*', '') AS r, REGEXP_SUBSTR(Phone, '[0-9]+') AS p FROM Customer",
]

TOOL_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("calculate_metrics", {"table_name": "Customer", "metric": "count", "group_by": ["LastName"]}),
    ("calculate_metrics", {"table_name": "Customer", "metric": "min", "column": "Email"}),
    ("calculate_metrics", {"table_name": "Customer", "metric": "max", "column": "FirstName",
                           "group_by": ["Country"]}),
    ("calculate_metrics", {"table_name": "Employee", "metric": "count", "group_by": ["Email"]}),
    ("rank_entities", {"table_name": "Customer", "entity_column": "Email", "rank_by": "CustomerId"}),
    ("calculate_metrics", {"table_name": "pii_people", "metric": "count", "group_by": ["person"]}),
    ("calculate_metrics", {"table_name": "pii_people2", "metric": "max", "column": "reach"}),
    ("rank_entities", {"table_name": "pii_people", "entity_column": "contact", "rank_by": "id"}),
    ("rank_entities", {"table_name": "Invoice", "entity_column": "CustomerId", "rank_by": "Total",
                       "aggregation": "sum"}),
    ("rank_entities", {"table_name": "Invoice", "entity_column": "BillingAddress", "rank_by": "Total"}),
    (
        "analyze_trends",
        {"table_name": "Invoice", "metric": "count", "period": "monthly", "start_date": "2021-01-01",
         "end_date": "2021-12-31", "time_column": "InvoiceDate", "group_by": "BillingAddress",
         "forecast_periods": 0},
    ),
    (
        "compare_data",
        {"table_name": "Customer", "metric": "max", "column": "FirstName",
         "group1": {"label": "a", "filters": [{"column": "Country", "operator": "=", "value": "Brazil"}]},
         "group2": {"label": "b", "filters": [{"column": "Country", "operator": "=", "value": "USA"}]}},
    ),
    ("get_table_stats", {"table_name": "Customer"}),
    ("get_table_stats", {"table_name": "Employee"}),
    ("get_table_stats", {"table_name": "pii_people"}),  # a view's innocently named columns over personal data
    ("get_table_stats", {"table_name": "pii_people2"}),
    ("check_data_quality", {"table_name": "pii_people"}),
    ("check_data_quality", {"table_name": "Customer"}),
    ("check_data_quality", {"table_name": "Employee"}),
    ("get_table_schema", {"table_name": "Customer"}),
]  # fmt: skip

ERRORS = [
    "SELECT EXTRACTVALUE(1, CONCAT(0x5c, Email)) FROM Customer",
    "SELECT UPDATEXML(1, CONCAT(0x5c, FirstName, 0x5c), 1) FROM Customer",
    "SELECT EXTRACTVALUE(1, CONCAT(':', (SELECT Phone FROM Customer WHERE CustomerId = 1)))",
    "SELECT UPDATEXML(1, CONCAT(0x7e, (SELECT LastName FROM Employee WHERE EmployeeId = 1), 0x7e), 1)",
]
MAYBE_ERRORS = [
    "SELECT COUNT(*), CONCAT(LastName, FLOOR(RAND(0) * 2)) AS x FROM Customer GROUP BY x",  # duplicate entry
    "SELECT JSON_EXTRACT(Email, '$') AS j FROM Customer",
    "SELECT CAST(Email AS DECIMAL) + 0 AS n FROM Customer",
    "SELECT FirstName + 0 AS n FROM Customer",
]
EXPORT = "SELECT CustomerId, FirstName AS who, UPPER(Email) AS e, CONCAT(FirstName, LastName) AS r, City FROM Customer"


@pytest.fixture(scope="module")
def pii_dsn(mariadb: MariaDb) -> Iterator[str]:
    """Chinook in its own database, with two views over personal data."""
    import asyncio

    async def setup() -> None:
        await load_chinook(mariadb, DATABASE)
        for v in [MALFORMED, *VIEWS]:
            await admin_sql(mariadb, v, DATABASE)

    asyncio.run(setup())
    yield mariadb.dsn(DATABASE)
    asyncio.run(admin_sql(mariadb, f"DROP DATABASE IF EXISTS `{DATABASE}`"))


def _forbidden(values: list[str], pieces_of: list[str]) -> set[str]:
    """Every value and its upper/lower/reversed/hex/base64 forms, and each 4-character piece of `pieces_of`."""
    out: set[str] = set()
    for v in values:
        out |= {v, v.upper(), v.lower(), v[::-1], v.encode().hex(), base64.b64encode(v.encode()).decode()}
        digits = "".join(c for c in v if c.isdigit())
        if len(digits) >= 8:
            out.add(digits)
    for text in pieces_of:
        for word in text.replace(".", " ").split():
            out |= {word[i : i + 4].lower() for i in range(len(word) - 3)}
    return out


async def _originals(mariadb: MariaDb) -> set[str]:
    people = await admin_sql(
        mariadb,
        "SELECT FirstName, LastName, Email, Phone FROM Customer WHERE CustomerId IN (1, 60) "
        "UNION ALL SELECT FirstName, LastName, Email, Phone FROM Employee WHERE EmployeeId = 1",
        DATABASE,
    )
    address = await admin_sql(mariadb, "SELECT BillingAddress FROM Invoice WHERE CustomerId = 1 LIMIT 1", DATABASE)
    values = [str(v) for r in people for v in r if v] + [address[0][0]]
    pieces = [r[0] for r in people] + [r[1] for r in people] + [_local(str(r[2])) for r in people]
    return _forbidden(values, pieces)


def _local(email: str) -> str:
    """An email's local part (a malformed one: its first word)."""
    return email.split("@")[0] if "@" in email else email.split()[0]


def _leaks(haystack: str, forbidden: set[str]) -> list[str]:
    low = haystack.lower()
    return sorted(f for f in forbidden if f.lower() in low)


def _server(dsn: str, tmp_path: Path, **extra: Any) -> Client:
    s = Settings(dsn=dsn, exports_dir=str(tmp_path / "exports"), audit_log_path=str(tmp_path / "audit.jsonl"), **extra)
    return Client(build_server(s))


async def _everything(client: Client, tool: str, args: dict[str, Any]) -> tuple[bool, str]:
    result = await client.call_tool(tool, args)
    texts = [getattr(c, "text", "") for c in result.content]
    return bool(result.is_error), json.dumps(result.structured_content, ensure_ascii=False) + "\n".join(texts)


def _file_text(path: Path, fmt: str) -> str:
    content = path.read_bytes().decode("utf-8", "replace")
    if fmt == "parquet":
        content += json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False)
    if fmt == "excel":
        with zipfile.ZipFile(path) as z:
            content += "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return content


async def test_no_sql_transformation_recovers_personal_data(
    pii_dsn: str, mariadb: MariaDb, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forbidden = await _originals(mariadb)
    masked_somewhere: list[str] = []
    async with _server(pii_dsn, tmp_path) as client:
        for q in ATTACKS:
            is_error, out = await _everything(client, "run_query", {"sql": q})
            assert not is_error, (q, out[:1000])
            assert not _leaks(out, forbidden), (q, _leaks(out, forbidden), out[:2000])
            masked_somewhere.append(out)
        for tool, args in TOOL_CALLS:
            is_error, out = await _everything(client, tool, args)
            assert not is_error, (tool, out[:1000])
            assert not _leaks(out, forbidden), (tool, args, _leaks(out, forbidden), out[:3000])
        cut = []
        for q in ERRORS:
            is_error, out = await _everything(client, "run_query", {"sql": q})
            assert is_error, (q, out[:500])
            assert not _leaks(out, forbidden), (q, out)
            cut += [q] if "values in the message are not shown" in out else []
        assert len(cut) >= 2, cut  # the constant XPATH errors carried a value, and lost it
        for q in MAYBE_ERRORS:
            _, out = await _everything(client, "run_query", {"sql": q})
            assert not _leaks(out, forbidden), (q, out[:1500])
        for fmt in ("csv", "json", "jsonl", "parquet", "excel"):
            export = await call(client, "export_results", {"query": EXPORT, "format": fmt})
            content = _file_text(Path(export["file_path"]), fmt)
            assert not _leaks(content, forbidden), (fmt, _leaks(content, forbidden))
            assert "São José dos Campos" in content  # non-personal columns are exported as they are
        is_error, out = await _everything(client, "run_query", {"sql": "SELECT emial FROM Customer"})
        assert is_error and "emial" in out  # identifiers stay in messages: the model needs them
    audit = (tmp_path / "audit.jsonl").read_text()
    assert audit.count("\n") >= len(ATTACKS) + len(TOOL_CALLS) + len(ERRORS)
    assert not _leaks(audit, forbidden), _leaks(audit, forbidden)
    bad = [r.getMessage()[:300] for r in caplog.records if _leaks(r.getMessage(), forbidden)]
    assert not bad, (bad[:5], [r.name for r in caplog.records if _leaks(r.getMessage(), forbidden)][:5])
    assert all("***" in s for s in masked_somewhere)


async def test_non_personal_columns_and_counts_are_unchanged(pii_dsn: str, mariadb: MariaDb, tmp_path: Path) -> None:
    async with _server(pii_dsn, tmp_path) as client:
        counts = await call(
            client,
            "run_query",
            {"sql": "SELECT COUNT(DISTINCT Email) AS d, COUNT(Email) AS n, COUNT(*) AS c FROM Customer"},
        )
        plain = await call(
            client,
            "run_query",
            {"sql": "SELECT c.CustomerId, c.City AS town, UPPER(c.Country) AS land, i.Total FROM Customer c "
                    "JOIN Invoice i USING (CustomerId) ORDER BY i.InvoiceId LIMIT 20"},
        )  # fmt: skip
        star = await call(client, "run_query", {"sql": "SELECT * FROM Customer ORDER BY CustomerId LIMIT 5"})
        view = await call(client, "run_query", {"sql": "SELECT * FROM pii_people ORDER BY id LIMIT 5"})
        grouped = await call(
            client,
            "calculate_metrics",
            {"table_name": "Invoice", "metric": "sum", "column": "Total", "group_by": ["BillingCountry"]},
        )
        stats = await call(client, "get_table_stats", {"table_name": "pii_people"})
    by_name = {c["name"]: c for c in stats["columns"]}
    lo, hi, n = (await admin_sql(mariadb, "SELECT MIN(Country), MAX(Country), COUNT(*) FROM pii_people", DATABASE))[0]
    assert (by_name["Country"]["min"], by_name["Country"]["max"]) == (lo, hi)  # a plain column of the view
    assert by_name["person"]["min"] == by_name["person"]["max"] == "***"  # computed from names: masked whole
    assert stats["row_count"] == n
    want = await admin_sql(mariadb, "SELECT COUNT(DISTINCT Email), COUNT(Email), COUNT(*) FROM Customer", DATABASE)
    assert counts["rows"] == [list(want[0])]
    want = await admin_sql(
        mariadb,
        "SELECT c.CustomerId, c.City, UPPER(c.Country), i.Total FROM Customer c JOIN Invoice i "
        "ON i.CustomerId = c.CustomerId ORDER BY i.InvoiceId LIMIT 20",
        DATABASE,
    )
    assert [r[:3] for r in plain["rows"]] == [list(r[:3]) for r in want]
    assert [float(r[3]) for r in plain["rows"]] == [float(r[3]) for r in want]
    want = await admin_sql(mariadb, "SELECT * FROM Customer ORDER BY CustomerId LIMIT 5", DATABASE)
    names = [c["name"] for c in star["columns"]]
    for got, row in zip(star["rows"], want, strict=True):
        for name, value, truth in zip(names, got, row, strict=True):
            if name in ("CustomerId", "Company", "City", "State", "Country", "PostalCode", "SupportRepId"):
                assert value == truth, name
            elif name in ("FirstName", "LastName", "Email", "Phone", "Address", "Fax") and truth:
                assert value != truth and "***" in str(value), (name, value)
    want = await admin_sql(mariadb, "SELECT id, person, contact, Country FROM pii_people ORDER BY id LIMIT 5", DATABASE)
    assert [[r[0], r[3]] for r in view["rows"]] == [[r[0], r[3]] for r in want]
    assert all(r[1] == "***" and r[2] != w[2] for r, w in zip(view["rows"], want, strict=True))
    want = await admin_sql(
        mariadb, "SELECT BillingCountry, SUM(Total) FROM Invoice GROUP BY 1 ORDER BY 2 DESC, 1", DATABASE
    )
    assert sorted((r[0], float(r[1])) for r in grouped["results"]) == sorted((c, float(t)) for c, t in want)


async def test_hash_mode_keeps_joins_and_counts(pii_dsn: str, mariadb: MariaDb, tmp_path: Path) -> None:
    async with _server(pii_dsn, tmp_path, pii_mode="hash") as client:
        direct = await call(client, "run_query", {"sql": "SELECT CustomerId, Email AS x FROM Customer ORDER BY 1"})
        viewed = await call(client, "run_query", {"sql": "SELECT id, contact FROM pii_people ORDER BY 1"})
        lowered = await call(client, "run_query", {"sql": "SELECT LOWER(Email) FROM Customer ORDER BY CustomerId"})
        grouped = await call(
            client, "calculate_metrics", {"table_name": "Customer", "metric": "count", "group_by": ["Email"]}
        )
    tokens = [r[1] for r in direct["rows"]]
    assert all(str(t).startswith("pii:") for t in tokens)
    assert [r[1] for r in viewed["rows"]] == tokens  # the same source column, the same tokens
    assert all(str(r[0]).startswith("pii:") and r[0] not in tokens for r in lowered["rows"])  # derived: other tokens
    (distinct,) = (await admin_sql(mariadb, "SELECT COUNT(DISTINCT Email) FROM Customer", DATABASE))[0]
    assert len(set(tokens)) == distinct == len(grouped["results"])
    assert all(str(r[0]).startswith("pii:") for r in grouped["results"])


async def test_configured_columns_follow_lineage(pii_dsn: str, mariadb: MariaDb, tmp_path: Path) -> None:
    """A column PII only by configuration (Customer.City) stays masked through aliases, functions and views."""
    async with _server(pii_dsn, tmp_path, pii_columns={"customer.city": "mask"}) as client:
        out = await call(
            client, "run_query", {"sql": "SELECT City AS t, CONCAT('x', City) AS u, Country FROM Customer ORDER BY 1"}
        )
        other = await call(client, "run_query", {"sql": "SELECT BillingCity AS t FROM Invoice ORDER BY InvoiceId"})
    cities = {c for (c,) in await admin_sql(mariadb, "SELECT City FROM Customer", DATABASE)}
    assert not cities & {str(v) for r in out["rows"] for v in r[:2]}
    countries = await admin_sql(mariadb, "SELECT Country FROM Customer", DATABASE)
    assert {r[2] for r in out["rows"]} == {c for (c,) in countries}
    billing = await admin_sql(mariadb, "SELECT BillingCity FROM Invoice ORDER BY InvoiceId", DATABASE)
    assert [r[0] for r in other["rows"]] == [c for (c,) in billing]  # another table's column: not configured


TABLES = MyTables.build(
    {
        ("db", "Customer"): ("CustomerId", "FirstName", "Email", "City"),
        ("db", "Invoice"): ("InvoiceId", "CustomerId", "Total"),
        ("db", "v"): ("who", "n"),
        ("db", "hidden"): ("a", "b"),
    },
    {
        ("db", "v"): "select concat(`db`.`Customer`.`FirstName`,'!') AS `who`,`db`.`Customer`.`City` AS `n` "
        "from `db`.`Customer`",
        ("db", "hidden"): None,
    },
    "db",
)


def _lineage(sql: str) -> QueryLineage:
    found = analyze_mysql(sql, TABLES)
    assert found is not None
    return found


def test_lineage_unit() -> None:
    cols = _lineage("SELECT firstname AS who, UPPER(EMAIL), COUNT(DISTINCT Email), CustomerId FROM customer").columns
    who, up, cnt, ident = cols
    assert who.direct and who.sources == {("db", "Customer", "FirstName")}  # names without case
    assert not up.direct and up.sources == {("db", "Customer", "Email")}
    assert cnt.count_only and not cnt.sources
    assert ident.direct and ident.sources == {("db", "Customer", "CustomerId")}
    star = _lineage("SELECT * FROM Customer JOIN Invoice USING (CustomerId)").columns
    assert [c.name for c in star] == ["CustomerId", "FirstName", "Email", "City", "InvoiceId", "Total"]
    view = _lineage("SELECT * FROM v").columns
    assert view[0].sources == {("db", "Customer", "FirstName"), ("db", "v", "who")} and not view[0].direct
    assert view[1].direct and view[1].sources == {("db", "Customer", "City")}
    assert all(c.opaque for c in _lineage("SELECT a, b FROM hidden").columns)  # a definition it cannot read
    assert analyze_mysql("SHOW TABLES", TABLES) is None
    broken = _lineage("SELECT ((( FROM Customer")
    assert not broken.exact and broken.fallback is not None and broken.fallback.opaque
    unknown = _lineage("SELECT * FROM elsewhere.t")
    assert [c.sources for c in aligned(unknown, ["Email"])] == [{("elsewhere", "t", "Email")}]
    misaligned = aligned(_lineage("SELECT CustomerId, City FROM Customer"), ["Email", "City"])
    assert all(not c.direct for c in misaligned)  # names that do not match: the whole statement's lineage
    lateral = _lineage("SELECT c.CustomerId, x.a FROM Customer c, LATERAL (SELECT c.Email AS a) x").columns  # MySQL 8
    assert lateral[1].direct and lateral[1].sources == {("db", "Customer", "Email")}
    comma = _lineage("SELECT * FROM Invoice i, Customer c JOIN v ON 1 JOIN Customer d USING (Email)").columns
    assert [c.name for c in comma][:4] == ["InvoiceId", "CustomerId", "Total", "Email"]  # JOIN binds before ","
    plain = _lineage("SELECT Id AS x FROM Customer").columns  # no such column: judged by name only
    crossed = with_origin(plain[0], ("db", "Customer", "Email"))  # the server names the source: Customer.Email
    assert crossed.sources == {("db", "Customer", "Email")} and crossed.names == {"Id"}
    policy = PiiPolicy(mode="mask")
    assert [m.index for m in policy.lineage_masks([crossed])] == [0]
    masks = policy.lineage_masks(aligned(_lineage("SELECT City, CONCAT(FirstName, 'x') AS y FROM Customer"),
                                         ["City", "y"]))  # fmt: skip
    assert [(m.index, m.whole) for m in masks] == [(1, True)]


def test_error_values_are_cut() -> None:
    assert without_mysql_values(1105, "XPATH syntax error: '\\luisg@embraer.com.br'") == (
        "XPATH syntax error: '\u2026' (values in the message are not shown)"
    )
    assert "Gon" not in without_mysql_values(1062, "Duplicate entry 'Gonçalves1' for key 'group_key'")
    assert "O'Brien" not in without_mysql_values(1292, "Truncated incorrect DOUBLE value: 'O'Brien'")
    assert "line two" not in without_mysql_values(1292, "Truncated incorrect value: 'line one\nline two")
    assert without_mysql_values(1054, "Unknown column 'emial' in 'field list'") == (
        "Unknown column 'emial' in 'field list'"
    )


async def test_least_privilege_users_and_views(pii_dsn: str, mariadb: MariaDb, tmp_path: Path) -> None:
    """The setup-role user (SELECT, SHOW VIEW) reads view definitions: a view's plain columns stay as they are.
    A user without SHOW VIEW cannot: every column of the view is masked whole (conservative)."""
    for user, grants in (("vf_pii_ro", "SELECT, SHOW VIEW"), ("vf_pii_blind", "SELECT")):
        await admin_sql(mariadb, f"DROP USER IF EXISTS '{user}'@'%'")
        await admin_sql(mariadb, f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'")
        await admin_sql(mariadb, f"GRANT {grants} ON `{DATABASE}`.* TO '{user}'@'%'")
    truth = await admin_sql(mariadb, "SELECT id, person, contact, Country FROM pii_people ORDER BY id", DATABASE)
    q = {"sql": "SELECT id, person, contact, Country, UPPER(Country) AS land FROM pii_people ORDER BY id"}
    try:
        ro_dsn = mariadb.dsn(DATABASE, user="vf_pii_ro", password="pw-vf_pii_ro")
        async with _server(ro_dsn, tmp_path) as client:
            ro = await call(client, "run_query", q)
        blind_dsn = mariadb.dsn(DATABASE, user="vf_pii_blind", password="pw-vf_pii_blind")
        async with _server(blind_dsn, tmp_path) as client:
            blind = await call(client, "run_query", q)
    finally:
        for user in ("vf_pii_ro", "vf_pii_blind"):
            await admin_sql(mariadb, f"DROP USER IF EXISTS '{user}'@'%'")
    assert [[r[0], r[3], r[4]] for r in ro["rows"]] == [[t[0], t[3], str(t[3]).upper()] for t in truth]
    assert all(r[1] == "***" and r[2] != t[2] and "***" in r[2] for r, t in zip(ro["rows"], truth, strict=True))
    assert len(blind["rows"]) == len(truth)
    assert all(v == "***" for r in blind["rows"] for v in r)


async def test_trend_groups_masked_alike_stay_apart(pii_dsn: str, mariadb: MariaDb, tmp_path: Path) -> None:
    """Grouped by a PII column, every group label is "***": the series stay one per group, numbers as in SQL."""
    args = {"table_name": "Invoice", "metric": "count", "period": "monthly", "start_date": "2021-01-01",
            "end_date": "2021-12-31", "time_column": "InvoiceDate", "group_by": "BillingAddress",
            "top_groups": 5, "forecast_periods": 0}  # fmt: skip
    async with _server(pii_dsn, tmp_path) as client:
        out = await call(client, "analyze_trends", args)
    top = await admin_sql(
        mariadb,
        "SELECT COUNT(*) FROM Invoice WHERE InvoiceDate >= '2021-01-01' AND InvoiceDate < '2022-01-01' "
        "GROUP BY BillingAddress ORDER BY 1 DESC LIMIT 5",
        DATABASE,
    )
    assert len(out["series"]) == 5
    assert all(s["group"] == "***" and len(s["periods"]) == 12 for s in out["series"])
    assert sorted(sum(v or 0 for v in s["values"]) for s in out["series"]) == sorted(n for (n,) in top)


def test_group_series_keeps_groups_shown_alike_apart() -> None:
    from typing import NamedTuple

    from vf_mcp.compute.metrics import group_series

    class Point(NamedTuple):
        group: object
        period_start: str
        value: float | None

    points = [Point("***", "2024-01-01", 1.0), Point("***", "2024-02-01", 2.0),
              Point("***", "2024-01-01", 3.0), Point("***", "2024-02-01", 4.0),
              Point("b", "2024-01-01", 5.0)]  # fmt: skip
    assert group_series(points) == [
        ("***", ["2024-01-01", "2024-02-01"], [1.0, 2.0]),
        ("***", ["2024-01-01", "2024-02-01"], [3.0, 4.0]),
        ("b", ["2024-01-01"], [5.0]),
    ]


async def test_mysql_source_next_to_postgresql_and_hash_exports(
    pii_dsn: str, chinook_dsn: str, mariadb: MariaDb, tmp_path: Path
) -> None:
    """A MySQL [[sources]] entry beside a PostgreSQL default: its analytics and run_query mask by lineage too;
    in hash mode an export's tokens equal run_query's (the same policy, the same lineage)."""
    from pydantic import SecretStr

    from vf_mcp.settings import Source

    forbidden = await _originals(mariadb)
    sources = (Source(name="pg", dsn=SecretStr(chinook_dsn), default=True), Source(name="shop", dsn=SecretStr(pii_dsn)))
    s = Settings(sources=sources, exports_dir=str(tmp_path / "exports"), audit_log_path="off", pii_mode="hash")
    async with Client(build_server(s)) as client:
        outs = [
            await _everything(client, "run_query", {"sql": q, "source": "shop"})
            for q in ("SELECT CONCAT(FirstName, LastName) AS n FROM Customer", "SELECT * FROM pii_people2")
        ]
        outs.append(
            await _everything(
                client,
                "calculate_metrics",
                {"table_name": "Customer", "metric": "count", "group_by": ["LastName"], "source": "shop"},
            )
        )
        direct = await call(
            client, "run_query", {"sql": "SELECT CustomerId, Email FROM Customer ORDER BY 1", "source": "shop"}
        )
        export = await call(
            client,
            "export_results",
            {"query": "SELECT CustomerId, Email FROM Customer ORDER BY 1", "format": "jsonl", "source": "shop"},
        )
    for is_error, out in outs:
        assert not is_error and not _leaks(out, forbidden), _leaks(out, forbidden)
    lines = [json.loads(x) for x in Path(export["file_path"]).read_text().splitlines()]
    assert [[x["CustomerId"], x["Email"]] for x in lines] == direct["rows"]
    assert all(str(r[1]).startswith("pii:") for r in direct["rows"])
