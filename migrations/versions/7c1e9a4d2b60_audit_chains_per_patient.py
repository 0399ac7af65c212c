"""audit events chained per patient (or account), no global head row

Revision ID: 7c1e9a4d2b60
Revises: 49722f156b18
Create Date: 2026-12-01 09:40:00

The single `audit_chain_head` row that every audited transaction locked goes away. Events
get a chain key (the patient's, else the account's, else the object's) and a 64-bit position
in that chain; each chain's head lives in `audit_chains`. Existing events are carried over in
their order and re-chained (their hashes are recomputed in the new form, which covers the
chain key and position).
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "7c1e9a4d2b60"
down_revision = "49722f156b18"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
FIELDS = (
    "chain_key", "chain_seq", "occurred_at", "actor_account_id", "actor_role", "organisation",
    "action", "object_type", "object_id", "patient_person_id", "outcome", "previous_hash",
)


def _chain_key(row) -> str:
    if row["patient_person_id"] is not None:
        return f"patient:{row['patient_person_id']}"
    if row["actor_account_id"] is not None:
        return f"account:{row['actor_account_id']}"
    return f"object:{row['object_type']}:{row['object_id']}"[:80]


def _hash(row: dict) -> str:
    content = {name: row[name] for name in FIELDS}
    content["occurred_at"] = content["occurred_at"].isoformat(timespec="microseconds")
    data = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode()).hexdigest()


def _utc(value):
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def upgrade() -> None:
    bind = op.get_bind()
    old = [dict(row) for row in bind.execute(sa.text(
        "SELECT occurred_at, actor_account_id, actor_role, organisation, action,"
        " object_type, object_id, patient_person_id, outcome FROM audit_events ORDER BY sequence"
    )).mappings()]
    op.drop_table("audit_chain_head")
    op.drop_table("audit_events")
    events = op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("chain_key", sa.String(length=80), nullable=False),
        sa.Column("chain_seq", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_account_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("organisation", sa.String(length=256), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("patient_person_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=48), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint(
            "chain_key", "chain_seq", name=op.f("uq_audit_events_chain_key")
        ),
    )
    op.create_index(
        op.f("ix_audit_events_actor_account_id"), "audit_events", ["actor_account_id"]
    )
    op.create_index(
        op.f("ix_audit_events_patient_person_id"), "audit_events", ["patient_person_id"]
    )
    chains = op.create_table(
        "audit_chains",
        sa.Column("chain_key", sa.String(length=80), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("chain_key", name=op.f("pk_audit_chains")),
    )
    heads: dict[str, tuple[int, str]] = {}
    rows = []
    for row in old:
        key = _chain_key(row)
        sequence, previous = heads.get(key, (0, GENESIS))
        new = {**row, "occurred_at": _utc(row["occurred_at"]), "chain_key": key,
               "chain_seq": sequence + 1, "previous_hash": previous}
        new["hash"] = _hash(new)
        heads[key] = (sequence + 1, new["hash"])
        rows.append(new)
    if rows:
        op.bulk_insert(events, rows)
        op.bulk_insert(chains, [
            {"chain_key": key, "last_seq": seq, "last_hash": last}
            for key, (seq, last) in heads.items()
        ])


def downgrade() -> None:
    raise NotImplementedError("the global audit chain is not restored; restore a backup instead")
