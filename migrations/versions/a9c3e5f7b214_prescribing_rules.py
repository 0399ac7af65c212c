"""prescribing rules: each product's classified conditions; a prescriber's setting

Revision ID: a9c3e5f7b214
Revises: b8e5d2c7a419
Create Date: 2026-12-01 13:00:00

The conditions already imported are classified here, so the rules hold at once; each later
import derives them again (docs/rules.md).
"""

import sqlalchemy as sa
from alembic import op

from eprescription.domain.prescribing_conditions import classify_all, to_json

revision = "a9c3e5f7b214"
down_revision = "b8e5d2c7a419"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("medication_products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conditions", sa.Text(), nullable=False, server_default="[]"))
    with op.batch_alter_table("prescribers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("setting", sa.String(16), nullable=False, server_default="community")
        )
    connection = op.get_bind()
    texts: dict[str, list[str]] = {}
    for cis, text in connection.execute(
        sa.text("SELECT cis, condition FROM medication_prescribing_conditions ORDER BY id")
    ):
        texts.setdefault(cis, []).append(text)
    if texts:
        connection.execute(
            sa.text("UPDATE medication_products SET conditions = :conditions WHERE cis = :cis"),
            [
                {"cis": cis, "conditions": to_json(classify_all(rows))}
                for cis, rows in texts.items()
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("prescribers", schema=None) as batch_op:
        batch_op.drop_column("setting")
    with op.batch_alter_table("medication_products", schema=None) as batch_op:
        batch_op.drop_column("conditions")
