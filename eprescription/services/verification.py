"""Verifying a signed document against this service's trust list (read once per unit of work),
one reported check at a time."""

import hashlib
from dataclasses import dataclass, field

from cryptography import x509
from sqlalchemy import Boolean, String, Text, literal, null, select, true, union_all

from eprescription.domain import bounded_json
from eprescription.domain.signed_prescription import Document
from eprescription.models import (
    CertificateAuthority,
    PrescriberCredential,
    PrescriberCrl,
    ServiceKey,
    TrustedPrescriberCa,
)
from eprescription.models.base import UTCDateTime
from eprescription.services import pki, trust_cache
from eprescription.services.uow import UnitOfWork
from eprescription.signing import certificates, crl, jws
from eprescription.signing.jws import VerificationReport

TRUST = "verification.trust"
FRESH = "verification.trust_fresh"  # the trust list was read from the database in this unit of work


@dataclass(frozen=True)
class Trust:
    """What verifiers trust: the CAs (old ones too), the revoked prescriber certificates, and
    the serials of the service's own certificates (receipts, reversals, pickup choices); and
    the outside CAs the operator trusts for prescribers' own signatures (external signing),
    with the revocations of their CRLs by CA fingerprint (an empty one when none is loaded)."""

    anchors: tuple[x509.Certificate, ...]
    revocations: dict[str, jws.Revocation]
    service_serials: frozenset[str]
    prescriber_anchors: tuple[x509.Certificate, ...] = ()
    prescriber_revocations: dict[bytes, dict[str, jws.Revocation]] = field(default_factory=dict)
    # The CRLs of intermediate CAs imported under them, by the intermediate's fingerprint.
    intermediate_revocations: dict[bytes, dict[str, jws.Revocation]] = field(default_factory=dict)

    def is_prescriber_anchor(self, anchor: x509.Certificate | None) -> bool:
        """Whether `anchor` is an outside CA, trusted for prescribers' signatures only."""
        return anchor is not None and jws.fingerprint(anchor) in self.prescriber_revocations


def trust(uow: UnitOfWork, *, fresh: bool = False) -> Trust:
    """The trust list: this process's copy while it is a few seconds old (services/trust_cache.py:
    a change this process commits is seen at once, another process's within its TTL), else read
    in one statement; `fresh`: read now, at most once per unit of work."""
    cached = uow.memo.get(TRUST)
    if isinstance(cached, Trust) and (not fresh or uow.memo.get(FRESH)):
        return cached
    found = trust_cache.shared(uow.session, TRUST, lambda: _read_trust(uow), fresh=fresh)
    uow.memo[TRUST] = found
    if fresh:
        uow.memo[FRESH] = True
    return found


def _read_trust(uow: UnitOfWork) -> Trust:
    revoked = select(
        literal("revoked", String).label("kind"),
        PrescriberCredential.serial.label("text"),
        PrescriberCredential.revoked_at.label("revoked_at"),
        PrescriberCredential.revocation_reason.label("reason"),
        PrescriberCredential.key_compromise.label("compromised"),
    ).where(PrescriberCredential.revoked_at.is_not(None))
    keys = (
        ("ca", CertificateAuthority.certificate_pem, true()),
        ("service", ServiceKey.serial, true()),
        # Anchors only: an imported intermediate is kept for its CRL, never trusted by itself.
        (
            "prescriber_ca",
            TrustedPrescriberCa.certificate_pem,
            TrustedPrescriberCa.anchor_id.is_(None),
        ),
    )
    rows = uow.session.execute(
        union_all(
            revoked,
            *(
                select(
                    literal(kind, String),
                    column,
                    null().cast(UTCDateTime),
                    null().cast(Text),
                    null().cast(Boolean),
                ).where(condition)
                for kind, column, condition in keys
            ),
            select(  # an outside CA's CRL, with the CA's fingerprint
                literal("crl", String),
                PrescriberCrl.crl_pem,
                null().cast(UTCDateTime),
                TrustedPrescriberCa.fingerprint,
                null().cast(Boolean),
            ).join(TrustedPrescriberCa, TrustedPrescriberCa.id == PrescriberCrl.authority_id),
        )
    ).all()
    anchors, revocations, services = [], {}, set()
    outside: list[x509.Certificate] = []
    lists: dict[bytes, dict[str, jws.Revocation]] = {}
    for kind, text, revoked_at, reason, compromised in rows:
        if kind == "ca":
            anchors.append(pki.certificate_of(text))
        elif kind == "service":
            services.add(text)
        elif kind == "prescriber_ca":
            outside.append(pki.certificate_of(text))
        elif kind == "crl":
            lists[bytes.fromhex(reason)] = crl.revocations(crl.load(text.encode("ascii")))
        else:
            revocations[text] = jws.Revocation(revoked_at, reason or "", bool(compromised))
    by_anchor = {jws.fingerprint(ca): lists.get(jws.fingerprint(ca), {}) for ca in outside}
    intermediates = {found: kept for found, kept in lists.items() if found not in by_anchor}
    return Trust(
        tuple(anchors), revocations, frozenset(services), tuple(outside), by_anchor, intermediates
    )


def forget_trust(uow: UnitOfWork) -> None:
    """Read the trust list again next time (a service key was just made in this use case)."""
    uow.memo.pop(TRUST, None)


def verify_document(
    uow: UnitOfWork, token: str, stored_payload: bytes | None = None
) -> VerificationReport:
    """Check `token` (a compact JWS): signature, chain to a CA of ours, certificate valid at the
    signing time (the payload's issued_at) and not revoked then; and, when `stored_payload` is
    given, that the signed payload is byte for byte the stored content.

    A document the process's copy of the trust list refuses is checked again against the list
    read now (once per unit of work): a CA made since by another process is then known."""
    report = _verify(uow, token, stored_payload, trust(uow))
    if not report.valid and not uow.memo.get(FRESH):
        report = _verify(uow, token, stored_payload, trust(uow, fresh=True))
    return report


def _verify(
    uow: UnitOfWork, token: str, stored_payload: bytes | None, known: Trust
) -> VerificationReport:
    report = jws.verify_compact(
        token,
        trust_anchors=(*known.anchors, *known.prescriber_anchors),
        revocations=known.revocations,
        now=uow.now,
        anchor_revocations={**known.intermediate_revocations, **known.prescriber_revocations},
    )
    leaf = report.certificate
    if known.is_prescriber_anchor(report.anchor) and leaf and certificates.rpps_of(leaf) is None:
        # An outside CA is trusted for prescribers' signatures only.
        report.add(jws.CHAIN, False, "an outside prescriber CA's certificate names no RPPS number")
    if stored_payload is not None:
        if report.payload is None:
            report.add(jws.PAYLOAD, False, "not checked: the JWS could not be read")
        elif report.payload == stored_payload:
            report.add(jws.PAYLOAD, True, "the signed payload is byte for byte the stored content")
        else:
            report.add(jws.PAYLOAD, False, "the signed payload differs from the stored content")
    return report


def document(uow: UnitOfWork, token: str | None, stored_payload: bytes | None) -> Document:
    """A stored signed document as the comparisons of domain/signed_prescription.py take it:
    its content when every check holds, else the failed checks in words."""
    payload_sha256 = hashlib.sha256(stored_payload or b"").hexdigest()
    if not token or not stored_payload:
        return Document(None, ("the signed document is missing",), payload_sha256=payload_sha256)
    report = verify_document(uow, token, stored_payload)
    checks = tuple((check.name, check.ok, check.detail) for check in report.checks)
    if not report.valid:
        failed = tuple(f"{c.name}: {c.detail}" for c in report.checks if not c.ok)
        return Document(None, failed, payload_sha256=payload_sha256, checks=checks)
    try:
        content = bounded_json.loads(report.payload or b"")
    except ValueError:
        content = None
    if not isinstance(content, dict):
        not_json = ("the signed content is not a JSON object",)
        return Document(None, not_json, payload_sha256=payload_sha256, checks=checks)
    leaf = report.certificate
    if leaf is None:  # a valid report names its signer; never None here
        return Document(None, ("the signer is unknown",), payload_sha256=payload_sha256)
    signer_rpps, serial = certificates.rpps_of(leaf), certificates.serial_hex(leaf)
    # Ours only: an outside prescriber CA may issue any serial, never the service's.
    ours = not trust(uow).is_prescriber_anchor(report.anchor)
    by_service = ours and serial in trust(uow).service_serials
    if ours and not by_service and signer_rpps is None and not uow.memo.get(FRESH):
        by_service = serial in trust(uow, fresh=True).service_serials  # a key made since?
    return Document(
        content,
        signer_rpps=signer_rpps,
        by_service=by_service,
        payload_sha256=payload_sha256,
        checks=checks,
    )
