"""The patient's representatives: who may see and collect a person's prescriptions, until when."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.domain.health_space import representation_is_active
from eprescription.models.base import Base, UTCDateTime, partial_unique_index
from eprescription.models.people import Person

ONGOING = text("revoked_at IS NULL")


class Representative(Base):
    """`representative` may see and collect the prescriptions of `patient` until `valid_until`
    (inclusive; none: until revoked). Revoked rows are kept: the access log names them."""

    __tablename__ = "representatives"
    __table_args__ = (
        CheckConstraint("patient_person_id <> representative_person_id", name="not_oneself"),
        # One ongoing representation per pair; revoked ones may pile up.
        partial_unique_index(
            "uq_representatives_ongoing_pair",
            "patient_person_id",
            "representative_person_id",
            where=ONGOING,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    representative_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # domain.health_space.RepresentativeKind
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None when an administrator recorded it at the command line.
    created_by_account_id: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_account_id: Mapped[int | None] = mapped_column(Integer)

    patient: Mapped[Person] = relationship(foreign_keys=[patient_person_id])
    representative: Mapped[Person] = relationship(foreign_keys=[representative_person_id])

    def is_active_on(self, today: date) -> bool:
        return representation_is_active(self.valid_until, self.revoked_at, today)
