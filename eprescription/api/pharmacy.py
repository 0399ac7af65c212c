"""/api/v1 for pharmacists: scan, lookup by card, dispense (Idempotency-Key, If-Match), reopen,
list and reverse dispensations."""

from typing import cast

from flask import Response, current_app, request

from eprescription import throttling
from eprescription.api import retries
from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account
from eprescription.domain.errors import Gone, ValidationFailed
from eprescription.errors import CREATED, OK, status_for
from eprescription.models import Role
from eprescription.schemas import dispensing as bodies
from eprescription.schemas.dispensing import (
    CardLookupRequestSchema,
    CardLookupSchema,
    DispensationListArgsSchema,
    DispensationListSchema,
    DispensationSchema,
    DispenseSchema,
    PharmacistPrescriptionSchema,
    ReceiptSchema,
    ReversalSchema,
    ScanSchema,
)
from eprescription.services import (
    card_lookup,
    dispensation_reversal,
    dispensing,
    pharmacy_dispensations,
    pharmacy_scan,
    receipts,
)
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_pharmacy",
    "/api/v1",
    "Pharmacies: scan, lookup by card, dispense with a signed receipt, reverse.",
)
NO_STORE = {"Cache-Control": "no-store"}
CARD_LOOKUP = "/api/v1/pharmacy/card-lookup"


# The answers' schemas, each made once (a schema copies its fields when made).
_DUMP = {
    schema: schema()
    for schema in (
        PharmacistPrescriptionSchema,
        CardLookupSchema,
        DispensationListSchema,
        DispensationSchema,
        ReceiptSchema,
    )
}


def _json(data: dict, status: int, headers: dict | None = None) -> Response:
    response = cast(Response, current_app.json.response(data))
    response.status_code = status
    response.headers.update({**NO_STORE, **(headers or {})})
    return response


@blp.operation("POST /pharmacy/scan", Role.PHARMACIST, response=PharmacistPrescriptionSchema)
@throttling.guesses("prescription_code", target=throttling.typed_number)
@blp.arguments(ScanSchema)
def scan(body: dict):
    """Open a prescription by its QR text (or number + the patient's NIR), signature verified."""
    with unit_of_work(current_account()) as uow:
        view = pharmacy_scan.scan(uow, bodies.credentials(body))
    data = _DUMP[PharmacistPrescriptionSchema].dump(view)
    return _json(data, OK, {"ETag": f'"{view.version}"'})


@blp.operation("POST /pharmacy/card-lookup", Role.PHARMACIST, response=CardLookupSchema)
@throttling.guesses("nir")
@blp.arguments(CardLookupRequestSchema)
def lookup_by_card(body: dict):
    """The patient's dispensable prescriptions, as read from their card (the NIR in the body),
    for whoever is at the counter (the patient, or a representative: presenter_nir), a page at a
    time; audited, and throttled per client (a lookup that shows nothing counts as a guess)."""
    with unit_of_work(current_account()) as uow:
        result = card_lookup.lookup_by_card(uow, **bodies.card_lookup_arguments(body))
    if not result.prescriptions:
        throttling.missed()
    return _json(_DUMP[CardLookupSchema].dump(result), OK)


@blp.operation(
    "GET /pharmacy/patients/<nir>/prescriptions",
    responses={status_for(Gone): {"description": "Gone: use POST /pharmacy/card-lookup."}},
)
@blp.doc(deprecated=True)
def lookup_by_card_in_url(nir: str):
    """Gone (410, code gone, a Link to the successor): a NIR in a URL ends up in logs."""
    raise Gone(
        "A NIR never goes in a URL: look the patient up with POST "
        f"{CARD_LOOKUP} and the NIR in the body.",
        successor=CARD_LOOKUP,
    )


def _if_match() -> int | None:
    value = request.headers.get("If-Match")
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise ValidationFailed(
            'If-Match carries the prescription\'s version, e.g. "3".',
            errors={"If-Match": ["the version number from the scan (its ETag)"]},
        )
    return int(text)


@blp.operation(
    "POST /prescriptions/<prescription_id>/dispensations",
    Role.PHARMACIST,
    response=ReceiptSchema,
    status=CREATED,
)
@blp.arguments(DispenseSchema)
@retries.keyed
def dispense(body: dict, prescription_id: str):
    """Dispense some or all lines; 201 with the receipt signed by the service."""
    dispense_request = bodies.dispense_request(body, _if_match())
    with unit_of_work(current_account()) as uow:
        answer = dispensing.dispense_once(
            uow,
            prescription_id,
            dispense_request,
            idempotency_key=request.headers.get(retries.HEADER),
            scope=f"POST {request.path}",
            body=request.get_data(),
            status=CREATED,
            render=lambda receipt: retries.render(ReceiptSchema(), receipt),
        )
    return Response(answer.body, status=answer.status, mimetype="application/json")


@blp.operation("GET /dispensations", Role.PHARMACIST, response=DispensationListSchema)
@blp.arguments(DispensationListArgsSchema, location="query")
def list_dispensations(args: dict):
    """This pharmacy's dispensations, newest first, a page at a time; audited."""
    with unit_of_work(current_account()) as uow:
        result = pharmacy_dispensations.recent(uow, page=args["page"], per_page=args["per_page"])
    return _json(_DUMP[DispensationListSchema].dump(result), OK)


@blp.operation("GET /dispensations/<dispensation_id>", Role.PHARMACIST, response=DispensationSchema)
def read_dispensation(dispensation_id: str):
    """One dispensation of this pharmacy (its signed receipt, and the signed reversal if any);
    another pharmacy's gets the same 404 as an unknown id; audited."""
    with unit_of_work(current_account()) as uow:
        view = pharmacy_dispensations.read(uow, dispensation_id)
    return _json(_DUMP[DispensationSchema].dump(view), OK)


@blp.operation(
    "POST /dispensations/<dispensation_id>/reversal", Role.PHARMACIST, response=ReceiptSchema
)
@blp.arguments(ReversalSchema)
def reverse(body: dict, dispensation_id: str):
    """Undo a dispensation within 24 hours (the same pharmacy), restoring the quantities; the
    answer carries the reversal document signed by the service (`reversal.jws`)."""
    with unit_of_work(current_account()) as uow:
        dispensation = dispensation_reversal.reverse(uow, dispensation_id, body["reason"])
    return _json(_DUMP[ReceiptSchema].dump(receipts.describe(dispensation)), OK)
