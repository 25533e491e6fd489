"""Reading back everything a database holds, to prove content is not in it. Not a test module."""

from __future__ import annotations

from sqlalchemy import inspect, text

from tutela.db.database import Database


def every_cell(database: Database) -> list[bytes]:
    """Every value of every column of every table, as bytes (a dump by SELECT)."""
    cells: list[bytes] = []
    with database.reader() as session:
        for table in inspect(session.get_bind()).get_table_names():
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        cells.append(bytes(value))
                    else:
                        cells.append(str(value).encode())
    return cells
