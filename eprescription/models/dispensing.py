"""Dispensations as stored: what left which pharmacy, its signed receipt, reversals, and the
Idempotency-Key records that make a retried POST return its first answer."""

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.models.base import Base, UTCDateTime, utcnow
from eprescription.models.people import Pharmacy
from eprescription.models.prescriptions import Prescription, PrescriptionItem


class CostShares:
    """What a dispensation, or one of its lines, costs: in all, paid by insurance, by the
    patient; the two shares add up (shares_add_up in each table's constraints)."""

    total_cents: Mapped[int] = mapped_column(Integer)
    covered_cents: Mapped[int] = mapped_column(Integer)
    patient_share_cents: Mapped[int] = mapped_column(Integer)


def _shares_add_up() -> CheckConstraint:
    return CheckConstraint(
        "covered_cents + patient_share_cents = total_cents", name="shares_add_up"
    )


class Dispensation(CostShares, Base):
    """One handing-over at a pharmacy; `payload` is exactly what the service's receipt signs."""

    __tablename__ = "dispensations"
    __table_args__ = (
        CheckConstraint("total_cents >= 0", name="total_not_negative"),
        CheckConstraint("covered_cents >= 0", name="covered_not_negative"),
        _shares_add_up(),
        CheckConstraint(
            "collected_by_kind IN ('patient', 'representative', 'other')", name="collector_kind"
        ),
    )

    # Random (uuid4 hex): it is in URLs and receipts and says nothing about volumes.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescriptions.id"), index=True)
    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    pharmacist_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    dispensed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    collected_by_kind: Mapped[str] = mapped_column(String(16))
    collected_by_national_id: Mapped[str | None] = mapped_column(String(32))
    collected_by_name: Mapped[str | None] = mapped_column(String(256))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    jws: Mapped[str] = mapped_column(Text)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reversed_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reversal_reason: Mapped[str | None] = mapped_column(Text)
    # The reversal document signed by the service key, like the receipt.
    reversal_payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    reversal_jws: Mapped[str | None] = mapped_column(Text)

    prescription: Mapped[Prescription] = relationship(back_populates="dispensations")
    pharmacy: Mapped[Pharmacy] = relationship()
    lines: Mapped[list["DispensationLine"]] = relationship(
        back_populates="dispensation", order_by="DispensationLine.id"
    )

    def chronological_key(self) -> tuple:
        """Sort key, oldest first: times are kept to the second and ids are random, so the
        lines' serial ids break ties (needs `lines` loaded)."""
        return (self.dispensed_at, min((line.id for line in self.lines), default=0))


class DispensationLine(CostShares, Base):
    """A pack (or several of one batch) given for one prescription line."""

    __tablename__ = "dispensation_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("period >= 1", name="period_positive"),
        CheckConstraint("rate >= 0 AND rate <= 100", name="rate_range"),
        CheckConstraint("unit_price_cents >= 0", name="price_not_negative"),
        _shares_add_up(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dispensation_id: Mapped[str] = mapped_column(ForeignKey("dispensations.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("prescription_items.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    period: Mapped[int] = mapped_column(Integer)
    cip13: Mapped[str] = mapped_column(ForeignKey("medication_presentations.cip13"))
    substituted: Mapped[bool] = mapped_column(Boolean, default=False)
    quantity: Mapped[int] = mapped_column(Integer)
    batch: Mapped[str] = mapped_column(String(20))
    expiry: Mapped[date] = mapped_column(Date)
    serial: Mapped[str | None] = mapped_column(String(20))
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    rate: Mapped[int] = mapped_column(Integer)

    dispensation: Mapped[Dispensation] = relationship(back_populates="lines")
    item: Mapped[PrescriptionItem] = relationship()


class IdempotencyKey(Base):
    """A client's Idempotency-Key: the request it was first used for, and the answer given.

    `response_body` (sealed) is NULL while the first call runs; it is written in that call's
    transaction, so a committed row always has it.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("account_id", "scope", "key", name="uq_idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    scope: Mapped[str] = mapped_column(String(128))  # method and path
    key: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    # Indexed: `flask idempotency prune` deletes what is older than a day.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
