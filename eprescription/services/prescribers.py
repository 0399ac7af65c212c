"""The acting prescriber and their signature (a refused PIN recorded, so it is kept)."""

from eprescription.domain.errors import (
    DomainError,
    PermissionDenied,
)
from eprescription.domain.prescriptions import OBJECT_TYPE
from eprescription.models import (
    Prescriber,
    Role,
)
from eprescription.services import pki
from eprescription.services.uow import UnitOfWork


def prescriber_of(uow: UnitOfWork) -> Prescriber:
    """The acting account's prescriber, or PermissionDenied."""
    account = uow.account
    prescriber = None
    if account is not None and account.role is Role.PRESCRIBER and account.person is not None:
        prescriber = account.person.prescriber  # loaded with the caller (services/accounts.py)
    if prescriber is None:
        raise PermissionDenied("Only a prescriber can do this.")
    return prescriber


def signing_refusal(uow: UnitOfWork) -> DomainError | None:
    """Why the acting prescriber's key cannot sign now (blocked, revoked, expired, none), or
    None: said on the form before they fill it."""
    prescriber = prescriber_of(uow)
    return pki.signing_refusal(pki.current_credential(uow, prescriber), uow.now)


def sign(uow: UnitOfWork, prescriber, pin, payload, action, number, patient_id) -> str:
    """The prescriber's JWS over `payload`; a refusal is recorded (kept), then raised."""
    try:
        return pki.sign_as_prescriber(uow, prescriber, pin, payload)
    except DomainError as error:
        uow.refuse(action, OBJECT_TYPE, number, patient_person_id=patient_id, outcome=error.code)
        raise
