"""Renewal requests: a patient asks the prescriber of a chronic treatment to renew it."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.models.base import Base, UTCDateTime
from eprescription.models.people import Person, Prescriber
from eprescription.models.prescriptions import Prescription

PENDING = text("status = 'pending'")


class RenewalRequest(Base):
    """One request to renew `prescription`; `status` is pending until the prescriber renews or
    declines it, or it lapses (expired) after eight days untreated. Rows are never deleted."""

    __tablename__ = "renewal_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'renewed', 'declined', 'expired')", name="status_known"
        ),
        CheckConstraint(
            "(status = 'renewed') = (renewed_prescription_id IS NOT NULL)",
            name="renewed_names_prescription",
        ),
        # At most one pending request per prescription.
        Index(
            "uq_renewal_requests_pending",
            "prescription_id",
            unique=True,
            sqlite_where=PENDING,
            postgresql_where=PENDING,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescriptions.id"), index=True)
    patient_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"), index=True)
    # The patient or a representative who asked.
    requested_by_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    patient_message: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    decline_message: Mapped[str | None] = mapped_column(Text)
    renewed_prescription_id: Mapped[int | None] = mapped_column(ForeignKey("prescriptions.id"))

    prescription: Mapped[Prescription] = relationship(foreign_keys=[prescription_id])
    patient: Mapped[Person] = relationship()
    prescriber: Mapped[Prescriber] = relationship()
    renewed_prescription: Mapped[Prescription | None] = relationship(
        foreign_keys=[renewed_prescription_id]
    )
