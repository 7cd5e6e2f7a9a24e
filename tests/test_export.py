"""export_results through a real MCP client (in-process, CLI subprocesses, and `vf-mcp serve --transport http`).

Every format is read back with a real reader (polars and PostgreSQL's own COPY for CSV, the json module and
polars for JSON, openpyxl for Excel, pyarrow for Parquet) and compared with hand-written expectations for
every PostgreSQL type of tests/test_convert.py.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import openpyxl
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import call, call_error, clean_env, mcp_client, vf_mcp_http
from mcp import Client, MCPError

from tests.conftest import PgCluster
from tests.test_convert import EXPECTED, SETUP_SQL
from vf_mcp.export import excel as excel_module
from vf_mcp.export.signing import signed_url
from vf_mcp.tools import export_files

pytestmark = pytest.mark.anyio

ALL = "SELECT * FROM all_types ORDER BY id"
SERIES = (
    "SELECT g AS id, 'name ' || g AS label, (g % 1000) / 7.0 AS amount, g * 0.5::float8 AS ratio, "
    "g % 2 = 0 AS flag, DATE '2024-01-01' + g % 365 AS day, "
    "TIMESTAMPTZ '2024-01-01 00:00+00' + g * interval '1 minute' AS at, repeat('x', 50) AS pad "
    "FROM generate_series(1, $1::int) g"
)


@pytest.fixture(scope="module")
def export_dsn(pg: PgCluster) -> str:
    return pg.create_database("export_test", SETUP_SQL)


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ours(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


async def export(client: Client, query: str, fmt: str, **args: Any) -> dict[str, Any]:
    return await call(client, "export_results", {"query": query, "format": fmt, **args})


async def copy_csv(dsn: str, query: str) -> bytes:
    """PostgreSQL's own CSV for `query`, on an independent connection."""
    conn = await asyncpg.connect(dsn)
    try:
        buf = io.BytesIO()
        await conn.copy_from_query(query, output=buf, format="csv", header=True)
        return buf.getvalue()
    finally:
        await conn.close()


# --------------------------------------------------------------------------------------------------
# Every type, every format.


async def test_csv_is_postgres_copy_byte_for_byte(export_dsn: str, tmp_path: Path) -> None:
    async with mcp_client(export_dsn, exports_dir=str(tmp_path)) as client:
        out = await export(client, ALL, "csv")
        with_params = await export(client, "SELECT * FROM all_types WHERE id >= $1 ORDER BY id", "csv", params=[1])
        show = await export(client, "SHOW server_version", "csv")
    data = Path(out["file_path"]).read_bytes()
    assert data == await copy_csv(export_dsn, ALL)
    assert Path(with_params["file_path"]).read_bytes() == data  # bound parameters: the same bytes
    assert out["row_count"] == 3 and out["file_size_bytes"] == len(data)
    assert out["file_path"].startswith(str(tmp_path)) and out["file_name"].endswith(".csv")
    # A real reader: names, NULL vs empty string, embedded quotes and newlines.
    frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
    assert frame.columns == list(EXPECTED)
    text = frame["c_text"].to_list()
    assert text == ['h\u00e9llo "w\u00f6rld"\n', "", None]
    assert frame["c_char"].to_list() == ["ab   ", "     ", None]  # padding kept (a ::text cast would trim it)
    assert frame["c_inet"].to_list() == ["192.168.0.1/24", "::ffff:1.2.3.4", None]
    assert frame["c_boolean"].to_list() == ["t", "f", None]
    assert frame["c_bytea"].to_list() == ["\\xdeadbeef00ff", "\\x", None]
    assert frame["c_int_2d"].to_list() == ["{{1,NULL},{3,4}}", "{}", None]
    assert frame["id"].to_list() == ["1", "2", "3"]
    meta = json.loads(Path(out["metadata_path"]).read_text())["metadata"]
    assert meta["query"] == ALL and meta["row_count"] == 3 and meta["parameters"] == []
    assert [c["name"] for c in meta["columns"]] == list(EXPECTED)
    assert [c["type"] for c in meta["columns"]] == [v[0] for v in EXPECTED.values()]
    assert meta["server_version"] and meta["created_at"] and meta["expires_at"] == out["expires_at"]
    shown = Path(show["file_path"]).read_text().splitlines()
    assert shown[0] == "server_version" and len(shown) == 2


async def test_json_and_jsonl_values_are_run_query_values(export_dsn: str, tmp_path: Path) -> None:
    async with mcp_client(export_dsn, exports_dir=str(tmp_path)) as client:
        as_json = await export(client, ALL, "json", filename="types")
        as_jsonl = await export(client, ALL, "jsonl")
        dup = await export(client, "SELECT 1 AS a, 2 AS a, 'x' AS b", "json")
        empty = await export(client, "SELECT 1 AS a WHERE false", "json")
    assert as_json["file_name"] == "types.json"
    rows = json.loads(Path(as_json["file_path"]).read_text(encoding="utf-8"))
    lines = [json.loads(line) for line in Path(as_jsonl["file_path"]).read_text(encoding="utf-8").splitlines()]
    assert rows == lines and len(rows) == 3
    for name, (_, first, second) in EXPECTED.items():
        assert (name, compact(rows[0][name])) == (name, compact(first))
        assert (name, compact(rows[1][name])) == (name, compact(second))
        assert rows[2][name] == (3 if name == "id" else None)
    assert json.loads(Path(dup["file_path"]).read_text()) == [{"a": 1, "a_2": 2, "b": "x"}]
    assert json.loads(Path(empty["file_path"]).read_text()) == [] and empty["row_count"] == 0
    # polars reads the JSON Lines file too (a column of one JSON type).
    simple = pl.read_ndjson(Path(as_jsonl["file_path"]), schema={"id": pl.Int64, "c_text": pl.String})
    assert simple["id"].to_list() == [1, 2, 3] and simple["c_text"].to_list() == [EXPECTED["c_text"][1], "", None]


def _f4(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


PARQUET: dict[str, tuple[pa.DataType, Any, Any]] = {
    "id": (pa.int32(), 1, 2),
    "c_smallint": (pa.int16(), -32768, 0),
    "c_integer": (pa.int32(), 2147483647, -1),
    "c_bigint": (pa.int64(), 9223372036854775807, -9223372036854775808),
    "c_numeric_huge": (
        pa.decimal256(76, 9),
        Decimal("123456789012345678901234567890.123456789"),
        Decimal("1E+40"),
    ),
    "c_numeric_small": (pa.decimal128(38, 6), Decimal("0.1"), Decimal("-0.000001")),
    "c_numeric_special": (pa.string(), "NaN", "Infinity"),
    "c_numeric_scaled": (pa.decimal128(38, 2), Decimal("1234.50"), Decimal("-0.50")),
    "c_real": (pa.float32(), _f4(0.1), math.inf),
    "c_double": (pa.float64(), 3.141592653589793, 1e308),
    "c_double_special": (pa.float64(), "NaN", -math.inf),  # NaN checked with math.isnan below
    "c_boolean": (pa.bool_(), True, False),
    "c_date": (pa.date32(), date(2024, 2, 29), None),  # 44 BC: outside Arrow's date range -> null
    "c_date_edge": (pa.date32(), None, None),  # infinity -> null
    "c_timestamp": (pa.timestamp("us"), datetime(2024, 1, 2, 3, 4, 5, 123456), None),
    "c_timestamptz": (pa.timestamp("us", tz="UTC"), datetime(2024, 1, 2, 1, 4, 5, 500000, tzinfo=UTC), None),
    "c_time": (pa.time64("us"), dtime(13, 14, 15, 1), None),  # 24:00:00 -> null
    "c_bytea": (pa.binary(), bytes.fromhex("deadbeef00ff"), b""),
    "c_int_2d": (pa.string(), "[[1,null],[3,4]]", "[]"),  # multi-dimensional: JSON text
    "c_text_arr": (pa.list_(pa.string()), ["a", "b c", None, "d,e"], [None]),
    "c_jsonb": (pa.string(), '{"a":"x","b":[1,2.5,null,true]}', '"just a string"'),
    "c_json": (pa.string(), '[1,{"k":"v"},100.0]', '{"big":123456789012345678901234567890,"f":"1e400"}'),
    "c_domain": (pa.int32(), 42, 1),
    "c_int4multirange": (pa.string(), '["[1,3)","[5,7)"]', "[]"),
    "c_composite": (
        pa.string(),
        '{"street":"Main St","number":12,"tags":["a","b"],"geo":"(1.5,2)","moved":"2020-05-17"}',
        '{"street":null,"number":null,"tags":[],"geo":null,"moved":"10000-01-01"}',
    ),
    "c_oid": (pa.int64(), 4294967295, 0),
    "c_enum_arr": (pa.string(), '["planned","done"]', "[]"),
}
# Every other column is text exactly as in JSON exports.


async def test_parquet_types_and_values(export_dsn: str, tmp_path: Path) -> None:
    async with mcp_client(export_dsn, exports_dir=str(tmp_path)) as client:
        out = await export(client, ALL, "parquet")
        bare = await export(client, ALL, "parquet", include_metadata=False)
    table = pq.read_table(out["file_path"])
    assert table.column_names == list(EXPECTED)
    rows = table.to_pylist()
    for name, (label, first, second) in EXPECTED.items():
        arrow, one, two = PARQUET.get(name, (pa.string(), first, second))
        field = table.schema.field(name)
        assert (name, field.type) == (name, arrow)
        assert field.metadata == {b"pg_type": label.encode()}
        if one != "NaN" or name != "c_double_special":
            assert (name, rows[0][name]) == (name, one)
        assert (name, rows[1][name]) == (name, two)
        assert rows[2][name] == (3 if name == "id" else None)
    special = table.column("c_double_special").to_pylist()
    assert math.isnan(special[0]) and special[1] == -math.inf
    kv = pq.read_metadata(out["file_path"]).metadata
    meta = json.loads(kv[b"vf_mcp.export"])
    assert meta["row_count"] == 3 and meta["query"] == ALL
    assert kv[b"vf_mcp.query"] == ALL.encode()
    assert any("c_date_edge" in w for w in out["warnings"]) and any("c_time" in w for w in out["warnings"])
    assert not any(k.startswith(b"vf_mcp") for k in pq.read_metadata(bare["file_path"]).metadata)
    assert bare["metadata_path"] is None


def _excel_expected(name: str, value: Any, index: int) -> Any:
    typed: dict[str, tuple[Any, Any]] = {
        "id": (1, 2),
        "c_smallint": (-32768, 0),
        "c_integer": (2147483647, -1),
        "c_bigint": ("9223372036854775807", "-9223372036854775808"),  # past 2**53: text, never rounded
        "c_numeric_huge": (1.2345678901234568e29, 1e40),
        "c_numeric_small": (0.1, -0.000001),
        "c_numeric_scaled": (1234.5, -0.5),
        "c_real": (0.1, "Infinity"),
        "c_double": (3.141592653589793, 1e308),
        "c_boolean": (True, False),
        "c_date": (datetime(2024, 2, 29), "0044-03-15 BC"),
        "c_timestamp": (datetime(2024, 1, 2, 3, 4, 5, 123456), "infinity"),
        "c_timestamptz": (datetime(2024, 1, 2, 1, 4, 5, 500000), "-infinity"),
        "c_time": (dtime(13, 14, 15, 1), "24:00:00"),
        "c_domain": (42, 1),
        "c_oid": (4294967295, 0),
    }
    if name in typed:
        return typed[name][index]
    return value if isinstance(value, str) else compact(value)


def _same_cell(got: Any, want: Any) -> bool:
    if isinstance(want, datetime) and isinstance(got, datetime):
        return abs((got - want).total_seconds()) < 0.001  # Excel keeps milliseconds
    if isinstance(want, dtime) and isinstance(got, dtime):
        return abs((got.hour * 3600 + got.minute * 60 + got.second + got.microsecond / 1e6)
                   - (want.hour * 3600 + want.minute * 60 + want.second + want.microsecond / 1e6)) < 0.001  # fmt: skip
    if isinstance(want, float) and isinstance(got, (int, float)):
        return math.isclose(got, want, rel_tol=1e-15)
    return bool(got == want and type(got) is type(want))


async def test_excel_cells_header_and_metadata_sheet(export_dsn: str, tmp_path: Path) -> None:
    async with mcp_client(export_dsn, exports_dir=str(tmp_path)) as client:
        out = await export(client, ALL, "excel", filename="All Types.xlsx")
    assert out["file_name"] == "All Types.xlsx"
    book = openpyxl.load_workbook(out["file_path"])
    assert book.sheetnames == ["data", "metadata"]
    sheet = book["data"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(EXPECTED))}4"
    header = [c.value for c in sheet[1]]
    assert header == list(EXPECTED) and all(c.font.b for c in sheet[1])
    assert sheet.column_dimensions["M"].width >= len("c_text")  # widths from the data
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2, max_row=4)]
    for position, (name, (_, first, second)) in enumerate(EXPECTED.items()):
        want_one, want_two = _excel_expected(name, first, 0), _excel_expected(name, second, 1)
        assert _same_cell(values[0][position], want_one), (name, values[0][position], want_one)
        assert _same_cell(values[1][position], want_two), (name, values[1][position], want_two)
        assert values[2][position] == (3 if name == "id" else None)
    meta = {row[0].value: row[1].value for row in book["metadata"].iter_rows(max_col=2) if row[0].value}
    assert meta["query"] == ALL and meta["row_count"] == "3" and meta["format"] == "excel"
    assert meta["column"] == "PostgreSQL type"  # the column table follows the key-value rows
    assert out["metadata_path"] is None  # the metadata is inside the workbook


async def test_excel_continues_on_new_sheets_past_the_row_limit(
    export_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(excel_module, "EXCEL_MAX_ROWS", 11)  # 10 data rows per sheet
    async with mcp_client(export_dsn, exports_dir=str(tmp_path)) as client:
        out = await export(client, "SELECT g AS n FROM generate_series(1, 25) g", "excel")
    book = openpyxl.load_workbook(out["file_path"], read_only=True)
    assert book.sheetnames == ["data", "data (2)", "data (3)", "metadata"]
    got = []
    for name in book.sheetnames[:3]:
        rows = [r[0] for r in book[name].iter_rows(values_only=True)]
        assert rows[0] == "n"
        got += rows[1:]
    assert got == list(range(1, 26))
    assert any("3 sheets" in w for w in out["warnings"]) and "3 sheets" in out["message"]


# --------------------------------------------------------------------------------------------------
# Refusals, limits, names, progress, resources, cleanup.


async def test_guard_refusals_are_the_same_as_run_query(export_dsn: str, tmp_path: Path) -> None:
    async with mcp_client(export_dsn, exports_dir=str(tmp_path)) as client:
        for bad in (
            "DELETE FROM all_types",
            "SELECT pg_read_file('/etc/passwd')",
            "SELECT 1; DROP TABLE all_types",
            "WITH d AS (DELETE FROM all_types RETURNING *) SELECT * FROM d",
        ):
            mine = await call_error(client, "export_results", {"query": bad, "format": "csv"})
            theirs = await call_error(client, "run_query", {"sql": bad})
            assert mine.split(": ", 1)[1] == theirs.split(": ", 1)[1], bad
        wrong = await call_error(client, "export_results", {"query": "SELECT $1::int", "format": "json"})
        assert "1 parameter" in wrong
    assert ours(tmp_path) == []  # nothing left behind
    rows = await asyncpg_count(export_dsn)
    assert rows == 3


async def asyncpg_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM all_types"))
    finally:
        await conn.close()


async def test_filename_is_only_a_download_name(export_dsn: str, tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    async with mcp_client(export_dsn, exports_dir=str(exports)) as client:
        names = {}
        for given in (
            "../../etc/passwd",
            "..\\..\\win.ini",
            "..",
            "a\x00b\nc;rm -rf /.csv",
            "/etc/",
            "ok name.csv",
            "x;y|z$(id)`w`.csv",
        ):
            out = await export(client, "SELECT 1 AS x", "csv", filename=given)
            names[given] = out["file_name"]
            assert Path(out["file_path"]).parent == exports
            assert Path(out["file_path"]).name == f"{out['export_id']}.csv"
    assert names["../../etc/passwd"] == "passwd.csv"
    assert names["..\\..\\win.ini"] == "win.ini.csv"
    assert names[".."].startswith("export-") and names["/etc/"].startswith("export-")
    assert names["a\x00b\nc;rm -rf /.csv"].startswith("export-")  # only ".csv" is left after the last slash
    assert names["x;y|z$(id)`w`.csv"] == "x_y_z_(id)_w.csv"
    assert names["ok name.csv"] == "ok name.csv"
    assert not (tmp_path / "etc").exists() and sorted(os.listdir(tmp_path)) == ["exports"]


async def test_max_total_size(export_dsn: str, tmp_path: Path) -> None:
    async with mcp_client(export_dsn, exports_dir=str(tmp_path), export_max_total_bytes=64 * 1024) as client:
        text = await call_error(client, "export_results", {"query": SERIES, "format": "csv", "params": [20000]})
        assert "export_max_total_bytes" in text and "64.0 kB" in text
        assert ours(tmp_path) == []  # the partial file is gone
        small = await export(client, SERIES, "csv", params=[10])
        (tmp_path / "notes.txt").write_bytes(b"x" * 200_000)  # not ours: never counted, never deleted
        await export(client, SERIES, "csv", params=[10])
        (tmp_path / ("0" * 32 + ".csv")).write_bytes(b"x" * 70_000)  # ours (an orphan): counted
        text = await call_error(client, "export_results", {"query": "SELECT 1", "format": "csv"})
        assert "export_max_total_bytes" in text
    assert Path(small["file_path"]).exists() and (tmp_path / "notes.txt").exists()


async def test_progress_notifications(export_dsn: str, tmp_path: Path) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with mcp_client(export_dsn, exports_dir=str(tmp_path)) as client:
        result = await client.call_tool(
            "export_results", {"query": SERIES, "format": "jsonl", "params": [50_000]}, progress_callback=on_progress
        )
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["row_count"] == 50_000
    assert len(seen) >= 3
    counts = [p for p, _, _ in seen]
    assert counts == sorted(counts) and counts[-1] == 50_000 and counts[0] == 1000
    assert seen[-1][2] == "50,000 rows" and all(t is None for _, t, _ in seen)


async def test_resource_link_and_template(export_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with mcp_client(export_dsn, exports_dir=str(tmp_path)) as client:
        result = await client.call_tool("export_results", {"query": ALL, "format": "parquet"})
        assert result.structured_content is not None
        out = result.structured_content
        link = [c for c in result.content if c.type == "resource_link"]
        assert len(link) == 1 and link[0].uri == f"export://{out['export_id']}" == out["resource_uri"]
        assert link[0].mime_type == "application/vnd.apache.parquet" and link[0].size == out["file_size_bytes"]
        assert out["download_url"] is None  # stdio-style settings: no HTTP links
        read = await client.read_resource(out["resource_uri"])
        blob = read.contents[0]
        assert base64.b64decode(blob.blob) == Path(out["file_path"]).read_bytes()  # type: ignore[union-attr]
        csv = await export(client, ALL, "csv")
        meta = await client.read_resource(f"export://{csv['export_id']}.meta.json")
        assert json.loads(meta.contents[0].text)["metadata"]["row_count"] == 3  # type: ignore[union-attr]  # JSON: text
        templates = await client.list_resource_templates()
        assert "export://{export_id}" in [t.uri_template for t in templates.resource_templates]
        with pytest.raises(MCPError) as missing:
            await client.read_resource("export://" + "f" * 32)
        assert missing.value.code == -32602
        with pytest.raises(MCPError):
            await client.read_resource("export://../../etc/passwd")
        monkeypatch.setattr(export_files, "RESOURCE_MAX_BYTES", 10)
        with pytest.raises(MCPError) as too_big:
            await client.read_resource(out["resource_uri"])
        assert out["file_path"] in too_big.value.message


async def test_expired_exports_are_cleaned_up(export_dsn: str, tmp_path: Path) -> None:
    stale = tmp_path / ("a" * 32 + ".csv.part")
    foreign = tmp_path / "keep.txt"
    tmp_path.mkdir(exist_ok=True)
    stale.write_text("partial")
    foreign.write_text("not ours")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(foreign, (old, old))
    async with mcp_client(export_dsn, exports_dir=str(tmp_path), export_ttl_hours=0.0005) as client:  # 1.8 s
        first = await export(client, "SELECT 1 AS x", "csv")
        assert not stale.exists() and foreign.exists()  # cleaned at start (lifespan) / before the export
        assert Path(first["file_path"]).exists()
        time.sleep(2.0)
        with pytest.raises(MCPError):
            await client.read_resource(first["resource_uri"])  # expired: refused even before deletion
        second = await export(client, "SELECT 2 AS x", "csv")
    assert not Path(first["file_path"]).exists() and not Path(first["metadata_path"]).exists()
    assert Path(second["file_path"]).exists() and foreign.exists()


# --------------------------------------------------------------------------------------------------
# Over HTTP: signed links.


def _get(url: str) -> tuple[int, bytes, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


async def test_http_signed_download_links(export_dsn: str, tmp_path: Path) -> None:
    secret = "test-secret-for-links"
    env = clean_env(VF_MCP_DSN=export_dsn, VF_MCP_EXPORTS_DIR=str(tmp_path), VF_MCP_EXPORT_SECRET=secret)
    with vf_mcp_http(["serve"], env) as base:
        async with Client(f"{base}/mcp") as client:
            result = await client.call_tool("export_results", {"query": ALL, "format": "csv", "filename": "t"})
            assert result.structured_content is not None
            out = result.structured_content
        url = out["download_url"]
        assert url.startswith(f"{base}/exports/{out['export_id']}?expires=")
        status, body, headers = _get(url)
        assert status == 200 and body == Path(out["file_path"]).read_bytes()
        assert 'filename="t.csv"' in headers["content-disposition"] and headers["content-type"].startswith("text/csv")
        status, body, _ = _get(out["metadata_url"])
        assert status == 200 and json.loads(body)["metadata"]["row_count"] == 3
        sig_at = url.index("sig=") + 4
        flipped = url[:sig_at] + ("0" if url[sig_at] != "0" else "1") + url[sig_at + 1 :]
        later = url.replace("expires=", "expires=9")
        other = url.replace(out["export_id"], "b" * 32)
        for tampered in (flipped, later, other, url.split("?")[0], url + "x"):
            status, body, _ = _get(tampered)
            assert (status, body) == (403, b"Forbidden"), tampered
        expired = signed_url(base, secret.encode(), out["export_id"], int(time.time()) - 1)
        assert _get(expired)[:2] == (410, b"Gone")
        unknown = signed_url(base, secret.encode(), "c" * 32, int(time.time()) + 60)
        assert _get(unknown)[:2] == (410, b"Gone")


# --------------------------------------------------------------------------------------------------
# Memory stays flat whatever the row count (peak RSS of the whole `vf-mcp call` process).

_RSS = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(p.stderr)\n"
    "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.stdout.replace('\\n', ' '))\n"
)


def _peak_rss_kb(dsn: str, exports: Path, fmt: str, rows: int) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VF_MCP_")}
    env |= {"VF_MCP_EXPORTS_DIR": str(exports)}
    args = json.dumps({"query": SERIES, "format": fmt, "params": [rows]})
    out = subprocess.run(
        [sys.executable, "-c", _RSS, sys.executable, "-m", "vf_mcp.cli", "call", "export_results", args, "--dsn", dsn],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    code, peak, result = out.stdout.split(" ", 2)
    assert code == "0", out.stderr[-2000:]
    return int(peak), json.loads(result)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_memory_does_not_grow_with_rows(export_dsn: str, tmp_path: Path, fmt: str) -> None:
    small, small_out = _peak_rss_kb(export_dsn, tmp_path, fmt, 10_000)
    big, big_out = _peak_rss_kb(export_dsn, tmp_path, fmt, 1_000_000)
    assert small_out["row_count"] == 10_000 and big_out["row_count"] == 1_000_000
    print(f"\n{fmt}: peak RSS {small / 1024:.0f} MB for 10k rows, {big / 1024:.0f} MB for 1M rows "
          f"({big_out['file_size']} file)")  # fmt: skip
    assert big - small < 64 * 1024, (small, big)  # 100x the rows, less than 64 MB more
