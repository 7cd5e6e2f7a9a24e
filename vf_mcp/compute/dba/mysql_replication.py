"""MySQL/MariaDB replication lag and state from SHOW REPLICA STATUS, judged with PostgreSQL's thresholds.

Each configured server's status is read on that server: the primary (normally not a replica: no rows) and
every read replica (one row per replication channel). Column names differ by server and version
(Seconds_Behind_Master / Seconds_Behind_Source, Slave_IO_Running / Replica_IO_Running): both are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from vf_mcp.compute.dba.plan import Issue

LAG_WARNING_S = 300  # as rule_replication on PostgreSQL
LAG_CRITICAL_S = 1800


def _field(row: Mapping[str, object], *names: str) -> object:
    for name in names:
        if name in row:
            return row[name]
    return None


def replica_lag_s(row: Mapping[str, object]) -> int | None:
    """Seconds_Behind_Master (Seconds_Behind_Source): None while the SQL thread is not running."""
    value = _field(row, "Seconds_Behind_Master", "Seconds_Behind_Source")
    return None if value is None or value == "" else int(str(value))


def _running(row: Mapping[str, object], thread: str) -> str:
    return str(_field(row, f"Slave_{thread}_Running", f"Replica_{thread}_Running") or "")


def replication_findings(
    states: Sequence[tuple[str, Sequence[Mapping[str, object]], str | None]],
) -> tuple[list[Issue], str]:
    """Findings and the one-line summary from (server label, SHOW REPLICA STATUS rows, error) per server."""
    issues: list[Issue] = []
    parts: list[str] = []
    for server, rows, error in states:
        if error is not None:
            denied = "denied" in error.lower()
            parts.append(f"{server}: {'status not readable' if denied else 'unavailable'}")
            if denied and server == "primary":
                continue  # a least-privilege user on a plain primary: nothing to warn about
            fix = f"{server} did not answer ({error}): reads go to the other servers until it does."
            if denied:
                fix = f"{server}: this user may not read the replication status ({error}): GRANT SLAVE MONITOR "
                fix += "ON *.* (MariaDB 10.5.9+) or REPLICATION CLIENT ON *.* (MySQL) to see its lag."
            issues.append(Issue("replication", "warning", server, {"error": error}, fix))
            continue
        if not rows:
            if server != "primary":
                fix = f"{server} is not replicating (SHOW REPLICA STATUS is empty): it serves reads of stale data."
                issues.append(Issue("replication", "warning", server, {}, fix))
                parts.append(f"{server}: not a replica")
            continue
        for row in rows:
            name = server + (f" ({row['Connection_name']})" if row.get("Connection_name") else "")
            issues += _row_findings(name, row)
            lag = replica_lag_s(row)
            parts.append(f"{name}: {'lag unknown' if lag is None else f'{lag} s behind'}")
    return issues, "; ".join(parts) if parts else "no replication configured"


def _row_findings(name: str, row: Mapping[str, object]) -> list[Issue]:
    io, sql, lag = _running(row, "IO"), _running(row, "SQL"), replica_lag_s(row)
    evidence: dict[str, object] = {
        "seconds_behind_master": lag,
        "io_running": io,
        "sql_running": sql,
        "source": f"{_field(row, 'Master_Host', 'Source_Host')}:{_field(row, 'Master_Port', 'Source_Port')}",
    }
    out: list[Issue] = []
    if io != "Yes" or sql != "Yes":
        evidence["last_error"] = str(_field(row, "Last_SQL_Error") or _field(row, "Last_IO_Error") or "")
        out.append(
            Issue(
                "replication",
                "critical" if sql != "Yes" else "warning",
                name,
                evidence,
                f"{name}: replication I/O thread {io or 'unknown'}, SQL thread {sql or 'unknown'}"
                + (f" ({evidence['last_error']})" if evidence["last_error"] else "")
                + ": its data stops advancing; fix the error, then START REPLICA (START SLAVE).",
            )
        )
    elif lag is not None and lag >= LAG_WARNING_S:
        out.append(
            Issue(
                "replication",
                "critical" if lag >= LAG_CRITICAL_S else "warning",
                name,
                evidence,
                f"{name} is {lag:,} s behind its source: reads there see old data; check its I/O, long queries "
                "on it and slave_parallel_threads (replica_parallel_workers).",
            )
        )
    return out
