"""login throttles count from the last failure; accounts carry a session version

Revision ID: d9b3e6f1a274
Revises: c4d7e2a91b35
Create Date: 2026-12-01 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d9b3e6f1a274"
down_revision = "c4d7e2a91b35"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The wait is now derived from the count and the last failure (a growing delay): the old
    # fixed locks are dropped with their column, which only lets those usernames in sooner.
    op.execute("DELETE FROM login_throttles")
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("locked_until")
        # A known device's count is kept under "<username>/<device id>" (32 hex digits).
        batch_op.alter_column(
            "username", existing_type=sa.String(length=64), type_=sa.String(length=128)
        )
    # Every session cookie names the version it was made under; raising it (logout, a new
    # password, disable) ends them all at once, as the account's API tokens are deleted.
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("session_version")
    op.execute("DELETE FROM login_throttles")
    with op.batch_alter_table("login_throttles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("last_failure_at")
        batch_op.alter_column(
            "username", existing_type=sa.String(length=128), type_=sa.String(length=64)
        )
