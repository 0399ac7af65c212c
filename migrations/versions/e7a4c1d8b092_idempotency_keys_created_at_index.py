"""idempotency keys: an index on created_at for `flask idempotency prune`

Revision ID: e7a4c1d8b092
Revises: d9b3e6f1a274
Create Date: 2026-12-01 12:15:00
"""

from alembic import op

revision = "e7a4c1d8b092"
down_revision = "d9b3e6f1a274"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
