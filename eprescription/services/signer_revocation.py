"""Revocation of each certificate of an outside signer's path: OCSP where set, else the CRL."""

from dataclasses import dataclass

from cryptography import x509
from sqlalchemy import select

from eprescription.domain.errors import (
    SignerCertificateRevoked,
    SignerOcspUnavailable,
    SignerRevocationUnknown,
)
from eprescription.models import PrescriberCrl, TrustedPrescriberCa
from eprescription.models.external_signing import OCSP_FROM_AIA
from eprescription.services.uow import UnitOfWork
from eprescription.signing import certificates, chains, crl, jws, ocsp


@dataclass(frozen=True)
class _Source:
    """What the operator set up for the certificates one CA issues."""

    ocsp: str | None
    crl: PrescriberCrl | None


def check(uow: UnitOfWork, path: chains.Path) -> None:
    """Raise SignerCertificateRevoked, SignerOcspUnavailable or SignerRevocationUnknown unless
    every certificate of `path` but its anchor is known not to be revoked now."""
    known = _known(uow, path)
    anchor = known.get(jws.fingerprint(path.anchor))
    branch_wide = anchor.ocsp if anchor is not None else None
    for certificate, issuer in path.issued():
        kept = known.get(jws.fingerprint(issuer))
        if kept is None:  # an intermediate only in x5c: the anchor's OCSP setting, no CRL
            kept = _Source(None, None)
        _check_one(uow, certificate, issuer, _Source(kept.ocsp or branch_wide, kept.crl))


def _known(uow: UnitOfWork, path: chains.Path) -> dict[bytes, _Source]:
    """The path's CAs the operator imported, with their OCSP setting and CRL, by fingerprint."""
    fingerprints = [jws.fingerprint(c).hex() for c in path.certificates[1:]]
    rows = uow.session.execute(
        select(TrustedPrescriberCa.fingerprint, TrustedPrescriberCa.ocsp, PrescriberCrl)
        .outerjoin(PrescriberCrl, PrescriberCrl.authority_id == TrustedPrescriberCa.id)
        .where(TrustedPrescriberCa.fingerprint.in_(fingerprints))
    )
    return {bytes.fromhex(found): _Source(setting, kept) for found, setting, kept in rows}


def _check_one(
    uow: UnitOfWork, certificate: x509.Certificate, issuer: x509.Certificate, source: _Source
) -> None:
    name, issuer_name = (
        certificates.common_name_of(certificate),
        certificates.common_name_of(issuer),
    )
    asked = None
    if source.ocsp is not None:
        url = ocsp.aia_url(certificate) if source.ocsp == OCSP_FROM_AIA else source.ocsp
        try:
            if url is None:
                raise ocsp.OcspUnavailable(
                    f"{name}'s certificate names no OCSP responder (authorityInfoAccess)"
                )
            answer = ocsp.status(url, certificate, issuer, uow.now, timeout=ocsp.TIMEOUT_SECONDS)
        except ocsp.OcspUnavailable as error:
            asked = str(error)
        else:
            if answer.revoked:
                when = answer.revoked_at.isoformat() if answer.revoked_at else "an unknown time"
                raise SignerCertificateRevoked(
                    f"the OCSP responder of {issuer_name} says certificate "
                    f"{certificates.serial_hex(certificate)} ({name}) was revoked on {when} "
                    f"({answer.reason})"
                )
            return
    kept = source.crl
    if kept is not None and kept.next_update >= uow.now:
        revocation = crl.revocations_of_pem(kept.crl_pem).get(certificates.serial_hex(certificate))
        if revocation is not None:
            raise SignerCertificateRevoked(
                f"the CRL of {issuer_name} lists certificate "
                f"{certificates.serial_hex(certificate)} ({name}) as revoked on "
                f"{revocation.revoked_at.isoformat()} ({revocation.reason})"
            )
        return
    why = (
        f"no CRL of {issuer_name} is loaded"
        if kept is None
        else f"the CRL of {issuer_name} loaded is out of date since {kept.next_update.isoformat()}"
    )
    if asked is not None:
        raise SignerOcspUnavailable(
            f"whether {name}'s certificate is revoked cannot be told: {asked}; and {why}. "
            "Submit again later; the operator checks the responder (`flask pki trust list`)"
        )
    raise SignerRevocationUnknown(
        f"whether {name}'s certificate is revoked cannot be told: {why} and no OCSP responder "
        f"is set for it. The operator imports {issuer_name} (`flask pki trust add`, with "
        "--intermediate for an intermediate CA) and loads a current CRL with "
        "`flask pki crl load FILE`, or sets OCSP with --ocsp"
    )
