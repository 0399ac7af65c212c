"""OCSP (RFC 6960): ask a responder, believe only a fresh answer the CA or its delegate signed."""

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from eprescription.signing import certificates
from eprescription.signing.chains import signed_by

TIMEOUT_SECONDS = 3.0  # the whole exchange: a submission waits for it
MAX_RESPONSE_BYTES = 64 * 1024
CLOCK_SKEW = timedelta(minutes=5)
MAX_AGE_WITHOUT_NEXT_UPDATE = timedelta(hours=1)
REQUEST_TYPE = "application/ocsp-request"
SCHEMES = ("http://", "https://")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A responder that redirects is answered as an HTTP error: only its own address is asked."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class OcspUnavailable(ValueError):
    """The responder could not tell: unreachable, slow, refusing, unsigned, stale, or it does
    not know the certificate."""


@dataclass(frozen=True)
class Answer:
    """What a trusted, fresh response says of the certificate."""

    revoked: bool
    revoked_at: datetime | None = None
    reason: str = ""


def aia_url(certificate: x509.Certificate) -> str | None:
    """The OCSP responder the certificate names (authorityInfoAccess), if any."""
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    except x509.ExtensionNotFound:
        return None
    for description in access.value:
        location = description.access_location
        if description.access_method == AuthorityInformationAccessOID.OCSP and isinstance(
            location, x509.UniformResourceIdentifier
        ):
            return location.value
    return None


def status(
    url: str,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    now: datetime,
    timeout: float = TIMEOUT_SECONDS,
) -> Answer:
    """Ask `url` about `certificate` (issued by `issuer`); OcspUnavailable when it cannot tell."""
    request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1())
    der = request.build().public_bytes(serialization.Encoding.DER)
    return read(post(url, der, timeout), certificate, issuer, now)


def post(url: str, body: bytes, timeout: float = TIMEOUT_SECONDS) -> bytes:
    """POST an OCSP request (RFC 6960 §A.1), the answer read within `timeout` seconds in all."""
    if not url.lower().startswith(SCHEMES):
        raise OcspUnavailable(f"the OCSP responder's address {url!r} is not http(s)")
    deadline = time.monotonic() + timeout
    http = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": REQUEST_TYPE}
    )
    try:
        with _OPENER.open(http, timeout=timeout) as answer:
            data = b""
            while chunk := answer.read(8192):
                data += chunk
                if len(data) > MAX_RESPONSE_BYTES:
                    raise OcspUnavailable(f"the OCSP response from {url} is too large")
                if time.monotonic() > deadline:
                    raise TimeoutError
    except urllib.error.HTTPError as error:
        raise OcspUnavailable(f"the OCSP responder {url} answered HTTP {error.code}") from error
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        raise OcspUnavailable(
            f"the OCSP responder {url} did not answer within {timeout:g} s ({error})"
        ) from error
    return data


def read(
    data: bytes, certificate: x509.Certificate, issuer: x509.Certificate, now: datetime
) -> Answer:
    """The answer in `data` about `certificate`, once its signature and dates are checked."""
    try:
        response = ocsp.load_der_ocsp_response(data)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise OcspUnavailable(
                f"the OCSP responder refused to answer ({response.response_status.name})"
            )
        single = _about(response, certificate, issuer)
        _check_signature(response, issuer, now)
        _check_fresh(single, now)
        state = single.certificate_status
    except OcspUnavailable:
        raise
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise OcspUnavailable(f"the OCSP response cannot be read: {error}") from error
    if state == ocsp.OCSPCertStatus.UNKNOWN:
        raise OcspUnavailable("the OCSP responder does not know this certificate (unknown)")
    if state == ocsp.OCSPCertStatus.GOOD:
        return Answer(revoked=False)
    reason = single.revocation_reason
    return Answer(
        revoked=True,
        revoked_at=single.revocation_time_utc,
        reason=f"OCSP reason {reason.value}" if reason is not None else "revoked per OCSP",
    )


def _about(
    response: ocsp.OCSPResponse, certificate: x509.Certificate, issuer: x509.Certificate
) -> ocsp.OCSPSingleResponse:
    for single in response.responses:
        expected = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(certificate, issuer, single.hash_algorithm)
            .build()
        )
        if (
            single.serial_number == certificate.serial_number
            and single.issuer_name_hash == expected.issuer_name_hash
            and single.issuer_key_hash == expected.issuer_key_hash
        ):
            return single
    raise OcspUnavailable("the OCSP response says nothing of this certificate")


def _check_signature(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime) -> None:
    """Signed by the issuing CA itself, or by a responder certificate it issued for OCSP
    signing (RFC 6960 §4.2.2.2) valid now."""
    signer = issuer if _names(response, issuer) else _delegate(response, issuer, now)
    public_key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    try:
        if algorithm is None:
            raise InvalidSignature
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(
                response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm
            )
        else:
            raise InvalidSignature
    except InvalidSignature as error:
        raise OcspUnavailable(
            f"the OCSP response's signature is not {certificates.common_name_of(signer)}'s"
        ) from error


def _names(response: ocsp.OCSPResponse, certificate: x509.Certificate) -> bool:
    """Whether the response's responder ID is `certificate` (by name or by key hash)."""
    if response.responder_name is not None:
        return response.responder_name == certificate.subject
    key_hash = x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest
    return response.responder_key_hash == key_hash


def _delegate(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    for responder in response.certificates:
        if not _names(response, responder):
            continue
        if not signed_by(responder, issuer):
            raise OcspUnavailable("the OCSP responder's certificate is not issued by the CA")
        try:
            usages = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usages = x509.ExtendedKeyUsage([])
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usages:
            raise OcspUnavailable("the OCSP responder's certificate is not for OCSP signing")
        if not responder.not_valid_before_utc <= now <= responder.not_valid_after_utc:
            raise OcspUnavailable("the OCSP responder's certificate is not valid now")
        return responder
    raise OcspUnavailable(
        "the OCSP response is signed neither by the CA nor by a responder it names"
    )


def _check_fresh(single: ocsp.OCSPSingleResponse, now: datetime) -> None:
    if single.this_update_utc > now + CLOCK_SKEW:
        raise OcspUnavailable("the OCSP response is dated in the future (thisUpdate)")
    next_update = single.next_update_utc
    stale = (
        next_update < now
        if next_update is not None
        else single.this_update_utc < now - MAX_AGE_WITHOUT_NEXT_UPDATE
    )
    if stale:
        raise OcspUnavailable(
            "the OCSP response is out of date (thisUpdate "
            f"{single.this_update_utc.isoformat()}, nextUpdate "
            f"{next_update.isoformat() if next_update else 'none'})"
        )
