"""medication search: substance lines (DCI at a strength in a form) and their terms

Revision ID: b8e5d2c7a419
Revises: f2c8a5e3d716
Create Date: 2026-12-01 12:45:00

The tables are derived from the catalog at each import: after upgrading, re-import the BDPM
release (`flask catalog import-bdpm DIR`) to fill them; until then a search offers products only.
"""

import sqlalchemy as sa
from alembic import op

revision = "b8e5d2c7a419"
down_revision = "f2c8a5e3d716"
branch_labels = None
depends_on = None

TERM = sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "medication_substance_lines",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_substance_lines")),
    )
    op.create_table(
        "medication_substance_line_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", TERM, nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["medication_substance_lines.id"],
            name=op.f("fk_medication_substance_line_terms_line_id_medication_substance_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_substance_line_terms")),
    )
    op.create_index(
        "ix_medication_substance_line_terms_term_covering",
        "medication_substance_line_terms",
        ["term", "line_id", "kind"],
    )
    op.create_index(
        "ix_medication_substance_line_terms_line_term",
        "medication_substance_line_terms",
        ["line_id", "term", "kind"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_medication_substance_line_terms_line_term",
        table_name="medication_substance_line_terms",
    )
    op.drop_index(
        "ix_medication_substance_line_terms_term_covering",
        table_name="medication_substance_line_terms",
    )
    op.drop_table("medication_substance_line_terms")
    op.drop_table("medication_substance_lines")
