"""OCSP (signing/ocsp.py) against a real responder on loopback that answers with responses built
by cryptography's OCSPResponseBuilder: good, revoked, unknown, delegated responders, forged,
stale and slow answers; every exchange bounded in time."""

import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from eprescription.signing import ocsp

HOUR = timedelta(hours=1)
GOOD, REVOKED, UNKNOWN = (
    x509_ocsp.OCSPCertStatus.GOOD,
    x509_ocsp.OCSPCertStatus.REVOKED,
    x509_ocsp.OCSPCertStatus.UNKNOWN,
)


def now() -> datetime:
    return datetime.now(UTC)


def certificate(name, key, issuer_name=None, issuer_key=None, ca=False, extensions=()):
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name or name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - HOUR)
        .not_valid_after(now() + 24 * HOUR)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key or key, hashes.SHA256())


class Authority:
    """A CA, a certificate it issued, and (when asked) a responder certificate it delegated."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.certificate = certificate("AC TEST", self.key, ca=True)
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.leaf = certificate("Claire Martin", self.leaf_key, "AC TEST", self.key)

    def delegate(self, ocsp_signing=True):
        key = ec.generate_private_key(ec.SECP256R1())
        usages = (
            [ExtendedKeyUsageOID.OCSP_SIGNING]
            if ocsp_signing
            else [ExtendedKeyUsageOID.CLIENT_AUTH]
        )
        issued = certificate(
            "AC TEST OCSP", key, "AC TEST", self.key, extensions=[x509.ExtendedKeyUsage(usages)]
        )
        return key, issued

    def response(
        self,
        status=GOOD,
        *,
        serial=None,
        signer=None,
        this_update=None,
        next_update=...,
    ) -> bytes:
        """A response about the leaf (or `serial`), signed by the CA or `signer` (key, cert)."""
        key, responder = signer or (self.key, self.certificate)
        request = (
            x509_ocsp.OCSPRequestBuilder()
            .add_certificate(self.leaf, self.certificate, hashes.SHA1())
            .build()
        )
        return answer(
            request, status, key, responder, self.certificate, serial, this_update, next_update
        )


def answer(request, status, key, responder, issuer, serial=None, this_update=None, next_update=...):
    """The response a responder signing with `key` (certificate `responder`) gives `request`."""
    revoked = status == REVOKED
    builder = (
        x509_ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=serial or request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=status,
            this_update=this_update or now() - timedelta(minutes=1),
            next_update=now() + HOUR if next_update is ... else next_update,
            revocation_time=now() - HOUR if revoked else None,
            revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
        )
        .responder_id(x509_ocsp.OCSPResponderEncoding.HASH, responder)
    )
    if responder is not issuer:
        builder = builder.certificates([responder])
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class Responder:
    """A real OCSP responder on 127.0.0.1: answers each request about a certificate `issuer`
    issued with `statuses[serial]` (GOOD when absent), signed by the issuer's key; `mode`
    "slow" sleeps past any timeout, "error" answers HTTP 500, "redirect" sends elsewhere,
    "garbage" bytes that are no response."""

    def __init__(self, issuer: x509.Certificate, issuer_key):
        self.issuer, self.key = issuer, issuer_key
        self.statuses: dict[int, x509_ocsp.OCSPCertStatus] = {}
        self.mode = "answer"
        self.requests = 0
        responder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                responder.requests += 1
                if responder.mode == "slow":
                    time.sleep(2)
                if responder.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                if responder.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                    self.end_headers()
                    return
                data = b"not an OCSP response" if responder.mode == "garbage" else b""
                if not data:
                    request = x509_ocsp.load_der_ocsp_request(body)
                    status = responder.statuses.get(request.serial_number, GOOD)
                    data = answer(
                        request, status, responder.key, responder.issuer, responder.issuer
                    )
                self.send_response(200)
                self.send_header("Content-Type", "application/ocsp-response")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/ocsp"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def authority():
    return Authority()


@pytest.fixture
def responder(authority):
    running = Responder(authority.certificate, authority.key)
    yield running
    running.close()


# -- reading a response -----------------------------------------------------------------------


def test_a_good_answer_signed_by_the_ca(authority):
    found = ocsp.read(authority.response(), authority.leaf, authority.certificate, now())

    assert found == ocsp.Answer(revoked=False)


def test_a_revoked_answer_says_when_and_why(authority):
    found = ocsp.read(authority.response(REVOKED), authority.leaf, authority.certificate, now())

    assert found.revoked and found.revoked_at is not None
    assert found.reason == "OCSP reason keyCompromise"


def test_unknown_cannot_tell(authority):
    with pytest.raises(ocsp.OcspUnavailable, match="does not know"):
        ocsp.read(authority.response(UNKNOWN), authority.leaf, authority.certificate, now())


def test_a_delegated_responder_for_ocsp_signing_is_trusted(authority):
    found = ocsp.read(
        authority.response(signer=authority.delegate()),
        authority.leaf,
        authority.certificate,
        now(),
    )

    assert found.revoked is False


def test_a_delegated_responder_without_ocsp_signing_is_not(authority):
    with pytest.raises(ocsp.OcspUnavailable, match="not for OCSP signing"):
        ocsp.read(
            authority.response(signer=authority.delegate(ocsp_signing=False)),
            authority.leaf,
            authority.certificate,
            now(),
        )


def test_a_responder_the_ca_did_not_issue_is_not_trusted(authority):
    other = Authority()

    with pytest.raises(ocsp.OcspUnavailable, match="not issued by the CA"):
        ocsp.read(
            authority.response(signer=other.delegate()),
            authority.leaf,
            authority.certificate,
            now(),
        )


def test_a_response_whose_signature_was_altered_is_refused(authority):
    data = bytearray(authority.response())  # the CA's own: the signature ends the DER
    data[-1] ^= 0x01

    with pytest.raises(ocsp.OcspUnavailable, match="signature is not AC TEST's"):
        ocsp.read(bytes(data), authority.leaf, authority.certificate, now())


def test_a_response_about_another_certificate_says_nothing_of_this_one(authority):
    with pytest.raises(ocsp.OcspUnavailable, match="says nothing"):
        ocsp.read(authority.response(serial=12345), authority.leaf, authority.certificate, now())


@pytest.mark.parametrize(
    ("this_update", "next_update", "why"),
    [
        (now() - 3 * HOUR, now() - HOUR, "out of date"),
        (now() - 2 * HOUR, None, "out of date"),
        (now() + HOUR, now() + 2 * HOUR, "future"),
    ],
)
def test_a_stale_or_future_response_cannot_tell(authority, this_update, next_update, why):
    data = authority.response(this_update=this_update, next_update=next_update)

    with pytest.raises(ocsp.OcspUnavailable, match=why):
        ocsp.read(data, authority.leaf, authority.certificate, now())


def test_an_unsuccessful_response_cannot_tell(authority):
    data = x509_ocsp.OCSPResponseBuilder.build_unsuccessful(
        x509_ocsp.OCSPResponseStatus.TRY_LATER
    ).public_bytes(serialization.Encoding.DER)

    with pytest.raises(ocsp.OcspUnavailable, match="TRY_LATER"):
        ocsp.read(data, authority.leaf, authority.certificate, now())


def test_bytes_that_are_no_response_cannot_tell(authority):
    with pytest.raises(ocsp.OcspUnavailable, match="cannot be read"):
        ocsp.read(b"\x30\x03\x0a\x01\x00", authority.leaf, authority.certificate, now())


# -- asking a responder over HTTP -------------------------------------------------------------


def test_asking_a_real_responder(authority, responder):
    responder.statuses[authority.leaf.serial_number] = REVOKED

    found = ocsp.status(responder.url, authority.leaf, authority.certificate, now())

    assert found.revoked and responder.requests == 1


def test_a_slow_responder_is_given_up_within_the_timeout(authority, responder):
    responder.mode = "slow"
    started = time.monotonic()

    with pytest.raises(ocsp.OcspUnavailable, match=r"did not answer within 0\.3 s"):
        ocsp.status(responder.url, authority.leaf, authority.certificate, now(), timeout=0.3)

    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("mode", "why"),
    [("error", "HTTP 500"), ("redirect", "HTTP 302"), ("garbage", "cannot be read")],
)
def test_a_failing_responder_cannot_tell(authority, responder, mode, why):
    responder.mode = mode

    with pytest.raises(ocsp.OcspUnavailable, match=why):
        ocsp.status(responder.url, authority.leaf, authority.certificate, now(), timeout=2)


def test_nobody_listening_cannot_tell(authority, responder):
    url = responder.url
    responder.close()

    with pytest.raises(ocsp.OcspUnavailable, match="did not answer"):
        ocsp.status(url, authority.leaf, authority.certificate, now(), timeout=1)


def test_only_http_addresses_are_asked(authority):
    with pytest.raises(ocsp.OcspUnavailable, match="not http"):
        ocsp.status("file:///etc/passwd", authority.leaf, authority.certificate, now())


def test_the_responder_a_certificate_names():
    key = ec.generate_private_key(ec.SECP256R1())
    access = x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier("http://ca.example/ca.crt"),
            ),
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier("http://ocsp.example/"),
            ),
        ]
    )

    assert ocsp.aia_url(certificate("A", key, extensions=[access])) == "http://ocsp.example/"
    assert ocsp.aia_url(certificate("B", key)) is None
