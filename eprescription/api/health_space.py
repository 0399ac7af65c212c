"""/api/v1/me: the patient's health space (prescriptions, QR code, pickup mode, access log,
representatives)."""

from dataclasses import asdict

from flask import url_for

from eprescription.api import qr_images
from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account
from eprescription.errors import CREATED
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
from eprescription.services import (
    patient_access_log,
    patient_prescriptions,
    patient_representatives,
)
from eprescription.services.patient_cards import Card, UnverifiedCard
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_me",
    "/api/v1/me",
    "The patient's health space: prescriptions, access log, representatives.",
)


def _with_qr_url(view: Card | UnverifiedCard) -> dict:
    """The card's fields (not copied: vars, not asdict) and its QR image's URL."""
    url = None
    if view.view == "active":
        url = url_for("api_me.qr_svg", prescription_id=view.id)
    return {**vars(view), "qr_svg_url": url}


@blp.operation("GET /prescriptions", Role.PATIENT, response=MyPrescriptionPageSchema)
@blp.arguments(MyPrescriptionsArgsSchema, location="query")
def list_mine(args: dict):
    """My prescriptions and those of the people I represent, newest first."""
    with unit_of_work(current_account()) as uow:
        page = patient_prescriptions.list_prescriptions(
            uow, view=args["status"], page=args["page"], page_size=args["page_size"]
        )
    # Not asdict(page): it would deep-copy every card only to replace them.
    return {
        "items": [_with_qr_url(view) for view in page.items],
        "total": page.total,
        "page": page.page,
        "page_size": page.page_size,
    }


@blp.operation(
    "GET /prescriptions/<prescription_id>", Role.PATIENT, response=MyPrescriptionDetailSchema
)
def get_mine(prescription_id: str):
    """One prescription with its QR text while it can be collected (anyone else's: 404)."""
    with unit_of_work(current_account()) as uow:
        view = patient_prescriptions.get_prescription(uow, prescription_id)
    return _with_qr_url(view)


@blp.operation("GET /prescriptions/<prescription_id>/qr.svg", Role.PATIENT, responses=qr_images.SVG)
def qr_svg(prescription_id: str):
    """The QR code as SVG, for the patient and the people who represent them."""
    with unit_of_work(current_account()) as uow:
        text = patient_prescriptions.qr_text(uow, prescription_id)
    return qr_images.svg(text)


@blp.operation(
    "PUT /prescriptions/<prescription_id>/pickup-mode", Role.PATIENT, response=MyPrescriptionSchema
)
@blp.arguments(PickupModeSchema)
def set_pickup_mode(body: dict, prescription_id: str):
    """Choose who may collect it: public (anyone with the code), private (me), authorised."""
    with unit_of_work(current_account()) as uow:
        view = patient_prescriptions.change_pickup_mode(uow, prescription_id, body["pickup_mode"])
    return _with_qr_url(view)


@blp.operation("GET /access-log", Role.PATIENT, response=AccessLogPageSchema)
@blp.arguments(PageArgsSchema, location="query")
def access_log(args: dict):
    """Who read or changed my prescriptions, when and what; newest first, my own acts left out."""
    with unit_of_work(current_account()) as uow:
        page = patient_access_log.read(uow, page=args["page"], page_size=args["page_size"])
    return asdict(page)


@blp.operation("GET /representatives", Role.PATIENT, response=RepresentativesSchema)
def list_representatives():
    """The people I named, and the people I represent."""
    with unit_of_work(current_account()) as uow:
        listing = patient_representatives.overview(uow)
    return asdict(listing)


@blp.operation("POST /representatives", Role.PATIENT, response=RepresentativeSchema, status=CREATED)
@blp.arguments(RepresentativeInSchema)
def add_representative(body: dict):
    """Name a person (NIR and family name) who may see and collect my prescriptions."""
    with unit_of_work(current_account()) as uow:
        named = patient_representatives.add_representative(
            uow,
            nir=body["nir"],
            family_name=body["family_name"],
            valid_until=body.get("valid_until"),
        )
    return named


@blp.operation(
    "POST /representatives/<row_id:representative_id>/revoke",
    Role.PATIENT,
    response=RepresentativeSchema,
)
def revoke_representative(representative_id: int):
    """End a representation at once."""
    with unit_of_work(current_account()) as uow:
        ended = patient_representatives.revoke_representative(uow, representative_id)
    return ended
