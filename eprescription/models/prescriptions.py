"""Prescriptions as stored: the signed payload and its JWS, the lines, the signed cancellations."""

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.models.base import Base, UTCDateTime
from eprescription.models.people import Person, Prescriber

if TYPE_CHECKING:
    from eprescription.models.dispensing import Dispensation


class Prescription(Base):
    """A signed prescription. `payload` holds exactly the bytes the JWS signs.

    The columns beside it repeat the payload's values for queries; the payload is the truth,
    and every read and action checks the columns against it (services/signed_documents.py).
    """

    __tablename__ = "prescriptions"
    __table_args__ = (
        CheckConstraint("renewals >= 0 AND renewals <= 11", name="renewals_range"),
        CheckConstraint("valid_until >= valid_from", name="validity_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(11), unique=True)
    patient_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    pickup_mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), index=True)
    # Bumped by every change, for the dispensing If-Match check (issue 4).
    version: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    jws: Mapped[str] = mapped_column(Text)
    access_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The access code under AES-GCM (server secret), only to show its QR code again, and the
    # id of the key-encryption key that sealed it (docs/signing.md, key management).
    access_code_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    access_code_key_id: Mapped[str] = mapped_column(String(32))
    # The patient's choice of pickup mode (when they changed the prescriber's), a document the
    # service signs: `pickup_mode` must say what it says (docs/signing.md).
    pickup_choice_payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    pickup_choice_jws: Mapped[str | None] = mapped_column(Text)
    # The review's warnings the prescriber acknowledged at signing (issue_review.as_record, with
    # the reason given); None: issued by a caller that does not acknowledge (the API).
    acknowledged_warnings: Mapped[list | None] = mapped_column(JSON)

    patient: Mapped[Person] = relationship()
    prescriber: Mapped[Prescriber] = relationship()
    items: Mapped[list["PrescriptionItem"]] = relationship(
        back_populates="prescription", order_by="PrescriptionItem.line"
    )
    cancellations: Mapped[list["PrescriptionCancellation"]] = relationship(
        back_populates="prescription", order_by="PrescriptionCancellation.id"
    )
    # Loaded only where one statement must bring them with the row (the dispensation's locked
    # read); elsewhere services/signed_documents.dispensations_of reads them for many rows.
    dispensations: Mapped[list["Dispensation"]] = relationship(back_populates="prescription")


class PrescriptionItem(Base):
    """One line: a product (CIS) or an active substance with strength and form."""

    __tablename__ = "prescription_items"
    __table_args__ = (
        UniqueConstraint("prescription_id", "line", name="uq_prescription_items_line"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("dispensed_quantity >= 0", name="dispensed_not_negative"),
        # The last word on "never more than prescribed", whatever the code or the concurrency.
        CheckConstraint("dispensed_quantity <= quantity_total", name="dispensed_within_total"),
        CheckConstraint(
            "(cis IS NOT NULL) <> (substance_code IS NOT NULL)", name="product_or_substance"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescriptions.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    cis: Mapped[str | None] = mapped_column(ForeignKey("medication_products.cis"), index=True)
    substance_code: Mapped[str | None] = mapped_column(String(16), index=True)
    strength: Mapped[str | None] = mapped_column(String(256))
    form: Mapped[str | None] = mapped_column(String(256))
    medication_name: Mapped[str] = mapped_column(String(512))
    dosage_text: Mapped[str] = mapped_column(Text)
    dose: Mapped[str | None] = mapped_column(String(24))
    dose_unit: Mapped[str | None] = mapped_column(String(32))
    frequency_per_day: Mapped[int | None] = mapped_column(Integer)
    duration_days: Mapped[int | None] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    substitutable: Mapped[bool] = mapped_column(Boolean, default=True)
    non_substitution_reason: Mapped[str | None] = mapped_column(String(3))
    ald: Mapped[bool] = mapped_column(Boolean, default=False)
    # quantity × (1 + renewals), filled on insert (below) so that a CHECK can hold the sum.
    quantity_total: Mapped[int] = mapped_column(Integer)
    # Everything dispensed on this line so far, renewals included (kept by dispensing).
    dispensed_quantity: Mapped[int] = mapped_column(Integer, default=0)
    cancellation_id: Mapped[int | None] = mapped_column(
        ForeignKey("prescription_cancellations.id"), index=True
    )

    prescription: Mapped[Prescription] = relationship(back_populates="items")

    @property
    def is_cancelled(self) -> bool:
        return self.cancellation_id is not None


@event.listens_for(PrescriptionItem, "before_insert")
def _fill_quantity_total(_mapper, _connection, item: PrescriptionItem) -> None:
    """Everything the line allows over the prescription's life (issue 4's CHECK relies on it)."""
    if item.quantity_total is None:
        item.quantity_total = item.quantity * (1 + item.prescription.renewals)


class PrescriptionCancellation(Base):
    """A cancellation of some or all lines, signed by the prescriber like the prescription."""

    __tablename__ = "prescription_cancellations"

    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescriptions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    cancelled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    jws: Mapped[str] = mapped_column(Text)

    prescription: Mapped[Prescription] = relationship(back_populates="cancellations")
