"""practices: what a prescriber works in and a practice's software is bound to

Revision ID: a7c2e5f9d013
Revises: e3b7d1a9c542
Create Date: 2026-12-01 19:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a7c2e5f9d013"
down_revision = "e3b7d1a9c542"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "practices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("identifier", sa.String(length=14), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practices")),
        sa.UniqueConstraint("identifier", name=op.f("uq_practices_identifier")),
    )
    with op.batch_alter_table("prescribers") as batch:
        batch.add_column(sa.Column("practice_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_prescribers_practice_id_practices"), "practices", ["practice_id"], ["id"]
        )
        batch.create_index(batch.f("ix_prescribers_practice_id"), ["practice_id"])


def downgrade() -> None:
    with op.batch_alter_table("prescribers") as batch:
        batch.drop_index(batch.f("ix_prescribers_practice_id"))
        batch.drop_constraint(batch.f("fk_prescribers_practice_id_practices"), type_="foreignkey")
        batch.drop_column("practice_id")
    op.drop_table("practices")
