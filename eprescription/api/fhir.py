"""FHIR R4 views under /fhir/r4: MedicationRequest, MedicationDispense, the CapabilityStatement."""

from flask import Response, json, request

from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account
from eprescription.domain.errors import ValidationFailed
from eprescription.domain.prescriptions import today_of
from eprescription.errors import OK, status_for
from eprescription.fhir import bundle, capability, ids, systems
from eprescription.fhir.medication_dispense import medication_dispenses
from eprescription.fhir.medication_request import medication_request, medication_requests
from eprescription.models import Role
from eprescription.schemas.fhir import MedicationDispenseSearchSchema, MedicationRequestSearchSchema
from eprescription.services import prescription_dispensations, prescription_reading
from eprescription.use_cases import unit_of_work

URL_PREFIX = "/fhir/r4"

blp = ApiBlueprint(
    "fhir_r4",
    URL_PREFIX,
    "FHIR R4 (application/fhir+json), read-only; errors are OperationOutcomes.",
)


def _documented(resource: str) -> dict:
    content = {systems.MEDIA_TYPE: {"schema": {"type": "object"}}}
    error = {"description": "A FHIR R4 OperationOutcome", "content": content}
    return {
        OK: {"description": f"A FHIR R4 {resource}", "content": content},
        status_for(ValidationFailed): error,
        "default": error,
    }


CAPABILITY = _documented("CapabilityStatement")
REQUEST = _documented("MedicationRequest")
REQUESTS = _documented("Bundle (searchset) of MedicationRequest")
DISPENSES = _documented("Bundle (searchset) of MedicationDispense")


def _fhir(body: dict) -> Response:
    return Response(json.dumps(body), mimetype=systems.MEDIA_TYPE)


def _base_url() -> str:
    return request.url_root.rstrip("/") + URL_PREFIX


@blp.operation("GET /metadata", responses=CAPABILITY)
def metadata():
    """What this FHIR endpoint serves (public)."""
    return _fhir(capability.capability_statement(_base_url()))


@blp.operation(
    "GET /MedicationRequest/<resource_id>", Role.PRESCRIBER, Role.PATIENT, responses=REQUEST
)
def read_medication_request(resource_id: str):
    """One prescription line: id = the number (line 1) or {number}-{n}; readable as
    GET /api/v1/prescriptions/{number} is (anyone else: 404)."""
    number, line = ids.split_line_id(resource_id)
    with unit_of_work(current_account()) as uow:
        prescription = prescription_reading.get(uow, number)
    return _fhir(medication_request(prescription, line or 1, today_of(uow.now)))


@blp.operation("GET /MedicationRequest", Role.PRESCRIBER, Role.PATIENT, responses=REQUESTS)
@blp.arguments(MedicationRequestSearchSchema, location="query")
def search_medication_requests(args: dict):
    """Every line of the prescription named by group-identifier ([system|]number)."""
    number = ids.group_number(args["group_identifier"])
    with unit_of_work(current_account()) as uow:
        prescription = prescription_reading.get(uow, number)
    resources = medication_requests(prescription, today_of(uow.now))
    return _fhir(bundle.searchset(resources, _base_url(), request.url))


@blp.operation(
    "GET /MedicationDispense", Role.PRESCRIBER, Role.PATIENT, Role.PHARMACIST, responses=DISPENSES
)
@blp.arguments(MedicationDispenseSearchSchema, location="query")
def search_medication_dispenses(args: dict):
    """The dispensed lines of a prescription (number), or of one line (MedicationRequest/{id})."""
    number, line = ids.prescription_reference(args["prescription"])
    with unit_of_work(current_account()) as uow:
        records = prescription_dispensations.for_prescription(uow, number)
    resources = medication_dispenses(records.prescription, records.dispensations, line)
    return _fhir(bundle.searchset(resources, _base_url(), request.url))
