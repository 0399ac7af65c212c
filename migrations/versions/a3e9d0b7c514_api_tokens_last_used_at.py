"""api tokens last used at: a bearer token left unused too long ends (idle timeout)

Revision ID: a3e9d0b7c514
Revises: c1f4a8d2e907
Create Date: 2026-12-01 15:35:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a3e9d0b7c514"
down_revision = "c1f4a8d2e907"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    # A token issued before this column counts as used when it was made.
    op.execute("UPDATE api_tokens SET last_used_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
