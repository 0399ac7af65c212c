"""/api/v1 for pharmacists: scan, lookup by card, dispense (Idempotency-Key, If-Match), reopen,
list and reverse dispensations."""

import json

from flask import Response, request
from flask_smorest import Blueprint

from eprescription.api.security import current_account, roles_required
from eprescription.domain.errors import ValidationFailed
from eprescription.errors import CREATED, OK
from eprescription.models import Role
from eprescription.schemas.dispensing import (
    CardLookupArgsSchema,
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
from eprescription.services import dispensations, dispensing
from eprescription.use_cases import unit_of_work

blp = Blueprint(
    "api_pharmacy",
    __name__,
    url_prefix="/api/v1",
    description="Pharmacies: scan, lookup by card, dispense with a signed receipt, reverse.",
)
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]  # OpenAPI: a bearer token
NO_STORE = {"Cache-Control": "no-store"}


def _credentials(body: dict) -> dispensing.Credentials:
    return dispensing.Credentials(
        qr_text=body.get("code"),
        number=body.get("number"),
        patient_nir=body.get("patient_nir"),
        identity_confirmed=body.get("identity_confirmed", False),
        presenter_nir=body.get("presenter_nir"),
    )


def _json(data: dict, status: int, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False, sort_keys=True),
        status=status,
        mimetype="application/json",
        headers={**NO_STORE, **(headers or {})},
    )


@blp.route("/pharmacy/scan", methods=["POST"])
@blp.response(OK, PharmacistPrescriptionSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PHARMACIST)
@blp.arguments(ScanSchema)
def scan(body: dict):
    """Open a prescription by its QR text (or number + the patient's NIR), signature verified."""
    with unit_of_work(current_account()) as uow:
        view = dispensing.scan(uow, _credentials(body))
    data = PharmacistPrescriptionSchema().dump(view)
    return _json(data, OK, {"ETag": f'"{view["version"]}"'})


@blp.route("/pharmacy/patients/<string:nir>/prescriptions", methods=["GET"])
@blp.response(OK, CardLookupSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PHARMACIST)
@blp.arguments(CardLookupArgsSchema, location="query")
def lookup_by_card(args: dict, nir: str):
    """The patient's dispensable prescriptions, as read from their card, for whoever is at the
    counter (the patient, or a representative: presenter_nir); audited."""
    with unit_of_work(current_account()) as uow:
        result = dispensing.lookup_by_card(
            uow,
            nir,
            identity_confirmed=args["identity_confirmed"],
            presenter_nir=args.get("presenter_nir"),
        )
    return _json(CardLookupSchema().dump(result), OK)


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


@blp.route("/prescriptions/<string:prescription_id>/dispensations", methods=["POST"])
@blp.response(CREATED, ReceiptSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PHARMACIST)
@blp.arguments(DispenseSchema)
def dispense(body: dict, prescription_id: str):
    """Dispense some or all lines; 201 with the receipt signed by the service."""
    lines = [
        dispensing.PackLine(
            line=line["line"],
            quantity=line["quantity"],
            cip13=line.get("cip13"),
            gs1=line.get("gs1"),
            batch=line.get("batch"),
            expiry=line.get("expiry"),
            serial=line.get("serial"),
            unit_price_cents=line.get("unit_price_cents"),
        )
        for line in body["lines"]
    ]
    collector = body["collected_by"]
    dispense_request = dispensing.DispenseRequest(
        credentials=_credentials(body),
        lines=lines,
        collected_by=dispensing.Collector(
            collector["kind"], collector.get("national_id"), collector.get("name")
        ),
        if_match=_if_match(),
    )
    with unit_of_work(current_account()) as uow:
        answer = dispensing.dispense_once(
            uow,
            prescription_id,
            dispense_request,
            idempotency_key=request.headers.get("Idempotency-Key"),
            scope=f"POST {request.path}",
            body=request.get_data(),
            status=CREATED,
            render=lambda receipt: json.dumps(
                ReceiptSchema().dump(receipt), ensure_ascii=False, sort_keys=True
            ).encode(),
        )
    return Response(answer.body, status=answer.status, mimetype="application/json")


@blp.route("/dispensations", methods=["GET"])
@blp.response(OK, DispensationListSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PHARMACIST)
@blp.arguments(DispensationListArgsSchema, location="query")
def list_dispensations(args: dict):
    """This pharmacy's dispensations, newest first, a page at a time; audited."""
    with unit_of_work(current_account()) as uow:
        result = dispensations.recent(uow, page=args["page"], per_page=args["per_page"])
    return _json(DispensationListSchema().dump(result), OK)


@blp.route("/dispensations/<string:dispensation_id>", methods=["GET"])
@blp.response(OK, DispensationSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PHARMACIST)
def read_dispensation(dispensation_id: str):
    """One dispensation of this pharmacy (its signed receipt, and the signed reversal if any);
    another pharmacy's gets the same 404 as an unknown id; audited."""
    with unit_of_work(current_account()) as uow:
        view = dispensations.read(uow, dispensation_id)
    return _json(DispensationSchema().dump(view), OK)


@blp.route("/dispensations/<string:dispensation_id>/reversal", methods=["POST"])
@blp.response(OK, ReceiptSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PHARMACIST)
@blp.arguments(ReversalSchema)
def reverse(body: dict, dispensation_id: str):
    """Undo a dispensation within 24 hours (the same pharmacy), restoring the quantities; the
    answer carries the reversal document signed by the service (`reversal.jws`)."""
    with unit_of_work(current_account()) as uow:
        dispensation = dispensations.reverse(uow, dispensation_id, body["reason"])
    return _json(ReceiptSchema().dump(dispensations.describe(dispensation)), OK)
