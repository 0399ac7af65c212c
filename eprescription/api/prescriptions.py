"""/api/v1/prescriptions: issue and sign, read, list, cancel, and the QR code."""

from flask import Response
from flask_smorest import Blueprint

from eprescription import qr
from eprescription.api.security import current_account, roles_required
from eprescription.domain.prescriptions import ItemDraft
from eprescription.errors import CREATED, OK
from eprescription.models import Role
from eprescription.schemas.prescriptions import (
    IssuedPrescriptionSchema,
    PrescriptionCancelSchema,
    PrescriptionIssueSchema,
    PrescriptionListArgsSchema,
    PrescriptionPageSchema,
    PrescriptionSchema,
)
from eprescription.services import prescriptions
from eprescription.use_cases import unit_of_work

blp = Blueprint(
    "api_prescriptions",
    __name__,
    url_prefix="/api/v1/prescriptions",
    description="Signed prescriptions: issue, read, list, cancel, QR code.",
)
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]  # OpenAPI: a bearer token


def _item(fields: dict) -> ItemDraft:
    substance = fields.get("substance") or {}
    return ItemDraft(
        cis=fields.get("cis"),
        substance_code=substance.get("code"),
        strength=substance.get("strength"),
        form=substance.get("form"),
        dosage_text=fields.get("dosage_text"),
        dose=fields.get("dose"),
        dose_unit=fields.get("dose_unit"),
        frequency_per_day=fields.get("frequency_per_day"),
        duration_days=fields.get("duration_days"),
        quantity=fields.get("quantity"),
        substitutable=fields.get("substitutable", True),
        non_substitution_reason=fields.get("non_substitution_reason"),
        ald=fields.get("ald", False),
    )


@blp.route("", methods=["POST"])
@blp.response(CREATED, IssuedPrescriptionSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PRESCRIBER)
@blp.arguments(PrescriptionIssueSchema)
def issue(body: dict):
    """Issue a prescription, signed with the prescriber's PIN; the access code is shown once."""
    request = prescriptions.IssueRequest(
        patient_nir=body["patient_nir"],
        pin=body["pin"],
        items=[_item(item) for item in body["items"]],
        valid_from=body.get("valid_from"),
        valid_until=body.get("valid_until"),
        renewals=body.get("renewals", 0),
        pickup_mode=body.get("pickup_mode"),
        renewal_request_id=body.get("renewal_request"),
    )
    with unit_of_work(current_account()) as uow:
        issued = prescriptions.issue(uow, request)
    view = prescriptions.describe(issued.signed, prescriptions.today_of(uow.now))
    return {**view, "access_code": issued.access_code, "qr_text": issued.qr_text}


@blp.route("", methods=["GET"])
@blp.response(OK, PrescriptionPageSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PRESCRIBER)
@blp.arguments(PrescriptionListArgsSchema, location="query")
def list_issued(args: dict):
    """The prescriptions the caller issued, newest first, filtered by patient NIR and status."""
    with unit_of_work(current_account()) as uow:
        page = prescriptions.list_for_prescriber(
            uow,
            patient_nir=args.get("patient"),
            status=args.get("status"),
            page=args["page"],
            page_size=args["page_size"],
        )
    return {
        "items": [prescriptions.describe(item, page.today) for item in page.items],
        "total": page.total,
        "page": page.page,
        "page_size": page.page_size,
    }


@blp.route("/<string:prescription_id>", methods=["GET"])
@blp.response(OK, PrescriptionSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PRESCRIBER, Role.PATIENT)
def get(prescription_id: str):
    """One prescription, for its prescriber, its patient and their representatives (else 404)."""
    with unit_of_work(current_account()) as uow:
        prescription = prescriptions.get(uow, prescription_id)
    return prescriptions.describe(prescription, prescriptions.today_of(uow.now))


@blp.route("/<string:prescription_id>/cancel", methods=["POST"])
@blp.response(OK, PrescriptionSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PRESCRIBER)
@blp.arguments(PrescriptionCancelSchema)
def cancel(body: dict, prescription_id: str):
    """Cancel the whole prescription or some lines (nothing dispensed), signed with the PIN."""
    with unit_of_work(current_account()) as uow:
        prescription = prescriptions.cancel(
            uow,
            prescription_id,
            pin=body["pin"],
            reason=body["reason"],
            lines=body.get("lines"),
        )
    return prescriptions.describe(prescription, prescriptions.today_of(uow.now))


def _qr_text(prescription_id: str) -> str:
    with unit_of_work(current_account()) as uow:
        return prescriptions.qr_text(uow, prescription_id)


NO_STORE = {"Cache-Control": "no-store"}  # the image carries the access code


@blp.route("/<string:prescription_id>/qr.svg", methods=["GET"])
@blp.doc(security=SECURITY, responses={OK: {"description": "An SVG image"}})
@roles_required(Role.PRESCRIBER, Role.PATIENT)
def qr_svg(prescription_id: str):
    """The QR code (number and access code) as SVG, for its patient and its prescriber."""
    svg = qr.render_svg(_qr_text(prescription_id))
    return Response(svg, mimetype="image/svg+xml", headers=NO_STORE)


@blp.route("/<string:prescription_id>/qr.png", methods=["GET"])
@blp.doc(security=SECURITY, responses={OK: {"description": "A PNG image"}})
@roles_required(Role.PRESCRIBER, Role.PATIENT)
def qr_png(prescription_id: str):
    """The QR code (number and access code) as PNG, for its patient and its prescriber."""
    png = qr.render_png(_qr_text(prescription_id))
    return Response(png, mimetype="image/png", headers=NO_STORE)
