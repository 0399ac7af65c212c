"""The audit log made append-only on PostgreSQL: the application's database role may read and
insert its rows, never update, delete or truncate them."""

from sqlalchemy import text

from eprescription.domain.errors import ValidationFailed
from eprescription.services.uow import UnitOfWork

APPEND_ONLY_TABLES = ("audit_events", "audit_log_entries", "audit_tree_nodes", "audit_checkpoints")


def protect(uow: UnitOfWork, role: str) -> list[str]:
    """Revoke UPDATE, DELETE and TRUNCATE on the audit tables from `role` (and PUBLIC), leaving
    SELECT and INSERT; the statements run, for the operator's record."""
    session = uow.session
    if session.get_bind().dialect.name != "postgresql":
        raise ValidationFailed(
            "Only PostgreSQL has roles: on SQLite the file's owner can change anything.",
            errors={"database": ["not PostgreSQL"]},
        )
    exists = session.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
    if exists.first() is None:
        raise ValidationFailed(f"No database role is named {role}.", errors={"role": ["unknown"]})
    quoted = session.get_bind().dialect.identifier_preparer.quote(role)
    statements = []
    for table in APPEND_ONLY_TABLES:
        statements += [
            f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC, {quoted}",
            f"GRANT SELECT, INSERT ON {table} TO {quoted}",
        ]
    statements.append(f"GRANT USAGE ON SEQUENCE audit_events_id_seq TO {quoted}")
    for statement in statements:
        session.execute(text(statement))
    return statements
