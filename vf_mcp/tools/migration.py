"""compare_schemas and validate_migration: schema and data differences between two named sources.

Both only read: catalogs, row counts and checksums computed inside each database. The DDL that
compare_schemas writes is returned as text for a human to review and run; this server never runs it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field, ValidationError

from vf_mcp.app import App
from vf_mcp.compute.cross_schema import Side, cross_differences, cross_pairs, retyped_columns
from vf_mcp.compute.schema_diff import MigrationPlan, plan_migration, render_script
from vf_mcp.compute.validation import TablePair, changed_columns, default_table_pairs, pair_table
from vf_mcp.db.cross_check import cross_check_tables, engine_name, load_schema
from vf_mcp.db.migration_check import (
    CHUNK_ROWS,
    CheckOptions,
    DifferingRange,
    Key,
    Progress,
    TableCheck,
    check_tables,
    resolve_table,
)
from vf_mcp.db.schema_snapshot import LoadedSchema, load_snapshot
from vf_mcp.errors import InvalidArgumentError, NotFoundError
from vf_mcp.models.migration import (
    Difference,
    KeyRange,
    MigrationValidation,
    RowSample,
    Samples,
    SchemaComparison,
    TableMapping,
    TableValidation,
)
from vf_mcp.tools.common import ToolDef, app_of, respond, tool_errors

NOT_COMPARED = "functions, triggers, policies, grants, comments, statistics and table data (see validate_migration)"

SourceName = Annotated[str, Field(description="Reference source")]
TargetName = Annotated[str, Field(description="Migrated source")]
MAPPING_DOC = 'Renames: {"tables": {"schema.old": "schema.new"}, "columns": {"schema.old": {"old_col": "new_col"}}}'


def parse_mapping(mapping: dict[str, object] | None) -> TableMapping:
    """The mapping argument, checked (unknown keys and non-string names are refused)."""
    try:
        return TableMapping.model_validate(mapping or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'mapping'}: {e['msg']}" for e in exc.errors())
        raise InvalidArgumentError(f"Bad mapping ({problems}). Expected {MAPPING_DOC}.") from None


@tool_errors
async def compare_schemas(
    ctx: Context[App],
    source: SourceName,
    target: TargetName,
    schemas: Annotated[list[str] | None, Field(description="Schemas to compare (default: all)")] = None,
) -> Annotated[CallToolResult, SchemaComparison]:
    """Schema differences between two sources, with DDL making target match source and its rollback.

    added = only in source, removed = only in target. Scripts are for a human (never run here); warnings
    list destructive steps. Across engines: types by family, names case-insensitive, no scripts.
    """
    base = app_of(ctx)
    src, tgt = base.for_source(source), base.for_source(target)
    return respond(await schema_comparison(src, tgt, source, target, schemas))


@tool_errors
async def validate_migration(
    ctx: Context[App],
    source: SourceName,
    target: TargetName,
    tables: Annotated[list[str] | None, Field(description="Tables to check (default: all)")] = None,
    mapping: Annotated[dict[str, Any] | None, Field(description=MAPPING_DOC)] = None,
    sample_rows: Annotated[int, Field(ge=0, le=100, description="Samples per kind of difference")] = 5,
) -> Annotated[CallToolResult, MigrationValidation]:
    """Row-level check of a migration: per table, rows missing in target, extra in target, changed.

    Checksums computed in each database, narrowed to the differing rows (with samples); columns present in
    both; mapping: renames. Without a key: counts and a whole-table checksum.
    """
    base = app_of(ctx)
    src, tgt = base.for_source(source), base.for_source(target)

    async def progress(done: int, total: int, message: str) -> None:
        await ctx.report_progress(done, total, message=message)

    renames = parse_mapping(mapping)
    result = await migration_validation(src, tgt, source, target, tables, renames, sample_rows, progress=progress)
    return respond(result)


TOOLS = (ToolDef(compare_schemas), ToolDef(validate_migration))


async def schema_comparison(
    src: App, tgt: App, source: str, target: str, schemas: list[str] | None
) -> SchemaComparison:
    """Snapshot both catalogs (concurrently), diff them, and write both scripts."""
    if "mysql" in (engine_name(src.db), engine_name(tgt.db)):
        return await cross_schema_comparison(src, tgt, source, target, schemas)
    loaded: tuple[LoadedSchema, LoadedSchema] = await asyncio.gather(
        load_snapshot(src.db, schemas), load_snapshot(tgt.db, schemas)
    )
    s, t = loaded
    plan, back = await anyio.to_thread.run_sync(
        lambda: (plan_migration(s.snapshot, t.snapshot), plan_migration(t.snapshot, s.snapshot))
    )
    cap = src.settings.max_rows
    diffs = [Difference(**asdict(d)) for d in plan.differences]
    message = _comparison_message(plan, source, target, s, t, schemas)
    if len(diffs) > cap:
        message += f"; differences listed: the first {cap} (max_rows), the scripts cover all"
    return SchemaComparison(
        source=source,
        target=target,
        schemas=schemas,
        identical=not plan.differences,
        summary=plan.summary(),
        differences=diffs[:cap],
        truncated=len(diffs) > cap,
        migration_sql=render_script(plan.steps, f"Makes {target} match {source} (generated by vf-mcp compare_schemas)"),
        rollback_sql=render_script(
            back.steps, f"Undoes the migration of {target} to {source}: back to {target}'s schema"
        ),
        warnings=list(plan.warnings),
        rollback_warnings=list(back.warnings),
        not_compared=NOT_COMPARED,
        statements=s.statements + t.statements,
        message=message,
    )


def _comparison_message(
    plan: MigrationPlan, source: str, target: str, s: LoadedSchema, t: LoadedSchema, schemas: list[str] | None
) -> str:
    scope = f"schema(s) {', '.join(schemas)}" if schemas else "all schemas"
    absent = [n for n in schemas or () if n not in s.snapshot.schemas and n not in t.snapshot.schemas]
    note = f"; not found in either database: {', '.join(absent)}" if absent else ""
    if not plan.differences:
        return (
            f"No schema differences between {source!r} and {target!r} in {scope} "
            f"({len(s.snapshot.tables)} tables, {len(s.snapshot.views)} views){note}"
        )
    parts = []
    for kind, counts in plan.summary().items():
        bits = [f"{n} {what}" for what, n in counts.items() if n]
        parts.append(f"{kind}: {', '.join(bits)}")
    runnable = sum(1 for st in plan.steps if st.sql)
    destructive = sum(1 for st in plan.steps if st.destructive)
    msg = (
        f"{len(plan.differences)} difference(s) between {source!r} (source) and {target!r} (target) in {scope} "
        f"({'; '.join(parts)}). migration_sql: {runnable} statement(s) to make {target!r} match"
    )
    if destructive or plan.warnings:
        msg += f", {destructive} destructive: read warnings before running it"
    return msg + note


async def migration_validation(
    src: App,
    tgt: App,
    source: str,
    target: str,
    tables: list[str] | None,
    mapping: TableMapping,
    sample_rows: int,
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> MigrationValidation:
    """Pair the tables (with renames), check each, and describe the result."""
    started = time.perf_counter()
    if src.db is tgt.db and src.settings.pool_max_size < 2:
        raise InvalidArgumentError(
            f"Comparing {source!r} with itself needs two connections at once: raise pool_max_size to 2 or more."
        )
    options = CheckOptions(sample_rows=sample_rows, chunk_rows=chunk_rows)
    concurrency = max(1, min(src.settings.pool_max_size, tgt.settings.pool_max_size) // 2)
    if "mysql" in (engine_name(src.db), engine_name(tgt.db)):
        s, t = await asyncio.gather(load_schema(src.db), load_schema(tgt.db))
        s_side = Side(s.snapshot, engine_name(src.db))
        t_side = Side(t.snapshot, engine_name(tgt.db))
        pairs = _cross_pairs(s_side, t_side, tables, mapping)
        checks = await cross_check_tables(src.db, tgt.db, pairs, options, concurrency=concurrency, progress=progress)
        out = [_table_validation(c, retyped_columns(s_side, t_side, c.pair)) for c in checks]
    else:
        s, t = await asyncio.gather(load_snapshot(src.db), load_snapshot(tgt.db))
        pairs = _pairs(s, t, tables, mapping)
        checks = await check_tables(src.db, tgt.db, pairs, options, concurrency=concurrency, progress=progress)
        out = [_table_validation(c) for c in checks]
    statements = s.statements + t.statements + sum(c.statements for c in checks)
    summary: dict[str, int] = {}
    for c in checks:
        summary[c.status] = summary.get(c.status, 0) + 1
    elapsed = round((time.perf_counter() - started) * 1000.0, 1)
    return MigrationValidation(
        source=source,
        target=target,
        tables=out,
        summary=summary,
        chunk_rows=chunk_rows,
        statements=statements,
        elapsed_ms=elapsed,
        message=_validation_message(out, summary, elapsed, statements),
    )


def _pairs(s: LoadedSchema, t: LoadedSchema, tables: list[str] | None, mapping: TableMapping) -> list[TablePair]:
    s_keys = [tb.key for tb in s.snapshot.tables if tb.parent is None]
    t_keys = [tb.key for tb in t.snapshot.tables if tb.parent is None]
    table_map: dict[tuple[str, str], tuple[str, str]] = {}
    for old, new in mapping.tables.items():
        s_key = _need(old, s_keys, "source")
        found = resolve_table(new, t_keys)
        table_map[s_key] = found if found is not None else _split(new)
    renames: dict[tuple[str, str], dict[str, str]] = {}
    for name, cols in mapping.columns.items():
        s_key = _need(name, s_keys, "source")
        renames[s_key] = dict(cols)
    raw = default_table_pairs(s.snapshot, t.snapshot, table_map)
    if tables:
        wanted: list[tuple[tuple[str, str] | None, tuple[str, str] | None]] = []
        for name in tables:
            key = resolve_table(name, s_keys)
            if key is not None:
                wanted += [p for p in raw if p[0] == key]
                continue
            key = resolve_table(name, t_keys)
            if key is None:
                raise NotFoundError(
                    f"Table {name!r} is in neither database; tables in the source: "
                    f"{', '.join(f'{a}.{b}' for a, b in s_keys[:20])}{' ...' if len(s_keys) > 20 else ''}"
                )
            wanted += [p for p in raw if p[1] == key]
        raw = list(dict.fromkeys(wanted))
    out = []
    for a, b in raw:
        if a is not None and b is not None:
            out.append(
                pair_table(
                    s.snapshot,
                    t.snapshot,
                    a,
                    b,
                    renames.get(a, {}),
                    source_collation=s.database.default_collation,
                    target_collation=t.database.default_collation,
                )
            )
        else:
            out.append(TablePair(source=a, target=b))
    return out


def _need(name: str, keys: list[tuple[str, str]], side: str) -> tuple[str, str]:
    key = resolve_table(name, keys)
    if key is None:
        raise NotFoundError(f"mapping names {name!r}, which is not a table in the {side} database.")
    return key


def _split(name: str) -> tuple[str, str]:
    from vf_mcp.db.catalog import split_identifier

    parts = split_identifier(name)
    return (parts[0][0], parts[1][0]) if len(parts) == 2 else ("public", parts[0][0])


def _key_dict(names: list[str], key: Key | None) -> dict[str, str] | None:
    return None if key is None else dict(zip(names, key, strict=True))


def _table_validation(c: TableCheck, cross_retyped: list[str] | None = None) -> TableValidation:
    p = c.pair
    key_names = [k.source for k in p.key]
    col_names = tuple(col.source for col in p.columns)
    samples = _samples(c, key_names, col_names)
    retyped = (
        cross_retyped
        if cross_retyped is not None
        else [
            f"{col.source}: {col.source_type} in source, {col.target_type} in target"
            + (" (compared as text)" if col.source in c.compared_as_text else f" (compared as {col.source_type})")
            for col in p.columns
            if col.retyped
        ]
    )
    target_table = p.target_name if p.target is not None and p.target != p.source else None
    return TableValidation(
        table=p.name,
        target_table=target_table,
        status=c.status,
        method=c.method,
        key=key_names,
        source_rows=c.source_rows,
        target_rows=c.target_rows,
        missing_in_target=c.missing_in_target,
        extra_in_target=c.extra_in_target,
        changed=c.changed,
        counts_exact=c.counts_exact,
        columns_compared=len(p.columns),
        columns_missing_in_target=list(p.missing_in_target),
        columns_missing_in_source=list(p.missing_in_source),
        retyped_columns=retyped,
        differing_ranges=[_key_range(key_names, r) for r in c.ranges],
        samples=samples,
        chunks=c.chunks,
        statements=c.statements,
        elapsed_ms=round(c.elapsed_s * 1000.0, 1),
        note=c.note,
    )


def _samples(c: TableCheck, key_names: list[str], col_names: tuple[str, ...]) -> Samples | None:
    """Sample rows of each kind of difference, keyed by column name (None when there are none)."""

    def row(values: tuple[str | None, ...] | None) -> dict[str, str | None] | None:
        return None if values is None else dict(zip(col_names, values, strict=True))

    if not (c.missing_samples or c.extra_samples or c.changed_samples):
        return None
    return Samples(
        missing_in_target=[
            RowSample(key=_key_dict(key_names, r.key) or {}, source=row(r.source)) for r in c.missing_samples
        ],
        extra_in_target=[
            RowSample(key=_key_dict(key_names, r.key) or {}, target=row(r.target)) for r in c.extra_samples
        ],
        changed=[
            RowSample(
                key=_key_dict(key_names, r.key) or {},
                changes={
                    n: [a, b]
                    for n, (a, b) in changed_columns(
                        col_names, r.source or (None,) * len(col_names), r.target or (None,) * len(col_names)
                    ).items()
                },
            )
            for r in c.changed_samples
        ],
    )


def _key_range(key_names: list[str], r: DifferingRange) -> KeyRange:
    return KeyRange(
        after=_key_dict(key_names, r.after),
        upto=_key_dict(key_names, r.upto),
        source_rows=r.source_rows,
        target_rows=r.target_rows,
        missing_in_target=r.missing_in_target,
        extra_in_target=r.extra_in_target,
        changed=r.changed,
        first_differing_key=_key_dict(key_names, r.first_key),
        last_differing_key=_key_dict(key_names, r.last_key),
        bucket=r.bucket,
    )


def _validation_message(
    tables: list[TableValidation], summary: dict[str, int], elapsed_ms: float, statements: int
) -> str:
    head = f"{len(tables)} table(s) checked in {elapsed_ms / 1000:.1f} s ({statements} statements): " + ", ".join(
        f"{n} {status.replace('_', ' ')}" for status, n in sorted(summary.items())
    )
    details = []
    for tv in tables:
        if tv.status == "differs":
            bound = "" if tv.counts_exact else "at least "
            bits = [
                f"{bound}{tv.missing_in_target} missing in target" if tv.missing_in_target else "",
                f"{bound}{tv.extra_in_target} extra in target" if tv.extra_in_target else "",
                f"{tv.changed} changed" if tv.changed else "",
            ]
            details.append(f"{tv.table}: {', '.join(b for b in bits if b) or 'checksums differ'}")
        elif tv.status in ("missing_in_target", "missing_in_source", "error"):
            details.append(f"{tv.table}: {tv.status.replace('_', ' ')}")
        if tv.columns_missing_in_target:
            details.append(f"{tv.table} columns missing in target: {', '.join(tv.columns_missing_in_target)}")
    return head + (". " + "; ".join(details) if details else "")


CROSS_SCRIPT = (
    "-- {a} ({ae}) and {b} ({be}) are different engines (or MySQL): no DDL script is generated; "
    "the differences list what to change.\n"
)


async def cross_schema_comparison(
    src: App, tgt: App, source: str, target: str, schemas: list[str] | None
) -> SchemaComparison:
    """compare_schemas when a side is MySQL/MariaDB: differences by meaning (type families), no scripts."""
    s_engine, t_engine = engine_name(src.db), engine_name(tgt.db)
    s, t = await asyncio.gather(load_schema(src.db, schemas), load_schema(tgt.db, schemas))
    found = cross_differences(Side(s.snapshot, s_engine), Side(t.snapshot, t_engine))
    plan = MigrationPlan(tuple(found), (), ())
    cap = src.settings.max_rows
    diffs = [Difference(**asdict(d)) for d in found]
    script = CROSS_SCRIPT.format(a=source, ae=s_engine, b=target, be=t_engine)
    if found:
        message = _comparison_message(plan, source, target, s, t, schemas).split(". migration_sql")[0]
    else:
        message = f"No schema differences between {source!r} and {target!r} ({len(s.snapshot.tables)} tables)"
    message += (
        f" [{s_engine} vs {t_engine}: types compared by family (int sizes, numeric = decimal, timestamp = datetime, "
        "boolean = tinyint(1) ...); names case-insensitive; schemas not compared (MySQL's database is its schema); "
        "constraint and index names not compared; no DDL script]"
    )
    if len(diffs) > cap:
        message += f"; differences listed: the first {cap} (max_rows)"
    return SchemaComparison(
        source=source,
        target=target,
        schemas=schemas,
        identical=not found,
        summary=plan.summary(),
        differences=diffs[:cap],
        truncated=len(diffs) > cap,
        migration_sql=script,
        rollback_sql=script,
        warnings=[d.description for d in found if d.destructive],
        rollback_warnings=[],
        not_compared=NOT_COMPARED
        + ", constraint/index names, schemas, enums/sequences/domains as objects, view bodies",
        statements=s.statements + t.statements,
        message=message,
    )


def _cross_pairs(s: Side, t: Side, tables: list[str] | None, mapping: TableMapping) -> list[TablePair]:
    """Pairs by case-insensitive table name (mapping: renames), only `tables` when given."""
    table_map = {
        old.split(".")[-1].strip('"`').lower(): new.split(".")[-1].strip('"`') for old, new in mapping.tables.items()
    }
    renames = {name.split(".")[-1].strip('"`').lower(): dict(cols) for name, cols in mapping.columns.items()}
    pairs = cross_pairs(s, t, table_map, renames)
    if not tables:
        return pairs
    wanted = {n.split(".")[-1].strip('"`').lower() for n in tables}
    chosen = [p for p in pairs if any(k is not None and k[1].lower() in wanted for k in (p.source, p.target))]
    known = {k[1].lower() for p in pairs for k in (p.source, p.target) if k is not None}
    unknown = sorted(wanted - known)
    if unknown:
        raise NotFoundError(f"Table(s) {', '.join(unknown)} in neither database.")
    return chosen
