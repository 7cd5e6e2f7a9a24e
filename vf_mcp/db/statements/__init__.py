"""Statement builders per tool family: pure functions returning `db.builder.Statement(sql, params)`."""
