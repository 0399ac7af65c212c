"""FHIR R4 views under /fhir/r4: MedicationRequest, MedicationDispense (read, searches by
prescription or by patient), Practitioner and Organization reads, the CapabilityStatement."""

from collections.abc import Callable
from datetime import date

from flask import Response, json, request

from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account
from eprescription.domain.errors import ValidationFailed
from eprescription.domain.prescriptions import today_of
from eprescription.errors import NO_CONTENT, OK, status_for
from eprescription.fhir import bundle, capability, directory, ids, systems
from eprescription.fhir.medication_dispense import medication_dispenses
from eprescription.fhir.medication_request import medication_request, medication_requests
from eprescription.models import Role
from eprescription.schemas.fhir_search import (
    MedicationDispenseQuerySchema,
    MedicationRequestQuerySchema,
)
from eprescription.services import fhir_search, prescription_dispensations, prescription_reading
from eprescription.use_cases import unit_of_work

URL_PREFIX = "/fhir/r4"

blp = ApiBlueprint(
    "fhir_r4",
    URL_PREFIX,
    "FHIR R4 (application/fhir+json), read-only; errors are OperationOutcomes. Search by "
    "patient.identifier with POST {type}/_search (a form body) to keep the NIR out of URLs.",
)


FHIR_JSON = {systems.MEDIA_TYPE: {"schema": {"type": "object"}}}
_OUTCOME = {"description": "A FHIR R4 OperationOutcome", "content": FHIR_JSON}


def documented(what: str, status: int = OK) -> dict:
    """The OpenAPI answers of a FHIR view: `what` with `status` (FHIR JSON unless 204), an
    OperationOutcome otherwise."""
    answer: dict = {"description": what}
    if status != NO_CONTENT:
        answer["content"] = FHIR_JSON
    return {status: answer, status_for(ValidationFailed): _OUTCOME, "default": _OUTCOME}


CAPABILITY = documented("A FHIR R4 CapabilityStatement")
REQUEST = documented("A FHIR R4 MedicationRequest")
REQUESTS = documented("A FHIR R4 Bundle (searchset) of MedicationRequest")
DISPENSES = documented("A FHIR R4 Bundle (searchset) of MedicationDispense")
PATIENT = documented("A FHIR R4 Patient")
PRACTITIONER = documented("A FHIR R4 Practitioner")
ORGANIZATION = documented("A FHIR R4 Organization")
PROFESSIONALS = (Role.PRESCRIBER, Role.PHARMACIST)


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
@blp.arguments(MedicationRequestQuerySchema, location="query")
def search_medication_requests(args: dict):
    """Every line of the prescription named by group-identifier ([system|]number); or, by
    patient.identifier ([system|]NIR), the lines of the patient's prescriptions you may read
    (status: comma-separated), newest first, paged (_count, page); each listed is audited."""
    return _search_requests(args)


@blp.operation("POST /MedicationRequest/_search", Role.PRESCRIBER, Role.PATIENT, responses=REQUESTS)
@blp.arguments(MedicationRequestQuerySchema, location="form")
def post_search_medication_requests(args: dict):
    """The same search with its parameters in a form body (keeps the NIR out of URLs)."""
    return _search_requests(args)


def _search_requests(args: dict) -> Response:
    if _by_patient(args, "group_identifier"):
        return _patient_search(args, "MedicationRequest", fhir_search.LIST, _requests_of)
    number = ids.group_number(args["group_identifier"])
    with unit_of_work(current_account()) as uow:
        prescription = prescription_reading.get(uow, number)
    resources = medication_requests(prescription, today_of(uow.now))
    return _fhir(bundle.searchset(resources, _base_url(), request.url))


@blp.operation(
    "GET /MedicationDispense", Role.PRESCRIBER, Role.PATIENT, Role.PHARMACIST, responses=DISPENSES
)
@blp.arguments(MedicationDispenseQuerySchema, location="query")
def search_medication_dispenses(args: dict):
    """The dispensed lines of a prescription (number), or of one line (MedicationRequest/{id});
    or, by patient.identifier, those of the patient's prescriptions you may read (status,
    _count, page; not for pharmacists); each prescription listed is audited."""
    return _search_dispenses(args)


@blp.operation(
    "POST /MedicationDispense/_search",
    Role.PRESCRIBER,
    Role.PATIENT,
    Role.PHARMACIST,
    responses=DISPENSES,
)
@blp.arguments(MedicationDispenseQuerySchema, location="form")
def post_search_medication_dispenses(args: dict):
    """The same search with its parameters in a form body (keeps the NIR out of URLs)."""
    return _search_dispenses(args)


def _search_dispenses(args: dict) -> Response:
    if _by_patient(args, "prescription"):
        return _patient_search(
            args, "MedicationDispense", prescription_dispensations.ACTION, _dispenses_of
        )
    number, line = ids.prescription_reference(args["prescription"])
    with unit_of_work(current_account()) as uow:
        records = prescription_dispensations.for_prescription(uow, number)
    resources = medication_dispenses(records.prescription, records.dispensations, line)
    return _fhir(bundle.searchset(resources, _base_url(), request.url))


def _by_patient(args: dict, other: str) -> bool:
    """Whether the search is by patient.identifier; exactly one of it and `other` is given."""
    given = [name for name in ("patient_identifier", other) if args.get(name)]
    if len(given) != 1:
        key = other.replace("_", "-")
        raise ValidationFailed(
            f"Give exactly one of {key} and patient.identifier.",
            errors={key: ["exactly one of this and patient.identifier"]},
        )
    return given == ["patient_identifier"]


def _requests_of(found: fhir_search.Found, today: date) -> list[dict]:
    return medication_requests(found.signed, today, found.row.patient_person_id)


def _dispenses_of(found: fhir_search.Found, today: date) -> list[dict]:
    return medication_dispenses(found.row, found.dispensations)


def _patient_search(
    args: dict,
    resource_type: str,
    action: str,
    resources_of: Callable[[fhir_search.Found, date], list[dict]],
) -> Response:
    """The matching resources of the patient's readable prescriptions, one page of them; each
    prescription with a resource on the page audited as `action`."""
    statuses = set(args["status"].split(",")) if args.get("status") else None
    count, page = args["count"], args["page"]
    with unit_of_work(current_account()) as uow:
        value = ids.national_id_value(args["patient_identifier"])
        today = today_of(uow.now)
        matches = [
            (found, resource)
            for found in fhir_search.of_patient(uow, value)
            for resource in resources_of(found, today)
            if statuses is None or resource["status"] in statuses
        ]
        chosen = matches[bundle.window(count, page)]
        shown = {found.row.id: found for found, _ in chosen}
        fhir_search.record(uow, action, list(shown.values()))
    query = {"patient.identifier": args["patient_identifier"], "_count": count}
    if args.get("status"):
        query["status"] = args["status"]
    search_url = f"{_base_url()}/{resource_type}"
    return _fhir(
        bundle.paged_searchset(
            [resource for _, resource in chosen], len(matches), _base_url(), search_url, query, page
        )
    )


@blp.operation("GET /Patient/<patient_id>", Role.PRESCRIBER, Role.PATIENT, responses=PATIENT)
def read_patient(patient_id: str):
    """A patient, by the id subject.reference names: for the patient, their representatives
    today and the prescribers who prescribed for them (anybody else: 404); audited."""
    with unit_of_work(current_account()) as uow:
        resource = directory.patient(fhir_search.patient(uow, patient_id))
    return _fhir(resource)


@blp.operation("GET /Practitioner/<rpps>", *PROFESSIONALS, responses=PRACTITIONER)
def read_practitioner(rpps: str):
    """A prescriber, by RPPS number (the id MedicationRequest.requester names)."""
    with unit_of_work(current_account()) as uow:
        resource = directory.practitioner(fhir_search.prescriber(uow, rpps))
    return _fhir(resource)


@blp.operation("GET /Organization/<finess>", *PROFESSIONALS, responses=ORGANIZATION)
def read_organization(finess: str):
    """A pharmacy, by FINESS number (the id MedicationDispense.performer names)."""
    with unit_of_work(current_account()) as uow:
        resource = directory.organization(fhir_search.pharmacy(uow, finess))
    return _fhir(resource)
