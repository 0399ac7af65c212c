"""The QR text of a prescription, opened from its sealed access code (prescriber, patient)."""

from cryptography.exceptions import InvalidTag

from eprescription import qr
from eprescription.domain import prescription_codes as codes
from eprescription.domain import prescriptions as rules
from eprescription.domain.errors import (
    Conflict,
)
from eprescription.domain.prescriptions import Action, today_of
from eprescription.models import (
    Prescription,
)
from eprescription.services import access, prescription_events, signed_documents
from eprescription.services.uow import UnitOfWork
from eprescription.signing.keyring import Keyring, UnknownKeyId


def qr_text(uow: UnitOfWork, number: str) -> str:
    """The QR text of a prescription, for its patient and its prescriber; audited.

    The access code is opened from its sealed copy and checked against the stored hash, the
    only form any verification uses.
    """
    today = today_of(uow.now)
    opened = access.open_prescription(uow, number, access.Action.VIEW_QR, today)
    prescription = opened.object
    status = signed_documents.require(uow, prescription, "view_qr").status_on(today)
    rules.ensure_allowed(opened.relation, Action.VIEW_QR, status)
    text = open_qr_text(prescription, uow.settings.keyring)
    prescription_events.record(uow, "view_qr", prescription)
    return text


def open_qr_text(prescription: Prescription, keys: Keyring) -> str:
    """The QR text of a prescription the caller has already been allowed to see (no audit here).

    For other use cases (the health space) that check access their own way; qr_text above
    is the prescriber's and patient's audited path. The access code is opened from its sealed
    copy, with the key-encryption key it names, and checked against the stored hash, the only
    form any verification uses.
    """
    try:
        code = codes.open_access_code(
            prescription.access_code_sealed,
            prescription.number,
            keys.key(prescription.access_code_key_id),
        )
    except (InvalidTag, UnknownKeyId) as error:
        raise Conflict(
            "The QR code of this prescription cannot be shown again (the server secret changed); "
            "use its number."
        ) from error
    if not codes.access_code_matches(code, prescription.access_code_hash):
        raise Conflict("The QR code of this prescription cannot be shown again; use its number.")
    return qr.encode(prescription.number, code)
