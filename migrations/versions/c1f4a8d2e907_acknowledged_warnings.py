"""acknowledged warnings: the review's warnings a prescriber signed over, with their reason

Revision ID: c1f4a8d2e907
Revises: a9c3e5f7b214
Create Date: 2026-12-01 13:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c1f4a8d2e907"
down_revision = "a9c3e5f7b214"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_warnings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.drop_column("acknowledged_warnings")
