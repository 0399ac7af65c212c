"""Outside prescriber CAs the operator trusts (health professional cards, HSMs) and their CRLs."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from eprescription.models.base import Base, UTCDateTime, utcnow

OCSP_FROM_AIA = "aia"  # TrustedPrescriberCa.ocsp: ask the responder each certificate names


class TrustedPrescriberCa(Base):
    """A CA whose certificates may sign prescriptions submitted by prescribers' own software
    (docs/signing.md, "External signing"); trusted for prescriber signatures only.

    A trust anchor when `anchor_id` is None; else an intermediate CA imported under that
    anchor, never trusted by itself: kept for its CRL and OCSP setting (docs/signing.md,
    "Intermediate CAs")."""

    __tablename__ = "trusted_prescriber_cas"

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER, hex
    subject: Mapped[str] = mapped_column(Text)
    serial: Mapped[str] = mapped_column(String(40))  # lowercase hex
    certificate_pem: Mapped[str] = mapped_column(Text)
    not_valid_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_valid_after: Mapped[datetime] = mapped_column(UTCDateTime)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    anchor_id: Mapped[int | None] = mapped_column(
        ForeignKey("trusted_prescriber_cas.id"), index=True
    )
    # Where to ask about what this CA issues (for an anchor: under it, intermediates included,
    # unless an imported intermediate says otherwise): an OCSP URL, OCSP_FROM_AIA, or None.
    ocsp: Mapped[str | None] = mapped_column(Text)


class PrescriberCrl(Base):
    """The newest CRL the operator loaded for a trusted prescriber CA (one per CA)."""

    __tablename__ = "prescriber_crls"

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("trusted_prescriber_cas.id"), unique=True)
    crl_pem: Mapped[str] = mapped_column(Text)
    this_update: Mapped[datetime] = mapped_column(UTCDateTime)
    next_update: Mapped[datetime] = mapped_column(UTCDateTime)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    authority: Mapped[TrustedPrescriberCa] = relationship()
