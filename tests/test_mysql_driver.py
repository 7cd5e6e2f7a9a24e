"""The one private driver attribute vf-mcp reads (vf_mcp/db/mysql/fields.py): a text-protocol result's field
descriptors. On a real MariaDB, through asyncmy itself, they must carry what cursor.description lacks (the
UNSIGNED/ENUM/SET flags and the character set): if a new asyncmy moves or drops them, this fails first."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.mysql_server import MariaDb, admin_sql
from vf_mcp.db.mysql.convert import BINARY_CHARSET, ENUM_FLAG, SET_FLAG, UNSIGNED_FLAG, type_name
from vf_mcp.db.mysql.fields import result_fields
from vf_mcp.errors import ConfigError

pytestmark = pytest.mark.anyio


async def test_field_descriptors_carry_flags_and_charset(mariadb: MariaDb) -> None:
    from asyncmy import connect

    await admin_sql(mariadb, "DROP TABLE IF EXISTS driver_fields", "chinook")
    await admin_sql(
        mariadb,
        "CREATE TABLE driver_fields (u INT UNSIGNED, s INT, e ENUM('a','b'), st SET('x','y'), vb VARBINARY(8), "
        "vc VARCHAR(8))",
        "chinook",
    )
    await admin_sql(
        mariadb, "INSERT INTO driver_fields VALUES (4294967295, -1, 'a', 'x,y', x'00ff', 'text')", "chinook"
    )
    conn = await connect(
        host=mariadb.host, port=mariadb.port, user=mariadb.user, password=mariadb.password, database="chinook",
        charset="utf8mb4",
    )  # fmt: skip
    try:
        cur = conn.cursor()
        await cur.execute("SELECT u, s, e, st, vb, vc FROM driver_fields")
        await cur.fetchall()
        fields = result_fields(cur)
        description = cur.description
        await cur.close()
    finally:
        conn.close()
        await admin_sql(mariadb, "DROP TABLE driver_fields", "chinook")
    assert [f.name for f in fields] == [d[0] for d in description] == ["u", "s", "e", "st", "vb", "vc"]
    assert [f.type_code for f in fields] == [d[1] for d in description]
    by = {f.name: f for f in fields}
    assert by["u"].flags & UNSIGNED_FLAG and not by["s"].flags & UNSIGNED_FLAG
    assert by["e"].flags & ENUM_FLAG and by["st"].flags & SET_FLAG
    assert by["vb"].charsetnr == BINARY_CHARSET and by["vc"].charsetnr != BINARY_CHARSET
    names = [type_name(f.type_code, f.flags, f.charsetnr) for f in fields]
    assert names[0].endswith("unsigned") and names[4] == "varbinary" and "unsigned" not in names[1]
    assert all(len(d) == 7 for d in description)  # PEP 249's description: no flags, no charset (hence fields.py)


def test_a_changed_driver_fails_loudly() -> None:
    described = (("a", 3, None, 11, 11, 0, True),)
    for result in (None, SimpleNamespace(fields=None), SimpleNamespace(fields=[SimpleNamespace(name="a")])):
        cursor = SimpleNamespace(_result=result, description=described)
        with pytest.raises(ConfigError, match="asyncmy"):
            result_fields(cursor)
    ok = SimpleNamespace(name="a", type_code=3, flags=0, charsetnr=63, length=11)
    assert result_fields(SimpleNamespace(_result=SimpleNamespace(fields=[ok]), description=described)) == [ok]
