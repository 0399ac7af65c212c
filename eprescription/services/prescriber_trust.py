"""The outside CAs the operator trusts for prescribers' own signatures, and their CRLs."""

from sqlalchemy import select

from eprescription.domain.errors import TrustAnchorRefused
from eprescription.models import PrescriberCrl, TrustedPrescriberCa
from eprescription.services import verification
from eprescription.services.uow import UnitOfWork
from eprescription.signing import certificates, crl, jws

OBJECT_TYPE = "trusted_prescriber_ca"


def add(uow: UnitOfWork, pem: bytes) -> TrustedPrescriberCa:
    """Trust this CA certificate (PEM) for prescribers' signatures: it must be a CA, valid
    today, and not one of ours (which are trusted for everything already); adding it again
    changes nothing."""
    try:
        certificate = certificates.certificate_from_pem(pem)
    except certificates.CertificateRefused as error:
        raise TrustAnchorRefused(str(error)) from error
    if not certificates.is_ca(certificate):
        raise TrustAnchorRefused("the certificate is not a CA (basicConstraints CA:TRUE)")
    if not certificate.not_valid_before_utc <= uow.now <= certificate.not_valid_after_utc:
        raise TrustAnchorRefused("the CA certificate is not valid today")
    fingerprint = jws.fingerprint(certificate)
    if any(jws.fingerprint(ours) == fingerprint for ours in verification.trust(uow).anchors):
        raise TrustAnchorRefused("this is the service's own CA, not an outside one")
    found = uow.session.scalar(
        select(TrustedPrescriberCa).where(TrustedPrescriberCa.fingerprint == fingerprint.hex())
    )
    if found is not None:
        return found
    row = TrustedPrescriberCa(
        fingerprint=fingerprint.hex(),
        subject=certificate.subject.rfc4514_string(),
        serial=certificates.serial_hex(certificate),
        certificate_pem=certificates.to_pem(certificate),
        not_valid_before=certificate.not_valid_before_utc,
        not_valid_after=certificate.not_valid_after_utc,
        added_at=uow.now,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.audit("trust_prescriber_ca", OBJECT_TYPE, fingerprint.hex()[:64])
    return row


def load_crl(uow: UnitOfWork, data: bytes) -> PrescriberCrl:
    """Keep this CRL (PEM or DER) as the current one of the trusted CA that signed it: it must
    be signed by that CA and not past its nextUpdate, and not older than the one kept."""
    try:
        revocation_list = crl.load(data)
    except certificates.CertificateRefused as error:
        raise TrustAnchorRefused(str(error)) from error
    problems = []
    for row in uow.session.scalars(select(TrustedPrescriberCa).order_by(TrustedPrescriberCa.id)):
        try:
            authority = certificates.from_pem(row.certificate_pem)
            crl.check_issued_by(revocation_list, authority, uow.now)
        except certificates.CertificateRefused as error:
            problems.append(f"{row.subject}: {error}")
            continue
        return _kept(uow, row, revocation_list)
    raise TrustAnchorRefused(
        "no CA trusted for prescribers signed this CRL ("
        + ("; ".join(problems) or "none is trusted: `flask pki trust add CERT.pem` first")
        + ")"
    )


def _kept(uow: UnitOfWork, authority: TrustedPrescriberCa, revocation_list) -> PrescriberCrl:
    current = uow.session.scalar(
        select(PrescriberCrl).where(PrescriberCrl.authority_id == authority.id)
    )
    this_update, next_update = revocation_list.last_update_utc, revocation_list.next_update_utc
    if current is not None and current.this_update > this_update:
        raise TrustAnchorRefused(
            f"the CRL kept for {authority.subject} is newer ({current.this_update.isoformat()})"
        )
    if current is None:
        current = PrescriberCrl(authority_id=authority.id)
        uow.session.add(current)
    current.crl_pem = crl.to_pem(revocation_list)
    current.this_update, current.next_update, current.loaded_at = this_update, next_update, uow.now
    uow.session.flush()
    uow.audit("load_crl", OBJECT_TYPE, authority.fingerprint[:64])
    return current


def trusted(uow: UnitOfWork) -> list[tuple[TrustedPrescriberCa, PrescriberCrl | None]]:
    """Every trusted prescriber CA with its CRL (None: none loaded), oldest first."""
    return [
        (authority, kept)
        for authority, kept in uow.session.execute(
            select(TrustedPrescriberCa, PrescriberCrl)
            .outerjoin(PrescriberCrl, PrescriberCrl.authority_id == TrustedPrescriberCa.id)
            .order_by(TrustedPrescriberCa.id)
        )
    ]


def published(uow: UnitOfWork) -> list[dict]:
    """The trusted prescriber CAs as the trust list publishes them (kind "prescriber_ca"),
    each with its CRL (PEM, its dates and whether it is out of date) when one is loaded."""
    found = []
    for authority, kept in trusted(uow):
        entry = {
            "kind": "prescriber_ca",
            "subject": authority.subject,
            "serial": authority.serial,
            "not_valid_before": authority.not_valid_before,
            "not_valid_after": authority.not_valid_after,
            "pem": authority.certificate_pem,
            "status": "trusted" if kept is not None else "no_crl",
        }
        if kept is not None:
            entry["crl"] = {
                "this_update": kept.this_update,
                "next_update": kept.next_update,
                "status": "current" if kept.next_update >= uow.now else "out_of_date",
                "pem": kept.crl_pem,
            }
        found.append(entry)
    return found
