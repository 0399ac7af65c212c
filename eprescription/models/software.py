"""Software clients: a practice's or a pharmacy's program with OAuth 2.0 client credentials,
and the client assertions it has used (RFC 7523: each jti once)."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.models.base import Base, UTCDateTime, utcnow
from eprescription.models.people import Pharmacy, Practice


class SoftwareClient(Base):
    """A registered piece of software (name, vendor, version) bound to one pharmacy or one
    practice, with the scopes it may use; it authenticates with a secret (kept only as a
    SHA-256 hash) or with JWTs signed by its registered public key (PEM)."""

    __tablename__ = "software_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    vendor: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(64))
    pharmacy_id: Mapped[int | None] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    practice_id: Mapped[int | None] = mapped_column(ForeignKey("practices.id"), index=True)
    # Space-separated, as OAuth writes them: "issue read".
    scopes: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    public_key_pem: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    pharmacy: Mapped[Pharmacy | None] = relationship()
    practice: Mapped[Practice | None] = relationship()


class ClientAssertionUse(Base):
    """A client assertion's jti, kept until the assertion expires so it is accepted once."""

    __tablename__ = "client_assertion_uses"
    __table_args__ = (UniqueConstraint("software_client_id", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    software_client_id: Mapped[int] = mapped_column(ForeignKey("software_clients.id"))
    jti: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
