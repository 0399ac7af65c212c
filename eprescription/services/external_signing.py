"""Issuing with the prescriber's own key: prepare the exact payload, then check a JWS signed
outside (a card, an HSM) against the trusted prescriber CAs before storing it as issued."""

import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from sqlalchemy import select

from eprescription.domain import bounded_json
from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import (
    DomainError,
    ExternalSignatureMalformed,
    ExternalSignatureMismatch,
    ExternalSignatureRefused,
    PrescriptionNumberTaken,
    SignedPayloadMismatch,
    SignerCertificateExpired,
    SignerCertificateNotYetValid,
    SignerCertificateRevoked,
    SignerCertificateUntrusted,
    SignerChainInvalid,
    SignerKeyUsageRefused,
    SignerRevocationUnknown,
    SignerRppsMismatch,
    SigningTimeOutOfWindow,
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import OBJECT_TYPE, today_of
from eprescription.domain.signed_prescription import iso_seconds
from eprescription.models import Prescriber, Prescription
from eprescription.services import (
    issue_review,
    issuing,
    prescribers,
    prescription_drafts,
    renewal_claims,
    signer_revocation,
    verification,
)
from eprescription.services.uow import UnitOfWork
from eprescription.signing import certificates, chains, jws
from eprescription.signing.canonical import canonical_json

# How old a signature may be when it arrives (the time to sign on a card and send), and how
# far ahead of our clock the signer's may run.
SIGNING_WINDOW = timedelta(minutes=5)
CLOCK_AHEAD = timedelta(minutes=1)
ACTION = "issue"
X5C_MAX = chains.MAX_DEPTH
PATH_REFUSALS: dict[str, type[DomainError]] = {
    chains.UNTRUSTED: SignerCertificateUntrusted,
    chains.NOT_YET_VALID: SignerCertificateNotYetValid,
    chains.EXPIRED: SignerCertificateExpired,
    chains.CONSTRAINTS: SignerChainInvalid,
    chains.LEAF_USAGE: SignerKeyUsageRefused,
}


@dataclass(frozen=True)
class Prepared:
    """What the prescriber's software signs: the payload's exact bytes, and the protected
    header to sign it under (its x5c the caller's chain, when it gave one)."""

    number: str
    issued_at: datetime
    payload: bytes
    header: dict
    signing_input: str | None  # base64url(header).base64url(payload), when x5c was given
    warnings: list[dict]
    rule_notes: tuple[tuple[int, Message], ...]

    @property
    def sign_before(self) -> datetime:
        return self.issued_at + SIGNING_WINDOW


def prepare(
    uow: UnitOfWork,
    request: prescription_drafts.IssueRequest,
    alg: str = jws.ALGORITHM,
    x5c: list[str] | None = None,
) -> Prepared:
    """Check the request as issuing does (fields, rules, warnings, the renewal request it
    answers) and give the payload issuing would store, under a newly drawn number and the
    current time; nothing is stored (but the audit event: the patient's data is shown)."""
    draft = _checked_draft(uow, request)
    number = codes.new_number()
    payload = canonical_json({**draft.content, "number": number})
    header: dict = {"alg": alg, "typ": "JOSE"}
    signing_input = None
    if x5c is not None:
        _readable_chain(x5c)
        header["x5c"] = x5c
        signing_input = jws.b64url_encode(canonical_json(header)) + "." + jws.b64url_encode(payload)
    warnings = issue_review.warnings_of(uow, draft, renewing=request.renewing)
    uow.audit("prepare", OBJECT_TYPE, number, patient_person_id=draft.patient.id)
    return Prepared(
        number,
        uow.now.replace(microsecond=0),
        payload,
        header,
        signing_input,
        [warning.as_record() for warning in warnings],
        draft.rule_notes,
    )


def _checked_draft(
    uow: UnitOfWork, request: prescription_drafts.IssueRequest
) -> prescription_drafts.Draft:
    draft = prescription_drafts.prepare(uow, request)
    renewal_claims.claim(uow, draft.patient, request.renewal_request_id, today_of(uow.now))
    if request.acknowledgement is not None:
        issue_review.acknowledged(uow, draft, request.acknowledgement, request.renewing)
    return draft


def _readable_chain(x5c: list[str]) -> list[x509.Certificate]:
    """The x5c entries as certificates, or ValidationFailed on the field."""
    try:
        if not 1 <= len(x5c) <= X5C_MAX:
            raise ValueError
        return [jws.x5c_certificate(entry) for entry in x5c]
    except (*certificates.UNREADABLE, binascii.Error) as error:
        raise ValidationFailed(
            errors={
                "x5c": [
                    Message(
                        "x5c_unreadable",
                        "1 to {count} certificates, each base64 DER (RFC 7515 §4.1.6)",
                        count=X5C_MAX,
                    )
                ]
            }
        ) from error


def submit(
    uow: UnitOfWork, request: prescription_drafts.IssueRequest, token: str
) -> issuing.Issued:
    """Store the prescription `token` signs, as issued, after every check (docs/signing.md,
    "External signing"), each refusal with its own code, audited and kept; nothing else is
    stored on a refusal. `request` is the body prepare was given: the signed payload must be
    byte for byte what prepare gives for it at the signed time, under the signed number."""
    prescriber = prescribers.prescriber_of(uow)
    try:
        parsed = jws.parse_compact(token)
    except jws.MalformedJws as error:
        raise _refused(uow, ExternalSignatureMalformed(str(error))) from error
    content = _content(parsed.payload)
    number = content.get("number") if isinstance(content, dict) else None
    signed_at = jws.signing_time(parsed.payload)
    if not isinstance(number, str) or signed_at is None:
        raise _refused(
            uow,
            ExternalSignatureMalformed("the payload is not a prescription prepared here"),
        )
    _check_time(uow, signed_at, number)
    leaf = parsed.chain[0]
    _check_certificate(uow, parsed, leaf, signed_at, prescriber, number)
    if uow.session.scalar(select(Prescription.id).where(Prescription.number == number)):
        raise _refused(uow, _number_taken(), number)  # sent again, before its warnings show
    draft = _draft_at(uow, request, signed_at)
    expected = canonical_json({**draft.content, "number": number})
    if expected != parsed.payload or _invalid_number(number):
        raise _refused(
            uow,
            SignedPayloadMismatch(_differences(content, bounded_json.loads(expected))),
            number,
            draft.patient.id,
        )
    report = verification.verify_document(uow, token.strip(), parsed.payload)
    if not report.valid:  # what every face will check: never store what they would refuse
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok)
        raise _refused(uow, ExternalSignatureRefused(failed), number, draft.patient.id)
    return _stored(uow, request, draft, number, parsed.payload, token.strip(), signed_at)


def _stored(uow, request, draft, number, payload, token, signed_at) -> issuing.Issued:
    today = today_of(uow.now)
    renewal = renewal_claims.claim(uow, draft.patient, request.renewal_request_id, today)
    acknowledged = (
        None
        if request.acknowledgement is None
        else issue_review.acknowledged(uow, draft, request.acknowledgement, request.renewing)
    )
    stored = issuing.store(uow, draft, number, payload, token, signed_at, acknowledged)
    if stored is None:  # the same JWS sent twice, or a number drawn twice: prepare again
        raise _refused(uow, _number_taken(), number, draft.patient.id)
    content = bounded_json.loads(payload)
    return issuing.completed(uow, draft, content, *stored, renewal, acknowledged)


def _number_taken() -> PrescriptionNumberTaken:
    return PrescriptionNumberTaken(
        "This prescription number is taken (this signed prescription was stored already, or "
        "the number was drawn twice): prepare again."
    )


def _refused(
    uow: UnitOfWork, error: DomainError, number: str = "", patient_id: int | None = None
) -> DomainError:
    """`error`, its refusal recorded (kept whatever the use case does next)."""
    uow.refuse(ACTION, OBJECT_TYPE, number, patient_person_id=patient_id, outcome=error.code)
    return error


def _content(payload: bytes) -> object:
    try:
        return bounded_json.loads(payload)
    except ValueError:
        return None


def _check_time(uow: UnitOfWork, signed_at: datetime, number: str) -> None:
    if not uow.now - SIGNING_WINDOW <= signed_at <= uow.now + CLOCK_AHEAD:
        raise _refused(
            uow,
            SigningTimeOutOfWindow(
                f"signed at {signed_at.isoformat()} (issued_at), received at "
                f"{iso_seconds(uow.now)}: a prepared payload must be signed and sent within "
                f"{int(SIGNING_WINDOW.total_seconds() // 60)} minutes; prepare again"
            ),
            number,
        )


def _check_certificate(
    uow: UnitOfWork,
    parsed: jws.ParsedJws,
    leaf: x509.Certificate,
    signed_at: datetime,
    prescriber: Prescriber,
    number: str,
) -> None:
    """Signature, the path to a trusted CA through x5c's intermediates (key usage, CA
    constraints, validity at the signing time), revocation of each certificate but the
    anchor, RPPS (docs/signing.md, "Trust and revocation")."""
    problem = jws.signature_matches(parsed, leaf)
    if problem is not None:
        raise _refused(uow, ExternalSignatureMismatch(problem), number)
    anchors = verification.trust(uow, fresh=True).prescriber_anchors
    try:
        path = chains.build(parsed.chain, anchors)
        chains.check(path, signed_at)
    except chains.PathRefused as refusal:
        raise _refused(uow, PATH_REFUSALS[refusal.kind](str(refusal)), number) from None
    try:
        signer_revocation.check(uow, path)
    except (SignerCertificateRevoked, SignerRevocationUnknown) as error:
        raise _refused(uow, error, number) from None
    if certificates.rpps_of(leaf) != prescriber.rpps:
        raise _refused(
            uow,
            SignerRppsMismatch(
                "the certificate's subject serialNumber does not hold the RPPS of the "
                "prescriber who sends it"
            ),
            number,
        )


def _draft_at(
    uow: UnitOfWork, request: prescription_drafts.IssueRequest, signed_at: datetime
) -> prescription_drafts.Draft:
    """The draft as prepare made it at the signing time (its dates, its issued_at)."""
    now = uow.now
    uow.now = signed_at
    try:
        return prescription_drafts.prepare(uow, request)
    finally:
        uow.now = now


def _invalid_number(number: str) -> bool:
    try:
        return codes.validate_number(number) != number
    except ValidationFailed:
        return True


def _differences(signed: object, expected: dict) -> str:
    """Which parts of the signed content differ from what prepare gives (no values)."""
    if not isinstance(signed, dict):
        return "the signed payload is not a JSON object"
    keys = sorted(key for key in {*signed, *expected} if signed.get(key) != expected.get(key))
    if not keys:
        return "the signed payload is not in the canonical form (RFC 8785) prepare gives"
    return "the signed payload differs from what prepare gives in: " + ", ".join(keys)
