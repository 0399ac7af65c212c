"""Issuing a prescription: signed with the prescriber's PIN, stored under a free number, audited."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.attributes import set_committed_value

from eprescription import qr
from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import (
    Conflict,
)
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import Status, today_of
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.models import (
    Prescription,
    PrescriptionItem,
)
from eprescription.services import (
    events,
    issue_review,
    prescribers,
    prescription_drafts,
    prescription_events,
    renewal_claims,
    signed_documents,
)
from eprescription.services.uow import UnitOfWork
from eprescription.signing.canonical import canonical_json

NUMBER_ATTEMPTS = 10
DOSAGE_COLUMNS = ("dose", "dose_unit", "frequency_per_day", "duration_days")


@dataclass(frozen=True)
class Issued:
    """A new prescription, with its access code and QR text: shown once, never stored as such."""

    prescription: Prescription
    signed: SignedPrescription
    access_code: str
    qr_text: str
    # What the prescribing rules could not judge (accepted): (line, why).
    rule_notes: tuple[tuple[int, Message], ...] = ()


def issue(uow: UnitOfWork, request: prescription_drafts.IssueRequest) -> Issued:
    """Check everything, sign with the prescriber's PIN, store payload and JWS, audit.

    Every problem with the fields is reported in one ValidationFailed; nothing is stored then.
    A refused signature (a wrong PIN, which the PKI service counts towards blocking) is kept
    by the unit of work while the rest of the use case rolls back. The number is drawn at
    random and the statement that stores the row tells whether it was free (a taken one,
    about one draw in 10^7 with 100 million prescriptions, is drawn and signed again).
    """
    now = uow.now.replace(microsecond=0)
    draft = prescription_drafts.prepare(uow, request)
    prescriber, patient = draft.prescriber, draft.patient
    renewal = renewal_claims.claim(uow, patient, request.renewal_request_id, today_of(now))
    acknowledged = (
        None
        if request.acknowledgement is None
        else issue_review.acknowledged(uow, draft, request.acknowledgement, request.renewing)
    )
    stored, content = None, draft.content
    for _ in range(NUMBER_ATTEMPTS):
        number = codes.new_number()
        content = {**draft.content, "number": number}
        payload = canonical_json(content)
        jws = prescribers.sign(uow, prescriber, request.pin, payload, "issue", number, patient.id)
        stored = store(uow, draft, number, payload, jws, now, acknowledged)
        if stored is not None:
            break
    if stored is None:
        raise Conflict("Could not find a free prescription number; try again.")
    return completed(uow, draft, content, *stored, renewal, acknowledged)


def store(
    uow: UnitOfWork,
    draft: prescription_drafts.Draft,
    number: str,
    payload: bytes,
    jws: str,
    issued_at: datetime,
    acknowledged: list[dict] | None,
) -> tuple[Prescription, str] | None:
    """The new row for this signed payload and its new access code, or None when the number
    (or the access code) is taken already; signed here with a PIN or outside
    (services/external_signing.py)."""
    validity, access_code = draft.validity, codes.new_access_code()
    prescription = _stored_if_free(
        uow,
        number=number,
        patient_person_id=draft.patient.id,
        prescriber_id=draft.prescriber.id,
        issued_at=issued_at,
        valid_from=validity.valid_from,
        valid_until=validity.valid_until,
        renewals=validity.renewals,
        pickup_mode=str(draft.pickup_mode),
        status=str(Status.ACTIVE),
        version=1,
        payload=payload,
        jws=jws,
        access_code_hash=codes.hash_access_code(access_code),
        access_code_sealed=codes.seal_access_code(
            access_code, number, uow.settings.keyring.current
        ),
        access_code_key_id=uow.settings.keyring.current_id,
        acknowledged_warnings=acknowledged,
    )
    return None if prescription is None else (prescription, access_code)


def completed(
    uow: UnitOfWork,
    draft: prescription_drafts.Draft,
    content: dict,
    prescription: Prescription,
    access_code: str,
    renewal,
    acknowledged: list[dict] | None,
) -> Issued:
    """A stored prescription with its lines, the renewal request it answers and its audit
    events, as issued."""
    patient, prescriber, number = draft.patient, draft.prescriber, prescription.number
    for name, value in (("patient", patient), ("prescriber", prescriber)):
        set_committed_value(prescription, name, value)
    for name in ("items", "cancellations"):
        set_committed_value(prescription, name, [])  # a new row has none: nothing to load
    for line, item in enumerate(content["items"], 1):
        prescription.items.append(item_row(line, item))  # inserted at commit, one statement
    renewal_claims.fulfil(uow, renewal, prescription)
    prescription_events.record(uow, "issue", prescription)
    events.emit(uow, events.ISSUED, prescription)
    if acknowledged:  # the warnings the prescriber signed over, in the same transaction
        prescription_events.record(uow, "acknowledge_warnings", prescription)
    return Issued(
        prescription,
        signed_documents.as_issued(prescription, content),
        access_code,
        qr.encode(number, access_code),
        draft.rule_notes,
    )


def _stored_if_free(uow: UnitOfWork, **columns) -> Prescription | None:
    """The new prescription row, or None when its number (or access code) is taken already:
    INSERT … ON CONFLICT DO NOTHING RETURNING, so the unique indexes answer in the statement
    that stores it (a concurrent insert of the same number is waited for)."""
    postgres = uow.session.get_bind().dialect.name == "postgresql"
    statement = (postgresql.insert if postgres else sqlite.insert)(Prescription).values(**columns)
    return uow.session.scalars(
        statement.on_conflict_do_nothing().returning(Prescription)
    ).one_or_none()


def item_row(line: int, content: dict) -> PrescriptionItem:
    drug, dosage = content["medication"], content["dosage"]
    return PrescriptionItem(
        line=line,
        **{key: drug.get(key) for key in ("cis", "substance_code", "strength", "form")},
        medication_name=drug["name"],
        dosage_text=dosage["text"],
        **{key: dosage.get(key) for key in DOSAGE_COLUMNS},
        quantity=content["quantity"],
        substitutable=content["substitutable"],
        non_substitution_reason=content.get("non_substitution_reason"),
        ald=content["ald"],
        dispensed_quantity=0,
    )
