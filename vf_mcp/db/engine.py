"""The engine boundary: what tools ask of a database engine, implemented once per engine.

`Engine` is the one interface; `PostgresEngine` delegates to the PostgreSQL modules of db/ unchanged, and
`MySqlEngine` (vf_mcp/db/mysql/) answers the same questions on MySQL and MariaDB. A tool reaches its
engine through `App.engine` (`engine_of(app.db)`): the source's DSN scheme picked its `Database` class
in vf_mcp/db/sources.py. A tool that is not built for an engine yet fails with `NotOnEngineError`, one line,
instead of sending PostgreSQL SQL to another server: the MySQL `Database` refuses the PostgreSQL entry points.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from vf_mcp.db.cache import ResultCache
from vf_mcp.db.catalog import Catalog, Relation
from vf_mcp.db.engine_sql import BuildsStatements, StatementSql
from vf_mcp.db.pool import Database
from vf_mcp.errors import VfError

if TYPE_CHECKING:
    from vf_mcp.db.builder import Statement, Table
    from vf_mcp.db.runner import Column, QueryOutcome
    from vf_mcp.db.statements.analytics import EntityLabel
    from vf_mcp.db.stats import ColumnSpec, DatabaseInfo, Profile
    from vf_mcp.jsontypes import JSONValue

__all__ = ["Engine", "NotOnEngineError", "PostgresEngine", "engine_of", "not_on_engine"]


class NotOnEngineError(VfError):
    """The tool (or one of its options) is not available on this source's engine yet."""

    code = "unsupported"


def not_on_engine(engine: str, what: str = "This tool") -> NotOnEngineError:
    return NotOnEngineError(
        f"{what} is not available on {engine} yet (this source is a {engine} database); every other tool "
        "is (the README's engine table lists what each does)."
    )


class Engine(StatementSql, Protocol):
    """One database engine, as the tools use it (each engine's module implements it); the analytics' statement
    builders come from StatementSql (vf_mcp/db/engine_sql.py)."""

    name: str
    """'postgresql' or 'mysql' (MariaDB included)."""

    def label(self, db: Database) -> str:
        """The product name shown to users ("PostgreSQL", "MariaDB", "MySQL")."""
        ...

    def catalog(self, db: Database, cache: ResultCache) -> Catalog:
        """The source's catalog (relations, table details, functions), cached in `cache`."""
        ...

    async def run_guarded(
        self,
        db: Database,
        catalog: Catalog,
        sql: str,
        params: Sequence[object] = (),
        *,
        limit: int,
        offset: int = 0,
        timeout_ms: int | None = None,
        explain: bool = False,
        params_for_window: tuple[datetime, datetime] | None = None,
    ) -> QueryOutcome:
        """Gate and run one model-written statement under the caps (run_query, KPI SQL)."""
        ...

    async def database_info(self, db: Database) -> DatabaseInfo:
        """The database's name, size and server version."""
        ...

    async def profile(
        self,
        db: Database,
        rel: Relation,
        cols: list[ColumnSpec],
        *,
        sample_percent: float | None,
        sample_rows: int | None,
        top: int,
        preview_rows: int,
    ) -> Profile:
        """get_table_stats' aggregate passes and preview rows."""
        ...

    async def fetch_statement(self, db: Database, stmt: Statement) -> tuple[list[Column], list[list[JSONValue]], float]:
        """Run a statement vf-mcp built for this engine (the analytics); columns, JSON-ready rows, ms."""
        ...

    async def entity_label(self, catalog: Catalog, table: Table, column: str) -> EntityLabel:
        """The label joined beside ranked entities (a name-like column of the table a key points to)."""
        ...


class PostgresEngine(BuildsStatements):
    """PostgreSQL: the db/ modules as they are (no behaviour change, no extra round trip)."""

    name = "postgresql"

    def statement_sql(self) -> StatementSql:
        from vf_mcp.db.statements import analytics

        return analytics

    def label(self, db: Database) -> str:
        return "PostgreSQL"

    def catalog(self, db: Database, cache: ResultCache) -> Catalog:
        return Catalog(db, cache)

    async def run_guarded(
        self,
        db: Database,
        catalog: Catalog,
        sql: str,
        params: Sequence[object] = (),
        *,
        limit: int,
        offset: int = 0,
        timeout_ms: int | None = None,
        explain: bool = False,
        params_for_window: tuple[datetime, datetime] | None = None,
    ) -> QueryOutcome:
        from vf_mcp.db.runner import run_guarded

        return await run_guarded(
            db,
            catalog,
            sql,
            params,
            limit=limit,
            offset=offset,
            timeout_ms=timeout_ms,
            explain=explain,
            params_for_window=params_for_window,
        )

    async def database_info(self, db: Database) -> DatabaseInfo:
        from vf_mcp.db.stats import database_info

        return await database_info(db)

    async def profile(
        self,
        db: Database,
        rel: Relation,
        cols: list[ColumnSpec],
        *,
        sample_percent: float | None,
        sample_rows: int | None,
        top: int,
        preview_rows: int,
    ) -> Profile:
        from vf_mcp.db.stats import profile

        return await profile(
            db, rel, cols, sample_percent=sample_percent, sample_rows=sample_rows, top=top, preview_rows=preview_rows
        )

    async def fetch_statement(self, db: Database, stmt: Statement) -> tuple[list[Column], list[list[JSONValue]], float]:
        from vf_mcp.db.runner import fetch_converted

        return await fetch_converted(db, stmt.sql, stmt.params)

    async def entity_label(self, catalog: Catalog, table: Table, column: str) -> EntityLabel:
        from vf_mcp.db.analytics import entity_label

        return await entity_label(catalog, table, column)


_POSTGRES = PostgresEngine()


def engine_of(db: Database) -> Engine:
    """The engine of a source's Database (chosen by its DSN scheme when the source was opened)."""
    if getattr(db, "engine_name", "postgresql") == "mysql":
        from vf_mcp.db.mysql.engine import MYSQL

        return MYSQL
    return _POSTGRES
