"""Notes on one pg_stat_statements entry (get_slow_queries)."""

from __future__ import annotations

from vf_mcp.compute.dba.aliases import StatRow

# --------------------------------------------------------------------------------------------------
# Slow-query notes
# --------------------------------------------------------------------------------------------------


def slow_query_notes(q: StatRow, share_pct: float) -> list[str]:
    """What stands out in one pg_stat_statements entry, with the numbers."""
    notes: list[str] = []
    calls = int(q.get("calls") or 0)
    mean = float(q.get("mean_ms") or 0.0)
    mx = float(q.get("max_ms") or 0.0)
    hit, read = int(q.get("shared_blks_hit") or 0), int(q.get("shared_blks_read") or 0)
    temp = int(q.get("temp_blks_written") or 0)
    rows = int(q.get("rows") or 0)
    if mean >= 1000:
        notes.append(f"slow on average ({mean:,.0f} ms): explain_query with analyze=true shows where the time goes")
    if read >= 1000 and hit / max(hit + read, 1) < 0.9:
        notes.append(
            f"reads {read * 8 / 1024:,.1f} MB from outside shared buffers (hit ratio {hit / (hit + read):.0%}): "
            "it probably scans a large table; check its plan for sequential scans"
        )
    if temp > 0:
        notes.append(f"wrote {temp * 8 / 1024:,.1f} MB of temporary files: sorts/hashes exceed work_mem")
    if calls >= 1000 and mean < 5 and share_pct >= 10:
        notes.append(
            f"{calls:,} calls of {mean:.2f} ms make {share_pct:.0f}% of all time: batch them or cache the result "
            "(an N+1 pattern?)"
        )
    if calls and rows / calls >= 10_000:
        notes.append(f"returns ~{rows / calls:,.0f} rows per call: aggregate or paginate in SQL")
    if mx >= 1000 and mx >= 10 * max(mean, 0.001):
        notes.append(f"spiky: max {mx:,.0f} ms vs mean {mean:,.1f} ms (lock waits, cold cache or plan changes)")
    return notes
