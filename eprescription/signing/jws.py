"""JWS compact serialization (RFC 7515) with ES256 (PS256, RS256 verified too) and an x5c chain:
signing and every check."""

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from eprescription.domain import bounded_json
from eprescription.domain.messages import Message
from eprescription.signing import certificates
from eprescription.signing.canonical import canonical_json

ALGORITHM = "ES256"  # what this service signs with
# What it verifies: ES256, and the RSA forms French health professional cards sign with.
ALGORITHMS = ("ES256", "PS256", "RS256")
RSA_MIN_BITS = 2048
COORDINATE_LENGTH = 32  # P-256: r and s are 32 bytes each, 64 in all (RFC 7518 §3.4)
CLOCK_SKEW = timedelta(minutes=5)
SIGNING_TIME_FIELD = "issued_at"
B64URL = re.compile(r"[A-Za-z0-9_-]*")

SIGNATURE = "signature"
CHAIN = "chain"
VALIDITY = "validity"
REVOCATION = "revocation"
PAYLOAD = "payload"


class MalformedJws(ValueError):
    """Not a compact JWS (ES256, PS256 or RS256) with an x5c header."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Revocation:
    """A revoked certificate. Signatures made before `revoked_at` stay valid, unless the key
    was compromised (then its holder's signing times cannot be trusted either)."""

    revoked_at: datetime
    reason: str
    key_compromise: bool = False


@dataclass
class VerificationReport:
    """One entry per check; the document is valid when there are checks and all passed."""

    checks: list[Check] = field(default_factory=list)
    payload: bytes | None = None
    header: dict | None = None
    certificate: x509.Certificate | None = None
    signed_at: datetime | None = None
    anchor: x509.Certificate | None = None  # the trusted CA the chain ended at

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))


@dataclass(frozen=True)
class ParsedJws:
    header: dict
    payload: bytes
    signature: bytes
    signing_input: bytes
    chain: list[x509.Certificate]


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding: any other spelling of the same bytes is refused, so
    that no two texts verify as the same signature."""
    if not B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedJws("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise MalformedJws("not canonical base64url")
    return data


def raw_to_der(signature: bytes) -> bytes:
    """JOSE's r‖s (64 bytes) as the DER ECDSA-Sig-Value that openssl and X.509 use."""
    if len(signature) != 2 * COORDINATE_LENGTH:
        raise MalformedJws("an ES256 signature is 64 bytes")
    r = int.from_bytes(signature[:COORDINATE_LENGTH], "big")
    s = int.from_bytes(signature[COORDINATE_LENGTH:], "big")
    return encode_dss_signature(r, s)


def der_to_raw(signature: bytes) -> bytes:
    r, s = decode_dss_signature(signature)
    return r.to_bytes(COORDINATE_LENGTH, "big") + s.to_bytes(COORDINATE_LENGTH, "big")


def sign_compact(
    payload: bytes, private_key: ec.EllipticCurvePrivateKey, chain: list[x509.Certificate]
) -> str:
    """Sign `payload` (its exact bytes) with ES256; `chain` is [leaf, …, CA] for x5c."""
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise ValueError("ES256 needs a P-256 key")
    header = {
        "alg": ALGORITHM,
        "typ": "JOSE",
        # x5c is standard base64 of DER, not base64url (RFC 7515 §4.1.6).
        "x5c": [base64.b64encode(certificates.to_der(cert)).decode("ascii") for cert in chain],
    }
    signing_input = b64url_encode(canonical_json(header)) + "." + b64url_encode(payload)
    der = private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    return signing_input + "." + b64url_encode(der_to_raw(der))


def parse_compact(token: str) -> ParsedJws:
    """Split and decode a compact JWS; MalformedJws when it is not one we can check."""
    if not isinstance(token, str) or not token.isascii():
        raise MalformedJws("a compact JWS is ASCII text")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise MalformedJws("a compact JWS has three parts separated by dots")
    header_bytes, payload, signature = (b64url_decode(part) for part in parts)
    try:
        header = bounded_json.loads(header_bytes)
    except ValueError as error:
        raise MalformedJws("the protected header is not JSON") from error
    if not isinstance(header, dict):
        raise MalformedJws("the protected header is not a JSON object")
    if header.get("alg") not in ALGORITHMS:
        raise MalformedJws(
            f"the algorithm must be one of {', '.join(ALGORITHMS)}, not {header.get('alg')!r}"
        )
    if "crit" in header:
        raise MalformedJws("critical header parameters are not supported")
    x5c = header.get("x5c")
    if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
        raise MalformedJws("the header has no x5c certificate chain")
    try:
        chain = [_x5c_certificate(c) for c in x5c]
    except certificates.UNREADABLE as error:
        raise MalformedJws("an x5c entry is not a readable DER certificate") from error
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    return ParsedJws(header, payload, signature, signing_input, chain)


def x5c_certificate(entry: str) -> x509.Certificate:
    """An x5c entry (base64 DER) as a certificate; one of certificates.UNREADABLE if it is not."""
    return _x5c_certificate(entry)


@lru_cache(maxsize=4096)
def _x5c_certificate(entry: str) -> x509.Certificate:
    """An x5c entry (base64 DER) as a certificate, every part read now (certificates.loaded).
    Certificates are immutable: parsed once per process."""
    return certificates.loaded(
        lambda: x509.load_der_x509_certificate(base64.b64decode(entry, validate=True))
    )


def signing_time(payload: bytes) -> datetime | None:
    """The payload's `issued_at` (ISO 8601) when it is a JSON object that has one."""
    try:
        content = bounded_json.loads(payload)
        value = content.get(SIGNING_TIME_FIELD) if isinstance(content, dict) else None
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
        if when is None:
            return None
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError):  # not JSON, not a time, or a time past year 1 or 9999
        return None


def verify_compact(
    token: str,
    *,
    trust_anchors: Iterable[x509.Certificate],
    revocations: Mapping[str, Revocation] | None = None,
    now: datetime | None = None,
    anchor_revocations: Mapping[bytes, Mapping[str, Revocation]] | None = None,
) -> VerificationReport:
    """Check a JWS: signature, chain to one of `trust_anchors`, validity at the signing time
    (the payload's issued_at, else now) and revocation (`revocations` by serial hex).

    `anchor_revocations`, by the SHA-256 fingerprint of an anchor (or of an intermediate
    CA): the revocations that hold for what that CA issued (an outside CA's CRL) instead of
    `revocations` (ours)."""
    now = now or datetime.now(UTC)
    report = VerificationReport()
    try:
        parsed = parse_compact(token)
    except MalformedJws as error:
        report.add(
            SIGNATURE,
            False,
            Message("jws_malformed", "not a valid compact JWS: {error}", error=str(error)),
        )
        for name in (CHAIN, VALIDITY, REVOCATION):
            report.add(
                name,
                False,
                Message("jws_not_checked", "not checked: the JWS could not be read"),
            )
        return report
    leaf = parsed.chain[0]
    report.header, report.payload, report.certificate = parsed.header, parsed.payload, leaf
    _check_signature(report, parsed, leaf)
    path = _check_chain(report, parsed.chain, list(trust_anchors))
    claimed = signing_time(parsed.payload)
    report.signed_at = claimed or now
    _check_validity(report, path or [leaf], claimed, now)
    report.anchor = path[-1] if path else None
    revoked = revocations or {}
    if path and anchor_revocations:
        # The CRL of the certificate's issuer when one is given (an intermediate's), else the
        # anchor's.
        issuer = anchor_revocations.get(fingerprint(path[1])) if len(path) > 2 else None
        revoked = (
            issuer if issuer is not None else anchor_revocations.get(fingerprint(path[-1]), revoked)
        )
    _check_revocation(report, leaf, report.signed_at, revoked)
    return report


def fingerprint(certificate: x509.Certificate) -> bytes:
    """The certificate's SHA-256 fingerprint (of its DER)."""
    return certificate.fingerprint(hashes.SHA256())


def signature_matches(parsed: ParsedJws, leaf: x509.Certificate) -> str | None:
    """None when the signature is `leaf`'s over the signing input with the header's algorithm
    (ES256: a P-256 key, r‖s; PS256: RSASSA-PSS, SHA-256, MGF1, 32-byte salt, RFC 7518 §3.5;
    RS256: RSASSA-PKCS1-v1_5, SHA-256; RSA keys of at least 2048 bits), else why not."""
    alg, public_key = parsed.header.get("alg"), leaf.public_key()
    try:
        if alg == "ES256":
            if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
                public_key.curve, ec.SECP256R1
            ):
                return Message(
                    "signer_not_p256", "the signer's certificate does not hold a P-256 key (ES256)"
                )
            der = raw_to_der(parsed.signature)
            public_key.verify(der, parsed.signing_input, ec.ECDSA(hashes.SHA256()))
            return None
        if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < RSA_MIN_BITS:
            return Message(
                "signer_rsa_too_small",
                "the signer's certificate holds no RSA key of {bits} bits ({alg})",
                bits=RSA_MIN_BITS,
                alg=str(alg),
            )
        scheme = (
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            if alg == "PS256"
            else padding.PKCS1v15()
        )
        public_key.verify(parsed.signature, parsed.signing_input, scheme, hashes.SHA256())
    except (MalformedJws, InvalidSignature):
        return Message(
            "signature_mismatch",
            "the {alg} signature does not match the header and payload",
            alg=str(alg),
        )
    return None


def _check_signature(report: VerificationReport, parsed: ParsedJws, leaf) -> None:
    problem = signature_matches(parsed, leaf)
    if problem is not None:
        report.add(SIGNATURE, False, problem)
        return
    report.add(
        SIGNATURE,
        True,
        f"{parsed.header['alg']} signature by {certificates.common_name_of(leaf)} "
        f"(certificate {certificates.serial_hex(leaf)})",
    )


def _check_chain(
    report: VerificationReport, chain: list[x509.Certificate], anchors: list[x509.Certificate]
) -> list[x509.Certificate] | None:
    """The path leaf → … → trusted CA, or None (and a failed check)."""
    leaf = chain[0]
    if not certificates.is_signing_certificate(leaf):
        report.add(
            CHAIN,
            False,
            Message(
                "not_signing_certificate", "the signer's certificate is not a signing certificate"
            ),
        )
        return None
    path, unused = [leaf], list(chain[1:])
    while len(path) <= len(chain):
        current = path[-1]
        anchor = next((a for a in anchors if certificates.issued_by(current, a)), None)
        if anchor is not None:
            report.add(
                CHAIN,
                True,
                f"issued by the trusted CA {certificates.common_name_of(anchor)} "
                f"(serial {certificates.serial_hex(anchor)})",
            )
            return [*path, anchor]
        issuer = next((c for c in unused if certificates.issued_by(current, c)), None)
        if issuer is None:
            break
        unused.remove(issuer)
        path.append(issuer)
    report.add(
        CHAIN,
        False,
        Message("untrusted_chain", "the certificate does not chain to a trusted CA"),
    )
    return None


def _check_validity(
    report: VerificationReport,
    path: list[x509.Certificate],
    claimed: datetime | None,
    now: datetime,
) -> None:
    when = claimed or now
    if claimed is not None and claimed > now + CLOCK_SKEW:
        report.add(
            VALIDITY,
            False,
            Message(
                "signing_time_future", "the signing time {when} is in the future", when=claimed
            ),
        )
        return
    for certificate in path:
        if not certificate.not_valid_before_utc <= when <= certificate.not_valid_after_utc:
            report.add(
                VALIDITY,
                False,
                Message(
                    "certificate_not_valid_then",
                    "{name}'s certificate was not valid at {when} (valid {start} to {end})",
                    name=certificates.common_name_of(certificate),
                    when=when,
                    start=certificate.not_valid_before_utc,
                    end=certificate.not_valid_after_utc,
                ),
            )
            return
    source = "issued_at" if claimed is not None else "now: the payload has no issued_at"
    report.add(VALIDITY, True, f"valid at {when.isoformat()} ({source})")


def _check_revocation(
    report: VerificationReport,
    leaf: x509.Certificate,
    signed_at: datetime,
    revocations: Mapping[str, Revocation],
) -> None:
    revocation = revocations.get(certificates.serial_hex(leaf))
    if revocation is None:
        report.add(REVOCATION, True, "not revoked")
    elif revocation.key_compromise:
        report.add(
            REVOCATION,
            False,
            Message(
                "revoked_key_compromise",
                "revoked on {when} for key compromise ({reason}): no signature by this key is "
                "trusted",
                when=revocation.revoked_at,
                reason=revocation.reason,
            ),
        )
    elif revocation.revoked_at <= signed_at:
        report.add(
            REVOCATION,
            False,
            Message(
                "revoked_before_signing",
                "revoked on {when} ({reason}), before the signing time",
                when=revocation.revoked_at,
                reason=revocation.reason,
            ),
        )
    else:
        report.add(
            REVOCATION,
            True,
            f"revoked on {revocation.revoked_at.isoformat()} ({revocation.reason}), "
            "after the signing time: this signature stays valid",
        )
