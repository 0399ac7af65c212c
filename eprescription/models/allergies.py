"""Recorded allergies: a person and an active substance of the catalog, for prescribing warnings."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from eprescription.models.base import Base, UTCDateTime, utcnow


class Allergy(Base):
    """A person is allergic to an active substance (BDPM substance code)."""

    __tablename__ = "allergies"
    __table_args__ = (
        UniqueConstraint("person_id", "substance_code", name="uq_allergies_person_substance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    substance_code: Mapped[str] = mapped_column(String(16))
    substance_name: Mapped[str] = mapped_column(String(512))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
