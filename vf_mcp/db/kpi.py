"""KPI definitions (kpi_dir/*.toml, or a default dashboard from the catalog) and their measurement."""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from vf_mcp.compute.periods import Window
from vf_mcp.db.analytics import fetch_value, load_table
from vf_mcp.db.catalog import Catalog
from vf_mcp.db.engine import engine_of
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.pool import Database
from vf_mcp.errors import ConfigError, VfError
from vf_mcp.jsontypes import JSONValue
from vf_mcp.models.kpi import DashboardFile, KpiSpec, MetricSpec

DEFAULT_TABLES = 12  # the largest tables looked at for the default dashboard
DEFAULT_KPIS = 5


@dataclass(frozen=True)
class Measured:
    """One KPI's value in one window; `windowed`: whether the window applied (else it is a snapshot)."""

    value: JSONValue
    detail: JSONValue
    windowed: bool


def default_kpi_dir() -> Path:
    """The KPI files shipped inside the package (vf_mcp/kpis: package data, in a wheel too)."""
    return Path(__file__).resolve().parent.parent / "kpis"


def load_dashboard(directory: Path, database: str) -> tuple[DashboardFile, Path] | None:
    """The first KPI file (sorted by name) whose `database` glob matches `database`."""
    if not directory.is_dir():
        return None
    for path in sorted(directory.glob("*.toml")):
        try:
            spec = DashboardFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, ValidationError) as exc:
            raise ConfigError(f"KPI file {path} is invalid: {exc}") from exc
        if fnmatch.fnmatchcase(database, spec.database):
            return spec, path
    return None


async def current_database(db: Database) -> str:
    if isinstance(db, MySqlDatabase):  # the DSN's database
        return (await db.target()).database
    return str((await db.fetch("SELECT current_database() AS d"))[0]["d"])


async def measure(db: Database, catalog: Catalog, k: KpiSpec, window: Window, tz: str) -> Measured:
    """A configured-SQL or metric KPI in one window (the SQL's last column is the value, its first the detail)."""
    if k.sql is not None:
        outcome = await engine_of(db).run_guarded(db, catalog, k.sql, (), limit=1, params_for_window=window)
        row = outcome.rows[0] if outcome.rows else []
        return Measured(row[-1] if row else None, row[0] if len(row) > 1 else None, outcome.used_window)
    assert k.metric is not None
    return await _metric_value(db, catalog, k.metric, window, tz)


async def _metric_value(db: Database, catalog: Catalog, m: MetricSpec, window: Window, tz: str) -> Measured:
    table = await load_table(catalog, m.table)
    col = table.col(m.column) if m.column else None
    bounds = None
    if m.time_column:
        start, end = (w.replace(tzinfo=None) for w in window)  # local wall time, as range_sql expects
        bounds = (table.col(m.time_column), start, end)
    stmt = engine_of(db).value_statement(table, m.metric, col, m.filters, tz, bounds, records=False)
    return Measured((await fetch_value(db, stmt)).value, None, m.time_column is not None)


async def default_dashboard(catalog: Catalog) -> DashboardFile:
    """Rows created per period in the largest tables that have a time column, plus data health."""
    rels = [r for r in await catalog.relations() if r.kind in ("r", "p") and not r.parent]
    rels.sort(key=lambda r: -(r.row_estimate or 0))
    kpis: list[KpiSpec] = []
    for rel in rels[:DEFAULT_TABLES]:
        table = await load_table(catalog, rel.sql_name)
        try:
            tcol = table.time_column(None)
        except VfError:
            continue
        kpis.append(
            KpiSpec(
                name=f"new_{rel.name}",
                title=f"New rows in {rel.qualified}",
                description=f"Rows whose {tcol.name} falls in the period (~{rel.row_estimate or 0:,} rows in total)",
                unit="rows",
                higher_is_better=None,
                metric=MetricSpec(table=rel.sql_name, metric="count", time_column=tcol.name),
            )
        )
        if len(kpis) == DEFAULT_KPIS:
            break
    kpis.append(
        KpiSpec(
            name="data_health",
            title="Data health score",
            unit="/100",
            builtin="data_health",
            description="Overall check_data_quality score",
        )
    )
    return DashboardFile(database="*", title="Default dashboard", kpi=kpis)
