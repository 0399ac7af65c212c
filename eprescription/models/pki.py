"""The prescriber PKI at rest: certificate authorities, prescriber credentials, service keys."""

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.models.base import Base, UTCDateTime, utcnow
from eprescription.models.people import Prescriber


class KeyPair:
    """The columns of a key pair held here: its certificate (serial, PEM, validity) and its
    private key, wrapped under a key-encryption key (and a prescriber's PIN too)."""

    serial: Mapped[str] = mapped_column(String(40), unique=True)  # lowercase hex
    certificate_pem: Mapped[str] = mapped_column(Text)
    not_valid_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_valid_after: Mapped[datetime] = mapped_column(UTCDateTime)
    # A prescriber's key in two layers, the PIN's inside (signing/keywrap.py, docs/signing.md)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    wrapping_key_id: Mapped[str] = mapped_column(String(32))  # the key-encryption key's id


class CertificateAuthority(KeyPair, Base):
    """A CA that issues prescriber certificates; its key is wrapped under KEY_ENCRYPTION_KEY.

    Older CAs stay (inactive) so that what they issued can still be verified.
    """

    __tablename__ = "certificate_authorities"

    id: Mapped[int] = mapped_column(primary_key=True)
    common_name: Mapped[str] = mapped_column(String(256))
    is_external: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PrescriberCredential(KeyPair, Base):
    """A prescriber's certificate and private key, the key wrapped under their PIN.

    The newest credential of a prescriber is the one that signs; revoked ones stay to verify
    what they signed.
    """

    __tablename__ = "prescriber_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"), index=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("certificate_authorities.id"))
    failed_pin_attempts: Mapped[int] = mapped_column(Integer, default=0)
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[str | None] = mapped_column(String(256))
    key_compromise: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    prescriber: Mapped[Prescriber] = relationship()
    authority: Mapped[CertificateAuthority] = relationship()

    def is_valid_at(self, when: datetime) -> bool:
        return self.not_valid_before <= when <= self.not_valid_after


class ServiceKey(KeyPair, Base):
    """The service's own signing keys and certificates (receipts, signed tree heads), wrapped
    under KEY_ENCRYPTION_KEY alone; the newest usable one signs, older ones stay to verify."""

    __tablename__ = "service_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("certificate_authorities.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    authority: Mapped[CertificateAuthority] = relationship()
