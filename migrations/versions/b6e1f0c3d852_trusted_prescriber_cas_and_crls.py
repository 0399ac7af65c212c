"""trusted prescriber CAs and their CRLs: prescriptions signed by the prescriber's own key

Revision ID: b6e1f0c3d852
Revises: a3e9d0b7c514
Create Date: 2026-12-01 15:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b6e1f0c3d852"
down_revision = "a3e9d0b7c514"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trusted_prescriber_cas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("not_valid_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_valid_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_prescriber_cas")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_trusted_prescriber_cas_fingerprint")),
    )
    op.create_table(
        "prescriber_crls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authority_id", sa.Integer(), nullable=False),
        sa.Column("crl_pem", sa.Text(), nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["authority_id"],
            ["trusted_prescriber_cas.id"],
            name=op.f("fk_prescriber_crls_authority_id_trusted_prescriber_cas"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prescriber_crls")),
        sa.UniqueConstraint("authority_id", name=op.f("uq_prescriber_crls_authority_id")),
    )


def downgrade() -> None:
    op.drop_table("prescriber_crls")
    op.drop_table("trusted_prescriber_cas")
