"""Certification paths of outside signers (RFC 5280 §6): built from x5c, checked per certificate."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from eprescription.signing import certificates

MAX_DEPTH = 5  # certificates in a path, the anchor included


class PathRefused(ValueError):
    """Why a path is refused: `kind` is one of the constants below, `certificate` the one at
    fault."""

    def __init__(self, kind: str, certificate: x509.Certificate, detail: str) -> None:
        super().__init__(detail)
        self.kind, self.certificate = kind, certificate


UNTRUSTED = "untrusted"
NOT_YET_VALID = "not_yet_valid"
EXPIRED = "expired"
CONSTRAINTS = "constraints"  # a CA of the path that may not issue what it issued
LEAF_USAGE = "leaf_usage"


@dataclass(frozen=True)
class Path:
    """Signer first, trust anchor last (the anchor is one the operator imported, not x5c's)."""

    certificates: tuple[x509.Certificate, ...]

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def anchor(self) -> x509.Certificate:
        return self.certificates[-1]

    def issued(self) -> list[tuple[x509.Certificate, x509.Certificate]]:
        """Each certificate but the anchor, with its issuer: what revocation is checked for."""
        return list(zip(self.certificates, self.certificates[1:], strict=False))


def signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer`'s name and key signed `certificate` (whatever `issuer` may issue)."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def build(chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]) -> Path:
    """The path from chain[0] through the chain's other certificates (any order) to one of
    `anchors`; a root sent in the chain is ignored (only the imported one is trusted)."""
    leaf = chain[0]
    path, unused = [leaf], list(chain[1:])
    while len(path) < MAX_DEPTH:
        current = path[-1]
        anchor = next((a for a in anchors if signed_by(current, a)), None)
        if anchor is not None:
            return Path((*path, anchor))
        issuer = next((c for c in unused if signed_by(current, c)), None)
        if issuer is None or issuer in path:
            break
        unused.remove(issuer)
        path.append(issuer)
    raise PathRefused(
        UNTRUSTED,
        leaf,
        f"{certificates.common_name_of(leaf)}'s certificate does not chain, through the x5c "
        f"certificates, to a CA the operator trusts for prescribers "
        f"(GET /api/v1/trust/certificates; at most {MAX_DEPTH} certificates)",
    )


def check(path: Path, signed_at: datetime) -> None:
    """Refuse (PathRefused) a path whose signer may not sign, whose CAs may not issue what
    they issued (basicConstraints CA and pathLenConstraint, keyUsage keyCertSign), or one of
    whose certificates was not valid at `signed_at`."""
    if not certificates.is_signing_certificate(path.leaf):
        raise PathRefused(
            LEAF_USAGE,
            path.leaf,
            "the certificate's keyUsage must allow digitalSignature or nonRepudiation, and it "
            "must not be a CA",
        )
    for below, issuer in enumerate(path.certificates[1:]):
        _check_issuer(issuer, intermediates_below=below, imported=issuer is path.anchor)
    for certificate in path.certificates:
        _check_validity(certificate, signed_at)


def _check_issuer(issuer: x509.Certificate, *, intermediates_below: int, imported: bool) -> None:
    name = certificates.common_name_of(issuer)
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise PathRefused(CONSTRAINTS, issuer, f"{name} is not a CA (basicConstraints CA:TRUE)")
    limit = constraints.path_length
    if limit is not None and intermediates_below > limit:
        raise PathRefused(
            CONSTRAINTS,
            issuer,
            f"{name} allows {limit} intermediate CA(s) below it (pathLenConstraint), the path "
            f"has {intermediates_below}",
        )
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    # RFC 5280 §4.2.1.3: a CA's certificate has keyUsage; an imported anchor was checked then.
    if (usage is None and not imported) or (usage is not None and not usage.key_cert_sign):
        raise PathRefused(
            CONSTRAINTS, issuer, f"{name}'s keyUsage does not allow keyCertSign: it issues none"
        )


def _check_validity(certificate: x509.Certificate, signed_at: datetime) -> None:
    name = certificates.common_name_of(certificate)
    if signed_at < certificate.not_valid_before_utc:
        raise PathRefused(
            NOT_YET_VALID,
            certificate,
            f"{name}'s certificate is valid from {certificate.not_valid_before_utc.isoformat()}",
        )
    if signed_at > certificate.not_valid_after_utc:
        raise PathRefused(
            EXPIRED,
            certificate,
            f"{name}'s certificate expired on {certificate.not_valid_after_utc.isoformat()}",
        )
