"""People and their accounts: persons, practices, prescribers, pharmacies, pharmacists, API
tokens."""

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from eprescription.models.base import Base, UTCDateTime, utcnow

if TYPE_CHECKING:  # for the annotation only: the relationship finds the class by name
    from eprescription.models.allergies import Allergy


class Role(enum.StrEnum):
    PRESCRIBER = "prescriber"
    PHARMACIST = "pharmacist"
    PATIENT = "patient"
    ADMIN = "admin"


class Person(Base):
    """A natural person, identified by a national identifier (NIR in France)."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(String(32), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    family_name: Mapped[str] = mapped_column(String(128))
    given_name: Mapped[str] = mapped_column(String(128))
    birth_date: Mapped[date | None] = mapped_column(Date)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    # Read-only ways to the person's professional records (one at most each), so that the
    # bearer-token query can load them with the account in one statement.
    prescriber: Mapped["Prescriber | None"] = relationship(viewonly=True, uselist=False)
    pharmacist: Mapped["Pharmacist | None"] = relationship(viewonly=True, uselist=False)
    # Read-only too: the allergies the signing checks, loadable with the patient in one statement.
    allergies: Mapped[list["Allergy"]] = relationship(
        viewonly=True, order_by="Allergy.substance_name"
    )

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class _PersonsRecord:
    """What a prescriber's and a pharmacist's records share: the one person each belongs to."""

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)

    @declared_attr
    def person(cls) -> Mapped[Person]:
        return relationship(Person)


class Practice(Base):
    """A practice (a surgery, a health centre, a hospital service) whose prescribers share their
    software: what a practice's software client is bound to."""

    __tablename__ = "practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    # Its FINESS or SIRET number when it has one; unique when given.
    identifier: Mapped[str | None] = mapped_column(String(14), unique=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)


class Prescriber(_PersonsRecord, Base):
    """A person allowed to prescribe, with their RPPS number."""

    __tablename__ = "prescribers"

    rpps: Mapped[str] = mapped_column(String(11), unique=True)
    specialty: Mapped[str] = mapped_column(String(128), default="")
    # Where they practise, "community" or "hospital" (domain/prescribing_rules.SETTINGS).
    setting: Mapped[str] = mapped_column(
        String(16), default="community", server_default="community"
    )
    # The practice they work in, if the operator recorded one.
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"), index=True)


class Pharmacy(Base):
    """A pharmacy, identified by its FINESS number."""

    __tablename__ = "pharmacies"

    id: Mapped[int] = mapped_column(primary_key=True)
    finess: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    address: Mapped[str] = mapped_column(String(512), default="")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)


class Pharmacist(_PersonsRecord, Base):
    """A person who dispenses in one pharmacy."""

    __tablename__ = "pharmacists"

    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    rpps: Mapped[str | None] = mapped_column(String(11), unique=True)

    pharmacy: Mapped[Pharmacy] = relationship()


class Account(Base):
    """A login with one role; its password is stored only as an argon2id hash."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="account_role",
            native_enum=False,
            length=16,
            values_callable=lambda roles: [r.value for r in roles],
        )
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Named by each session cookie; raised to end all the account's sessions (services/sessions.py).
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    person: Mapped[Person | None] = relationship()


class ApiToken(Base):
    """A bearer token for API clients, stored only as a SHA-256 hash, with an expiry and the
    last time it was used (an idle token ends). A software client's token names the software
    and its scopes; it names no account when the software acts alone (client_credentials)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    software_client_id: Mapped[int | None] = mapped_column(
        ForeignKey("software_clients.id"), index=True
    )
    # Space-separated OAuth scopes; None: every scope of the account's role (a token for a
    # username and password, POST /api/v1/auth/token).
    scopes: Mapped[str | None] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Moved forward at most once a minute (services/accounts.TOKEN_USE_GRANULARITY).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account | None] = relationship()
