"""trusted prescriber CAs: intermediates, OCSP responders, removal

Revision ID: d0f5b8c2a346
Revises: c9e4a7b1f235
Create Date: 2026-12-01 19:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d0f5b8c2a346"
down_revision = "c9e4a7b1f235"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trusted_prescriber_cas") as batch:
        batch.add_column(sa.Column("anchor_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("ocsp", sa.Text(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_trusted_prescriber_cas_anchor_id_trusted_prescriber_cas"),
            "trusted_prescriber_cas",
            ["anchor_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_trusted_prescriber_cas_anchor_id"), ["anchor_id"])


def downgrade() -> None:
    # Imported intermediates were never trusted by themselves: they go, with their CRLs.
    intermediates = "SELECT id FROM trusted_prescriber_cas WHERE anchor_id IS NOT NULL"
    op.execute(f"DELETE FROM prescriber_crls WHERE authority_id IN ({intermediates})")
    op.execute("DELETE FROM trusted_prescriber_cas WHERE anchor_id IS NOT NULL")
    with op.batch_alter_table("trusted_prescriber_cas") as batch:
        batch.drop_index(batch.f("ix_trusted_prescriber_cas_anchor_id"))
        batch.drop_constraint(
            batch.f("fk_trusted_prescriber_cas_anchor_id_trusted_prescriber_cas"),
            type_="foreignkey",
        )
        batch.drop_column("ocsp")
        batch.drop_column("anchor_id")
