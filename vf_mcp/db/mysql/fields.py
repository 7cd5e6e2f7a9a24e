"""The one place vf-mcp reads a private attribute of the MySQL driver: a text-protocol result's field packets.

run_query converts each column by its type code, flags (UNSIGNED, ENUM, SET) and character set (binary
strings are bytes, not text). asyncmy has no public way to reach the last two on the text protocol:
`cursor.description` (PEP 249) is (name, type_code, None, length, length, scale, null_ok), and
`Connection.query()` returns only the affected-row count. Its public field list (`MySQLResult.fields`) comes
only from a prepared statement (`PreparedStatement.execute()`), whose binary protocol decodes values
differently from the text protocol the converters read. So `result_fields` reads `cursor._result.fields`,
checks it against the public description (name and type code of every column), and fails with a clear error
if the driver ever changes it; tests/test_mysql_driver.py runs the same check on a real server.
"""

from __future__ import annotations

from vf_mcp.db.mysql.convert import MyField
from vf_mcp.db.mysql.pool import MyConn
from vf_mcp.errors import ConfigError

_NEEDED = ("name", "type_code", "flags", "charsetnr", "length")


def result_fields(cursor: MyConn) -> list[MyField]:
    """The field descriptors (name, type_code, flags, charsetnr, length) of `cursor`'s current result set."""
    result = getattr(cursor, "_result", None)  # private: asyncmy has no public field flags on the text protocol
    fields = list(getattr(result, "fields", None) or ())
    described = [(str(d[0]), int(d[1])) for d in cursor.description or ()]
    if len(fields) != len(described) or any(
        not all(hasattr(f, a) for a in _NEEDED) or (str(f.name), int(f.type_code)) != d
        for f, d in zip(fields, described, strict=False)
    ):
        raise ConfigError(
            "The MySQL driver (asyncmy) no longer exposes its result's field descriptors as vf-mcp expects; "
            "install the asyncmy version pyproject.toml names."
        )
    return fields
