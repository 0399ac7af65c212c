"""The signature is the truth: the prescriptions a use case shows or acts on, each verified
once with its cancellations, receipts and pickup choice against its row (docs/signing.md)."""

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import joinedload

from eprescription.domain import signed_prescription as signed
from eprescription.domain.errors import SignatureInvalid
from eprescription.domain.messages import Message
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.models import Dispensation, Person, Prescriber, Prescription
from eprescription.services import counter, pki, verification, verified_cache
from eprescription.services.uow import UnitOfWork
from eprescription.signing.canonical import canonical_json

Dispensations = dict[int, list[Dispensation]]
# What check() reads of a prescription row, loaded with it in its one statement: the patient
# and the prescriber joined, and the two collections (a row per line and cancellation; a
# prescription has a few lines and seldom a cancellation). Read results need .unique().
PARTS = (
    joinedload(Prescription.patient, innerjoin=True),
    joinedload(Prescription.prescriber, innerjoin=True),
    joinedload(Prescription.items),
    joinedload(Prescription.cancellations),
)
_DISPENSATION_PARTS = (joinedload(Dispensation.lines), joinedload(Dispensation.pharmacy))
# PARTS and the dispensations with their lines and pharmacy, in the same statement (a row per
# line × dispensed line): for one prescription read under its lock, where a statement counts.
DISPENSED_PARTS = (
    *PARTS,
    *(joinedload(Prescription.dispensations).options(part) for part in _DISPENSATION_PARTS),
)


def dispensations_of(uow: UnitOfWork, rows: Sequence[Prescription]) -> Dispensations:
    """Every dispensation of these prescriptions with its lines and pharmacy, oldest first, by
    prescription id; one statement however many there are (a row per dispensed line), none
    when they were loaded with the rows (DISPENSED_PARTS)."""
    found: Dispensations = {row.id: [] for row in rows}
    if not rows:
        return found
    if not any("dispensations" in inspect(row).unloaded for row in rows):
        dispensations = [given for row in rows for given in row.dispensations]
    else:
        dispensations = _read_dispensations(uow, list(found))
    for dispensation in sorted(dispensations, key=Dispensation.chronological_key):
        found[dispensation.prescription_id].append(dispensation)
    return found


def _read_dispensations(uow: UnitOfWork, prescription_ids: list[int]) -> list[Dispensation]:
    return list(
        uow.session.scalars(
            select(Dispensation)
            .where(Dispensation.prescription_id.in_(prescription_ids))
            .options(*_DISPENSATION_PARTS)
        ).unique()
    )


def check(
    uow: UnitOfWork, rows: Sequence[Prescription], dispensations: Dispensations | None = None
) -> dict[int, SignedPrescription]:
    """Each row (its items and cancellations loaded, or loaded here) as its signed documents
    say, by row id: verified when the row, its patient and prescriber, and every document
    agree, else with the disagreements. `dispensations` as dispensations_of() gives them."""
    if not rows:
        return {}
    if dispensations is None:
        dispensations = dispensations_of(uow, rows)
    people = _people(uow, rows)
    return {
        row.id: signed.read(
            _columns(uow, row, people[row.id], dispensations.get(row.id, [])),
            verified_cache.document(uow, row.jws, row.payload),
        )
        for row in rows
    }


def _people(uow: UnitOfWork, rows: Sequence[Prescription]) -> dict[int, tuple[str, str]]:
    """Each row's patient national identifier and prescriber RPPS, by row id: from the
    persons PARTS loaded with it, else read (one statement for all the rows that need it)."""
    people, unread = {}, []
    for row in rows:
        unloaded = inspect(row).unloaded
        if "patient" in unloaded or "prescriber" in unloaded:
            unread.append(row.id)
        else:
            people[row.id] = (row.patient.national_id, row.prescriber.rpps)
    if unread:
        people.update(
            (row_id, (national_id, rpps))
            for row_id, national_id, rpps in uow.session.execute(
                select(Prescription.id, Person.national_id, Prescriber.rpps)
                .join(Person, Person.id == Prescription.patient_person_id)
                .join(Prescriber, Prescriber.id == Prescription.prescriber_id)
                .where(Prescription.id.in_(unread))
            )
        )
    return people


def check_one(
    uow: UnitOfWork, row: Prescription, dispensations: Dispensations | None = None
) -> SignedPrescription:
    return check(uow, [row], dispensations)[row.id]


def require(
    uow: UnitOfWork,
    row: Prescription,
    action: str | None = None,
    dispensations: Dispensations | None = None,
) -> SignedPrescription:
    """The verified prescription, or SignatureInvalid naming every disagreement; the refusal
    of `action` is kept whatever the use case does next (None: the caller records it)."""
    found = check_one(uow, row, dispensations)
    if not found.verified:
        error = SignatureInvalid(cannot_be_verified(found))
        if action is not None:
            counter.record_refusal(uow, row, action, error)
        raise error
    return found


def cannot_be_verified(found: SignedPrescription) -> Message:
    """Why, in words, for every face."""
    return Message(
        "signature_unverified",
        "This prescription cannot be verified against its signature, so nothing can be "
        "dispensed from it: {problems}.",
        problems="; ".join(found.problems),
        reasons=tuple(found.problems),  # each with its code, for the pages' words
    )


def as_issued(row: Prescription, content: dict) -> SignedPrescription:
    """A prescription signed in this very use case, from `content` (its row built from it)."""
    return signed.as_issued(content, version=row.version, jws=row.jws)


def sign_pickup_choice(uow: UnitOfWork, row: Prescription, pickup_mode: str) -> None:
    """Store the patient's choice of pickup mode as a document the service signs, bound to the
    prescription by its number and its payload's SHA-256; the column then says the same."""
    payload = canonical_json(
        {
            "type": signed.PICKUP_CHOICE_TYPE,
            "version": signed.VERSION,
            "issued_at": signed.iso_seconds(uow.now),
            "prescription": {
                "number": row.number,
                "payload_sha256": hashlib.sha256(row.payload).hexdigest(),
            },
            "pickup_mode": pickup_mode,
        }
    )
    row.pickup_choice_jws = pki.sign_as_service(uow, payload)
    row.pickup_choice_payload = payload
    row.pickup_mode = pickup_mode
    verification.forget_trust(uow)  # the service's first signature makes its key


# The columns of a prescription row and of a dispensation row the signed check reads as they are.
_PRESCRIPTION_COLUMNS = (
    "number",
    "issued_at",
    "valid_from",
    "valid_until",
    "renewals",
    "pickup_mode",
    "status",
    "version",
    "jws",
)
_RECEIPT_COLUMNS = (
    "id",
    "dispensed_at",
    "total_cents",
    "covered_cents",
    "patient_share_cents",
    "reversed_at",
    "reversal_reason",
)


def _columns(
    uow: UnitOfWork, row: Prescription, people: tuple[str, str], given: list[Dispensation]
) -> signed.PrescriptionColumns:
    national_id, rpps = people
    choice = None
    if row.pickup_choice_jws or row.pickup_choice_payload:
        choice = verified_cache.document(uow, row.pickup_choice_jws, row.pickup_choice_payload)
    return signed.PrescriptionColumns(
        **_same_named(row, _PRESCRIPTION_COLUMNS),
        patient_national_id=national_id,
        prescriber_rpps=rpps,
        items=tuple(
            signed.ItemColumns(
                **_same_named(item, ("line", "quantity_total", "cancellation_id")),
                values=_same_named(item, signed.ITEM_FIELDS),
                dispensed=item.dispensed_quantity,
            )
            for item in row.items
        ),
        cancellations=tuple(
            signed.CancellationColumns(
                **_same_named(cancellation, ("id", "cancelled_at", "reason", "jws")),
                document=verified_cache.document(uow, cancellation.jws, cancellation.payload),
            )
            for cancellation in row.cancellations
        ),
        receipts=tuple(_receipt(uow, dispensation) for dispensation in given),
        pickup_choice=choice,
    )


def _receipt(uow: UnitOfWork, row: Dispensation) -> signed.ReceiptColumns:
    collected = {"kind": row.collected_by_kind}
    for key, value in (
        ("national_id", row.collected_by_national_id),
        ("name", row.collected_by_name),
    ):
        if value:
            collected[key] = value
    reversal = None
    if row.reversal_jws or row.reversal_payload:
        reversal = verified_cache.document(uow, row.reversal_jws, row.reversal_payload)
    return signed.ReceiptColumns(
        **_same_named(row, _RECEIPT_COLUMNS),
        collected_by=collected,
        lines=tuple(
            {
                "line": line.line,
                "period": line.period,
                "cip13": line.cip13,
                "substituted": line.substituted,
                "quantity": line.quantity,
                "batch": line.batch,
                "expiry": line.expiry.isoformat(),
                "serial": line.serial,
                "unit_price_cents": line.unit_price_cents,
                "total_cents": line.total_cents,
                "reimbursement_rate": line.rate,
                "covered_cents": line.covered_cents,
                "patient_share_cents": line.patient_share_cents,
            }
            for line in row.lines
        ),
        receipt=verified_cache.document(uow, row.jws, row.payload),
        reversal=reversal,
    )


def _same_named(row: object, names: Sequence[str]) -> dict[str, Any]:
    """The row's values of these attributes, by name (the columns the signed check reads)."""
    return {name: getattr(row, name) for name in names}
