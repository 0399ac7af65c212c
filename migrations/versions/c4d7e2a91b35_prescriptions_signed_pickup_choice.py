"""prescriptions: the patient's pickup choice as a document signed by the service

Revision ID: c4d7e2a91b35
Revises: 81805616fee6
Create Date: 2026-12-02 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c4d7e2a91b35"
down_revision = "81805616fee6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pickup_choice_payload", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("pickup_choice_jws", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prescriptions", schema=None) as batch_op:
        batch_op.drop_column("pickup_choice_jws")
        batch_op.drop_column("pickup_choice_payload")
