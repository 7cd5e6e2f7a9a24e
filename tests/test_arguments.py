"""The argument shapes and spellings models actually send, and errors that help (issue 16).

Every shape goes through a real MCP client and must give the canonical spelling's answer; the counts are
also checked against hand-written SQL on the same database (the demo and chinook).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from helpers import call, call_error, mcp_client, sql
from mcp import Client
from mcp.types import BlobResourceContents, TextResourceContents
from pydantic import SecretStr

from vf_mcp.server import build_server
from vf_mcp.settings import Settings, Source

pytestmark = pytest.mark.anyio

DOCS_LINK = "errors.pydantic.dev"
VOLATILE = {"calculation_time_ms", "execution_time_ms", "from_cache", "message", "sql", "generated_at", "elapsed_ms"}


def _answer(out: Any) -> Any:
    """What a tool answered, without timings, cache flags, SQL text or messages."""
    if isinstance(out, dict):
        return {k: _answer(v) for k, v in out.items() if k not in VOLATILE}
    if isinstance(out, list):
        return [_answer(v) for v in out]
    return out


async def _same(client: Client, tool: str, canonical: dict[str, Any], variant: dict[str, Any]) -> dict[str, Any]:
    """Call with the canonical and the variant spelling; both succeed with the same answer."""
    want = await call(client, tool, {**canonical, "refresh": True} if _takes_refresh(tool) else canonical)
    got = await call(client, tool, {**variant, "refresh": True} if _takes_refresh(tool) else variant)
    assert _answer(got) == _answer(want), (tool, variant)
    return got


def _takes_refresh(tool: str) -> bool:
    return tool in {"calculate_metrics", "rank_entities", "compare_data", "analyze_trends", "get_kpi_dashboard"}


# ---------- a bare value where a list is expected ----------

DROPS_COUNT = {"table_name": "drops", "metric": "count"}
BARE_LIST = [
    ("calculate_metrics", DROPS_COUNT, "group_by", ["status"], "status"),
    ("check_data_quality", {"table_name": "drops"}, "checks", ["completeness"], "completeness"),
    (
        "check_data_quality",
        {"table_name": "drops"},
        "checks",
        ["completeness", "duplicates"],
        "completeness, duplicates",
    ),
    ("calculate_metrics", DROPS_COUNT, "group_by", ["status", "contractor_id"], "status,contractor_id"),
    ("run_query", {"sql": "SELECT count(*) FROM drops WHERE id <= $1"}, "params", [3], "3"),
    ("run_query", {"sql": "SELECT count(*) FROM drops WHERE id <= $1"}, "params", [3], 3),
    ("explain_query", {"sql": "SELECT count(*) FROM drops WHERE id <= $1"}, "params", ["3"], "3"),
    (
        "recommend_indexes",
        {},
        "queries",
        ["SELECT id FROM drops WHERE notes = 'x'"],
        "SELECT id FROM drops WHERE notes = 'x'",
    ),
]


@pytest.mark.parametrize(
    ("tool", "base", "arg", "canonical", "bare"), BARE_LIST, ids=[f"{t}.{a}.{b!r}" for t, _, a, _, b in BARE_LIST]
)
async def test_bare_value_for_a_list(
    demo_dsn: str, tool: str, base: dict[str, Any], arg: str, canonical: Any, bare: Any
) -> None:
    async with mcp_client(demo_dsn) as client:
        await _same(client, tool, {**base, arg: canonical}, {**base, arg: bare})


async def test_bare_values_match_sql(demo_dsn: str) -> None:
    by_status = {
        r["status"]: r["n"] for r in await sql(demo_dsn, "SELECT status::text, count(*) AS n FROM drops GROUP BY 1")
    }
    (few,) = await sql(demo_dsn, "SELECT count(*) AS n FROM drops WHERE id <= 3")
    async with mcp_client(demo_dsn) as client:
        grouped = await call(client, "calculate_metrics", {**DROPS_COUNT, "group_by": "status"})
        counted = await call(client, "run_query", {"sql": "SELECT count(*) FROM drops WHERE id <= $1", "params": "3"})
    assert {r[0]: r[1] for r in grouped["results"]} == by_status
    assert counted["rows"] == [[few["n"]]]


async def test_bare_string_for_tables_and_schemas(demo_dsn: str) -> None:
    settings = Settings(
        sources=(
            Source(name="old", dsn=SecretStr(demo_dsn)),
            Source(name="new", dsn=SecretStr(demo_dsn), default=True),
        ),
        pii_mode="allow",
    )
    async with Client(build_server(settings)) as client:
        both = {"source": "old", "target": "new"}
        got = await _same(client, "validate_migration", {**both, "tables": ["staff"]}, {**both, "tables": "staff"})
        assert [t["table"] for t in got["tables"]] == ["public.staff"]
        await _same(client, "compare_schemas", {**both, "schemas": ["public"]}, {**both, "schemas": "public"})


# ---------- one filter object where a list of filters is expected ----------

ONE_FILTER = {"column": "status", "operator": "=", "value": "completed"}
FILTER_TOOLS = [
    ("calculate_metrics", DROPS_COUNT),
    ("rank_entities", {"table_name": "drops", "entity_column": "contractor_id", "rank_by": "id"}),
    ("compare_data", {**DROPS_COUNT, "compare_by": "time", "period": "year", "time_column": "created_at"}),
    ("analyze_trends", {**DROPS_COUNT, "period": "monthly", "start_date": "2020-01-01", "time_column": "created_at"}),
]


@pytest.mark.parametrize(("tool", "base"), FILTER_TOOLS, ids=[t for t, _ in FILTER_TOOLS])
async def test_one_filter_object(demo_dsn: str, tool: str, base: dict[str, Any]) -> None:
    async with mcp_client(demo_dsn) as client:
        await _same(client, tool, {**base, "filters": [ONE_FILTER]}, {**base, "filters": ONE_FILTER})
        loose = {"col": "status", "op": "eq", "value": "completed"}  # other names and spellings of the same filter
        await _same(client, tool, {**base, "filters": [ONE_FILTER]}, {**base, "filters": loose})
        await _same(client, tool, {**base, "filters": [ONE_FILTER]}, {**base, "filters": {"status": "completed"}})


async def test_one_filter_matches_sql(demo_dsn: str) -> None:
    (want,) = await sql(demo_dsn, "SELECT count(*) AS n FROM drops WHERE status IN ('completed', 'failed')")
    ((rest_n,),) = await sql(demo_dsn, "SELECT count(*) FROM drops WHERE status NOT IN ('completed', 'failed')")
    async with mcp_client(demo_dsn) as client:
        one = {"column": "status", "operator": "in", "value": ["completed", "failed"]}
        out = await call(client, "calculate_metrics", {**DROPS_COUNT, "filters": one})
        mapped = await call(
            client, "calculate_metrics", {**DROPS_COUNT, "filters": {"status": ["completed", "failed"]}}
        )
        squashed = await call(client, "calculate_metrics", {**DROPS_COUNT, "filters": {**one, "operator": "NOTIN"}})
        grouped = {
            "label": "done",
            "filters": {"column": "status", "operator": "not_in", "value": ["completed", "failed"]},
        }
        other = {"label": "rest", "filters": [{"column": "status", "operator": "IN", "value": ["completed", "failed"]}]}
        compared = await call(client, "compare_data", {**DROPS_COUNT, "group1": grouped, "group2": other})
    assert out["results"] == [[want["n"]]]
    assert mapped["results"] == [[want["n"]]]
    assert squashed["results"] == [[rest_n]]
    (rest,) = await sql(demo_dsn, "SELECT count(*) AS n FROM drops WHERE status NOT IN ('completed', 'failed')")
    assert [compared["group1"]["value"], compared["group2"]["value"]] == [rest["n"], want["n"]]


# ---------- periods: day|week|month|quarter|year and daily|weekly|monthly|quarterly|yearly ----------

UNITS = ["day", "week", "month", "quarter", "year"]
WORDS = {"day": "daily", "week": "weekly", "month": "monthly", "quarter": "quarterly", "year": "yearly"}


@pytest.mark.parametrize("unit", UNITS)
async def test_period_words_compare_data_and_buckets(demo_dsn: str, unit: str) -> None:
    compare = {**DROPS_COUNT, "compare_by": "time", "time_column": "created_at", "as_of": "2025-06-15"}
    bucket = {**DROPS_COUNT, "limit": 10_000}
    async with mcp_client(demo_dsn) as client:
        for spelling in (WORDS[unit], unit.upper(), WORDS[unit].capitalize()):
            await _same(client, "compare_data", {**compare, "period": unit}, {**compare, "period": spelling})
            await _same(
                client,
                "calculate_metrics",
                {**bucket, "group_by": [{"column": "created_at", "period": unit}]},
                {**bucket, "group_by": {"column": "created_at", "period": spelling}},
            )


@pytest.mark.parametrize("unit", ["day", "week", "month"])
async def test_period_words_analyze_trends(demo_dsn: str, unit: str) -> None:
    base = {**DROPS_COUNT, "time_column": "created_at", "start_date": "2024-06-01", "end_date": "2024-09-30"}
    async with mcp_client(demo_dsn) as client:
        for spelling in (unit, unit.capitalize(), WORDS[unit].upper()):
            await _same(client, "analyze_trends", {**base, "period": WORDS[unit]}, {**base, "period": spelling})


@pytest.mark.parametrize(
    ("canonical", "spellings"),
    [
        ("week", ["weekly", "WEEK"]),
        ("month", ["monthly", "Month"]),
        ("today", ["day", "daily"]),
        ("quarter", ["quarterly"]),
    ],
)
async def test_period_words_kpi_dashboard(demo_dsn: str, canonical: str, spellings: list[str]) -> None:
    base = {"as_of": "2025-06-15"}
    async with mcp_client(demo_dsn) as client:
        for spelling in spellings:
            await _same(client, "get_kpi_dashboard", {**base, "timeframe": canonical}, {**base, "timeframe": spelling})
        await _same(client, "get_kpi_dashboard", {**base, "timeframe": canonical}, {**base, "period": spellings[0]})


# ---------- case-insensitive enum values, direction and order_by aliases, format aliases ----------

RANK = {"table_name": "drops", "entity_column": "contractor_id", "rank_by": "id", "limit": 5}
ENUM_SPELLINGS = [
    ("calculate_metrics", {**DROPS_COUNT, "group_by": ["status"]}, "metric", "count", "COUNT"),
    ("calculate_metrics", {**DROPS_COUNT, "group_by": ["status"]}, "order_by", "desc", "Desc"),
    ("calculate_metrics", {**DROPS_COUNT, "group_by": ["status"]}, "order_by", "desc", "value desc"),
    ("calculate_metrics", {**DROPS_COUNT, "group_by": ["status"]}, "order_by", "asc", "value ASC"),
    ("calculate_metrics", {**DROPS_COUNT, "group_by": ["status"]}, "order_by", "desc", "top"),
    ("rank_entities", RANK, "direction", "top", "desc"),
    ("rank_entities", RANK, "direction", "bottom", "asc"),
    ("rank_entities", RANK, "direction", "bottom", "Ascending"),
    ("rank_entities", RANK, "direction", "top", "TOP"),
    ("rank_entities", RANK, "aggregation", "count", "Count"),
    (
        "compare_data",
        {**DROPS_COUNT, "compare_by": "time", "period": "month", "time_column": "created_at"},
        "against",
        "last_year",
        "Last Year",
    ),
    (
        "compare_data",
        {**DROPS_COUNT, "period": "month", "time_column": "created_at", "compare_by": "time"},
        "metric",
        "count",
        "COUNT",
    ),
    (
        "analyze_trends",
        {**DROPS_COUNT, "period": "monthly", "start_date": "2024-01-01", "time_column": "created_at"},
        "metric",
        "count",
        "Count",
    ),
    ("check_data_quality", {"table_name": "drops"}, "checks", ["referential_integrity"], ["Referential-Integrity"]),
    ("check_data_quality", {"table_name": "drops"}, "checks", ["referential_integrity"], "ReferentialIntegrity"),
    ("get_slow_queries", {}, "sort_by", "mean_time", "Mean Time"),
    (
        "analyze_trends",
        {**DROPS_COUNT, "period": "monthly", "start_date": "2024-01-01"},
        "group_by",
        "status",
        ["status"],
    ),
    ("analyze_trends", {**DROPS_COUNT, "period": "monthly"}, "start_date", "2024-01-01", "2024-01-01T00:00:00Z"),
    ("get_table_schema", {}, "table_name", "drops", ["drops"]),
    ("compare_data", {**DROPS_COUNT, "period": "week", "time_column": "created_at"}, "compare_by", "time", "TIME"),
    ("get_kpi_dashboard", {"as_of": "2025-06-15"}, "compare_with", "previous_period", "PREVIOUS_PERIOD"),
]


@pytest.mark.parametrize(
    ("tool", "base", "arg", "canonical", "spelling"),
    ENUM_SPELLINGS,
    ids=[f"{t}.{a}={s}" for t, _, a, _, s in ENUM_SPELLINGS],
)
async def test_enum_spellings(
    demo_dsn: str, tool: str, base: dict[str, Any], arg: str, canonical: Any, spelling: Any
) -> None:
    async with mcp_client(demo_dsn) as client:
        await _same(client, tool, {**base, arg: canonical}, {**base, arg: spelling})


async def test_direction_aliases_match_sql(demo_dsn: str) -> None:
    rows = await sql(demo_dsn, "SELECT contractor_id, count(*) AS n FROM drops GROUP BY 1 ORDER BY 2 DESC, 1")
    async with mcp_client(demo_dsn) as client:
        top = await call(client, "rank_entities", {**RANK, "direction": "desc", "refresh": True})
        bottom = await call(client, "rank_entities", {**RANK, "direction": "ASC", "refresh": True})
        ordered = await call(
            client, "calculate_metrics", {**DROPS_COUNT, "group_by": "status", "order_by": "count desc"}
        )
    assert [r["value"] for r in top["ranking"]] == [r["n"] for r in rows[:5]]
    assert [r["value"] for r in bottom["ranking"]] == sorted(r["n"] for r in rows)[:5]
    counts = [r[1] for r in ordered["results"]]
    assert counts == sorted(counts, reverse=True)


async def test_shapes_on_chinook(chinook_dsn: str) -> None:
    by_country = await sql(chinook_dsn, "SELECT billing_country, count(*) AS n FROM invoice GROUP BY 1")
    top = await sql(
        chinook_dsn, "SELECT customer_id, sum(total) AS v FROM invoice GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3"
    )
    (usa,) = await sql(chinook_dsn, "SELECT count(*) AS n FROM invoice WHERE billing_country = 'USA'")
    async with mcp_client(chinook_dsn) as client:
        grouped = await call(
            client, "calculate_metrics", {"table_name": "invoice", "metric": "COUNT", "group_by": "billing_country"}
        )
        ranked = await call(
            client,
            "rank_entities",
            {
                "table_name": "invoice",
                "entity_column": "customer_id",
                "rank_by": "total",
                "aggregation": "SUM",
                "direction": "desc",
                "limit": 3,
            },
        )
        one = await call(
            client,
            "calculate_metrics",
            {"table": "invoice", "metric": "count", "filters": {"column": "billing_country", "value": "USA"}},
        )
    assert {r[0]: r[1] for r in grouped["results"]} == {r["billing_country"]: r["n"] for r in by_country}
    assert [(r["entity"], float(r["value"])) for r in ranked["ranking"]] == [
        (r["customer_id"], float(r["v"])) for r in top
    ]
    assert one["results"] == [[usa["n"]]]


async def test_export_format_aliases(demo_dsn: str, tmp_path: Path) -> None:
    async with mcp_client(demo_dsn, exports_dir=str(tmp_path)) as client:
        for spelling, fmt, suffix in (
            ("xlsx", "excel", ".xlsx"),
            ("XLSX", "excel", ".xlsx"),
            ("CSV", "csv", ".csv"),
            ("ndjson", "jsonl", ".jsonl"),
            ("Parquet", "parquet", ".parquet"),
        ):
            out = await call(
                client, "export_results", {"query": "SELECT id FROM drops ORDER BY id LIMIT 5", "format": spelling}
            )
            assert out["format"] == fmt and out["file_name"].endswith(suffix), out


async def test_published_schemas_stay_compact(demo_dsn: str) -> None:
    async with mcp_client(demo_dsn) as client:
        tools = {t.name: t.input_schema for t in (await client.list_tools()).tools}
    props = tools["analyze_trends"]["properties"]
    assert props["period"]["enum"] == ["daily", "weekly", "monthly"]
    assert tools["rank_entities"]["properties"]["direction"]["enum"] == ["top", "bottom"]
    assert tools["export_results"]["properties"]["format"]["enum"] == ["csv", "json", "jsonl", "excel", "parquet"]
    assert tools["calculate_metrics"]["properties"]["metric"]["enum"][0] == "count"
    # optional arguments are published with their non-null type (omitted = default; null is still accepted)
    assert tools["compare_data"]["properties"]["period"]["enum"] == ["day", "week", "month", "quarter", "year"]
    assert tools["get_kpi_dashboard"]["properties"]["timeframe"]["enum"] == ["today", "week", "month", "quarter"]
    assert tools["calculate_metrics"]["properties"]["order_by"]["enum"] == ["asc", "desc"]
    assert tools["calculate_metrics"]["properties"]["group_by"]["type"] == "array"


# ---------- validation errors: one line per problem, argument + given + valid values ----------

BAD_ARGUMENTS = [
    ("calculate_metrics", {**DROPS_COUNT, "metric": "averag"}, "metric", '"averag"', ["count", "sum", "avg", "stddev"]),
    ("rank_entities", {**RANK, "direction": "sideways"}, "direction", '"sideways"', ["top", "bottom"]),
    (
        "compare_data",
        {**DROPS_COUNT, "compare_by": "time", "period": "fortnight"},
        "period",
        '"fortnight"',
        ["day", "year"],
    ),
    (
        "analyze_trends",
        {**DROPS_COUNT, "period": "hourly", "start_date": "2024-01-01"},
        "period",
        '"hourly"',
        ["daily", "monthly"],
    ),
    ("export_results", {"query": "SELECT 1", "format": "pdf"}, "format", '"pdf"', ["csv", "excel", "parquet"]),
    ("get_kpi_dashboard", {"timeframe": "decade"}, "timeframe", '"decade"', ["today", "week", "month", "quarter"]),
    ("check_data_quality", {"checks": ["nulls"]}, "checks[0]", '"nulls"', ["completeness", "duplicates"]),
    (
        "calculate_metrics",
        {**DROPS_COUNT, "filters": {"column": "status", "operator": "like-ish"}},
        "filters[0].operator",
        '"like-ish"',
        ["=", "ILIKE", "NOT IN"],
    ),
    ("calculate_metrics", {**DROPS_COUNT, "limit": 0}, "limit", "0", ["greater than or equal to 1"]),
    ("run_query", {"sql": "SELECT 1", "offset": "many"}, "offset", '"many"', ["integer"]),
    (
        "analyze_trends",
        {**DROPS_COUNT, "period": "daily", "start_date": "last week"},
        "start_date",
        '"last week"',
        ["date"],
    ),
]


@pytest.mark.parametrize(
    ("tool", "args", "arg", "given", "valid"), BAD_ARGUMENTS, ids=[f"{t}.{a}" for t, _, a, _, _ in BAD_ARGUMENTS]
)
async def test_validation_error_is_one_line(
    demo_dsn: str, tool: str, args: dict[str, Any], arg: str, given: str, valid: list[str]
) -> None:
    async with mcp_client(demo_dsn) as client:
        text = await call_error(client, tool, args)
    assert DOCS_LINK not in text and "validation error" not in text and "type=" not in text, text
    (line,) = text.splitlines()
    assert line.startswith(f"Error executing tool {tool}: {arg}: got {given}; "), line
    assert all(v in line for v in valid), line


async def test_several_problems_give_one_line_each(demo_dsn: str) -> None:
    async with mcp_client(demo_dsn) as client:
        text = await call_error(client, "calculate_metrics", {"metric": "COUNTS", "order_by": "sideways", "limit": -1})
    lines = text.removeprefix("Error executing tool calculate_metrics: ").splitlines()
    assert DOCS_LINK not in text
    assert sorted(line.split(":")[0] for line in lines) == ["limit", "metric", "order_by", "table_name"], lines
    assert "table_name: not given (required)" in text
    assert 'metric: got "COUNTS"; valid values: count, sum' in text
    assert 'order_by: got "sideways"; valid values: asc, desc' in text


# ---------- PostgreSQL errors suggest names ----------

SQL_TOOLS = [("run_query", "sql"), ("explain_query", "sql"), ("export_results", "query")]


@pytest.mark.parametrize(("tool", "arg"), SQL_TOOLS, ids=[t for t, _ in SQL_TOOLS])
async def test_unknown_names_get_suggestions(demo_dsn: str, tool: str, arg: str, tmp_path: Path) -> None:
    extra: dict[str, Any] = {"format": "csv"} if tool == "export_results" else {}
    async with mcp_client(demo_dsn, exports_dir=str(tmp_path)) as client:
        table = await call_error(client, tool, {arg: "SELECT count(*) FROM drop_s", **extra})
        column = await call_error(client, tool, {arg: "SELECT d.statuss FROM drops d", **extra})
        label = await call_error(client, tool, {arg: "SELECT count(*) FROM drops WHERE status = 'completd'", **extra})
        bound = await call_error(
            client, tool, {arg: "SELECT count(*) FROM drops WHERE status = $1", "params": "completd", **extra}
        )
    assert 'relation "drop_s" does not exist' in table and "did you mean drops" in table, table
    assert "did you mean status" in column and "columns of public.drops" in column, column
    for text in (label, bound):
        assert "valid values of drop_status: scheduled, in_progress, completed, failed, cancelled" in text, text
        assert "completd" not in text  # the value itself is not echoed (it could be personal data)


async def test_suggestions_on_chinook(chinook_dsn: str) -> None:
    async with mcp_client(chinook_dsn) as client:
        table = await call_error(client, "run_query", {"sql": "SELECT * FROM invoices"})
        column = await call_error(
            client, "run_query", {"sql": "SELECT i.totl FROM invoice i JOIN customer c USING (customer_id)"}
        )
        cte = await call_error(client, "run_query", {"sql": "WITH t AS (SELECT 1 AS a) SELECT b FROM t"})
    assert "did you mean invoice" in table, table
    assert "did you mean total" in column and "public.customer" in column and "public.invoice" in column, column
    assert 'column "b" does not exist' in cte and "list_tables" in cte, cte


async def test_suggestions_name_only_tables_the_caller_sees(pg: Any) -> None:
    dsn = await pg.acreate_database(
        "args_visibility",
        "CREATE TABLE orders (id int, status text); CREATE TABLE payroll_secret (id int, salary int); "
        "DO $$ BEGIN CREATE ROLE args_reader LOGIN PASSWORD 'pw'; EXCEPTION WHEN duplicate_object THEN NULL; END $$; "
        "GRANT SELECT ON orders TO args_reader;",
    )
    parts = urlsplit(dsn)
    reader = urlunsplit(
        (parts.scheme, "args_reader:pw@" + parts.netloc.rpartition("@")[2], parts.path, parts.query, "")
    )
    async with mcp_client(reader) as client:
        table = await call_error(client, "run_query", {"sql": "SELECT * FROM payroll_secrt"})
        column = await call_error(client, "run_query", {"sql": "SELECT salry FROM orders, payroll_secret"})
        seen = await call_error(client, "run_query", {"sql": "SELECT * FROM ordrs"})
    assert "payroll_secret" not in table, table
    ours = column.split("; ", 1)[1]  # PostgreSQL's own hint may name the column of a table the query names
    assert "salary" not in ours and "payroll_secret" not in ours, column
    assert "columns of public.orders: id, status" in column, column
    assert "did you mean orders" in seen, seen


# ---------- export:// resources: the format's MIME type, text formats as text ----------

EXPORT_MIME = [
    ("csv", "text/csv", True),
    ("json", "application/json", True),
    ("jsonl", "application/jsonl", True),
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", False),
    ("parquet", "application/vnd.apache.parquet", False),
]


async def test_export_resources_carry_mime_types(demo_dsn: str, tmp_path: Path) -> None:
    async with mcp_client(demo_dsn, exports_dir=str(tmp_path)) as client:
        for fmt, mime, is_text in EXPORT_MIME:
            result = await client.call_tool(
                "export_results", {"query": "SELECT id, status FROM drops ORDER BY id LIMIT 3", "format": fmt}
            )
            out = result.structured_content
            assert out is not None and not result.is_error
            (link,) = [c for c in result.content if c.type == "resource_link"]
            assert link.mime_type == mime
            (content,) = (await client.read_resource(out["resource_uri"])).contents
            assert content.mime_type == mime, (fmt, content.mime_type)
            data = Path(out["file_path"]).read_bytes()
            if is_text:
                assert isinstance(content, TextResourceContents) and content.text.encode() == data
            else:
                assert isinstance(content, BlobResourceContents) and base64.b64decode(content.blob) == data
            (meta,) = (await client.read_resource(out["resource_uri"] + ".meta.json")).contents
            assert isinstance(meta, TextResourceContents) and meta.mime_type == "application/json"
        csv = await call(
            client, "export_results", {"query": "SELECT id FROM drops ORDER BY id LIMIT 2", "format": "csv"}
        )
        (read,) = (await client.read_resource(csv["resource_uri"])).contents
    ids = await sql(demo_dsn, "SELECT id FROM drops ORDER BY id LIMIT 2")
    assert isinstance(read, TextResourceContents)
    assert read.text.splitlines() == ["id", *[str(r["id"]) for r in ids]]


# ---------- run_query explain=true: the plan digest in the text content ----------


async def test_explain_digest_in_text(demo_dsn: str) -> None:
    async with mcp_client(demo_dsn) as client:
        result = await client.call_tool(
            "run_query",
            {"sql": "SELECT status, count(*) FROM drops WHERE contractor_id = 3 GROUP BY status", "explain": True},
        )
        plain = await client.call_tool("run_query", {"sql": "SELECT 1 AS x"})
    assert not result.is_error and result.structured_content is not None
    text = result.content[0].text  # type: ignore[union-attr]
    plan = result.structured_content["query_plan"]
    assert plan and "plan (EXPLAIN" in text
    root = plan[0]["Plan"]["Node Type"]
    assert root in text and " on drops" in text and "contractor_id = 3" in text, text
    assert "plan (EXPLAIN" not in plain.content[0].text  # type: ignore[union-attr]
