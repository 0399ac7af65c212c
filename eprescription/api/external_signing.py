"""/api/v1/prescriptions/prepare and /signed: prescriptions signed by the prescriber's own key."""

from dataclasses import asdict

from eprescription.api import retries
from eprescription.api.operations import ApiBlueprint
from eprescription.api.prescriptions import _request as issue_request
from eprescription.api.security import current_account
from eprescription.domain.prescriptions import today_of
from eprescription.errors import CREATED
from eprescription.models import Role
from eprescription.schemas.external_signing import (
    PreparedSchema,
    PrepareSchema,
    SignedSubmitSchema,
)
from eprescription.schemas.prescriptions import IssuedPrescriptionSchema
from eprescription.services import external_signing, prescription_views
from eprescription.services.uow import UnitOfWork
from eprescription.signing import jws
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_external_signing",
    "/api/v1/prescriptions",
    "External signing: prepare the payload, sign it with the prescriber's own key, submit.",
)


def _notes(notes) -> list[dict]:
    return [{"line": line, "message": note} for line, note in notes]


@blp.operation("POST /prepare", Role.PRESCRIBER, response=PreparedSchema)
@blp.arguments(PrepareSchema)
def prepare(body: dict):
    """Check the prescription as issuing does and give the exact payload to sign (RFC 8785),
    its protected header and signing input; nothing is stored (docs/signing.md)."""
    with unit_of_work(current_account()) as uow:
        prepared = external_signing.prepare(uow, issue_request(body), body["alg"], body["x5c"])
    return {
        "number": prepared.number,
        "issued_at": prepared.issued_at,
        "sign_before": prepared.sign_before,
        "payload": prepared.payload.decode("utf-8"),
        "payload_b64url": jws.b64url_encode(prepared.payload),
        "protected_header": prepared.header,
        "signing_input": prepared.signing_input,
        "warnings": prepared.warnings,
        "rule_notes": _notes(prepared.rule_notes),
    }


@blp.operation("POST /signed", Role.PRESCRIBER, response=IssuedPrescriptionSchema, status=CREATED)
@blp.arguments(SignedSubmitSchema)
@retries.keyed
def submit(body: dict):
    """Issue the prescription the prescriber's own key signed (the body given to prepare, and
    the compact JWS), after checking the signature, the certificate, its CA, revocation, the
    RPPS, the payload and the signing time; the access code is shown once (and again only to
    a retry with the same Idempotency-Key)."""
    request = issue_request(body)

    def issued(uow: UnitOfWork) -> dict:
        found = external_signing.submit(uow, request, body["jws"])
        view = prescription_views.describe(found.signed, today_of(uow.now))
        return {
            **asdict(view),
            "access_code": found.access_code,
            "qr_text": found.qr_text,
            "rule_notes": _notes(found.rule_notes),
        }

    return retries.answer_once(IssuedPrescriptionSchema(), CREATED, issued)
