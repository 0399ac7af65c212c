"""/api/v1/me: the patient's health space (prescriptions, QR code, pickup mode, access log,
representatives)."""

from dataclasses import asdict

from flask import Response, current_app, url_for
from flask_smorest import Blueprint

from eprescription import qr
from eprescription.api.security import current_account, roles_required
from eprescription.db import get_session
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

blp = Blueprint(
    "api_me",
    __name__,
    url_prefix="/api/v1/me",
    description="The patient's health space: prescriptions, access log, representatives.",
)
SECURITY = [{"bearer": []}]
NO_STORE = {"Cache-Control": "no-store"}  # the image carries the access code


def _with_qr_url(view: dict) -> dict:
    url = None
    if view["view"] == "active":
        url = url_for("api_me.qr_svg", prescription_id=view["id"])
    return {**view, "qr_svg_url": url}


@blp.route("/prescriptions", methods=["GET"])
@blp.response(200, MyPrescriptionPageSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
@blp.arguments(MyPrescriptionsArgsSchema, location="query")
def list_mine(args: dict):
    """My prescriptions and those of the people I represent, newest first."""
    page = health_space.list_prescriptions(
        get_session(),
        current_account(),
        view=args["status"],
        page=args["page"],
        page_size=args["page_size"],
    )
    return {**asdict(page), "items": [_with_qr_url(view) for view in page.items]}


@blp.route("/prescriptions/<string:prescription_id>", methods=["GET"])
@blp.response(200, MyPrescriptionDetailSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
def get_mine(prescription_id: str):
    """One prescription with its QR text while it can be collected (anyone else's: 404)."""
    view = health_space.get_prescription(
        get_session(),
        current_account(),
        prescription_id,
        sealing_secret=current_app.config["KEY_ENCRYPTION_KEY"],
    )
    return _with_qr_url(view)


@blp.route("/prescriptions/<string:prescription_id>/qr.svg", methods=["GET"])
@blp.doc(security=SECURITY, responses={200: {"description": "An SVG image"}})
@roles_required(Role.PATIENT)
def qr_svg(prescription_id: str):
    """The QR code as SVG, for the patient and the people who represent them."""
    text = health_space.qr_text(
        get_session(),
        current_account(),
        prescription_id,
        sealing_secret=current_app.config["KEY_ENCRYPTION_KEY"],
    )
    return Response(qr.render_svg(text), mimetype="image/svg+xml", headers=NO_STORE)


@blp.route("/prescriptions/<string:prescription_id>/pickup-mode", methods=["PUT"])
@blp.response(200, MyPrescriptionSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
@blp.arguments(PickupModeSchema)
def set_pickup_mode(body: dict, prescription_id: str):
    """Choose who may collect it: public (anyone with the code), private (me), authorised."""
    view = health_space.change_pickup_mode(
        get_session(), current_account(), prescription_id, body["pickup_mode"]
    )
    return _with_qr_url(view)


@blp.route("/access-log", methods=["GET"])
@blp.response(200, AccessLogPageSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
@blp.arguments(PageArgsSchema, location="query")
def access_log(args: dict):
    """Who read or changed my prescriptions, when and what; newest first, my own acts left out."""
    page = health_space.access_log(
        get_session(), current_account(), page=args["page"], page_size=args["page_size"]
    )
    return asdict(page)


@blp.route("/representatives", methods=["GET"])
@blp.response(200, RepresentativesSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
def list_representatives():
    """The people I named, and the people I represent."""
    return asdict(health_space.representatives(get_session(), current_account()))


@blp.route("/representatives", methods=["POST"])
@blp.response(201, RepresentativeSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
@blp.arguments(RepresentativeInSchema)
def add_representative(body: dict):
    """Name a person (NIR and family name) who may see and collect my prescriptions."""
    return health_space.add_representative(
        get_session(),
        current_account(),
        nir=body["nir"],
        family_name=body["family_name"],
        valid_until=body.get("valid_until"),
        country=current_app.config["COUNTRY"],
    )


@blp.route("/representatives/<row_id:representative_id>/revoke", methods=["POST"])
@blp.response(200, RepresentativeSchema)
@blp.doc(security=SECURITY)
@roles_required(Role.PATIENT)
def revoke_representative(representative_id: int):
    """End a representation at once."""
    return health_space.revoke_representative(get_session(), current_account(), representative_id)
