"""PII masking on real tool output and exports (stdio/in-process: masking is on by default)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import PgCluster
from helpers import call, sql
from mcp import Client
from pydantic import SecretStr

from vf_mcp.server import build_server
from vf_mcp.settings import Settings, Source

pytestmark = pytest.mark.anyio

SETUP = """
CREATE TABLE contacts (id int PRIMARY KEY, full_name text, email text, mobile bigint, city text, notes text);
INSERT INTO contacts VALUES
  (1, 'Lerato Dlamini', 'lerato@example.com', 27825551234, 'Pretoria', 'call back on 082 555 9999'),
  (2, 'Pieter Nel', 'pieter@example.com', 27835554321, 'Durban', 'card 4111 1111 1111 1111 on file'),
  (3, 'Lerato Dlamini', 'lerato@example.com', 27825551234, 'Pretoria', NULL);
"""


@pytest.fixture(scope="module")
def contacts_dsn(pg: PgCluster) -> str:
    return pg.create_database("vf_pii_tools", SETUP)


def settings(dsn: str, tmp_path: Path, **extra: object) -> Settings:
    return Settings(dsn=dsn, exports_dir=str(tmp_path), audit_log_path="off", **extra)  # type: ignore[arg-type]


async def test_masked_by_default_in_every_place(contacts_dsn: str, tmp_path: Path) -> None:
    async with Client(build_server(settings(contacts_dsn, tmp_path))) as client:
        out = await call(client, "run_query", {"sql": "SELECT * FROM contacts ORDER BY id"})
        rows = out["rows"]
        assert rows[0][1] == "L***" and rows[0][2] == "l***@example.com"
        assert rows[0][3] != 27825551234 and str(rows[0][3]).endswith("1234")
        assert rows[0][4] == "Pretoria"  # not personal
        assert "082 555 9999" not in rows[0][5] and rows[0][5].endswith("9999")  # a phone inside free text
        assert "4111 1111 1111 1111" not in rows[1][5] and "1111" in rows[1][5]  # a Luhn-valid card
        counts = await call(
            client, "run_query", {"sql": "SELECT count(DISTINCT email) AS d, count(email) AS n FROM contacts"}
        )
        truth = (await sql(contacts_dsn, "SELECT count(DISTINCT email), count(email) FROM contacts"))[0]
        assert counts["rows"] == [[truth[0], truth[1]]] == [[2, 3]]
        stats = await call(client, "get_table_stats", {"table_name": "contacts"})
        assert "lerato@example.com" not in json.dumps(stats) and "Lerato Dlamini" not in json.dumps(stats)
        exported = await call(
            client, "export_results", {"query": "SELECT * FROM contacts ORDER BY id", "format": "csv"}
        )
        with open(exported["file_path"], newline="") as f:
            lines = list(csv.reader(f))
        assert lines[0] == ["id", "full_name", "email", "mobile", "city", "notes"]
        assert (
            lines[1][2] == "l***@example.com"
            and lines[1][4] == "Pretoria"
            and "lerato@" not in Path(exported["file_path"]).read_text()
        )
        parquet = await call(
            client, "export_results", {"query": "SELECT id, email, city FROM contacts ORDER BY id", "format": "parquet"}
        )
        table = pq.read_table(parquet["file_path"])
        assert table.column("email").to_pylist() == ["l***@example.com", "p***@example.com", "l***@example.com"]
        assert table.column("id").to_pylist() == [1, 2, 3]  # other columns keep their types


async def test_hash_mode_keeps_joins_and_counts(contacts_dsn: str, tmp_path: Path) -> None:
    async with Client(build_server(settings(contacts_dsn, tmp_path, pii_mode="hash"))) as client:
        out = await call(client, "run_query", {"sql": "SELECT id, email FROM contacts ORDER BY id"})
        tokens = [r[1] for r in out["rows"]]
        assert all(t.startswith("pii:") for t in tokens)
        assert tokens[0] == tokens[2] != tokens[1]  # the same address gives the same token
        assert len(set(tokens)) == (await sql(contacts_dsn, "SELECT count(DISTINCT email) FROM contacts"))[0][0]


async def test_per_column_and_per_source_rules(contacts_dsn: str, tmp_path: Path) -> None:
    open_source = Source(name="open", dsn=SecretStr(contacts_dsn), pii_mode="allow")
    strict = Source(name="strict", dsn=SecretStr(contacts_dsn), default=True, pii_columns={"contacts.city": "mask"})
    s = Settings(sources=(open_source, strict), pii_columns={"email": "hash"}, audit_log_path="off")
    async with Client(build_server(s)) as client:
        q = {"sql": "SELECT email, city FROM contacts WHERE id = 1"}
        strict_row = (await call(client, "run_query", q))["rows"][0]
        assert strict_row[0].startswith("pii:") and strict_row[1] != "Pretoria" and "Pretoria" not in strict_row[1]
        # `allow` on the source turns detection off there; explicit column rules still apply
        open_row = (await call(client, "run_query", {**q, "source": "open"}))["rows"][0]
        assert open_row[1] == "Pretoria"
        assert open_row[0].startswith("pii:")


async def test_a_value_smuggled_into_a_column_name_is_masked(contacts_dsn: str, tmp_path: Path) -> None:
    """A column alias is data too: an email or card number spelled as a column name is masked in the column
    list and in the text, as it would be in a value."""
    async with Client(build_server(settings(contacts_dsn, tmp_path))) as client:
        result = await client.call_tool(
            "run_query", {"sql": 'SELECT 1 AS "lerato@example.com", 2 AS "4111 1111 1111 1111", 3 AS city'}
        )
        assert not result.is_error
        wire = json.dumps(result.structured_content) + result.content[0].text  # type: ignore[union-attr]
        assert "lerato@example.com" not in wire and "4111 1111 1111 1111" not in wire
        names = [c["name"] for c in (result.structured_content or {})["columns"]]
        assert names[0].endswith("@example.com") and names[2] == "city"
        assert (result.structured_content or {})["rows"] == [[1, 2, 3]]
