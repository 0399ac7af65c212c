"""FHIR R4 issuing under /fhir/r4: MedicationRequest/$prepare, and the transaction Bundle whose
Provenance carries the prescriber's own signature (docs/fhir.md, "Issuing")."""

import contextlib
from http import HTTPStatus

from flask import Response, json, request
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError

from eprescription.api import retries
from eprescription.api.fhir import FHIR_JSON, URL_PREFIX, _base_url, _fhir, documented
from eprescription.api.operations import ApiBlueprint
from eprescription.api.prescriptions import _request as issue_request
from eprescription.api.security import current_account
from eprescription.domain import bounded_json
from eprescription.domain.errors import ValidationFailed
from eprescription.domain.prescriptions import today_of
from eprescription.errors import CREATED, OK
from eprescription.fhir import issue_answers, issuing, systems
from eprescription.fhir.medication_request import medication_requests
from eprescription.models import Role
from eprescription.schemas.external_signing import PrepareSchema
from eprescription.schemas.prescriptions import PrescriptionDraftSchema
from eprescription.services import external_signing, idempotency
from eprescription.services.uow import UnitOfWork
from eprescription.signing import jws
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "fhir_r4_issuing",
    URL_PREFIX,
    "FHIR R4 issuing with the prescriber's own key: MedicationRequest/$prepare gives the exact "
    "payload to sign; a transaction Bundle (POST to the base) with a signed Provenance issues.",
)


def _body(description: str) -> dict:
    return {"required": True, "description": description, "content": FHIR_JSON}


PREPARED = documented("A FHIR R4 Parameters: the payload to sign and its signing input")
ISSUED = documented("A FHIR R4 Bundle (transaction-response), each entry 201 Created")
ISSUED[OK] = {
    **ISSUED[OK],
    "headers": {
        "Location": {
            "description": "The prescription: {base}/MedicationRequest/{number} (line 1).",
            "required": True,
            "schema": {"type": "string"},
        }
    },
}


def _document() -> object:
    """The request's FHIR JSON resource (depth bounded), or ValidationFailed."""
    try:
        return bounded_json.loads(request.get_data())
    except ValueError as error:
        raise ValidationFailed(
            "The body must be a FHIR R4 JSON resource (application/fhir+json)."
        ) from error


def _loaded(schema: Schema, submission: issuing.Submission) -> dict:
    """The JSON API's checks of the body the resources give, errors named in FHIR terms."""
    try:
        return schema.load(submission.body)
    except SchemaError as error:
        raise ValidationFailed(
            "Some elements are not valid.",
            errors=issuing.fhir_errors(error.normalized_messages(), submission.positions),
        ) from error


@blp.operation("POST /MedicationRequest/$prepare", Role.PRESCRIBER, responses=PREPARED)
@blp.doc(requestBody=_body("Parameters (bundle, alg, x5c), or the transaction Bundle itself"))
def prepare():
    """Check the MedicationRequests as issuing does and give the exact payload to sign (RFC
    8785), its protected header and signing input, as Parameters; nothing is stored."""
    submission = issuing.prepare_input(_document())
    body = _loaded(PrepareSchema(), submission)
    with unit_of_work(current_account()) as uow:
        found = external_signing.prepare(uow, issue_request(body), body["alg"], body["x5c"])
        submission.check_signer(bounded_json.loads(found.payload))
    return _fhir(
        issue_answers.prepared(
            found.number,
            found.issued_at,
            found.sign_before,
            found.payload,
            found.header,
            found.signing_input,
            found.warnings,
            list(found.rule_notes),
        )
    )


@blp.operation("POST ", Role.PRESCRIBER, responses=ISSUED)
@blp.doc(requestBody=_body("A transaction Bundle: the MedicationRequests and their Provenance"))
@retries.keyed
def transaction():
    """Issue the prescription whose MedicationRequests the Provenance's signature (the compact
    JWS of the prepared payload) signs, after every check of POST /api/v1/prescriptions/signed;
    answers 200 (FHIR's answer to a transaction), the transaction-response and Location (the
    prescription's line 1)."""
    submission = issuing.transaction(_document())
    body = _loaded(PrescriptionDraftSchema(), submission)
    token = submission.token or ""
    with contextlib.suppress(ValueError):  # not readable: submit refuses it with its own code
        submission.check_signer(bounded_json.loads(jws.parse_compact(token).payload))
    wanted = issue_request(body)
    base_url = _base_url()

    def issued(uow: UnitOfWork) -> bytes:
        found = external_signing.submit(uow, wanted, token)
        content = found.signed.signed_content
        resources = medication_requests(
            found.signed, today_of(uow.now), found.prescription.patient_person_id
        )
        answer = issue_answers.transaction_response(
            resources,
            content,
            found.signed.jws,
            found.access_code,
            found.qr_text,
            list(found.rule_notes),
            base_url,
            f"{CREATED} {HTTPStatus(CREATED).phrase}",
        )
        return json.dumps(answer).encode()

    retry = idempotency.Retry(
        request.headers.get(retries.HEADER), f"{request.method} {request.path}", request.get_data()
    )
    with unit_of_work(current_account()) as uow:
        answer = idempotency.answer_once(uow, retry, OK, lambda: issued(uow))
    response = Response(answer.body, status=answer.status, mimetype=systems.MEDIA_TYPE)
    first = json.loads(answer.body)["entry"][0]["response"]["location"]
    response.headers["Location"] = f"{base_url}/{first}"
    return response
