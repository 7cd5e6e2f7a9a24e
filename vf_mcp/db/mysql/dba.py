"""The DBA tools' statements on MySQL/MariaDB: EXPLAIN FORMAT=JSON (MariaDB's ANALYZE FORMAT=JSON), status
variables and the process list for health, performance_schema statement digests for slow queries.

Model SQL is explained only after the MySQL gate; the rest are vf-mcp's own statements (no user text).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from vf_mcp.db.catalog import Catalog
from vf_mcp.db.mysql.catalog import MySqlCatalog
from vf_mcp.db.mysql.guard import placeholders_to_qmark
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.mysql.runner import _body, _query, bind, check_mysql_user_sql
from vf_mcp.db.pool import Database
from vf_mcp.errors import InvalidArgumentError, PermissionDeniedError, QueryError
from vf_mcp.jsontypes import as_int

LONG_RUNNING_S = 300
_SORT = {
    "total_time": "SUM_TIMER_WAIT",
    "mean_time": "AVG_TIMER_WAIT",
    "calls": "COUNT_STAR",
    "io": "SUM_ROWS_EXAMINED + SUM_CREATED_TMP_DISK_TABLES",
}


async def explain(
    db: Database, catalog: Catalog, sql: str, params: Sequence[object], *, analyze: bool
) -> dict[str, object]:
    """The JSON plan of one guarded query (analyze: MariaDB's ANALYZE FORMAT=JSON, which runs it read-only)."""
    assert isinstance(db, MySqlDatabase) and isinstance(catalog, MySqlCatalog)
    checked = await check_mysql_user_sql(db, catalog, sql)
    if checked.kind != "select":
        raise InvalidArgumentError(f"explain_query takes the query itself (SELECT); got {checked.kind.upper()}.")
    if analyze and db.flavor != "MariaDB":
        from vf_mcp.db.engine import not_on_engine

        raise not_on_engine("MySQL", "explain_query with analyze=true (EXPLAIN ANALYZE has no JSON format there)")
    text, values = placeholders_to_qmark(sql, list(params))
    async with db.connection() as conn:
        head = "ANALYZE FORMAT=JSON " if analyze else "EXPLAIN FORMAT=JSON "
        _, rows = await db.guarded_call(conn, _query(conn, head + bind(conn, _body(text), values)), None)
    plan = json.loads(str(rows[0][0])) if rows else {}
    return plan if isinstance(plan, dict) else {"plan": plan}


@dataclass(frozen=True)
class HealthData:
    status: dict[str, str]
    variables: dict[str, str]
    long_running: list[tuple[int, str, int, str]]
    without_pk: list[str]
    database: str


def _s(v: object) -> str:
    return v.decode() if isinstance(v, (bytes, bytearray)) else str(v)


async def health_data(db: Database) -> HealthData:
    assert isinstance(db, MySqlDatabase)
    status = {_s(r["Variable_name"]): _s(r["Value"]) for r in await db.fetch_rows("SHOW GLOBAL STATUS")}
    variables = {
        _s(r["Variable_name"]): _s(r["Value"])
        for r in await db.fetch_rows("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('max_connections', 'version')")
    }
    running = await db.fetch_rows(
        "SELECT ID AS id, USER AS u, TIME AS t, COALESCE(STATE, '') AS st FROM information_schema.PROCESSLIST "
        f"WHERE COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump') AND TIME >= {LONG_RUNNING_S} "
        "AND ID <> CONNECTION_ID() ORDER BY TIME DESC LIMIT 20"
    )
    no_pk = await db.fetch_rows(
        "SELECT t.TABLE_NAME AS n FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = DATABASE() "
        "AND t.TABLE_TYPE = 'BASE TABLE' AND NOT EXISTS (SELECT 1 FROM information_schema.TABLE_CONSTRAINTS c "
        "WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME "
        "AND c.CONSTRAINT_TYPE = 'PRIMARY KEY') ORDER BY 1"
    )
    database = (await db.target()).database
    return HealthData(
        status=status,
        variables=variables,
        long_running=[(int(r["id"]), _s(r["u"]), int(r["t"]), _s(r["st"])) for r in running],
        without_pk=[f"{database}.{_s(r['n'])}" for r in no_pk],
        database=database,
    )


@dataclass(frozen=True)
class Digests:
    available: bool
    why: str
    rows: list[dict[str, object]]
    since: str | None


async def slow_queries(db: Database, sort_by: str, limit: int) -> Digests:
    """The top statement digests of this database (performance_schema), or why there are none."""
    assert isinstance(db, MySqlDatabase)
    enabled = (await db.fetch_rows("SELECT @@GLOBAL.performance_schema AS on_"))[0]["on_"]
    if not as_int(enabled):
        return Digests(False, "performance_schema is off", [], None)
    order = _SORT.get(sort_by, _SORT["total_time"])
    try:
        rows = await db.fetch_rows(
            "SELECT DIGEST AS queryid, DIGEST_TEXT AS query, COUNT_STAR AS calls, "
            "SUM_TIMER_WAIT / 1e9 AS total_ms, AVG_TIMER_WAIT / 1e9 AS mean_ms, MAX_TIMER_WAIT / 1e9 AS max_ms, "
            "SUM_ROWS_SENT AS rows_sent, SUM_ROWS_EXAMINED AS examined, SUM_CREATED_TMP_DISK_TABLES AS tmp_disk, "
            "SUM_NO_INDEX_USED AS no_index, FIRST_SEEN AS first_seen, "
            "100.0 * SUM_TIMER_WAIT / NULLIF(SUM(SUM_TIMER_WAIT) OVER (), 0) AS share_pct "
            "FROM performance_schema.events_statements_summary_by_digest WHERE SCHEMA_NAME = DATABASE() "
            f"AND DIGEST_TEXT IS NOT NULL ORDER BY {order} DESC LIMIT {int(limit)}"
        )
    except (PermissionDeniedError, QueryError) as exc:
        return Digests(False, f"this user cannot read performance_schema ({exc.message})", [], None)
    seen = [str(r["first_seen"]) for r in rows if r.get("first_seen") is not None]
    return Digests(True, "", rows, min(seen) if seen else None)


@dataclass(frozen=True)
class ReplicationState:
    """SHOW REPLICA STATUS of one configured server ("primary", "replica 1", ...), or why it could not be read."""

    server: str
    rows: list[dict[str, object]]
    error: str | None = None


_STATUS = ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS")  # MySQL 8.0.22+/MariaDB 10.5.1+; older ones and MySQL 5.7


async def replication_data(db: Database) -> list[ReplicationState]:
    """The replication status of the primary and of each read replica, each asked on its own server (a replica
    that does not answer is reported, never replaced by the primary's answer)."""
    from vf_mcp.errors import VfError

    assert isinstance(db, MySqlDatabase)
    out: list[ReplicationState] = []
    for server in ("primary", *db.replica_labels):
        try:
            rows = await _status(db, server)
        except VfError as exc:
            out.append(ReplicationState(server, [], exc.message))
            continue
        out.append(ReplicationState(server, [{k: _plain(v) for k, v in r.items()} for r in rows]))
    return out


async def _status(db: MySqlDatabase, server: str) -> list[dict[str, object]]:
    try:
        return await db.fetch_rows(_STATUS[0], server=server)
    except QueryError as exc:
        if "1064" not in exc.message:  # not a syntax error: the server does know the statement
            raise
        return await db.fetch_rows(_STATUS[1], server=server)


def _plain(v: object) -> object:
    return _s(v) if isinstance(v, (bytes, bytearray)) else v
