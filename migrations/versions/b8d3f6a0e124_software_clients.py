"""software clients: registered software and its credentials; the software of tokens and events

Revision ID: b8d3f6a0e124
Revises: a7c2e5f9d013
Create Date: 2026-12-01 19:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b8d3f6a0e124"
down_revision = "a7c2e5f9d013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "software_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("vendor", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("pharmacy_id", sa.Integer(), nullable=True),
        sa.Column("practice_id", sa.Integer(), nullable=True),
        sa.Column("scopes", sa.String(length=128), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("public_key_pem", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pharmacy_id"],
            ["pharmacies.id"],
            name=op.f("fk_software_clients_pharmacy_id_pharmacies"),
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_software_clients_practice_id_practices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_software_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_software_clients_client_id")),
    )
    op.create_index(op.f("ix_software_clients_pharmacy_id"), "software_clients", ["pharmacy_id"])
    op.create_index(op.f("ix_software_clients_practice_id"), "software_clients", ["practice_id"])
    op.create_table(
        "client_assertion_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("software_client_id", sa.Integer(), nullable=False),
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["software_client_id"],
            ["software_clients.id"],
            name=op.f("fk_client_assertion_uses_software_client_id_software_clients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_assertion_uses")),
        sa.UniqueConstraint(
            "software_client_id", "jti", name=op.f("uq_client_assertion_uses_software_client_id")
        ),
    )
    op.create_index(
        op.f("ix_client_assertion_uses_expires_at"), "client_assertion_uses", ["expires_at"]
    )
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("software_client_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("scopes", sa.String(length=128), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_api_tokens_software_client_id_software_clients"),
            "software_clients",
            ["software_client_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_api_tokens_software_client_id"), ["software_client_id"])
    op.add_column(
        "audit_events",
        sa.Column("software", sa.String(length=160), server_default="", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("audit_events", "software")
    op.execute("DELETE FROM api_tokens WHERE account_id IS NULL")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index(batch.f("ix_api_tokens_software_client_id"))
        batch.drop_constraint(
            batch.f("fk_api_tokens_software_client_id_software_clients"), type_="foreignkey"
        )
        batch.drop_column("scopes")
        batch.drop_column("software_client_id")
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=False)
    op.drop_index(op.f("ix_client_assertion_uses_expires_at"), table_name="client_assertion_uses")
    op.drop_table("client_assertion_uses")
    op.drop_index(op.f("ix_software_clients_practice_id"), table_name="software_clients")
    op.drop_index(op.f("ix_software_clients_pharmacy_id"), table_name="software_clients")
    op.drop_table("software_clients")
