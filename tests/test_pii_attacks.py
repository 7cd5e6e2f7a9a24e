"""Personal data that cannot be side-stepped: aliases, expressions, tools, exports and errors never leak it.

Each attack runs through a real MCP client on a server with masking on (mask mode). The original values are
read independently (helpers.sql); no value, nor its upper / lower / reversed / hex form, nor any 4-character
piece of a name or of an email's local part, may appear in the structured content, the text, the export
files, the audit log or the server log.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import PgCluster
from helpers import call, sql
from mcp import Client

from vf_mcp.db.lineage import Tables, analyze
from vf_mcp.errors import without_values
from vf_mcp.pii import pii_kind
from vf_mcp.server import build_server
from vf_mcp.settings import Settings

pytestmark = pytest.mark.anyio

SETUP = """
CREATE TABLE staff (id int PRIMARY KEY, full_name text, email text, phone text, team text, city text,
                    joined_at timestamptz, total numeric);
INSERT INTO staff VALUES
  (1, 'Xolile Qwabe', 'xolile.qwabe@mail.test', '+27 82 555 0199', 'Alpha', 'Pretoria', '2024-01-03', 10.5),
  (2, 'Busisiwe Zungu', 'busisiwe.zungu@mail.test', '+27 83 555 0247', 'Beta', 'Durban', '2024-02-07', 20),
  (3, 'Kgomotso Ntuli', 'kgomotso at mail dot test', '082 555 0311', 'Beta', 'Polokwane', '2024-03-09', 7);
CREATE TABLE jobs (id int PRIMARY KEY, staff_id int REFERENCES staff(id), contact_email text, city text,
                   created_at timestamptz, total numeric);
INSERT INTO jobs SELECT g, 1 + g % 3,
  (ARRAY['xolile.qwabe@mail.test', 'busisiwe.zungu@mail.test', 'kgomotso at mail dot test'])[1 + g % 3],
  'Town' || g % 2, '2024-01-01'::timestamptz + g * interval '3 days', g * 2 FROM generate_series(1, 30) g;
CREATE VIEW staff_people AS SELECT id, full_name AS person, email AS contact, team FROM staff;
ANALYZE staff;
ANALYZE jobs;
"""

ATTACKS = [
    "SELECT full_name AS who FROM staff",
    "SELECT upper(full_name) AS u, lower(email) AS l FROM staff",
    "SELECT split_part(email, '@', 1) AS local FROM staff",
    "SELECT replace(email, '@', ' at ') AS r FROM staff",
    "SELECT full_name || '!' AS shout FROM staff",
    "SELECT string_agg(full_name, ',') AS names FROM staff",
    "SELECT row_to_json(s) AS j FROM staff s",
    "SELECT s::text AS t FROM staff s",
    "SELECT to_jsonb(s) AS j FROM staff s",
    "SELECT convert_to(email, 'UTF8') AS b FROM staff",
    "SELECT encode(convert_to(full_name, 'UTF8'), 'hex') AS h FROM staff",
    "SELECT ascii(substr(email, 2, 1)) AS a, substr(full_name, 3) AS rest FROM staff",
    "SELECT regexp_replace(phone, '\\D', '', 'g')::bigint AS digits FROM staff",
    "SELECT format('%s', full_name) AS f, lpad(full_name, 30, '.') AS p, reverse(full_name) AS r FROM staff",
    "SELECT (SELECT email FROM staff s WHERE s.id = j.staff_id) AS e, j.city FROM jobs j",
    "WITH c AS (SELECT full_name AS n FROM staff) SELECT n AS alias_of_alias FROM c",
    "SELECT team AS x FROM staff UNION ALL SELECT full_name FROM staff",
    "SELECT x.v FROM staff s, LATERAL (SELECT s.email AS v) x",
    "SELECT json_build_object('n', full_name, 'e', email) AS o FROM staff",
    "SELECT ARRAY[full_name, email] AS arr, array_agg(email) OVER () AS all_emails FROM staff",
    "SELECT * FROM staff",
    "SELECT t.* FROM (SELECT full_name AS a, email AS b, phone AS c FROM staff) t",
    "SELECT min(email) AS lo, max(full_name) AS hi, min(phone) AS p FROM staff",
    "SELECT CASE WHEN id > 0 THEN full_name END AS c, coalesce(NULL, email) AS d FROM staff",
    "SELECT unnest(string_to_array(full_name, ' ')) AS part FROM staff",
    "SELECT jsonb_each_text(to_jsonb(s)) AS kv FROM staff s",
    "SELECT * FROM staff_people",
    "SELECT person AS p, contact AS q FROM staff_people",
    "SELECT translate(full_name, 'aeiou', 'AEIOU') AS t, left(email, 6) AS l, right(full_name, 5) AS r FROM staff",
    "SELECT (regexp_match(email, '^(.*)@'))[1] AS m FROM staff",
    "SELECT most_common_vals::text AS v, histogram_bounds::text AS h FROM pg_stats WHERE tablename = 'staff'",
    "SELECT q.anything FROM (SELECT email FROM staff) q(anything)",
    "SELECT s.id, j.id AS job FROM staff s JOIN jobs j ON j.staff_id = s.id WHERE false"
    " UNION ALL SELECT 1, length(full_name) FROM staff",
    "SELECT (s).full_name AS n FROM (SELECT s FROM staff s) x",
    "WITH RECURSIVE r(a, n) AS (SELECT email, 1 FROM staff UNION ALL SELECT substr(a, 2), n + 1 FROM r WHERE n < 3)"
    " SELECT a, n FROM r",
    "SELECT contact_email AS c FROM jobs JOIN staff USING (city)",
    "SELECT md5(email) AS h, length(full_name)::text AS n FROM staff",
    'SELECT full_name COLLATE "C" AS c FROM staff',
]

TOOL_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("calculate_metrics", {"table_name": "staff", "metric": "count", "group_by": ["full_name"]}),
    ("calculate_metrics", {"table_name": "staff", "metric": "min", "column": "email"}),
    ("calculate_metrics", {"table_name": "staff", "metric": "max", "column": "full_name", "group_by": ["team"]}),
    ("rank_entities", {"table_name": "jobs", "entity_column": "staff_id", "rank_by": "total", "aggregation": "sum"}),
    ("rank_entities", {"table_name": "jobs", "entity_column": "contact_email", "rank_by": "total"}),
    (
        "analyze_trends",
        {"table_name": "jobs", "metric": "count", "period": "monthly", "start_date": "2024-01-01",
         "end_date": "2024-06-30", "group_by": "contact_email", "forecast_periods": 0},
    ),
    (
        "compare_data",
        {"table_name": "staff", "metric": "max", "column": "full_name",
         "group1": {"label": "a", "filters": [{"column": "team", "operator": "=", "value": "Alpha"}]},
         "group2": {"label": "b", "filters": [{"column": "team", "operator": "=", "value": "Beta"}]}},
    ),
    ("get_table_stats", {"table_name": "staff"}),
    ("get_table_stats", {"table_name": "jobs"}),
    ("check_data_quality", {"table_name": "staff"}),
    ("get_table_schema", {"table_name": "staff"}),
]  # fmt: skip

ERRORS = [
    "SELECT email::int FROM staff",
    "SELECT full_name::date FROM staff",
    "SELECT (email)::json FROM staff",
    "SELECT phone::numeric FROM staff",
    "SELECT to_date(full_name, 'YYYY-MM-DD') FROM staff",
]


@pytest.fixture(scope="module")
def staff_dsn(pg: PgCluster) -> str:
    return pg.create_database("vf_pii_attacks", SETUP)


def _forbidden(values: list[str], pieces_of: list[str]) -> set[str]:
    """Every value and its upper/lower/reversed/hex forms, and each 4-character piece of `pieces_of`."""
    out: set[str] = set()
    for v in values:
        out |= {v, v.upper(), v.lower(), v[::-1], v.encode().hex()}
        digits = "".join(c for c in v if c.isdigit())
        if len(digits) >= 8:
            out.add(digits)
    for text in pieces_of:
        for word in text.replace(".", " ").split():
            out |= {word[i : i + 4].lower() for i in range(len(word) - 3)}
    return out


async def _originals(dsn: str) -> set[str]:
    rows = await sql(dsn, "SELECT full_name, email, phone FROM staff")
    values = [v for r in rows for v in r if v]
    pieces = [r["full_name"] for r in rows] + [_local(r["email"]) for r in rows]
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
    return bool(result.is_error), json.dumps(result.structured_content) + "\n".join(texts)


async def test_no_sql_transformation_recovers_personal_data(
    staff_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    forbidden = await _originals(staff_dsn)
    assert len(ATTACKS) + len(TOOL_CALLS) + len(ERRORS) >= 30
    seen: list[str] = []
    async with _server(staff_dsn, tmp_path) as client:
        for q in ATTACKS:
            is_error, out = await _everything(client, "run_query", {"sql": q})
            assert not is_error or "pg_stats" in q, (q, out)  # pg_stats may be refused by the guard
            assert not _leaks(out, forbidden), (q, _leaks(out, forbidden), out[:2000])
            seen.append(out)
        for tool, args in TOOL_CALLS:
            is_error, out = await _everything(client, tool, args)
            assert not is_error, (tool, out)
            assert not _leaks(out, forbidden), (tool, args, _leaks(out, forbidden), out[:3000])
        for q in ERRORS:
            is_error, out = await _everything(client, "run_query", {"sql": q})
            assert is_error, q
            assert not _leaks(out, forbidden), (q, out)
        for fmt in ("csv", "json", "jsonl", "parquet", "excel"):
            export = await call(
                client,
                "export_results",
                {"query": "SELECT id, full_name AS who, upper(email) AS e, row_to_json(s) AS r, city FROM staff s",
                 "format": fmt},
            )  # fmt: skip
            path = Path(export["file_path"])
            content = path.read_bytes().decode("latin-1")
            if fmt == "parquet":
                content += json.dumps(pq.read_table(path).to_pylist(), default=str)
            if fmt == "excel":
                import zipfile

                with zipfile.ZipFile(path) as z:
                    content += "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
            assert not _leaks(content, forbidden), (fmt, _leaks(content, forbidden))
            assert "Pretoria" in content  # non-PII columns are exported as they are
        is_error, out = await _everything(client, "run_query", {"sql": "SELECT emial FROM staff"})
        assert is_error and '"emial"' in out  # identifiers stay in messages: the model needs them
    audit = (tmp_path / "audit.jsonl").read_text()
    assert audit.count("\n") >= len(ATTACKS) + len(TOOL_CALLS) + len(ERRORS)
    assert not _leaks(audit, forbidden), _leaks(audit, forbidden)
    assert not _leaks(caplog.text, forbidden), _leaks(caplog.text, forbidden)
    assert any("***" in s for s in seen)


async def test_counts_and_non_personal_columns_are_unchanged(staff_dsn: str, tmp_path: Path) -> None:
    async with _server(staff_dsn, tmp_path) as client:
        out = await call(
            client, "run_query", {"sql": "SELECT count(DISTINCT email) AS d, count(email) AS n, count(*) FROM staff"}
        )
        truth = await sql(staff_dsn, "SELECT count(DISTINCT email), count(email), count(*) FROM staff")
        assert out["rows"] == [list(truth[0])]
        plain = await call(client, "run_query", {"sql": "SELECT id, city, team, total FROM staff ORDER BY id"})
        truth = await sql(staff_dsn, "SELECT id, city, team, total::float8 FROM staff ORDER BY id")
        assert [r[:3] for r in plain["rows"]] == [list(r)[:3] for r in truth]
        assert [float(r[3]) for r in plain["rows"]] == [r[3] for r in truth]
        grouped = await call(client, "calculate_metrics", {"table_name": "jobs", "metric": "sum", "column": "total",
                                                            "group_by": ["city"]})  # fmt: skip
        truth = await sql(staff_dsn, "SELECT city, sum(total)::float8 FROM jobs GROUP BY 1 ORDER BY 1")
        assert [[r[0], float(r[1])] for r in grouped["results"]] == [list(r) for r in truth]
        ranked = await call(client, "rank_entities", {"table_name": "jobs", "entity_column": "staff_id",
                                                       "rank_by": "total", "aggregation": "sum"})  # fmt: skip
        assert [e["entity"] for e in ranked["ranking"]] == [
            r[0] for r in await sql(staff_dsn, "SELECT staff_id FROM jobs GROUP BY 1 ORDER BY sum(total) DESC")
        ]
        assert all(e["label"] in (None, "***") or e["label"].endswith("***") for e in ranked["ranking"])


async def test_hash_mode_keeps_joins_and_counts(staff_dsn: str, tmp_path: Path) -> None:
    async with _server(staff_dsn, tmp_path, pii_mode="hash") as client:
        staff = await call(client, "run_query", {"sql": "SELECT id, email FROM staff ORDER BY id"})
        jobs = await call(client, "run_query", {"sql": "SELECT DISTINCT staff_id, contact_email FROM jobs"})
        token = {r[0]: r[1] for r in staff["rows"]}
        assert all(t.startswith("pii:") for t in token.values())
        assert all(token[sid] == t for sid, t in jobs["rows"])  # equal values, equal tokens: joins line up
        derived = await call(client, "run_query", {"sql": "SELECT lower(email) AS l FROM staff ORDER BY id"})
        derived2 = await call(client, "run_query", {"sql": "SELECT lower(contact_email) FROM jobs WHERE id = 3"})
        assert all(r[0].startswith("pii:") for r in derived["rows"])
        assert derived2["rows"][0][0] in {r[0] for r in derived["rows"]}
        grouped = await call(client, "calculate_metrics", {"table_name": "jobs", "metric": "count",
                                                            "group_by": ["contact_email"]})  # fmt: skip
        assert len(grouped["results"]) == (await sql(staff_dsn, "SELECT count(DISTINCT contact_email) FROM jobs"))[0][0]
        assert all(str(r[0]).startswith("pii:") for r in grouped["results"])


async def test_chinook_people(chinook_dsn: str, tmp_path: Path) -> None:
    people = await sql(
        chinook_dsn,
        "SELECT first_name, last_name, email, phone, address FROM customer WHERE customer_id = 1 "
        "UNION ALL SELECT first_name, last_name, email, phone, address FROM employee WHERE employee_id = 1",
    )
    values = [v for r in people for v in r if v]
    forbidden = _forbidden(values, [r[0] for r in people] + [r[1] for r in people] + [_local(r[2]) for r in people])
    attacks = [
        f"SELECT first_name || ' ' || last_name AS who, upper(email) AS e, phone AS p, address AS a FROM {t}"
        for t in ("customer WHERE customer_id = 1", "employee WHERE employee_id = 1")
    ] + [
        "SELECT row_to_json(c) AS j FROM customer c WHERE customer_id = 1",
        "SELECT c::text FROM employee c WHERE employee_id = 1",
        "SELECT split_part(email, '@', 1) AS l, reverse(last_name) AS r FROM customer WHERE customer_id = 1",
        "SELECT (SELECT last_name FROM employee e WHERE e.employee_id = i.support_rep_id) AS rep "
        "FROM customer i WHERE customer_id = 1",
        "WITH x AS (SELECT address AS where_to FROM customer WHERE customer_id = 1) SELECT where_to FROM x",
        "SELECT * FROM customer WHERE customer_id = 1",
        "SELECT e.*, c.first_name AS buyer FROM employee e JOIN customer c ON c.support_rep_id = e.employee_id "
        "WHERE e.employee_id = 1 AND c.customer_id = 1",
    ]
    async with _server(chinook_dsn, tmp_path) as client:
        for q in attacks:
            is_error, out = await _everything(client, "run_query", {"sql": q})
            assert not is_error and not _leaks(out, forbidden), (q, _leaks(out, forbidden), out[:1500])
        one = [{"column": "customer_id", "operator": "=", "value": 1}]
        for tool, args in [
            ("calculate_metrics", {"table_name": "customer", "metric": "count", "group_by": ["last_name"],
                                   "filters": one}),
            ("calculate_metrics", {"table_name": "employee", "metric": "min", "column": "email",
                                   "filters": [{"column": "employee_id", "operator": "=", "value": 1}]}),
            ("rank_entities", {"table_name": "customer", "entity_column": "email", "rank_by": "customer_id",
                               "filters": one}),
            ("rank_entities", {"table_name": "invoice", "entity_column": "customer_id", "rank_by": "total",
                               "filters": one}),
        ]:  # fmt: skip
            is_error, out = await _everything(client, tool, args)
            assert not is_error and not _leaks(out, forbidden), (tool, _leaks(out, forbidden), out[:1500])
        is_error, out = await _everything(client, "run_query", {"sql": "SELECT email::int FROM customer"})
        assert is_error and "@" not in out


async def test_demo_pii_columns_are_masked_through_expressions(demo_dsn: str, tmp_path: Path) -> None:
    cols = await sql(
        demo_dsn,
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND data_type IN ('text', 'character varying') ORDER BY 1, 2",
    )
    pii = [(r[0], r[1]) for r in cols if pii_kind(r[1], r[0]) is not None]
    assert pii, "the demo has personal data"
    async with _server(demo_dsn, tmp_path) as client:
        for table, column in pii:
            (row,) = await sql(demo_dsn, f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL LIMIT 1')
            value = str(row[0])
            forbidden = _forbidden([value], [value.split("@")[0]] if "@" in value else [])
            q = (
                f'SELECT upper("{column}") AS a, "{column}" || \'\' AS b, reverse("{column}") AS c FROM "{table}" '
                f'WHERE "{column}" = $1'
            )
            is_error, out = await _everything(client, "run_query", {"sql": q, "params": [value]})
            assert not is_error and not _leaks(out, forbidden), (table, column, _leaks(out, forbidden), out[:800])


def test_lineage_unit() -> None:
    tables = Tables.build({("public", "staff"): ("id", "full_name", "email"), ("public", "jobs"): ("id", "staff_id")})
    lin = analyze("SELECT full_name AS who, upper(email), count(DISTINCT email), id FROM staff", tables)
    assert lin is not None
    who, up, cnt, ident = lin.columns
    assert who.direct and who.sources == {("public", "staff", "full_name")}
    assert not up.direct and up.sources == {("public", "staff", "email")}
    assert cnt.count_only and not cnt.sources
    assert ident.direct and ident.sources == {("public", "staff", "id")}
    star = analyze("SELECT * FROM staff JOIN jobs USING (id)", tables)
    assert star is not None and [c.name for c in star.columns] == ["id", "full_name", "email", "staff_id"]
    whole = analyze("SELECT row_to_json(s) FROM staff s", tables)
    assert whole is not None and len(whole.columns[0].sources) == 3
    assert analyze("EXPLAIN SELECT 1", tables) is None


def test_error_values_are_cut() -> None:
    assert without_values('invalid input syntax for type integer: "lerato@example.com"') == (
        'invalid input syntax for type integer: "\u2026"'
    )
    assert "Lerato" not in without_values('Token "Lerato" is invalid.')
