"""check_data_quality's fix suggestions: one template per rule, written in the source's own SQL dialect.

A suggestion is prose and statements joined by "; ". Its statements are meant to be pasted as they are: the
SELECTs that show the offending rows run unchanged on the source, and the DDL is the engine's own
(PostgreSQL: NOT VALID constraints validated later; MySQL/MariaDB: backquoted names, REGEXP, constraints that
check every row when added, so the rows are fixed first). Identifiers come from the catalog; literals are
rule constants or values read from the data, quoted by the dialect.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vf_mcp.compute import quality as cq
from vf_mcp.db.catalog import Relation, quote_ident


def pg_literal(text: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings: only quotes are doubled)."""
    return "'" + text.replace("'", "''") + "'"


def mysql_literal(text: str) -> str:
    """A MySQL string literal for a server whose sql_mode keeps backslash escapes (the default)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def quote_backquote(name: str) -> str:
    """A MySQL identifier in backquotes (a backquote doubled)."""
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class Dialect:
    """The pieces of SQL in which the engines' suggestions differ."""

    name: str  # "postgresql" | "mysql"
    quote: Callable[[str], str]
    lit: Callable[[str], str]

    @property
    def mysql(self) -> bool:
        return self.name == "mysql"

    def table(self, rel: Relation) -> str:
        return f"{self.quote(rel.schema)}.{self.quote(rel.name)}"

    def not_matching(self, expr: str, pattern: str) -> str:
        op = "NOT REGEXP" if self.mysql else "!~"
        return f"{expr} {op} {self.lit(pattern)}"

    def stripped(self, expr: str, pattern: str) -> str:
        """`expr` with every match of `pattern` removed."""
        if self.mysql:
            return f"REGEXP_REPLACE({expr}, {self.lit(pattern)}, '')"
        return f"regexp_replace({expr}, {self.lit(pattern)}, '', 'g')"


POSTGRES = Dialect("postgresql", quote_ident, pg_literal)
MYSQL = Dialect("mysql", quote_backquote, mysql_literal)


@dataclass(frozen=True)
class Fixes:
    """The suggestion of every rule for one table, in `dialect`."""

    dialect: Dialect
    rel: Relation

    @property
    def t(self) -> str:
        return self.dialect.table(self.rel)

    def q(self, column: str) -> str:
        return self.dialect.quote(column)

    def nulls(self, column: str) -> str:
        return (
            f"SELECT * FROM {self.t} WHERE {self.q(column)} IS NULL; "
            "expected if optional; else backfill from the source and add NOT NULL"
        )

    def no_timestamp(self) -> str:
        if self.dialect.mysql:
            return (
                f"ALTER TABLE {self.t} ADD COLUMN created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
                "ADD COLUMN updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"
            )
        return f"ALTER TABLE {self.t} ADD created_at timestamptz DEFAULT now() (and updated_at)"

    def stale(self, column: str) -> str:
        newest = f"SELECT max({self.q(column)}) FROM {self.t}"
        if self.dialect.mysql:
            return f"Check the job that loads it: {newest}; ignore for static reference data"
        return f"Check the job that loads it ({newest}); ignore for static reference data"

    def not_valid_check(self, name: str, expr: str) -> str:
        """PostgreSQL only: MySQL has no NOT VALID constraints."""
        return (
            f"SELECT * FROM {self.t} WHERE NOT ({expr}); fix them, then "
            f"ALTER TABLE {self.t} VALIDATE CONSTRAINT {self.q(name)}"
        )

    def emails(self, column: str) -> str:
        q = self.q(column)
        return f"Correct or NULL them; SELECT {q} FROM {self.t} WHERE {self.dialect.not_matching(q, cq.EMAIL_RE)}"

    def phones(self, column: str) -> str:
        q = self.q(column)
        bad = self.dialect.not_matching(self.dialect.stripped(q, cq.PHONE_STRIP), cq.PHONE_RE)
        return f"Store E.164 (+<country><number>), validate on input; SELECT {q} FROM {self.t} WHERE {bad}"

    def negatives(self, column: str) -> str:
        q, t = self.q(column), self.t
        named = f"CONSTRAINT {self.q(f'{self.rel.name}_{column}_nonneg'[:64])} " if self.dialect.mysql else ""
        return f"SELECT * FROM {t} WHERE {q} < 0; correct them, then ALTER TABLE {t} ADD {named}CHECK ({q} >= 0)"

    def before_1900(self, column: str) -> str:
        return f"Placeholder or typo: fix or NULL; SELECT * FROM {self.t} WHERE {self.q(column)} < '1900-01-01'"

    def in_future(self, column: str) -> str:
        return f"Check clocks and time zones at the source; SELECT * FROM {self.t} WHERE {self.q(column)} > now()"

    def spellings(self, column: str, groups: Sequence[Sequence[tuple[str, int]]]) -> str:
        q, lit = self.q(column), self.dialect.lit
        # MySQL compares text under the column's collation, usually case-insensitive: compare the bytes
        target = f"CAST({q} AS BINARY)" if self.dialect.mysql else q
        fixes = "; ".join(
            f"UPDATE {self.t} SET {q} = {lit(str(g[0][0]))} "
            f"WHERE {target} IN ({', '.join(lit(str(v)) for v, _ in g[1:])})"
            for g in groups[:2]
        )
        return f"{fixes}; then add a CHECK constraint or a lookup table"

    def duplicate_rows(self, columns: Sequence[str]) -> str:
        cols = ", ".join(self.q(c) for c in columns)
        return (
            f"SELECT {cols}, count(*) FROM {self.t} GROUP BY {cols} HAVING count(*) > 1; delete the extra copies "
            "and add a UNIQUE key"
        )

    def repeated_key(self, column: str) -> str:
        q, t = self.q(column), self.t
        repeated = f"SELECT {q}, count(*) FROM {t} GROUP BY 1 HAVING count(*) > 1"
        return f"{repeated}; dedupe, then ALTER TABLE {t} ADD UNIQUE ({q})"

    def outliers(self, column: str, mean: str, bound: str) -> str:
        return f"Check for unit or entry errors; SELECT * FROM {self.t} WHERE abs({self.q(column)} - {mean}) > {bound}"

    def orphans(
        self, columns: Sequence[str], target: Relation, ref_columns: Sequence[str], constraint: str | None
    ) -> str:
        """Rows without a match; then validate the NOT VALID key (PostgreSQL) or add the foreign key."""
        t, q = self.t, self.q
        on = " AND ".join(f"r.{q(rc)} = s.{q(c)}" for c, rc in zip(columns, ref_columns, strict=True))
        ref = self.dialect.table(target)
        inspect = f"SELECT s.* FROM {t} s WHERE NOT EXISTS (SELECT 1 FROM {ref} r WHERE {on})"
        if constraint is not None:
            return f"{inspect}; fix or NULL them, then ALTER TABLE {t} VALIDATE CONSTRAINT {q(constraint)}"
        cols, refs = ", ".join(q(c) for c in columns), ", ".join(q(c) for c in ref_columns)
        later = "" if self.dialect.mysql else " NOT VALID"  # MySQL checks every row when the key is added
        add = f"ALTER TABLE {t} ADD FOREIGN KEY ({cols}) REFERENCES {ref} ({refs}){later}"
        return f"{inspect}; fix or NULL them, then {add}"
