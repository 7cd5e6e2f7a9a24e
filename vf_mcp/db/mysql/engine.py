"""MySqlEngine: the engine interface (vf_mcp/db/engine.py) on MySQL and MariaDB."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from vf_mcp.db.cache import ResultCache
from vf_mcp.db.catalog import Catalog, Relation
from vf_mcp.db.engine_sql import BuildsStatements, StatementSql
from vf_mcp.db.mysql.catalog import MySqlCatalog
from vf_mcp.db.mysql.pool import MySqlDatabase
from vf_mcp.db.pool import Database

if TYPE_CHECKING:
    from vf_mcp.db.builder import Statement, Table
    from vf_mcp.db.runner import Column, QueryOutcome
    from vf_mcp.db.statements.analytics import EntityLabel
    from vf_mcp.db.stats import ColumnSpec, DatabaseInfo, Profile
    from vf_mcp.jsontypes import JSONValue


def _my(db: Database) -> MySqlDatabase:
    assert isinstance(db, MySqlDatabase)
    return db


def _catalog(catalog: Catalog) -> MySqlCatalog:
    assert isinstance(catalog, MySqlCatalog)
    return catalog


class MySqlEngine(BuildsStatements):
    """MySQL 8 and MariaDB 10.6+ through asyncmy."""

    name = "mysql"

    def statement_sql(self) -> StatementSql:
        from vf_mcp.db.mysql import statements

        return statements

    def label(self, db: Database) -> str:
        return _my(db).flavor_label

    def catalog(self, db: Database, cache: ResultCache) -> Catalog:
        return MySqlCatalog(db, cache)

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
        from vf_mcp.db.mysql.runner import run_mysql_guarded

        return await run_mysql_guarded(
            _my(db),
            _catalog(catalog),
            sql,
            params,
            limit=limit,
            offset=offset,
            timeout_ms=timeout_ms,
            explain=explain,
            params_for_window=params_for_window,
        )

    async def database_info(self, db: Database) -> DatabaseInfo:
        from vf_mcp.db.mysql.stats import database_info

        return await database_info(_my(db))

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
        from vf_mcp.db.mysql.stats import profile

        return await profile(
            _my(db), rel, cols, sample_percent=sample_percent, sample_rows=sample_rows, top=top,
            preview_rows=preview_rows,
        )  # fmt: skip

    async def fetch_statement(self, db: Database, stmt: Statement) -> tuple[list[Column], list[list[JSONValue]], float]:
        from vf_mcp.db.engine import not_on_engine
        from vf_mcp.db.mysql.runner import fetch_mysql_statement
        from vf_mcp.db.mysql.statements import MySqlStatement

        if not isinstance(stmt, MySqlStatement):  # built in PostgreSQL's SQL by a tool not ported yet
            raise not_on_engine(self.label(db))
        return await fetch_mysql_statement(_my(db), stmt.sql, stmt.params)

    async def entity_label(self, catalog: Catalog, table: Table, column: str) -> EntityLabel:
        from vf_mcp.db.mysql.statements import entity_label

        return await entity_label(catalog, table, column)


MYSQL = MySqlEngine()
