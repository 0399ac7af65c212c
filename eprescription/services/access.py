"""The access rule: how the acting account stands to a prescription, a dispensation or a renewal
request, what each relation may do with it, and the one way a use case opens one for an action:
allowed, told no, or answered exactly as if it did not exist (the refusal audited and kept)."""

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Generic, NoReturn, TypeVar

from sqlalchemy import select
from sqlalchemy.orm.interfaces import LoaderOption

from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import (
    DomainError,
    NotFound,
    OtherPharmacy,
    PermissionDenied,
    PrescriptionNotFound,
)
from eprescription.domain.messages import Message
from eprescription.models import Dispensation, Pharmacist, Prescription, RenewalRequest, Role
from eprescription.services import audit, counter, representation, signed_documents
from eprescription.services.uow import UnitOfWork

T = TypeVar("T", Prescription, Dispensation, RenewalRequest)

NOT_VISIBLE = Message("not_visible", "No prescription with this number is visible to you.")
NO_MATCH = "No prescription matches this code. Scan it again or check the number."
NO_DISPENSATION = "Your pharmacy has no dispensation with this id."
NO_RENEWAL_REQUEST = "No renewal request with this id is visible to you."
_DUMMY_HASH = codes.hash_access_code("0" * codes.ACCESS_CODE_LENGTH)


class Kind(enum.StrEnum):
    """What is opened. FHIR MedicationRequest is a prescription read, MedicationDispense the
    read of its dispensations."""

    PRESCRIPTION = "prescription"
    DISPENSATION = "dispensation"
    RENEWAL_REQUEST = "renewal_request"


class Relation(enum.StrEnum):
    """How the acting account stands to one object, in one request."""

    PRESCRIBER = "prescriber"  # wrote it; of a renewal request: the prescriber it asks
    PATIENT = "patient"  # it is theirs
    REPRESENTATIVE = "representative"  # represents its patient today
    CODE_HOLDER = "code_holder"  # a pharmacist presenting its access code (the QR)
    CARD_HOLDER = "card_holder"  # a pharmacist presenting its number and the patient's NIR
    DISPENSING_PHARMACY = "dispensing_pharmacy"  # a pharmacist of the pharmacy that dispensed it
    OTHER_PHARMACY = "other_pharmacy"  # any other pharmacist
    NONE = "none"  # another prescriber or patient, a former representative, an admin, anonymous


class Action(enum.StrEnum):
    """What is done; audited under `audited_as`."""

    READ = "read"
    VIEW_QR = "view_qr"  # /api/v1/prescriptions/{id}/qr.*: its prescriber and patient (DESIGN §5)
    HEALTH_SPACE_QR = "health_space_qr"  # the health space's: whoever collects for the patient
    CANCEL = "cancel"
    CHANGE_PICKUP_MODE = "change_pickup_mode"
    REQUEST_RENEWAL = "request_renewal"
    READ_DISPENSATIONS = "read_dispensations"
    SCAN = "scan"
    DISPENSE = "dispense"
    REVERSE = "reverse"
    RENEW = "renew"
    DECLINE = "decline_renewal"

    @property
    def audited_as(self) -> str:
        return Action.VIEW_QR.value if self is Action.HEALTH_SPACE_QR else self.value


@dataclass(frozen=True)
class Rule:
    """Who may do an action on a kind of object. Those in `told` see the object and are refused
    with `refusal`; everybody else gets the answer of an object that does not exist."""

    may: frozenset[Relation]
    told: frozenset[Relation] = frozenset()
    refusal: tuple[type[PermissionDenied], str] | None = None


R = Relation
_OF_THE_PATIENT = frozenset({R.PRESCRIBER, R.PATIENT, R.REPRESENTATIVE})
_AT_THE_COUNTER = frozenset({R.CODE_HOLDER, R.CARD_HOLDER})  # then the pickup mode decides
RULES: dict[tuple[Kind, Action], Rule] = {
    (Kind.PRESCRIPTION, Action.READ): Rule(_OF_THE_PATIENT),
    (Kind.PRESCRIPTION, Action.VIEW_QR): Rule(frozenset({R.PRESCRIBER, R.PATIENT})),
    (Kind.PRESCRIPTION, Action.HEALTH_SPACE_QR): Rule(frozenset({R.PATIENT, R.REPRESENTATIVE})),
    (Kind.PRESCRIPTION, Action.CANCEL): Rule(
        frozenset({R.PRESCRIBER}),
        told=frozenset({R.PATIENT, R.REPRESENTATIVE}),
        refusal=(PermissionDenied, "Only the prescriber who issued it can cancel a prescription."),
    ),
    (Kind.PRESCRIPTION, Action.CHANGE_PICKUP_MODE): Rule(
        frozenset({R.PATIENT}),
        told=frozenset({R.REPRESENTATIVE}),
        refusal=(
            PermissionDenied,
            Message(
                "only_patient_changes_pickup",
                "Only the patient can change how a prescription is collected.",
            ),
        ),
    ),
    (Kind.PRESCRIPTION, Action.REQUEST_RENEWAL): Rule(frozenset({R.PATIENT, R.REPRESENTATIVE})),
    (Kind.PRESCRIPTION, Action.READ_DISPENSATIONS): Rule(_OF_THE_PATIENT | {R.DISPENSING_PHARMACY}),
    (Kind.PRESCRIPTION, Action.SCAN): Rule(_AT_THE_COUNTER),
    (Kind.PRESCRIPTION, Action.DISPENSE): Rule(_AT_THE_COUNTER),
    (Kind.DISPENSATION, Action.READ): Rule(frozenset({R.DISPENSING_PHARMACY})),
    (Kind.DISPENSATION, Action.REVERSE): Rule(
        frozenset({R.DISPENSING_PHARMACY}),
        told=frozenset({R.OTHER_PHARMACY}),
        refusal=(OtherPharmacy, "Only the pharmacy that dispensed it can reverse a dispensation."),
    ),
    (Kind.RENEWAL_REQUEST, Action.READ): Rule(frozenset({R.PRESCRIBER})),
    (Kind.RENEWAL_REQUEST, Action.RENEW): Rule(frozenset({R.PRESCRIBER})),
    (Kind.RENEWAL_REQUEST, Action.DECLINE): Rule(frozenset({R.PRESCRIBER})),
}


@dataclass(frozen=True)
class Proof:
    """What a pharmacist presents for a prescription: the access code from its QR, or the
    patient's national identifier (compact) from their card or typed."""

    access_code: str | None = None
    patient_national_id: str | None = None


@dataclass(frozen=True)
class Opened(Generic[T]):
    """An object opened for an action, and the relation that allowed it."""

    object: T
    relation: Relation


# -- relations ------------------------------------------------------------------------------------


def relation_to_prescription(
    uow: UnitOfWork, prescription: Prescription, today: date, proof: Proof | None = None
) -> Relation:
    """The acting account's relation to the prescription; a pharmacist's rests on `proof` when
    one is presented, else on whether their pharmacy dispensed some of it."""
    relation = _party_relation(uow, prescription, today)
    if relation is not None:
        return relation
    account = uow.require_account()
    if account.role is not Role.PHARMACIST:
        return R.NONE
    if proof is not None:
        return _holder(prescription, proof) or R.OTHER_PHARMACY
    dispensed_here = uow.session.scalar(
        select(Dispensation.id)
        .join(Pharmacist, Pharmacist.pharmacy_id == Dispensation.pharmacy_id)
        .where(
            Dispensation.prescription_id == prescription.id,
            Pharmacist.person_id == account.person_id,
        )
        .limit(1)
    )
    return R.OTHER_PHARMACY if dispensed_here is None else R.DISPENSING_PHARMACY


def relation_to_dispensation(uow: UnitOfWork, dispensation: Dispensation) -> Relation:
    """A pharmacist's: of the pharmacy that dispensed it, or another; anybody else: none."""
    pharmacy_id = acting_pharmacy_id(uow)
    if pharmacy_id is None:
        return R.NONE
    return R.DISPENSING_PHARMACY if dispensation.pharmacy_id == pharmacy_id else R.OTHER_PHARMACY


def relation_to_renewal_request(uow: UnitOfWork, row: RenewalRequest, today: date) -> Relation:
    """The prescriber it asks, its patient, a representative of theirs today, or none."""
    relation = _party_relation(uow, row, today)
    return R.NONE if relation is None else relation


def acting_pharmacy_id(uow: UnitOfWork) -> int | None:
    """The pharmacy of the acting pharmacist, or None for anybody else."""
    account = uow.account
    if account is None or account.role is not Role.PHARMACIST or account.person is None:
        return None
    pharmacist = account.person.pharmacist  # loaded with the caller (services/accounts.py)
    return None if pharmacist is None else pharmacist.pharmacy_id


def audit_actor(uow: UnitOfWork, relation: Relation) -> audit.Actor:
    """Whom the audit names: a representative as such (the patient reads "your
    representative"), anybody else as themselves."""
    if relation is R.REPRESENTATIVE and uow.account is not None:
        return representation.actor(uow.account)
    return uow.actor


def _party_relation(
    uow: UnitOfWork, row: Prescription | RenewalRequest, today: date
) -> Relation | None:
    """The relation of a prescriber or a patient account to `row`, none without a person, or
    None for the other roles (whose relation rests on more than the row's parties)."""
    account = uow.account
    if account is None or account.person_id is None:
        return R.NONE
    if account.role is Role.PRESCRIBER:
        return R.PRESCRIBER if row.prescriber.person_id == account.person_id else R.NONE
    if account.role is Role.PATIENT:
        return _patient_relation(uow, account.person_id, row.patient_person_id, today)
    return None


def _patient_relation(uow: UnitOfWork, person_id: int, patient_id: int, today: date) -> Relation:
    if patient_id == person_id:
        return R.PATIENT
    if representation.represents(uow, person_id, patient_id, today):
        return R.REPRESENTATIVE
    return R.NONE


def _holder(prescription: Prescription, proof: Proof) -> Relation | None:
    if proof.access_code is not None:
        if codes.access_code_matches(proof.access_code, prescription.access_code_hash):
            return R.CODE_HOLDER
    elif proof.patient_national_id == prescription.patient.national_id:
        return R.CARD_HOLDER
    return None


# -- opening an object for an action -------------------------------------------------------------


def open_prescription(
    uow: UnitOfWork,
    number_text: str | None,
    action: Action,
    today: date,
    *,
    proof: Proof | None = None,
    load: Sequence[LoaderOption] = signed_documents.PARTS,
    for_update: bool = False,
) -> Opened[Prescription]:
    """The prescription numbered `number_text` (its `load` parts loaded in the same statement;
    `for_update`: read under its row lock, counter.lock), opened for `action`.

    Anybody the rule does not let see it gets exactly the answer of a number nobody issued:
    NotFound, or for a pharmacist's proof PrescriptionNotFound (a wrong code and an unknown
    number alike); the refusal is audited and kept whatever the use case does next.
    """
    number = codes.validate_number(number_text)
    query = select(Prescription).where(Prescription.number == number).options(*load)
    if for_update:
        counter.lock(uow, Prescription.number == number)
        query = query.execution_options(populate_existing=True)
    prescription = uow.session.scalars(query).unique().one_or_none()
    relation = R.NONE
    if prescription is not None:
        relation = relation_to_prescription(uow, prescription, today, proof)
    elif proof is not None and proof.access_code is not None:
        codes.access_code_matches(proof.access_code, _DUMMY_HASH)  # the same time either way
    opened = admit(uow, Kind.PRESCRIPTION, action, prescription, relation, number, proof=proof)
    return Opened(opened, relation)


def open_dispensation(
    uow: UnitOfWork, dispensation_id: str | None, action: Action
) -> Opened[Dispensation]:
    """The dispensation with this id, opened for `action`; else the answer of an unknown id."""
    dispensation = None
    if dispensation_id and len(dispensation_id) <= 64:
        dispensation = uow.session.get(Dispensation, dispensation_id)
    relation = R.NONE if dispensation is None else relation_to_dispensation(uow, dispensation)
    return Opened(admit(uow, Kind.DISPENSATION, action, dispensation, relation, ""), relation)


def open_renewal_request(
    uow: UnitOfWork, request_id: int, action: Action, today: date
) -> Opened[RenewalRequest]:
    """The renewal request with this id, opened for `action`; else the answer of an unknown id."""
    row = uow.session.get(RenewalRequest, request_id)
    relation = R.NONE if row is None else relation_to_renewal_request(uow, row, today)
    opened = admit(uow, Kind.RENEWAL_REQUEST, action, row, relation, str(request_id))
    return Opened(opened, relation)


def admit(
    uow: UnitOfWork,
    kind: Kind,
    action: Action,
    found: T | None,
    relation: Relation,
    key: str,
    *,
    proof: Proof | None = None,
) -> T:
    """`found` (of `kind`, asked for as `key`) if `relation` may do `action` on it; else a
    refusal: those the rule tells no get its refusal, anybody else and a missing object the same
    NotFound. Either refusal is audited and kept whatever the use case does next."""
    rule = RULES[(kind, action)]
    if found is not None and relation in rule.may:
        return found
    if found is not None and rule.refusal is not None and relation in rule.told:
        error_type, detail = rule.refusal
        _refused(uow, action, found, error_type(detail))
    _unseen(uow, kind, action, found, relation, key, proof)


def _refused(
    uow: UnitOfWork,
    action: Action,
    found: Prescription | Dispensation | RenewalRequest,
    error: DomainError,
) -> NoReturn:
    """Told no: recorded on the prescription concerned (as the patient knows it), then raised."""
    prescription = found if isinstance(found, Prescription) else found.prescription
    uow.refuse(
        action.audited_as,
        str(Kind.PRESCRIPTION),
        prescription.number,
        patient_person_id=prescription.patient_person_id,
        outcome=error.code,
    )
    raise error


def _unseen(
    uow: UnitOfWork,
    kind: Kind,
    action: Action,
    found: Prescription | Dispensation | RenewalRequest | None,
    relation: Relation,
    key: str,
    proof: Proof | None,
) -> NoReturn:
    """Audit a refused or missing object (kept), then answer the same NotFound either way."""
    error: NotFound = NotFound(NOT_VISIBLE)
    object_type, object_id, patient_id = str(kind), key, None
    outcome = "not_found" if found is None else "denied"
    if isinstance(found, Prescription | RenewalRequest):
        patient_id = found.patient_person_id
    if kind is Kind.PRESCRIPTION and proof is not None:
        error = PrescriptionNotFound(NO_MATCH)
        outcome = "not_found" if found is None else "wrong_code"
    elif kind is Kind.DISPENSATION:
        error = NotFound(NO_DISPENSATION)
        if isinstance(found, Dispensation):
            object_id, patient_id = found.id, found.prescription.patient_person_id
            outcome = "other_pharmacy" if relation is R.OTHER_PHARMACY else "denied"
    elif kind is Kind.RENEWAL_REQUEST:
        error = NotFound(NO_RENEWAL_REQUEST)
        if isinstance(found, RenewalRequest):  # named by the prescription, as the patient knows it
            object_type, object_id = str(Kind.PRESCRIPTION), found.prescription.number
    uow.refuse(
        action.audited_as, object_type, object_id, patient_person_id=patient_id, outcome=outcome
    )
    raise error
