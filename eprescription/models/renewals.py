"""Renewal requests: a patient asks the prescriber of a chronic treatment to renew it."""

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    String,
    Text,
    and_,
    or_,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.domain.renewals import RequestStatus, effective_status
from eprescription.models.base import Base, UTCDateTime, partial_unique_index
from eprescription.models.people import Person, Prescriber
from eprescription.models.prescriptions import Prescription

PENDING = text("status = 'pending'")


class RenewalRequest(Base):
    """One request to renew `prescription`; `status` is pending until the prescriber renews or
    declines it. A pending request lapses at `lapses_at` (eight days after it was made): from
    then on it *is* expired, in Python and in SQL, whatever `status` says; nothing but a use
    case writes the row (a new request on the same prescription first stores the lapsed one as
    expired, so the unique index below is right without any reader's help). Never deleted."""

    __tablename__ = "renewal_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'renewed', 'declined', 'expired')", name="status_known"
        ),
        CheckConstraint(
            "(status = 'renewed') = (renewed_prescription_id IS NOT NULL)",
            name="renewed_names_prescription",
        ),
        # At most one request stored pending per prescription (a lapsed one is stored expired
        # by the new request's use case, in its transaction, before the new row goes in).
        partial_unique_index("uq_renewal_requests_pending", "prescription_id", where=PENDING),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescriptions.id"), index=True)
    patient_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"), index=True)
    # The patient or a representative who asked.
    requested_by_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lapses_at: Mapped[datetime] = mapped_column(UTCDateTime)  # requested_at + domain LAPSE
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

    def status_at(self, now: datetime) -> RequestStatus:
        """The status as of `now`: expired from `lapses_at` on if still stored pending."""
        return effective_status(self.status, self.lapses_at, now)

    @classmethod
    def lapsed_by(cls, now: datetime) -> ColumnElement[bool]:
        """SQL: stored pending with `lapses_at` come, i.e. expired as of `now` (as `status_at`)."""
        return and_(cls.status == str(RequestStatus.PENDING), cls.lapses_at <= now)

    @classmethod
    def in_status_at(cls, status: RequestStatus, now: datetime) -> ColumnElement[bool]:
        """SQL: `status_at(now) == status`, so that listings agree with the views."""
        if status is RequestStatus.PENDING:
            return and_(cls.status == str(status), cls.lapses_at > now)
        if status is RequestStatus.EXPIRED:
            return or_(cls.status == str(status), cls.lapsed_by(now))
        return cls.status == str(status)
