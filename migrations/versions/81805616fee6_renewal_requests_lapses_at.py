"""renewal requests: the stored lapses_at (requested_at + 8 days), backfilled

Revision ID: 81805616fee6
Revises: a3f0c2d9e851
Create Date: 2026-12-02 09:00:00
"""

from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "81805616fee6"
down_revision = "a3f0c2d9e851"
branch_labels = None
depends_on = None

LAPSE = timedelta(days=8)  # domain.renewals.LAPSE when this revision was written


def upgrade() -> None:
    with op.batch_alter_table("renewal_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lapses_at", sa.DateTime(timezone=True), nullable=True))
    # In Python, so that each engine stores the value in its own datetime format.
    requests = sa.table(
        "renewal_requests",
        sa.column("id", sa.Integer()),
        sa.column("requested_at", sa.DateTime(timezone=True)),
        sa.column("lapses_at", sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(requests.c.id, requests.c.requested_at)).all()
    if rows:
        connection.execute(
            requests.update()
            .where(requests.c.id == sa.bindparam("request_id"))
            .values(lapses_at=sa.bindparam("lapses")),
            [{"request_id": row.id, "lapses": row.requested_at + LAPSE} for row in rows],
        )
    with op.batch_alter_table("renewal_requests", schema=None) as batch_op:
        batch_op.alter_column("lapses_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("renewal_requests", schema=None) as batch_op:
        batch_op.drop_column("lapses_at")
