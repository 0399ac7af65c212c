"""/api/v1/me: the patient's health space (prescriptions, QR code, pickup mode, access log,
representatives)."""

from dataclasses import asdict

from flask import Response, url_for
from flask_smorest import Blueprint

from eprescription import qr
from eprescription.api.security import current_account, roles_required
from eprescription.errors import CREATED, OK
from eprescription.models import Role
from eprescription.schemas.health_space import (
    AccessLogPageSchema,
    MyPrescriptionDetailSchema,
    MyPrescriptionPageSchema,
    MyPrescriptionsArgsSchema,
    MyPrescriptionSchema,
    PageArgsSchema,
    PickupModeSchema,
    RepresentativeInSchema,
    RepresentativeSchema,
    RepresentativesSchema,
)
from eprescription.services import health_space
from eprescription.use_cases import unit_of_work

blp = Blueprint(
    "api_me",
    __name__,
    url_prefix="/api/v1/me",
    description="The patient's health space: prescriptions, access log, representatives.",
)
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}]  # OpenAPI: a bearer token
NO_STORE = {"Cache-Control": "no-store"}  # the image carries the access code


def _with_qr_url(view: dict) -> dict:
    url = None
    if view["view"] == "active":
        url = url_for("api_me.qr_svg", prescription_id=view["id"])
    return {**view, "qr_svg_url": url}


@blp.route("/prescriptions", methods=["GET"])
@blp.response(OK, MyPrescriptionPageSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
@blp.arguments(MyPrescriptionsArgsSchema, location="query")
def list_mine(args: dict):
    """My prescriptions and those of the people I represent, newest first."""
    with unit_of_work(current_account()) as uow:
        page = health_space.list_prescriptions(
            uow, view=args["status"], page=args["page"], page_size=args["page_size"]
        )
    # Not asdict(page): it would deep-copy every card only to replace them.
    return {
        "items": [_with_qr_url(view) for view in page.items],
        "total": page.total,
        "page": page.page,
        "page_size": page.page_size,
    }


@blp.route("/prescriptions/<string:prescription_id>", methods=["GET"])
@blp.response(OK, MyPrescriptionDetailSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
def get_mine(prescription_id: str):
    """One prescription with its QR text while it can be collected (anyone else's: 404)."""
    with unit_of_work(current_account()) as uow:
        view = health_space.get_prescription(uow, prescription_id)
    return _with_qr_url(view)


@blp.route("/prescriptions/<string:prescription_id>/qr.svg", methods=["GET"])
@blp.doc(security=SECURITY, responses={OK: {"description": "An SVG image"}})
@roles_required(Role.PATIENT)
def qr_svg(prescription_id: str):
    """The QR code as SVG, for the patient and the people who represent them."""
    with unit_of_work(current_account()) as uow:
        text = health_space.qr_text(uow, prescription_id)
    return Response(qr.render_svg(text), mimetype="image/svg+xml", headers=NO_STORE)


@blp.route("/prescriptions/<string:prescription_id>/pickup-mode", methods=["PUT"])
@blp.response(OK, MyPrescriptionSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
@blp.arguments(PickupModeSchema)
def set_pickup_mode(body: dict, prescription_id: str):
    """Choose who may collect it: public (anyone with the code), private (me), authorised."""
    with unit_of_work(current_account()) as uow:
        view = health_space.change_pickup_mode(uow, prescription_id, body["pickup_mode"])
    return _with_qr_url(view)


@blp.route("/access-log", methods=["GET"])
@blp.response(OK, AccessLogPageSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
@blp.arguments(PageArgsSchema, location="query")
def access_log(args: dict):
    """Who read or changed my prescriptions, when and what; newest first, my own acts left out."""
    with unit_of_work(current_account()) as uow:
        page = health_space.access_log(uow, page=args["page"], page_size=args["page_size"])
    return asdict(page)


@blp.route("/representatives", methods=["GET"])
@blp.response(OK, RepresentativesSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
def list_representatives():
    """The people I named, and the people I represent."""
    with unit_of_work(current_account()) as uow:
        listing = health_space.representatives(uow)
    return asdict(listing)


@blp.route("/representatives", methods=["POST"])
@blp.response(CREATED, RepresentativeSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
@blp.arguments(RepresentativeInSchema)
def add_representative(body: dict):
    """Name a person (NIR and family name) who may see and collect my prescriptions."""
    with unit_of_work(current_account()) as uow:
        named = health_space.add_representative(
            uow,
            nir=body["nir"],
            family_name=body["family_name"],
            valid_until=body.get("valid_until"),
        )
    return named


@blp.route("/representatives/<row_id:representative_id>/revoke", methods=["POST"])
@blp.response(OK, RepresentativeSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
def revoke_representative(representative_id: int):
    """End a representation at once."""
    with unit_of_work(current_account()) as uow:
        ended = health_space.revoke_representative(uow, representative_id)
    return ended
