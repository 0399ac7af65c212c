"""Revocation lists (CRLs, RFC 5280 §5) of outside prescriber CAs: reading, checking, entries."""

from datetime import datetime
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import CRLEntryExtensionOID

from eprescription.signing.certificates import UNREADABLE, CertificateRefused
from eprescription.signing.jws import Revocation

PEM_MARKER = b"-----BEGIN X509 CRL-----"


def load(data: bytes) -> x509.CertificateRevocationList:
    """A CRL from PEM or DER bytes; CertificateRefused when it is neither."""
    try:
        read = x509.load_pem_x509_crl if PEM_MARKER in data else x509.load_der_x509_crl
        crl = read(data)
        crl.last_update_utc  # noqa: B018 — parsed now, not later
        crl.next_update_utc  # noqa: B018
        list(crl)
    except UNREADABLE as error:
        raise CertificateRefused(f"not a readable CRL (PEM or DER): {error}") from error
    return crl


def check_issued_by(
    crl: x509.CertificateRevocationList, authority: x509.Certificate, now: datetime
) -> None:
    """Refuse (CertificateRefused) a CRL that `authority` did not sign, or that has no next
    update or is past it already."""
    if crl.issuer != authority.subject:
        raise CertificateRefused("the CRL's issuer is not this CA")
    public_key = authority.public_key()
    try:
        valid = crl.is_signature_valid(public_key)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise CertificateRefused("the CRL is not signed by this CA's key")
    if crl.next_update_utc is None:
        raise CertificateRefused("the CRL has no nextUpdate: nobody can tell when it goes stale")
    if crl.next_update_utc < now:
        raise CertificateRefused(
            f"the CRL is out of date (nextUpdate {crl.next_update_utc.isoformat()})"
        )


def to_pem(crl: x509.CertificateRevocationList) -> str:
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")


def revocations(crl: x509.CertificateRevocationList) -> dict[str, Revocation]:
    """The CRL's entries by serial (lowercase hex): a keyCompromise (or cACompromise) reason
    distrusts every signature of the key, whatever its time."""
    found = {}
    for entry in crl:
        try:
            reason = entry.extensions.get_extension_for_oid(CRLEntryExtensionOID.CRL_REASON)
            flag = getattr(reason.value, "reason", None)
        except x509.ExtensionNotFound:
            flag = None
        compromised = flag in (x509.ReasonFlags.key_compromise, x509.ReasonFlags.ca_compromise)
        found[format(entry.serial_number, "x")] = Revocation(
            entry.revocation_date_utc,
            f"CRL reason {flag.value}" if flag is not None else "listed in the CA's CRL",
            compromised,
        )
    return found


@lru_cache(maxsize=32)
def revocations_of_pem(pem: str) -> dict[str, Revocation]:
    """revocations() of a CRL kept in PEM (checked when loaded), read once per process; the
    dict is shared: read it, never change it."""
    return revocations(load(pem.encode("ascii")))
