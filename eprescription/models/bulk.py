"""Many rows written in a session's transaction: COPY on PostgreSQL, executemany elsewhere."""

from sqlalchemy import FromClause, Table, insert
from sqlalchemy.orm import Session


def bulk_insert(session: Session, table: FromClause, rows: list[dict]) -> None:
    """Insert many rows in the session's transaction: COPY on PostgreSQL, executemany elsewhere.

    `table` is a model's `__table__` (typed FromClause by SQLAlchemy): it must be a Table."""
    if not isinstance(table, Table):
        raise TypeError(f"bulk_insert writes into a table, not {type(table).__name__}")
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    # psycopg sends an executemany row by row; COPY streams them (about ten times faster).
    columns = list(rows[0])
    cursor = connection.connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])
