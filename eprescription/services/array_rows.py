"""Several new rows as one PostgreSQL FROM clause: unnest() of one bound array per column, so an
INSERT … SELECT of any number of rows is one statement, built once and cached (a multi-row
VALUES is compiled again for every number of rows)."""

from collections.abc import Sequence

from sqlalchemy import ColumnClause, bindparam, column, func
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql import FromClause


def rows(name: str, columns: Sequence[ColumnClause]) -> FromClause:
    """A FROM clause named `name` whose columns have the names and types of `columns`, its
    rows bound at execution by `values(name, columns, …)`."""
    arrays = [
        sql_cast(bindparam(f"{name}_{c.name}", type_=ARRAY(c.type)), ARRAY(c.type)) for c in columns
    ]
    named = (column(c.name, c.type) for c in columns)
    return func.unnest(*arrays).table_valued(*named).render_derived(name=name)


def values(
    name: str, columns: Sequence[ColumnClause], rows: Sequence[Sequence[object]]
) -> dict[str, list[object]]:
    """The parameters of `rows(name, columns)` for these rows (one tuple per row, in the order
    of `columns`)."""
    return {f"{name}_{c.name}": [row[index] for row in rows] for index, c in enumerate(columns)}
