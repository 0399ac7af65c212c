"""Several new rows as one PostgreSQL FROM clause: unnest() of one bound array per column, so an
INSERT … SELECT of any number of rows is one cached statement (a multi-row VALUES is not)."""

from collections.abc import Sequence

from sqlalchemy import Column, bindparam, column, func
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import FromClause


def rows(name: str, columns: Sequence[Column], values: Sequence[Sequence[object]]) -> FromClause:
    """`values` (one tuple per row, in the order of `columns`) as a FROM clause named `name`
    whose columns have the names and types of `columns`."""
    arrays = [
        sql_cast(
            bindparam(f"{name}_{c.name}", [row[index] for row in values], type_=ARRAY(c.type)),
            ARRAY(c.type),
        )
        for index, c in enumerate(columns)
    ]
    named = (column(c.name, c.type) for c in columns)
    return func.unnest(*arrays).table_valued(*named).render_derived(name=name)
