"""FHIR R4 dispensing: POST /fhir/r4/MedicationDispense (the JSON API's dispensation, with its
signed receipt) and the read of what it created."""

import json

from flask import Response, request
from marshmallow import ValidationError

from eprescription.api import retries
from eprescription.api.fhir import FHIR_JSON, URL_PREFIX, documented
from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account
from eprescription.domain.errors import ValidationFailed
from eprescription.errors import CREATED
from eprescription.fhir import dispensing as fhir_dispensing
from eprescription.fhir import systems
from eprescription.models import Role
from eprescription.schemas import dispensing as bodies
from eprescription.services import dispensation_records, dispensing, idempotency
from eprescription.services.uow import UnitOfWork
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "fhir_r4_dispensing",
    URL_PREFIX,
    "FHIR R4 dispensing: a transaction Bundle of MedicationDispenses (or one) is one "
    "dispensation, with the JSON API's rules and its signed receipt (docs/fhir.md).",
)

RESPONSES = documented(
    "A Bundle (transaction-response): the MedicationDispenses created, in the request's order, "
    "then the receipt as a Provenance signed by the service (JWS)",
    CREATED,
)
READ = documented("A FHIR R4 MedicationDispense")
REQUEST_BODY = {
    "required": True,
    "description": (
        "A Bundle of type transaction whose entries are MedicationDispenses (POST "
        "MedicationDispense), one per pack line, all of one prescription; or one "
        "MedicationDispense. The QR text goes in the extension "
        f"{fhir_dispensing.ACCESS_CODE} (docs/fhir.md, 'Dispensing')."
    ),
    "content": {
        **FHIR_JSON,
        "application/json": {"schema": {"type": "object"}},
    },
}


def _dispense_request(asked: fhir_dispensing.Dispense) -> dispensing.DispenseRequest:
    """The JSON API's dispense body read by its own schema (the same checks and messages)."""
    try:
        loaded = bodies.DispenseSchema().load(asked.body)
    except ValidationError as error:
        raise ValidationFailed(
            "Nothing was dispensed: some values are not valid.",
            errors=error.normalized_messages(),
        ) from error
    return bodies.dispense_request(loaded, None)


@blp.operation("POST /MedicationDispense", Role.PHARMACIST, responses=RESPONSES)
@blp.doc(requestBody=REQUEST_BODY)
@retries.keyed
def create_medication_dispense():
    """Dispense lines of one prescription (each MedicationDispense a pack line) exactly as
    POST /api/v1/prescriptions/{id}/dispensations does; 201 with the receipt."""
    asked = fhir_dispensing.dispense_body(request.get_json(silent=True))
    retry = idempotency.Retry(
        request.headers.get(retries.HEADER), f"POST {request.path}", request.get_data()
    )
    try:
        dispense_request = _dispense_request(asked)
        with unit_of_work(current_account()) as uow:
            answer = idempotency.answer_once(
                uow, retry, CREATED, lambda: _created(uow, asked.number, dispense_request)
            )
    except ValidationFailed as error:  # named as the JSON API's fields: rename to FHIR's
        error.errors = fhir_dispensing.fhir_errors(error.errors, asked.bundled)
        raise
    where = fhir_dispensing.location(json.loads(answer.body))
    headers = {"Location": f"{request.url_root.rstrip('/')}{URL_PREFIX}/{where}"} if where else {}
    return Response(answer.body, status=answer.status, mimetype=systems.MEDIA_TYPE, headers=headers)


@blp.operation(
    "GET /MedicationDispense/<dispense_id>",
    Role.PRESCRIBER,
    Role.PATIENT,
    Role.PHARMACIST,
    responses=READ,
)
def read_medication_dispense(dispense_id: str):
    """One dispensed line, id {dispensation id}-{position} (a creation's Location), readable as
    MedicationDispense?prescription= shows it (anyone else, and an unknown id: 404); audited."""
    dispensation_id = fhir_dispensing.dispensation_id(dispense_id)
    with unit_of_work(current_account()) as uow:
        records = dispensation_records.of_dispensation(uow, dispensation_id)
    resource = fhir_dispensing.one_dispense(
        records.prescription, records.dispensations, dispense_id
    )
    return Response(json.dumps(resource), mimetype=systems.MEDIA_TYPE)


def _created(uow: UnitOfWork, number: str, dispense_request: dispensing.DispenseRequest) -> bytes:
    dispensation = dispensing.dispense(uow, number, dispense_request)
    bundle = fhir_dispensing.created(dispensation.prescription, dispensation)
    return json.dumps(bundle, ensure_ascii=False, sort_keys=True).encode()
