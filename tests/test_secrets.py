"""Secrets in the database's own catalogs: the role `setup-role` makes, `--require-readonly-role`, and the gate
refusing password hashes, user mappings, other sessions' queries and planner statistics by resolved OID.

Real PostgreSQL, real MCP clients: in-process (the local stdio user, an admin, over a superuser connection:
the worst case) and over HTTP with analyst and admin keys (a real vf-mcp subprocess)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest
from conftest import PgCluster
from helpers import call, call_error, clean_env, mcp_client, sql, vf_mcp_http
from test_http_ops import TOKENS, client_for, write_config

from vf_mcp.db.guard import check_sql
from vf_mcp.db.pool import Database
from vf_mcp.db.roles import apply_role_sql
from vf_mcp.errors import RefusedError
from vf_mcp.settings import Settings

pytestmark = pytest.mark.anyio

DB = "vf_secrets"
ROLES = ("vf_sec_hashed", "vf_sec_ro", "vf_sec_mon", "vf_sec_all")
FDW_SECRET = "fdw-secret-7731"
TOKEN = "token-abc123"

SETUP = f"""
{"".join(f"DROP ROLE IF EXISTS {r};" for r in ROLES)}
CREATE ROLE vf_sec_hashed LOGIN PASSWORD 'hash-me-please';
CREATE TABLE staff (id int PRIMARY KEY, name text);
INSERT INTO staff VALUES (1, 'Thandi'), (2, 'Johan');
ANALYZE staff;
CREATE TABLE public.pg_authid (harmless int);  -- same name as the catalog, in a user schema: readable
INSERT INTO public.pg_authid VALUES (42);
CREATE VIEW v_users AS SELECT rolname, rolpassword FROM pg_authid;
CREATE VIEW v_users2 AS SELECT * FROM v_users;
CREATE MATERIALIZED VIEW mv_users AS SELECT rolname, rolpassword FROM pg_catalog.pg_authid;
CREATE VIEW v_sessions AS SELECT pid, query FROM pg_stat_activity;
CREATE VIEW v_roles AS SELECT rolname FROM pg_roles;  -- pg_roles masks passwords: stays readable
CREATE FOREIGN DATA WRAPPER dummy;
CREATE SERVER s FOREIGN DATA WRAPPER dummy;
CREATE USER MAPPING FOR PUBLIC SERVER s OPTIONS (password '{FDW_SECRET}');
CREATE SCHEMA ext;  -- stands in for pg_stat_statements installed in another schema (not in the embedded build)
CREATE FUNCTION ext.pg_stat_statements(showtext boolean) RETURNS TABLE (query text) STABLE LANGUAGE sql
  AS $$ SELECT query FROM pg_stat_activity $$;
CREATE VIEW ext.pg_stat_statements AS SELECT * FROM ext.pg_stat_statements(true);
CREATE SEQUENCE calls_seq;
CREATE FUNCTION public.random() RETURNS double precision VOLATILE LANGUAGE sql
  AS $$ SELECT nextval('calls_seq')::float8 $$;
"""


async def execute(dsn: str, script: str) -> None:
    """Run setup statements (several per call) on a separate connection."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(script)
    finally:
        await conn.close()


def with_user(dsn: str, user: str, password: str) -> str:
    """The same database, as another role."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{quote(user)}:{quote(password)}@{host}", parts.path, parts.query, ""))


@pytest.fixture(scope="module")
def secrets_dsn(pg: PgCluster) -> str:
    dsn = pg.create_database(DB, SETUP)

    async def extension() -> None:  # pg_stat_statements, wherever it is available (its views are protected)
        conn = await asyncpg.connect(dsn)
        try:
            if await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_stat_statements'"):
                await conn.execute("CREATE EXTENSION pg_stat_statements")
        finally:
            await conn.close()

    asyncio.run(extension())
    return dsn


@pytest.fixture(scope="module")
def plain_dsn(pg: PgCluster) -> str:
    return pg.create_database("vf_secrets_plain", "CREATE TABLE t (x int); INSERT INTO t VALUES (1);")


@pytest.fixture(scope="module")
def hash_of_role(secrets_dsn: str) -> str:
    rows = asyncio.run(sql(secrets_dsn, "SELECT rolpassword FROM pg_authid WHERE rolname = 'vf_sec_hashed'"))
    value = str(rows[0][0])
    assert value.startswith("SCRAM-SHA-256$")
    return value


def assert_no_secret(text: str, hash_value: str) -> None:
    """No password hash, foreign-server password or other session's query text in `text`."""
    for secret in (hash_value, hash_value.split("$")[1], "SCRAM-SHA-256$", FDW_SECRET, TOKEN):
        assert secret not in text, (secret, text[:300])


# --------------------------------------------------------------------------------------------------
# (a) setup-role and --require-readonly-role
# --------------------------------------------------------------------------------------------------


async def test_setup_role_grants_analysis_not_secrets(secrets_dsn: str) -> None:
    await apply_role_sql(secrets_dsn, "vf_sec_ro", "pw-ro")
    await execute(secrets_dsn, "CREATE TABLE later (id int); INSERT INTO later VALUES (7)")  # after setup-role
    conn = await asyncpg.connect(with_user(secrets_dsn, "vf_sec_ro", "pw-ro"))
    try:
        for table in ("pg_authid", "pg_shadow", "pg_user_mapping", "pg_statistic", "pg_statistic_ext_data"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT count(*) FROM pg_catalog.{table}")
        mappings = await conn.fetch("SELECT umoptions FROM pg_user_mappings")
        options = await conn.fetch("SELECT option_value FROM information_schema.user_mapping_options")
        assert FDW_SECRET not in repr(mappings) + repr(options)
        assert await conn.fetchval("SELECT count(*) FROM staff") == 2
        assert await conn.fetchval("SELECT id FROM later") == 7  # default privileges
        assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
        assert await conn.fetchval("SHOW temp_file_limit") == "1GB"  # the admin here is a superuser
        assert not await conn.fetchval("SELECT pg_has_role('pg_read_all_data', 'MEMBER')")
        assert not await conn.fetchval("SELECT pg_has_role('pg_monitor', 'MEMBER')")
    finally:
        await conn.close()

    safety = await Database(Settings(dsn=with_user(secrets_dsn, "vf_sec_ro", "pw-ro"))).role_safety()
    assert safety.is_read_only and not safety.reasons and not safety.notes and safety.warning() is None
    async with mcp_client(with_user(secrets_dsn, "vf_sec_ro", "pw-ro"), require_readonly_role=True) as client:
        out = await call(client, "run_query", {"sql": "SELECT count(*) FROM later"})
        assert out["rows"] == [[1]]


async def test_monitoring_role_passes_with_a_note(secrets_dsn: str) -> None:
    await apply_role_sql(secrets_dsn, "vf_sec_mon", "pw-mon", monitoring=True)
    db = Database(Settings(dsn=with_user(secrets_dsn, "vf_sec_mon", "pw-mon")))
    try:
        safety = await db.role_safety()
    finally:
        await db.close()
    assert safety.is_read_only and safety.warning() is None
    assert any("pg_read_all_stats" in n and "query text" in n for n in safety.notes)


async def test_role_reading_all_data_is_refused(secrets_dsn: str) -> None:
    from vf_mcp.server import StartupRefused

    connect = "SELECT format('GRANT CONNECT ON DATABASE %I TO vf_sec_all', current_database())"
    grant = (await sql(secrets_dsn, connect))[0][0]
    await execute(secrets_dsn, f"CREATE ROLE vf_sec_all LOGIN PASSWORD 'pw-all'; {grant}")
    await execute(secrets_dsn, "GRANT pg_read_all_data TO vf_sec_all")
    dsn = with_user(secrets_dsn, "vf_sec_all", "pw-all")
    db = Database(Settings(dsn=dsn))
    try:
        safety = await db.role_safety()
    finally:
        await db.close()
    assert not safety.is_read_only and safety.reads_secrets and not safety.can_write
    assert "member of pg_read_all_data" in safety.reasons
    assert any("pg_authid" in r and "pg_user_mapping" in r and "pg_statistic" in r for r in safety.reasons)
    with pytest.raises(BaseException) as err:
        async with mcp_client(dsn, require_readonly_role=True) as client:
            await client.list_tools()
    chain: list[BaseException] = []
    exc: BaseException | None = err.value
    while exc is not None and len(chain) < 20:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__ or (exc.exceptions[0] if isinstance(exc, BaseExceptionGroup) else None)
    refused = next(e for e in chain if isinstance(e, StartupRefused))
    assert "pg_read_all_data" in str(refused) and "setup-role" in str(refused)


# --------------------------------------------------------------------------------------------------
# (b) the gate: every spelling refused, by resolved OID
# --------------------------------------------------------------------------------------------------

ATTACKS = [
    "SELECT * FROM pg_authid",
    "SELECT rolpassword FROM pg_catalog.pg_authid",
    'SELECT * FROM "pg_authid"',
    'SELECT * FROM "pg_catalog"."pg_authid"',
    f"SELECT * FROM {DB}.pg_catalog.pg_authid",
    "TABLE pg_shadow",
    "SELECT * FROM ONLY pg_authid",
    "WITH x AS (SELECT rolpassword FROM pg_authid) SELECT * FROM x",
    "WITH pg_authid AS (SELECT 1 AS a) SELECT * FROM (SELECT rolpassword FROM pg_catalog.pg_authid) y",
    "SELECT * FROM (WITH pg_authid AS (SELECT 1 AS a) SELECT * FROM pg_authid) y, pg_authid",  # CTE scope trick
    "SELECT (SELECT max(rolpassword) FROM pg_authid) AS p",
    "SELECT s.* FROM staff, LATERAL (SELECT rolpassword FROM pg_authid LIMIT 1) s",
    "SELECT name FROM staff UNION ALL SELECT rolpassword FROM pg_authid",
    "SELECT 1 WHERE EXISTS (SELECT 1 FROM pg_authid WHERE rolpassword LIKE 'SCRAM%')",
    "EXPLAIN ANALYZE SELECT * FROM pg_authid",
    "SELECT * FROM v_users",
    "SELECT * FROM public.v_users2",
    "SELECT * FROM mv_users",
    "SELECT * FROM pg_user_mappings",
    "SELECT umoptions FROM pg_user_mapping",
    "SELECT * FROM information_schema.user_mapping_options",
    "SELECT query FROM pg_stat_activity",
    "SELECT a.query FROM pg_catalog.pg_stat_activity a WHERE a.query LIKE '%token%'",
    "SELECT * FROM v_sessions",
    "SELECT * FROM pg_stat_get_activity(NULL)",
    "SELECT pg_catalog.pg_stat_get_backend_activity(b) FROM pg_stat_get_backend_idset() b",
    "SELECT * FROM pg_stat_replication",
    "SELECT query FROM ext.pg_stat_statements",
    "SELECT * FROM ext.pg_stat_statements(true)",
    "SELECT * FROM pg_hba_file_rules",
    "SELECT * FROM pg_file_settings",
    "SELECT * FROM pg_config()",
    "SELECT * FROM pg_statistic",
    "SELECT * FROM pg_stats WHERE tablename = 'staff'",
    "SELECT * FROM pg_subscription",
    "SELECT * FROM pg_db_role_setting",
    "SELECT * FROM pg_largeobject",
]


@pytest.fixture
async def busy_session(secrets_dsn: str) -> AsyncIterator[None]:
    """Another session running a statement whose text holds a token, visible in pg_stat_activity."""
    conn = await asyncpg.connect(secrets_dsn)
    task = asyncio.create_task(conn.fetch(f"SELECT '{TOKEN}', pg_sleep(5)"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        seen = await sql(secrets_dsn, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1", f"%'{TOKEN}'%")
        if seen[0][0] >= 1:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the busy session never showed up in pg_stat_activity")
    try:
        yield
    finally:
        task.cancel()
        conn.terminate()


async def _attack_all(client: Any, hash_value: str) -> list[str]:
    texts = []
    for attack in ATTACKS:
        text = await call_error(client, "run_query", {"sql": attack})
        assert "Refused:" in text and "not readable through this server" in text, (attack, text)
        assert_no_secret(text, hash_value)
        texts.append(text)
    for attack in ("SELECT rolname, rolpassword FROM pg_authid", "SELECT * FROM v_users2"):
        for tool, args in (
            ("export_results", {"query": attack, "format": "csv"}),
            ("explain_query", {"sql": attack, "analyze": True}),
        ):
            text = await call_error(client, tool, args)
            assert "not readable through this server" in text, (tool, attack, text)
            assert_no_secret(text, hash_value)
    for tool in ("get_table_stats", "check_data_quality", "calculate_metrics"):
        args: dict[str, Any] = {"table_name": "v_users"}
        if tool == "calculate_metrics":
            args["metric"] = "count"
        text = await call_error(client, tool, args)
        assert "not readable through this server" in text, (tool, text)
    return texts


async def test_secret_catalogs_refused_to_the_local_admin_over_a_superuser_connection(
    secrets_dsn: str, hash_of_role: str, busy_session: None, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    async with mcp_client(secrets_dsn, audit_log_path=str(audit)) as client:
        texts = await _attack_all(client, hash_of_role)
        assert "pg_authid holds password hashes" in texts[0]
        assert "public.v_users is defined over pg_authid" in texts[ATTACKS.index("SELECT * FROM v_users")]
        assert "check_database_health" in texts[ATTACKS.index("SELECT query FROM pg_stat_activity")]
        # resolved by OID, not by spelling: a user table that is merely called pg_authid is readable
        out = await call(client, "run_query", {"sql": "SELECT * FROM public.pg_authid"})
        assert out["rows"] == [[42]]
        for ok in ("SELECT rolname FROM pg_roles WHERE rolname = 'vf_sec_hashed'", "SELECT * FROM v_roles LIMIT 1"):
            out = await call(client, "run_query", {"sql": ok})
            assert out["rows"] and hash_of_role not in json.dumps(out)
        out = await call(client, "run_query", {"sql": "SELECT count(*) FROM information_schema.schemata"})
        assert out["rows"][0][0] > 0
    text = audit.read_text()
    assert text.count("\n") >= len(ATTACKS)
    assert_no_secret(text, hash_of_role)


@pytest.fixture(scope="module")
def http_server(secrets_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """vf-mcp over HTTP with analyst and admin keys; admins may read the catalogs' secrets."""
    tmp = tmp_path_factory.mktemp("secrets_http")
    config = write_config(tmp / "vf.toml", extra="admin_reads_system_secrets = true\n")
    audit = tmp / "audit.jsonl"
    env = clean_env(VF_MCP_DSN=secrets_dsn, VF_MCP_AUDIT_LOG_PATH=str(audit))
    with vf_mcp_http(["serve", "--config", str(config)], env) as url:
        yield url, audit


async def test_analyst_key_is_refused_and_dba_tools_still_work(
    http_server: tuple[str, Path], hash_of_role: str, busy_session: None
) -> None:
    url, audit = http_server
    async with client_for(url, TOKENS["analyst"]) as analyst:
        await _attack_all(analyst, hash_of_role)
        health = await call(analyst, "check_database_health")
        assert health["checks"]
        slow = await call(analyst, "get_slow_queries")
        assert "available" in slow
    assert_no_secret(audit.read_text(), hash_of_role)


async def test_admin_reads_secrets_only_with_the_setting(
    http_server: tuple[str, Path], secrets_dsn: str, hash_of_role: str
) -> None:
    url, _ = http_server
    query = {"sql": "SELECT rolpassword FROM pg_authid WHERE rolname = 'vf_sec_hashed'"}
    async with client_for(url, TOKENS["admin"]) as admin:  # the server has admin_reads_system_secrets = true
        out = await call(admin, "run_query", query)
        assert out["rows"] == [[hash_of_role]]
        via_view = {"sql": "SELECT rolpassword FROM v_users2 WHERE rolname = 'vf_sec_hashed'"}
        out = await call(admin, "run_query", via_view)
        assert out["rows"] == [[hash_of_role]]
    async with mcp_client(secrets_dsn, admin_reads_system_secrets=True) as local:
        out = await call(local, "run_query", query)
        assert out["rows"] == [[hash_of_role]]
    async with mcp_client(secrets_dsn) as local:  # the default: off, for admins too
        assert "pg_authid holds password hashes" in await call_error(local, "run_query", query)


# --------------------------------------------------------------------------------------------------
# (c) the volatile allow-list matches pg_catalog's functions, not same-named user functions
# --------------------------------------------------------------------------------------------------


async def test_user_random_is_not_the_reviewed_random(secrets_dsn: str, plain_dsn: str) -> None:
    before = (await sql(secrets_dsn, "SELECT last_value, is_called FROM calls_seq"))[0]
    async with mcp_client(secrets_dsn) as client:
        for attack in ("SELECT public.random()", "SELECT random()", "SELECT x FROM staff, random() AS x"):
            text = await call_error(client, "run_query", {"sql": attack})
            assert "user-defined VOLATILE function" in text and "pg_catalog.random()" in text, text
        out = await call(client, "run_query", {"sql": "SELECT pg_catalog.random() < 1 AS ok"})
        assert out["rows"] == [[True]]
    assert tuple((await sql(secrets_dsn, "SELECT last_value, is_called FROM calls_seq"))[0]) == tuple(before)
    async with mcp_client(plain_dsn) as client:
        out = await call(client, "run_query", {"sql": "SELECT random() < 1 AS ok, clock_timestamp() IS NOT NULL AS t"})
        assert out["rows"] == [[True, True]]


def test_allow_list_resolution_in_the_guard() -> None:
    catalog = frozenset({"random", "pg_catalog.random", "pg_sleep", "pg_catalog.pg_sleep"})
    shadowed = catalog | {"public.random", "uuid_generate_v4", "ext.uuid_generate_v4"}
    check_sql("SELECT random(), pg_catalog.random()", volatile_functions=catalog)
    check_sql("SELECT pg_catalog.random(), pg_sleep(0), ext.uuid_generate_v4()", volatile_functions=shadowed)
    for bad in ("SELECT random()", "SELECT public.random()", "SELECT other.pg_sleep(1)", "SELECT t.random FROM t"):
        with pytest.raises(RefusedError):
            check_sql(bad, volatile_functions=shadowed)
    check_sql("SELECT public.random()", volatile_functions=shadowed, allowed_functions=["public.random"])
    refs = check_sql(
        'WITH a AS (SELECT 1) SELECT * FROM a, ONLY s.b, LATERAL (SELECT * FROM "C" UNION TABLE d) x',
        volatile_functions=catalog,
    ).relation_refs
    assert refs == {("", "a"), ("s", "b"), ("", "C"), ("", "d")}
