"""key ids: each wrapped key and sealed access code names the key-encryption key it is under

Revision ID: f2c8a5e3d716
Revises: e7a4c1d8b092
Create Date: 2026-12-01 12:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f2c8a5e3d716"
down_revision = "e7a4c1d8b092"
branch_labels = None
depends_on = None

# Before key ids there was one KEY_ENCRYPTION_KEY, whose id is k1 when it stands alone.
DEFAULT_KEY_ID = "k1"
COLUMNS = (
    ("certificate_authorities", "wrapping_key_id"),
    ("prescriber_credentials", "wrapping_key_id"),
    ("service_keys", "wrapping_key_id"),
    ("prescriptions", "access_code_key_id"),
)


def upgrade() -> None:
    # Every existing row gets k1 through the default. PostgreSQL then drops the default, so a
    # writer that forgets the id fails; SQLite keeps it, since dropping it would rebuild these
    # tables, which other tables reference (a DROP TABLE under foreign keys).
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column in COLUMNS:
        op.add_column(
            table, sa.Column(column, sa.String(32), nullable=False, server_default=DEFAULT_KEY_ID)
        )
        if not sqlite:
            op.alter_column(table, column, server_default=None)


def downgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
