"""event subscriptions scoped to a practice or a pharmacy, and the expiry reminders

Revision ID: c9e4a7b1f235
Revises: b8d3f6a0e124
Create Date: 2026-12-01 19:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c9e4a7b1f235"
down_revision = "b8d3f6a0e124"
branch_labels = None
depends_on = None

ONE_SCOPE = (
    "(CASE WHEN practice_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN pharmacy_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN operator_wide THEN 1 ELSE 0 END) = 1"
)


def upgrade() -> None:
    with op.batch_alter_table("event_outbox") as batch:
        for name in ("prescription_id", "practice_id", "pharmacy_id"):
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_event_outbox_prescription_id"), ["prescription_id"])
    with op.batch_alter_table("event_subscriptions") as batch:
        batch.add_column(sa.Column("practice_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("pharmacy_id", sa.Integer(), nullable=True))
        # The subscriptions made before scopes got every prescription's events: operator-wide.
        batch.add_column(
            sa.Column("operator_wide", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.add_column(
            sa.Column("channel", sa.String(length=16), nullable=False, server_default="webhook")
        )
        batch.add_column(sa.Column("criteria", sa.Text(), nullable=True))
        batch.add_column(sa.Column("statuses", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("base_url", sa.Text(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_event_subscriptions_practice_id_practices"),
            "practices",
            ["practice_id"],
            ["id"],
        )
        batch.create_foreign_key(
            batch.f("fk_event_subscriptions_pharmacy_id_pharmacies"),
            "pharmacies",
            ["pharmacy_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_event_subscriptions_practice_id"), ["practice_id"])
        batch.create_index(batch.f("ix_event_subscriptions_pharmacy_id"), ["pharmacy_id"])
        batch.create_check_constraint(batch.f("ck_event_subscriptions_one_scope"), ONE_SCOPE)
        batch.create_check_constraint(
            batch.f("ck_event_subscriptions_channel_kind"),
            "channel IN ('webhook', 'fhir_empty', 'fhir_bundle')",
        )
    with op.batch_alter_table("event_subscriptions") as batch:
        batch.alter_column("operator_wide", server_default=sa.false())
    op.create_table(
        "event_expiry_reminders",
        sa.Column("prescription_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["prescription_id"],
            ["prescriptions.id"],
            name=op.f("fk_event_expiry_reminders_prescription_id_prescriptions"),
        ),
        sa.PrimaryKeyConstraint("prescription_id", name=op.f("pk_event_expiry_reminders")),
    )


def downgrade() -> None:
    op.drop_table("event_expiry_reminders")
    op.execute(
        "DELETE FROM event_deliveries WHERE subscription_id IN "
        "(SELECT id FROM event_subscriptions WHERE NOT operator_wide)"
    )
    op.execute("DELETE FROM event_subscriptions WHERE NOT operator_wide")
    with op.batch_alter_table("event_subscriptions") as batch:
        batch.drop_constraint(batch.f("ck_event_subscriptions_channel_kind"), type_="check")
        batch.drop_constraint(batch.f("ck_event_subscriptions_one_scope"), type_="check")
        batch.drop_index(batch.f("ix_event_subscriptions_pharmacy_id"))
        batch.drop_index(batch.f("ix_event_subscriptions_practice_id"))
        batch.drop_constraint(
            batch.f("fk_event_subscriptions_pharmacy_id_pharmacies"), type_="foreignkey"
        )
        batch.drop_constraint(
            batch.f("fk_event_subscriptions_practice_id_practices"), type_="foreignkey"
        )
        for name in (
            "base_url",
            "reason",
            "statuses",
            "criteria",
            "channel",
            "operator_wide",
            "pharmacy_id",
            "practice_id",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("event_outbox") as batch:
        batch.drop_index(batch.f("ix_event_outbox_prescription_id"))
        for name in ("pharmacy_id", "practice_id", "prescription_id"):
            batch.drop_column(name)
