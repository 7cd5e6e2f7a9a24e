"""export_results on MariaDB, every format, read back by independent readers and compared with SQL."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest

from tests.helpers import call, mcp_client
from tests.mysql_server import MariaDb, admin_sql

pytestmark = pytest.mark.anyio
SQL = "SELECT InvoiceId, CustomerId, InvoiceDate, BillingCity, Total FROM Invoice ORDER BY InvoiceId"


async def test_every_format_matches_sql(chinook_mysql_dsn: str, mariadb: MariaDb, tmp_path: Path) -> None:
    want = await admin_sql(mariadb, SQL, "chinook")
    out = {}
    async with mcp_client(chinook_mysql_dsn, exports_dir=str(tmp_path)) as client:
        for fmt in ("csv", "json", "jsonl", "excel", "parquet"):
            out[fmt] = await call(client, "export_results", {"query": SQL, "format": fmt})
        small = await call(
            client,
            "export_results",
            {"query": "SELECT * FROM Genre WHERE GenreId < $1", "format": "json", "params": [3]},
        )
    assert all(o["row_count"] == len(want) for o in out.values())
    with open(out["csv"]["file_path"], newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["InvoiceId", "CustomerId", "InvoiceDate", "BillingCity", "Total"]
    assert [(int(r[0]), r[3], Decimal(r[4])) for r in rows[1:]] == [(i, city, t) for i, _, _, city, t in want]
    as_json = json.loads(Path(out["json"]["file_path"]).read_text(encoding="utf-8"))
    assert as_json[0]["InvoiceDate"] == want[0][2].isoformat() and Decimal(str(as_json[0]["Total"])) == want[0][4]
    lines = Path(out["jsonl"]["file_path"]).read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["InvoiceId"] for x in lines] == [r[0] for r in want]
    table = pq.read_table(out["parquet"]["file_path"])
    assert table.column("InvoiceId").to_pylist() == [r[0] for r in want]
    assert table.column("Total").to_pylist() == [r[4] for r in want]
    assert table.column("InvoiceDate").to_pylist()[0] == want[0][2]
    sheet = openpyxl.load_workbook(out["excel"]["file_path"], read_only=True).worksheets[0]
    assert sum(1 for _ in sheet.iter_rows()) >= len(want) + 1
    assert json.loads(Path(small["file_path"]).read_text()) == [
        {"GenreId": g, "Name": n}
        for g, n in await admin_sql(mariadb, "SELECT * FROM Genre WHERE GenreId < 3", "chinook")
    ]


async def test_export_is_guarded(chinook_mysql_dsn: str, tmp_path: Path) -> None:
    from tests.helpers import call_error

    async with mcp_client(chinook_mysql_dsn, exports_dir=str(tmp_path)) as client:
        text = await call_error(
            client, "export_results", {"query": "SELECT * FROM Genre INTO OUTFILE '/tmp/x'", "format": "csv"}
        )
    assert "Refused" in text
