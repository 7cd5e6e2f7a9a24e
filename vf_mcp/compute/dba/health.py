"""Database health rules (check_database_health): each takes rows of statistics and returns Issues."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from vf_mcp.compute.dba.aliases import Evidence, StatRow
from vf_mcp.compute.dba.candidates import maxalign, round1
from vf_mcp.compute.dba.facts import ident
from vf_mcp.compute.dba.plan import Issue

# --------------------------------------------------------------------------------------------------
# Health rules
# --------------------------------------------------------------------------------------------------

XID_LIMIT = 2**31
BLOAT_MIN_BYTES = 10 * 1024 * 1024


def _size(n: float) -> str:
    size = float(n)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


def rule_cache(row: StatRow) -> list[Issue]:
    out: list[Issue] = []
    for what, hit_key, read_key in (("table", "heap_hit", "heap_read"), ("index", "idx_hit", "idx_read")):
        hit, read = int(row.get(hit_key) or 0), int(row.get(read_key) or 0)
        if hit + read < 10_000:
            continue
        ratio = hit / (hit + read)
        if ratio >= 0.99:
            continue
        sev = "warning" if ratio < 0.90 else "info"
        out.append(
            Issue(
                "cache_hit_ratio",
                sev,
                f"{what} blocks",
                {
                    "hit_ratio": round(ratio, 4),
                    "blocks_hit": hit,
                    "blocks_read": read,
                    "shared_buffers": row.get("shared_buffers"),
                },
                f"{ratio:.1%} of {what} block reads come from shared buffers (target >= 99% for OLTP): find the "
                "queries reading the most (get_slow_queries sort_by=io) and index them, or give PostgreSQL more "
                "memory (shared_buffers ~25% of RAM)",
            )
        )
    return out


def rule_bloat(rows: Sequence[StatRow], block_size: int = 8192) -> list[Issue]:
    """Table and b-tree bloat from planner statistics: expected pages from row count and average widths."""
    out: list[Issue] = []
    for r in rows:
        pages = int(r.get("relpages") or 0)
        tuples = float(r.get("reltuples") or 0)
        width = r.get("width")
        if pages == 0 or width is None or tuples <= 0:
            continue
        if r.get("kind") == "index":
            per = 8 + maxalign(float(width)) + 4
            usable = (block_size - 24 - 16) * (float(r.get("fillfactor") or 90) / 100.0)
            expected = math.ceil(tuples * per / usable) + 1
        else:
            header = 23 + math.ceil(int(r.get("ncols") or 1) / 8.0)
            per = maxalign(maxalign(header) + float(width)) + 4
            usable = (block_size - 24) * (float(r.get("fillfactor") or 100) / 100.0)
            expected = math.ceil(tuples / max(1.0, math.floor(usable / per)))
        wasted = (pages - expected) * block_size
        pct = 100.0 * (pages - expected) / pages
        if wasted < BLOAT_MIN_BYTES or pct < 30:
            continue
        sev = "warning" if pct >= 50 else "info"
        name = str(r.get("name"))
        if r.get("kind") == "index":
            advice = f"REINDEX INDEX CONCURRENTLY {name}; rebuilds it compactly without blocking writes"
        else:
            advice = (
                f"VACUUM does not return this space; rebuild {r.get('table')} with pg_repack (online) or VACUUM FULL "
                "(exclusive lock) in a maintenance window, then keep autovacuum ahead of the dead rows"
            )
        out.append(
            Issue(
                "bloat",
                sev,
                f"{r.get('kind')} {name}",
                {
                    "size_bytes": pages * block_size,
                    "expected_bytes": expected * block_size,
                    "wasted_bytes": wasted,
                    "bloat_pct": round(pct, 1),
                    "method": "estimate from pg_stats widths",
                },
                f"~{pct:.0f}% ({_size(wasted)}) of {name} is free space: {advice}",
            )
        )
    return out


def rule_vacuum(rows: Sequence[StatRow], settings: Mapping[str, str]) -> list[Issue]:
    out: list[Issue] = []
    if settings.get("autovacuum", "on") == "off":
        out.append(
            Issue(
                "vacuum",
                "critical",
                "autovacuum",
                {"autovacuum": "off"},
                "autovacuum is off: dead rows accumulate and transaction IDs are not frozen (wraparound risk): "
                "ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();",
            )
        )
    if settings.get("track_counts", "on") == "off":
        out.append(
            Issue(
                "vacuum",
                "critical",
                "track_counts",
                {"track_counts": "off"},
                "track_counts is off: autovacuum cannot see which tables need work; turn it on",
            )
        )
    vac_th = float(settings.get("autovacuum_vacuum_threshold") or 50)
    vac_sf = float(settings.get("autovacuum_vacuum_scale_factor") or 0.2)
    for r in rows:
        name = str(r.get("table"))
        live, dead = int(r.get("n_live_tup") or 0), int(r.get("n_dead_tup") or 0)
        opts = [str(o) for o in (r.get("reloptions") or [])]
        disabled = "autovacuum_enabled=false" in opts or "autovacuum_enabled=off" in opts
        ratio = dead / max(live + dead, 1)
        trigger = vac_th + vac_sf * float(r.get("reltuples") or 0)
        last_vac = r.get("last_vacuum_any")
        evidence = {
            "dead_rows": dead,
            "live_rows": live,
            "dead_pct": round(100 * ratio, 1),
            "autovacuum_trigger_rows": round(trigger),
            "last_vacuum": _iso(last_vac),
            "last_analyze": _iso(r.get("last_analyze_any")),
            "autovacuum_enabled": not disabled,
        }
        if dead >= 1000 and ratio >= 0.2:
            sev = "critical" if ratio >= 0.5 and dead >= 100_000 else "warning"
            why = (
                "autovacuum is disabled for this table"
                if disabled
                else "autovacuum has not caught up (long transactions holding back cleanup, or cost limits too low)"
                if dead > trigger
                else "below the autovacuum trigger for a table this size"
            )
            fix = f"VACUUM (ANALYZE) {name};"
            if disabled:
                fix += f" ALTER TABLE {name} RESET (autovacuum_enabled);"
            elif dead <= trigger:
                fix += f" ALTER TABLE {name} SET (autovacuum_vacuum_scale_factor = 0.05);"
            out.append(
                Issue(
                    "dead_tuples",
                    sev,
                    name,
                    evidence,
                    f"{100 * ratio:.0f}% of rows are dead ({dead:,}): {why}. Run {fix}",
                )
            )
        elif disabled and live >= 1000:
            out.append(
                Issue(
                    "vacuum",
                    "warning",
                    name,
                    evidence,
                    f"autovacuum is disabled for {name}: ALTER TABLE {name} RESET (autovacuum_enabled);",
                )
            )
        never = r.get("last_analyze_any") is None
        mod = int(r.get("n_mod_since_analyze") or 0)
        if never and live >= 1000:
            out.append(
                Issue(
                    "analyze",
                    "warning",
                    name,
                    evidence | {"rows_modified_since_analyze": mod},
                    f"never analyzed: the planner guesses its row counts and value distributions. ANALYZE {name};",
                )
            )
        elif live >= 1000 and mod > max(10_000, 0.5 * live):
            out.append(
                Issue(
                    "analyze",
                    "info",
                    name,
                    evidence | {"rows_modified_since_analyze": mod},
                    f"{mod:,} rows changed since the last analyze ({100 * mod / max(live, 1):.0f}% of the table): "
                    f"ANALYZE {name};",
                )
            )
    return out


def _iso(v: object) -> str | None:
    return v.isoformat() if isinstance(v, datetime) else None if v is None else str(v)


def rule_wraparound(dbs: Sequence[StatRow], tables: Sequence[StatRow], freeze_max_age: int) -> list[Issue]:
    out: list[Issue] = []
    for d in dbs:
        for what, key in (("transaction ID", "xid_age"), ("multixact ID", "mxid_age")):
            age = int(d.get(key) or 0)
            pct = 100.0 * age / XID_LIMIT
            if pct < 40:
                continue
            sev = "critical" if pct >= 70 else "warning"
            oldest = [t for t in tables if d.get("current")][:3]
            out.append(
                Issue(
                    "wraparound",
                    sev,
                    f"database {d.get('datname')}",
                    {
                        f"{key}": age,
                        "pct_of_limit": round(pct, 1),
                        "autovacuum_freeze_max_age": freeze_max_age,
                        "oldest_tables": [{"table": t.get("table"), "xid_age": t.get("xid_age")} for t in oldest],
                    },
                    f"{what} age {age:,} is {pct:.0f}% of the 2^31 limit (PostgreSQL stops accepting writes "
                    "near it): find what blocks freezing (long transactions, abandoned replication slots or "
                    "prepared transactions) and run VACUUM (FREEZE) on the oldest tables",
                )
            )
    return out


def rule_connections(states: Mapping[str, int], max_conn: int, reserved: int, hidden: int) -> list[Issue]:
    out: list[Issue] = []
    total = sum(states.values())
    usable = max(1, max_conn - reserved)
    pct = 100.0 * total / usable
    evidence: Evidence = {
        "by_state": dict(states),
        "total": total,
        "max_connections": max_conn,
        "reserved": reserved,
        "used_pct": round(pct, 1),
    }
    if pct >= 80:
        sev = "critical" if pct >= 95 else "warning"
        out.append(
            Issue(
                "connections",
                sev,
                "connections",
                evidence,
                f"{total} of {usable} usable connections in use ({pct:.0f}%): new clients will be refused; "
                "put a pooler (PgBouncer) in front, or close idle connections in the applications",
            )
        )
    idle = states.get("idle", 0)
    if idle >= 50 and idle >= 0.5 * total:
        out.append(
            Issue(
                "connections",
                "info",
                "idle connections",
                evidence,
                f"{idle} idle connections hold memory and slots: use a pooler (PgBouncer, transaction mode) or "
                "smaller application pools",
            )
        )
    if hidden:
        out.append(
            Issue(
                "connections",
                "info",
                "pg_stat_activity",
                {"sessions_without_details": hidden},
                f"{hidden} sessions of other roles show no state: GRANT pg_monitor (or pg_read_all_stats) to "
                "this role to see them",
            )
        )
    return out


def rule_sessions(rows: Sequence[StatRow]) -> list[Issue]:
    """Long-running statements, long idle-in-transaction sessions and old prepared transactions."""
    out: list[Issue] = []
    for r in rows:
        state = str(r.get("state") or "")
        pid = r.get("pid")
        evidence = {
            "pid": pid,
            "user": r.get("usename"),
            "application": r.get("application_name"),
            "state": state,
            "state_seconds": round1(r.get("state_s")),
            "xact_seconds": round1(r.get("xact_s")),
            "wait_event": r.get("wait_event"),
            "query": r.get("query"),
        }
        if r.get("kind") == "prepared":
            out.append(
                Issue(
                    "prepared_xact",
                    "warning",
                    f"prepared transaction {r.get('gid')}",
                    evidence,
                    "a prepared (two-phase) transaction holds its locks and blocks vacuum until resolved: "
                    f"COMMIT PREPARED '{r.get('gid')}' or ROLLBACK PREPARED '{r.get('gid')}'",
                )
            )
            continue
        secs = float(r.get("state_s") or 0)
        if state == "active":
            if secs < 300:
                continue
            sev = "critical" if secs >= 3600 else "warning"
            out.append(
                Issue(
                    "long_query",
                    sev,
                    f"pid {pid}",
                    evidence,
                    f"running for {secs / 60:,.0f} min: explain_query it; if it is runaway, "
                    f"SELECT pg_cancel_backend({pid}); and set a statement_timeout for its role",
                )
            )
        elif state.startswith("idle in transaction"):
            if secs < 60:
                continue
            sev = "critical" if secs >= 900 else "warning"
            out.append(
                Issue(
                    "idle_in_transaction",
                    sev,
                    f"pid {pid}",
                    evidence,
                    f"idle inside an open transaction for {secs / 60:,.1f} min: it holds locks and stops vacuum "
                    f"from cleaning rows. End it (SELECT pg_terminate_backend({pid});), fix the application's "
                    "commit handling, and set idle_in_transaction_session_timeout (e.g. '5min')",
                )
            )
    return out


def rule_blocking(waiting: Sequence[StatRow], sessions: Mapping[int, StatRow]) -> list[Issue]:
    """Blocking chains: the root sessions (blocking others, not blocked themselves) and whom they block."""
    blocked_by: dict[int, list[int]] = {int(w["pid"]): [int(p) for p in w.get("blocked_by") or []] for w in waiting}
    roots: dict[int, set[int]] = {}

    def root_of(pid: int, seen: set[int]) -> list[int]:
        parents = blocked_by.get(pid, [])
        if not parents:
            return [pid]
        out: list[int] = []
        for p in parents:
            if p in seen:
                continue
            out.extend(root_of(p, seen | {p}))
        return out or [pid]

    for pid in blocked_by:
        for r in root_of(pid, {pid}):
            if r != pid:
                roots.setdefault(r, set()).add(pid)
    out: list[Issue] = []
    waits = {int(w["pid"]): w for w in waiting}
    for root, victims in sorted(roots.items(), key=lambda kv: -len(kv[1])):
        s = sessions.get(root, {})
        longest = max((float(waits[v].get("wait_s") or 0) for v in victims if v in waits), default=0.0)
        lock = next((waits[v] for v in victims if v in waits), {})
        sev = "critical" if longest >= 300 or len(victims) >= 5 else "warning"
        state = str(s.get("state") or "unknown")
        on = lock.get("relation") or lock.get("locktype") or "?"
        fix = (
            f"SELECT pg_terminate_backend({root}); ends it (its transaction rolls back)"
            if state.startswith("idle in transaction")
            else f"SELECT pg_cancel_backend({root}); cancels its statement, "
            f"pg_terminate_backend({root}) ends the session"
        )
        out.append(
            Issue(
                "blocking",
                sev,
                f"pid {root}",
                {
                    "blocker_pid": root,
                    "blocker_state": state,
                    "blocker_user": s.get("usename"),
                    "blocker_xact_seconds": round1(s.get("xact_s")),
                    "blocker_query": s.get("query"),
                    "blocked_pids": sorted(victims),
                    "longest_wait_seconds": round(longest, 1),
                    "lock": {k: lock.get(k) for k in ("locktype", "mode", "relation")},
                },
                f"session {root} ({state}) blocks {len(victims)} session(s), the longest waiting "
                f"{longest:,.0f} s for {lock.get('mode') or 'a lock'} on {on}: "
                f"{fix}. Keep transactions short; lock_timeout protects the waiters",
            )
        )
    return out


def rule_replication(info: StatRow, standbys: Sequence[StatRow], slots: Sequence[StatRow]) -> list[Issue]:
    out: list[Issue] = []
    if info.get("in_recovery"):
        delay = info.get("replay_delay_s")
        if delay is not None and float(delay) >= 300:
            sev = "critical" if float(delay) >= 1800 else "warning"
            out.append(
                Issue(
                    "replication",
                    sev,
                    "this standby",
                    {
                        "replay_delay_seconds": round(float(delay)),
                        "replay_backlog_bytes": info.get("replay_backlog_bytes"),
                    },
                    f"last replayed transaction is {float(delay) / 60:,.0f} min old: the standby lags (or the "
                    "primary is idle); check the network, the standby's I/O and hot_standby_feedback conflicts",
                )
            )
    for s in standbys:
        lag_b = int(s.get("replay_lag_bytes") or 0)
        lag_s = float(s.get("replay_lag_s") or 0)
        name = f"standby {s.get('application_name') or s.get('client_addr')}"
        evidence = {k: s.get(k) for k in ("state", "sync_state", "client_addr")} | {
            "replay_lag_bytes": lag_b,
            "replay_lag_seconds": round(lag_s, 1),
        }
        if s.get("state") != "streaming":
            out.append(
                Issue("replication", "warning", name, evidence, f"replication state is {s.get('state')}, not streaming")
            )
        if lag_b >= 1024**3 or lag_s >= 300:
            sev = "critical" if lag_b >= 10 * 1024**3 or lag_s >= 1800 else "warning"
            out.append(
                Issue(
                    "replication",
                    sev,
                    name,
                    evidence,
                    f"{name} is {_size(lag_b)} / {lag_s:,.0f} s behind: check its I/O, network and "
                    "long queries on it (max_standby_streaming_delay)",
                )
            )
    for s in slots:
        retained = int(s.get("retained_bytes") or 0)
        name = f"slot {s.get('slot_name')}"
        evidence = {k: s.get(k) for k in ("slot_type", "active", "wal_status", "xmin_age")} | {
            "retained_wal_bytes": retained
        }
        if s.get("wal_status") in ("lost", "unreserved"):
            out.append(
                Issue(
                    "replication_slot",
                    "critical",
                    name,
                    evidence,
                    f"{name} has wal_status={s.get('wal_status')}: its consumer can no longer catch up; "
                    f"re-create the consumer, then SELECT pg_drop_replication_slot('{s.get('slot_name')}');",
                )
            )
        elif not s.get("active") and retained >= 1024**3:
            sev = "critical" if retained >= 10 * 1024**3 else "warning"
            out.append(
                Issue(
                    "replication_slot",
                    sev,
                    name,
                    evidence,
                    f"inactive {name} retains {_size(retained)} of WAL (the disk can fill up): reconnect "
                    f"its consumer or SELECT pg_drop_replication_slot('{s.get('slot_name')}'); set "
                    "max_slot_wal_keep_size as a safety net",
                )
            )
        elif not s.get("active"):
            out.append(
                Issue(
                    "replication_slot",
                    "info",
                    name,
                    evidence,
                    f"{name} is inactive and retains {_size(retained)} of WAL; drop it if unused",
                )
            )
    return out


def rule_sequences(rows: Sequence[StatRow]) -> list[Issue]:
    out: list[Issue] = []
    for r in rows:
        last = r.get("last_value")
        if last is None:
            continue
        inc = int(r.get("increment_by") or 1)
        limit = int((r.get("max_value") if inc > 0 else r.get("min_value")) or 0)
        col_limit = r.get("column_limit")
        if col_limit is not None and inc > 0:
            limit = min(limit, int(col_limit))
        start = int((r.get("min_value") if inc > 0 else r.get("max_value")) or 0)
        span = abs(limit - start) or 1
        used = abs(int(last) - start) / span
        if used < 0.75 or r.get("cycle"):
            continue
        sev = "critical" if used >= 0.9 else "warning"
        name = str(r.get("sequence"))
        col = r.get("column")
        fix = (
            f"ALTER TABLE {r.get('table')} ALTER COLUMN {col} TYPE bigint; ALTER SEQUENCE {name} AS bigint; "
            "(rewrites the table: plan a window)"
            if col and str(r.get("column_type")) in ("smallint", "integer")
            else f"ALTER SEQUENCE {name} AS bigint MAXVALUE 9223372036854775807;"
        )
        out.append(
            Issue(
                "sequence",
                sev,
                name,
                {
                    "last_value": int(last),
                    "limit": limit,
                    "used_pct": round(100 * used, 1),
                    "data_type": r.get("data_type"),
                    "column": f"{r.get('table')}.{col}" if col else None,
                    "column_type": r.get("column_type"),
                },
                f"{100 * used:.1f}% of its range is used ({int(last):,} of {limit:,}); inserts fail when it runs "
                f"out: {fix}",
            )
        )
    return out


def rule_invalid(constraints: Sequence[StatRow], indexes: Sequence[StatRow]) -> list[Issue]:
    out: list[Issue] = []
    for c in constraints:
        out.append(
            Issue(
                "invalid_constraint",
                "warning",
                f"{c.get('table')}.{c.get('name')}",
                {"type": c.get("type"), "definition": c.get("definition")},
                f"constraint is NOT VALID: existing rows were never checked. ALTER TABLE {c.get('table')} "
                f"VALIDATE CONSTRAINT {ident(str(c.get('name')))}; (takes only a SHARE UPDATE EXCLUSIVE lock)",
            )
        )
    for i in indexes:
        out.append(
            Issue(
                "invalid_index",
                "warning",
                str(i.get("index")),
                {"table": i.get("table"), "size_bytes": i.get("size_bytes"), "definition": i.get("definition")},
                f"invalid index (failed CREATE INDEX CONCURRENTLY): maintained on writes, never used. "
                f"REINDEX INDEX CONCURRENTLY {i.get('index')}; or DROP INDEX CONCURRENTLY {i.get('index')};",
            )
        )
    return out


def _bytes_setting(settings: Mapping[str, str], name: str) -> int | None:
    """A memory setting in bytes from pg_settings setting + unit (e.g. '16384' + '8kB')."""
    raw, unit = settings.get(name), settings.get(f"{name}__unit") or ""
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    m = re.match(r"^(\d*)\s*(B|kB|MB|GB|TB)?$", unit.strip())
    mult = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
    if not m:
        return int(value)
    factor = int(m.group(1) or 1) * mult.get(m.group(2) or "B", 1)
    return int(value * factor)


def rule_settings(
    settings: Mapping[str, str],
    *,
    db_bytes: int,
    temp_bytes: int,
    temp_files: int,
    ram_bytes: int | None,
    rotational: bool | None,
) -> list[Issue]:
    """Settings that look wrong for the machine (when visible) and the workload."""
    out: list[Issue] = []
    sb = _bytes_setting(settings, "shared_buffers")
    wm = _bytes_setting(settings, "work_mem")
    ecs = _bytes_setting(settings, "effective_cache_size")
    max_conn = int(settings.get("max_connections") or 100)
    machine = f"{_size(ram_bytes)} RAM" if ram_bytes else "RAM not visible from here"
    if sb is not None:
        ev: Evidence = {"shared_buffers_bytes": sb, "ram_bytes": ram_bytes, "database_bytes": db_bytes}
        if ram_bytes and sb < 0.1 * ram_bytes and db_bytes > sb:
            out.append(
                Issue(
                    "settings",
                    "warning",
                    "shared_buffers",
                    ev,
                    f"shared_buffers is {_size(sb)} on a machine with {_size(ram_bytes)} and a "
                    f"{_size(db_bytes)} database: set ~25% of RAM "
                    f"(ALTER SYSTEM SET shared_buffers = '{_size_setting(ram_bytes // 4)}'; restart)",
                )
            )
        elif ram_bytes and sb > 0.5 * ram_bytes:
            out.append(
                Issue(
                    "settings",
                    "warning",
                    "shared_buffers",
                    ev,
                    f"shared_buffers is {_size(sb)}, over half of {_size(ram_bytes)} RAM: leaves too little "
                    "for the OS cache and work_mem; ~25% is the usual choice",
                )
            )
        elif not ram_bytes and sb <= 128 * 1024**2 and db_bytes > sb:
            out.append(
                Issue(
                    "settings",
                    "info",
                    "shared_buffers",
                    ev,
                    f"shared_buffers is the {_size(sb)} default while the database is {_size(db_bytes)} "
                    f"({machine}): on a dedicated server use ~25% of RAM",
                )
            )
    if wm is not None:
        ev = {"work_mem_bytes": wm, "max_connections": max_conn, "temp_files": temp_files, "temp_bytes": temp_bytes}
        if ram_bytes and wm * max_conn > 2 * ram_bytes:
            out.append(
                Issue(
                    "settings",
                    "warning",
                    "work_mem",
                    ev,
                    f"work_mem {_size(wm)} x max_connections {max_conn} = {_size(wm * max_conn)}, more than "
                    f"twice the {_size(ram_bytes)} RAM (each sort/hash may use it): risk of running out of "
                    "memory; lower it and raise it per role or query instead",
                )
            )
        elif temp_files > 0 and temp_bytes >= 1024**3:
            out.append(
                Issue(
                    "settings",
                    "warning" if temp_bytes >= 10 * 1024**3 else "info",
                    "work_mem",
                    ev,
                    f"{temp_files:,} temporary files ({_size(temp_bytes)}) since statistics reset: sorts and "
                    f"hashes spill with work_mem {_size(wm)}; raise it for the queries that spill "
                    "(get_slow_queries shows temp blocks) or globally if memory allows",
                )
            )
    rpc = settings.get("random_page_cost")
    if rpc is not None and float(rpc) >= 2.0 and rotational is not True:
        disk = "on a non-rotational disk (SSD)" if rotational is False else "(disk type not visible from here)"
        sev = "warning" if rotational is False else "info"
        out.append(
            Issue(
                "settings",
                sev,
                "random_page_cost",
                {"random_page_cost": float(rpc), "rotational": rotational},
                f"random_page_cost = {rpc} models spinning disks; data {disk}: on SSD/NVMe or cloud volumes "
                "set 1.1 so index scans are costed correctly (ALTER SYSTEM SET random_page_cost = 1.1; "
                "SELECT pg_reload_conf();)",
            )
        )
    if ecs is not None and ram_bytes and ecs < 0.3 * ram_bytes:
        out.append(
            Issue(
                "settings",
                "info",
                "effective_cache_size",
                {"effective_cache_size_bytes": ecs, "ram_bytes": ram_bytes},
                f"effective_cache_size {_size(ecs)} is low for {_size(ram_bytes)} RAM: set ~50-75% of RAM "
                f"('{_size_setting(int(ram_bytes * 0.6))}') so the planner favours index scans correctly",
            )
        )
    if settings.get("track_io_timing") == "off":
        out.append(
            Issue(
                "settings",
                "info",
                "track_io_timing",
                {"track_io_timing": "off"},
                "track_io_timing is off: slow-query statistics cannot separate I/O time from CPU time "
                "(ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();)",
            )
        )
    return out


def _size_setting(n: int) -> str:
    gb = n / 1024**3
    return f"{max(1, round(gb))}GB" if gb >= 1 else f"{max(1, n // 1024**2)}MB"


def worst(issues: Sequence[Issue]) -> str:
    if any(i.severity == "critical" for i in issues):
        return "critical"
    if any(i.severity == "warning" for i in issues):
        return "warning"
    return "ok"
