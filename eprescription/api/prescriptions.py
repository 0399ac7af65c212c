"""/api/v1/prescriptions: issue and sign, read, list, cancel, and the QR code."""

from dataclasses import asdict

from eprescription import throttling
from eprescription.api import qr_images, retries
from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account
from eprescription.domain.acknowledgements import Acknowledgement
from eprescription.domain.errors import ValidationFailed, WrongPin
from eprescription.domain.prescriptions import ItemDraft, today_of
from eprescription.errors import CREATED, OK
from eprescription.models import Role
from eprescription.schemas.prescriptions import (
    IssuedPrescriptionSchema,
    PrescriptionCancelSchema,
    PrescriptionDraftSchema,
    PrescriptionIssueSchema,
    PrescriptionListArgsSchema,
    PrescriptionPageSchema,
    PrescriptionReviewSchema,
    PrescriptionSchema,
)
from eprescription.services import (
    cancelling,
    issue_review,
    issuing,
    prescriber_lists,
    prescription_drafts,
    prescription_qr,
    prescription_reading,
    prescription_views,
)
from eprescription.services.prescription_views import Unverified
from eprescription.services.uow import UnitOfWork
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_prescriptions",
    "/api/v1/prescriptions",
    "Signed prescriptions: issue, read, list, cancel, QR code.",
)


def _item(fields: dict) -> ItemDraft:
    """An ItemInSchema line: its fields are ItemDraft's, but for the nested substance."""
    line = dict(fields)
    substance = line.pop("substance", None) or {}
    code, strength, form = (substance.get(key) for key in ("code", "strength", "form"))
    return ItemDraft(**line, substance_code=code, strength=strength, form=form)


def _request(body: dict) -> prescription_drafts.IssueRequest:
    # Every duplicate-therapy and allergy warning must be acknowledged, as on the web form.
    acknowledgement = Acknowledgement(
        frozenset(body.get("acknowledged_warnings", ())), body.get("acknowledgement_reason", "")
    )
    return prescription_drafts.IssueRequest(
        patient_nir=body["patient_nir"],
        pin=body.get("pin", ""),
        items=[_item(item) for item in body["items"]],
        valid_from=body.get("valid_from"),
        valid_until=body.get("valid_until"),
        renewals=body.get("renewals", 0),
        pickup_mode=body.get("pickup_mode"),
        renewal_request_id=body.get("renewal_request"),
        acknowledgement=acknowledgement,
    )


@blp.operation("POST /review", Role.PRESCRIBER, response=PrescriptionReviewSchema)
@blp.arguments(PrescriptionDraftSchema)
def review(body: dict):
    """What issuing would sign, and its warnings (duplicate therapy, allergy) grouped per
    substance, each with the key to acknowledge it by; nothing is stored."""
    with unit_of_work(current_account()) as uow:
        found = issue_review.review(uow, _request(body))
    return {"content": found.content, "warnings": [w.as_record() for w in found.warnings]}


def _issued(uow: UnitOfWork, request: prescription_drafts.IssueRequest) -> dict:
    issued = issuing.issue(uow, request)
    view = prescription_views.describe(issued.signed, today_of(uow.now))
    return {
        **asdict(view),
        "access_code": issued.access_code,
        "qr_text": issued.qr_text,
        "rule_notes": [{"line": n, "message": note} for n, note in issued.rule_notes],
    }


@blp.operation("POST ", Role.PRESCRIBER, response=IssuedPrescriptionSchema, status=CREATED)
@throttling.guesses("pin", by_status=False)
@blp.arguments(PrescriptionIssueSchema)
@retries.keyed
def issue(body: dict):
    """Issue a prescription, signed with the prescriber's PIN; the access code is shown once
    (and again only to a retry with the same Idempotency-Key)."""
    request = _request(body)
    try:
        return retries.answer_once(
            IssuedPrescriptionSchema(), CREATED, lambda uow: _issued(uow, request)
        )
    except ValidationFailed as error:
        # A wrong PIN is a guess (the key itself blocks at the third); so is a NIR nobody has.
        if isinstance(error, WrongPin) or "patient_nir" in error.errors:
            throttling.missed()
        raise


@blp.operation("GET ", Role.PRESCRIBER, response=PrescriptionPageSchema)
@blp.arguments(PrescriptionListArgsSchema, location="query")
def list_issued(args: dict):
    """The prescriptions the caller issued, newest first, filtered by patient NIR and status."""
    with unit_of_work(current_account()) as uow:
        page = prescriber_lists.list_for_prescriber(
            uow,
            patient_nir=args.get("patient"),
            status=args.get("status"),
            page=args["page"],
            page_size=args["page_size"],
        )
    return {
        "items": [prescription_views.describe(item, page.today) for item in page.items],
        "total": page.total,
        "page": page.page,
        "page_size": page.page_size,
    }


@blp.operation("GET /<prescription_id>", Role.PRESCRIBER, Role.PATIENT, response=PrescriptionSchema)
def get(prescription_id: str):
    """One prescription, for its prescriber, its patient and their representatives (else 404)."""
    with unit_of_work(current_account()) as uow:
        prescription = prescription_reading.get(uow, prescription_id)
    return prescription_views.describe(prescription, today_of(uow.now))


@blp.operation("POST /<prescription_id>/cancel", Role.PRESCRIBER, response=PrescriptionSchema)
@blp.arguments(PrescriptionCancelSchema)
@retries.keyed
def cancel(body: dict, prescription_id: str):
    """Cancel the whole prescription or some lines (nothing dispensed), signed with the PIN."""

    def cancelled(uow: UnitOfWork) -> prescription_views.PrescriptionView | Unverified:
        prescription = cancelling.cancel(
            uow, prescription_id, pin=body["pin"], reason=body["reason"], lines=body.get("lines")
        )
        return prescription_views.describe(prescription, today_of(uow.now))

    return retries.answer_once(PrescriptionSchema(), OK, cancelled)


def _qr_text(prescription_id: str) -> str:
    with unit_of_work(current_account()) as uow:
        return prescription_qr.qr_text(uow, prescription_id)


@blp.operation(
    "GET /<prescription_id>/qr.svg", Role.PRESCRIBER, Role.PATIENT, responses=qr_images.SVG
)
def qr_svg(prescription_id: str):
    """The QR code (number and access code) as SVG, for its patient and its prescriber."""
    return qr_images.svg(_qr_text(prescription_id))


@blp.operation(
    "GET /<prescription_id>/qr.png", Role.PRESCRIBER, Role.PATIENT, responses=qr_images.PNG
)
def qr_png(prescription_id: str):
    """The QR code (number and access code) as PNG, for its patient and its prescriber."""
    return qr_images.png(_qr_text(prescription_id))
