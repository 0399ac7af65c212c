"""X.509 for prescribers: the development CA, prescriber certificates, chain checks, PEM/DER."""

import binascii
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

CA_VALIDITY = timedelta(days=10 * 365)
PRESCRIBER_VALIDITY = timedelta(days=3 * 365)
BACKDATE = timedelta(minutes=5)  # tolerate clocks slightly behind ours
COMMON_NAME_MAX = 64  # RFC 5280, ub-common-name
# What reading bytes that are not a certificate we can use raises (cryptography parses lazily,
# and only warns, for now, of what RFC 5280 forbids, such as a serial number that is not positive).
UNREADABLE = (
    binascii.Error,
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
    x509.InvalidVersion,
    CryptographyDeprecationWarning,
)
_WARNINGS_AS_ERRORS = threading.Lock()  # warning filters are global to the process


class CertificateRefused(ValueError):
    """A certificate or key that cannot serve the role asked of it."""


@dataclass(frozen=True)
class PrescriberIdentity:
    """What a prescriber certificate says about its holder."""

    given_name: str
    family_name: str
    rpps: str
    country: str = "FR"

    @property
    def common_name(self) -> str:
        """The name in full, else shortened to fit (fit_common_name); the RPPS if there is none."""
        return fit_common_name(self.given_name, self.family_name) or self.rpps


def fit_common_name(given_name: str, family_name: str) -> str:
    """A holder's name as an X.509 commonName holds it (at most COMMON_NAME_MAX characters,
    RFC 5280's ub-common-name): "Given Family" in full when it fits; else the given names as
    initials ("J.-P. M. Family"); else the family name alone, cut with "…". The certificate's
    givenName and surname keep the full names (docs/signing.md)."""
    given, family = " ".join(given_name.split()), " ".join(family_name.split())
    full = f"{given} {family}".strip()
    if len(full) <= COMMON_NAME_MAX:
        return full
    initials = " ".join(
        "-".join(part[:1] + "." for part in word.split("-") if part) for word in given.split()
    )
    shortened = f"{initials} {family}".strip()
    if len(shortened) <= COMMON_NAME_MAX:
        return shortened
    return (family or given)[: COMMON_NAME_MAX - 1] + "…"


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A new ECDSA P-256 key (the curve of ES256)."""
    return ec.generate_private_key(ec.SECP256R1())


def create_ca(
    common_name: str, now: datetime, *, organization: str = "eprescription"
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed ECDSA P-256 CA: basicConstraints CA (path length 0), keyCertSign+cRLSign;
    CertificateRefused for a name that is empty or longer than COMMON_NAME_MAX characters."""
    if not 1 <= len(common_name) <= COMMON_NAME_MAX:
        raise CertificateRefused(f"a CA's name has 1 to {COMMON_NAME_MAX} characters")
    key = generate_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return certificate, key


def check_ca(certificate: x509.Certificate, key: PrivateKeyTypes, now: datetime) -> None:
    """Refuse a CA that cannot issue prescriber certificates today (CertificateRefused)."""
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CertificateRefused("the CA key must be an EC or RSA private key")
    if key.public_key() != certificate.public_key():
        raise CertificateRefused("the CA key does not match the CA certificate")
    if not is_ca(certificate):
        raise CertificateRefused("the certificate is not a CA (basicConstraints CA:TRUE)")
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise CertificateRefused("the CA certificate is not valid today")


def is_ca(certificate: x509.Certificate) -> bool:
    """basicConstraints CA:TRUE, and keyCertSign when keyUsage is present."""
    try:
        if not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        return False
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.key_cert_sign


def issue_prescriber_certificate(
    ca_certificate: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    public_key: ec.EllipticCurvePublicKey,
    identity: PrescriberIdentity,
    now: datetime,
    validity: timedelta = PRESCRIBER_VALIDITY,
) -> x509.Certificate:
    """A signing certificate: subject CN=name, serialNumber=RPPS; digitalSignature+nonRepudiation.

    It never outlives its CA.
    """
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, identity.country),
            x509.NameAttribute(NameOID.COMMON_NAME, identity.common_name),
            x509.NameAttribute(NameOID.GIVEN_NAME, identity.given_name or identity.rpps),
            x509.NameAttribute(NameOID.SURNAME, identity.family_name or identity.rpps),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, identity.rpps),
        ]
    )
    return _issue_signing_certificate(subject, ca_certificate, ca_key, public_key, now, validity)


def _issue_signing_certificate(
    subject: x509.Name,
    ca_certificate: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
    validity: timedelta,
) -> x509.Certificate:
    """A certificate for `subject` that signs documents (digitalSignature, nonRepudiation),
    issued by the CA, never outliving it."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + validity, ca_certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_authority_key_identifier(ca_certificate), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


@lru_cache(maxsize=4096)
def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when `issuer` (a CA) signed `certificate` (a fact about two immutable
    certificates: checked once per process)."""
    if not is_ca(issuer):
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_signing_certificate(certificate: x509.Certificate) -> bool:
    """Not a CA, and keyUsage allows digitalSignature or nonRepudiation (contentCommitment:
    the usage of a health professional card's signing certificate)."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return (usage.digital_signature or usage.content_commitment) and not is_ca(certificate)


RPPS_NATIONAL_ID_PREFIX = "8"  # IGC-Santé's idNat for an RPPS-registered professional


def rpps_of(certificate: x509.Certificate) -> str | None:
    """The subject's serialNumber: the 11-digit RPPS, or the national identifier "8" + RPPS
    that French health professional cards carry (given back as the RPPS)."""
    attributes = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if not attributes:
        return None
    value = str(attributes[0].value)
    if len(value) == 12 and value.isdigit() and value.startswith(RPPS_NATIONAL_ID_PREFIX):
        return value[1:]
    return value


def common_name_of(certificate: x509.Certificate) -> str:
    attributes = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attributes[0].value) if attributes else certificate.subject.rfc4514_string()


def serial_hex(certificate: x509.Certificate) -> str:
    """The serial number as lowercase hex, the way `openssl x509 -serial` shows it."""
    return format(certificate.serial_number, "x")


def loaded(load: Callable[[], x509.Certificate]) -> x509.Certificate:
    """The certificate `load` reads, with every part the service uses read now, so that bytes
    that are not a usable certificate raise one of UNREADABLE here rather than later."""
    with _WARNINGS_AS_ERRORS, warnings.catch_warnings():
        warnings.simplefilter("error", CryptographyDeprecationWarning)
        certificate = load()
        certificate.version  # noqa: B018 — each property parses its part on first use
        certificate.serial_number  # noqa: B018
        certificate.not_valid_before_utc  # noqa: B018
        certificate.not_valid_after_utc  # noqa: B018
        certificate.signature_hash_algorithm  # noqa: B018
        certificate.public_key()
        certificate.extensions  # noqa: B018
        certificate.subject.rfc4514_string()
        certificate.issuer.rfc4514_string()
    return certificate


def to_pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def from_pem(pem: str | bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii") if isinstance(pem, str) else pem)


def to_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def private_key_from_pem(pem: bytes, password: bytes | None = None) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as error:
        raise CertificateRefused(f"not a readable PEM private key: {error}") from error


def certificate_from_pem(pem: bytes) -> x509.Certificate:
    try:
        return loaded(lambda: x509.load_pem_x509_certificate(pem))
    except UNREADABLE as error:
        raise CertificateRefused(f"not a readable PEM certificate: {error}") from error


def _authority_key_identifier(ca_certificate: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        public_key = ca_certificate.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
            raise CertificateRefused("the CA key must be an EC or RSA key") from None
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key)
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _key_usage(**enabled: bool) -> x509.KeyUsage:
    usages = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    usages.update(enabled)
    return x509.KeyUsage(**usages)


def issue_service_certificate(
    ca_certificate: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    public_key: ec.EllipticCurvePublicKey,
    common_name: str,
    now: datetime,
    validity: timedelta = PRESCRIBER_VALIDITY,
) -> x509.Certificate:
    """The service's own signing certificate (receipts), from the same CA as prescribers'."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "eprescription"),
        ]
    )
    return _issue_signing_certificate(subject, ca_certificate, ca_key, public_key, now, validity)
