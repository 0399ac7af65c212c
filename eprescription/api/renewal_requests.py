"""Renewal requests: the patient asks (/api/v1/me/…), the prescriber lists and declines
(/api/v1/renewal-requests); renewing is POST /api/v1/prescriptions with `renewal_request`."""

from eprescription.api import retries
from eprescription.api.operations import ApiBlueprint
from eprescription.api.security import current_account
from eprescription.errors import CREATED, OK
from eprescription.models import Role
from eprescription.schemas.renewal_requests import (
    RenewalAskSchema,
    RenewalDeclineSchema,
    RenewalListArgsSchema,
    RenewalRequestListSchema,
    RenewalRequestSchema,
)
from eprescription.services import renewal_requests
from eprescription.use_cases import unit_of_work

blp = ApiBlueprint(
    "api_renewal_requests",
    "/api/v1",
    "Renewal requests: the patient asks, the prescriber renews or declines.",
)
ASK = "POST /me/prescriptions/<prescription_id>/renewal-request"


@blp.operation(ASK, Role.PATIENT, response=RenewalRequestSchema, status=CREATED)
@blp.arguments(RenewalAskSchema)
@retries.keyed
def ask(body: dict, prescription_id: str):
    """Ask the prescriber to renew a long-term treatment (the patient or a representative)."""
    message = body.get("message")  # optional: a request stands without one
    return retries.answer_once(
        RenewalRequestSchema(),
        CREATED,
        lambda uow: renewal_requests.request_renewal(uow, prescription_id, message=message),
    )


@blp.operation("GET /me/renewal-requests", Role.PATIENT, response=RenewalRequestListSchema)
def mine():
    """My requests and those on the prescriptions of the people I represent, newest first."""
    with unit_of_work(current_account()) as uow:
        items = renewal_requests.list_for_patient(uow)
    return {"items": items}


@blp.operation("GET /renewal-requests", Role.PRESCRIBER, response=RenewalRequestListSchema)
@blp.arguments(RenewalListArgsSchema, location="query")
def for_prescriber(args: dict):
    """The requests on my prescriptions in a status (pending: the oldest first)."""
    with unit_of_work(current_account()) as uow:
        items = renewal_requests.list_for_prescriber(uow, status=args["status"])
    return {"items": items}


@blp.operation(
    "POST /renewal-requests/<row_id:request_id>/decline",
    Role.PRESCRIBER,
    response=RenewalRequestSchema,
)
@blp.arguments(RenewalDeclineSchema)
@retries.keyed
def decline(body: dict, request_id: int):
    """Decline a pending request with a message for the patient."""
    return retries.answer_once(
        RenewalRequestSchema(),
        OK,
        lambda uow: renewal_requests.decline(uow, request_id, message=body["message"]),
    )
