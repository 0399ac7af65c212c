"""Issuing a prescription: signed with the prescriber's PIN, stored under a free number, audited."""

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import cast

from sqlalchemy import Select, Table, bindparam, func, insert, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased, make_transient_to_detached
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
    EventOutboxEntry,
    Prescription,
    PrescriptionItem,
)
from eprescription.services import (
    array_rows,
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
# What a new line's row is given (its id drawn, its prescription's id from the INSERT).
_LINE_COLUMNS = tuple(
    c for c in cast(Table, PrescriptionItem.__table__).c if c.name not in ("id", "prescription_id")
)


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
    """The new row for this signed payload, with its lines and its status event, and its new
    access code; or None when the number (or the access code) is taken already: signed here
    with a PIN or outside (services/external_signing.py)."""
    validity, access_code = draft.validity, codes.new_access_code()
    columns = dict(
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
    lines = [item_row(line, item) for line, item in enumerate(draft.content["items"], 1)]
    for line in lines:
        line.quantity_total = line.quantity * (1 + validity.renewals)
    if uow.session.get_bind().dialect.name == "postgresql":
        prescription = _stored_with_lines(uow, draft, columns, lines)
    else:
        prescription = _stored_if_free(uow, columns)
        if prescription is not None:
            _with_people(prescription, draft)
            set_committed_value(prescription, "items", [])
            prescription.items.extend(lines)  # inserted at commit, one statement each
            events.emit(uow, events.ISSUED, prescription)
    return None if prescription is None else (prescription, access_code)


def _with_people(prescription: Prescription, draft: prescription_drafts.Draft) -> None:
    """The new row's patient and prescriber, loaded already, and no cancellations."""
    set_committed_value(prescription, "patient", draft.patient)
    set_committed_value(prescription, "prescriber", draft.prescriber)
    set_committed_value(prescription, "cancellations", [])


def completed(
    uow: UnitOfWork,
    draft: prescription_drafts.Draft,
    content: dict,
    prescription: Prescription,
    access_code: str,
    renewal,
    acknowledged: list[dict] | None,
) -> Issued:
    """A stored prescription (store() wrote its lines and status event) with the renewal
    request it answers and its audit events, as issued."""
    number = prescription.number
    renewal_claims.fulfil(uow, renewal, prescription)
    prescription_events.record(uow, "issue", prescription)
    if acknowledged:  # the warnings the prescriber signed over, in the same transaction
        prescription_events.record(uow, "acknowledge_warnings", prescription)
    return Issued(
        prescription,
        signed_documents.as_issued(prescription, content),
        access_code,
        qr.encode(number, access_code),
        draft.rule_notes,
    )


def _stored_if_free(uow: UnitOfWork, columns: dict) -> Prescription | None:
    """The new prescription row, or None when its number (or access code) is taken already:
    INSERT … ON CONFLICT DO NOTHING RETURNING, so the unique indexes answer in the statement
    that stores it (a concurrent insert of the same number is waited for)."""
    statement = sqlite.insert(Prescription).values(**columns).on_conflict_do_nothing()
    return uow.session.scalars(statement.returning(Prescription)).one_or_none()


def _stored_with_lines(
    uow: UnitOfWork,
    draft: prescription_drafts.Draft,
    columns: dict,
    lines: list[PrescriptionItem],
) -> Prescription | None:
    """_stored_if_free on PostgreSQL, the lines and the status event in the same statement:
    INSERT … ON CONFLICT DO NOTHING RETURNING in a WITH, the lines and the outbox row
    inserted from what it returns (nothing when the number was taken), the lines' new ids
    returned with the row (a serial is drawn row by row, in the order of `lines`)."""
    event = events.entry(uow, events.ISSUED, _as_new(columns, draft))
    event.pop("prescription_id")
    given = [[getattr(line, c.name) for c in _LINE_COLUMNS] for line in lines]
    found = uow.session.execute(
        _store_statement(tuple(columns), tuple(event)),
        {f"row_{name}": value for name, value in columns.items()}
        | array_rows.values("given", _LINE_COLUMNS, given)
        | {f"event_{name}": value for name, value in event.items()},
    ).one_or_none()
    if found is None:
        return None
    prescription, line_ids = found
    _with_people(prescription, draft)
    for line, line_id in zip(lines, line_ids, strict=True):
        line.id, line.prescription_id = line_id, prescription.id
        make_transient_to_detached(line)
        uow.session.add(line)
        set_committed_value(line, "prescription", prescription)
    set_committed_value(prescription, "items", lines)
    return prescription


@lru_cache(maxsize=4)
def _store_statement(row_columns: tuple[str, ...], event_columns: tuple[str, ...]) -> Select:
    """_stored_with_lines' statement, built once (its cache key too): the row's values bound as
    row_<column>, the lines' as arrays (array_rows), the outbox row's as event_<column>."""
    table = cast(Table, Prescription.__table__)
    item_table = cast(Table, PrescriptionItem.__table__)
    outbox_table = cast(Table, EventOutboxEntry.__table__)
    stored = (
        postgresql.insert(table)
        .values({name: bindparam(f"row_{name}", type_=table.c[name].type) for name in row_columns})
        .on_conflict_do_nothing()
        .returning(*table.c)
        .cte("stored")
    )
    given = array_rows.rows("given", _LINE_COLUMNS)
    new_lines = (
        insert(item_table)
        .from_select(
            ["prescription_id", *(c.name for c in _LINE_COLUMNS)],
            select(stored.c.id, *given.c).select_from(stored.join(given, true())),
        )
        .returning(item_table.c.id)
        .cte("new_lines")
    )
    event = (bindparam(f"event_{name}", type_=outbox_table.c[name].type) for name in event_columns)
    outbox = insert(outbox_table).from_select(
        [*event_columns, "prescription_id"], select(*event, stored.c.id)
    )
    ids = select(func.array_agg(postgresql.aggregate_order_by(new_lines.c.id, new_lines.c.id)))
    return select(aliased(Prescription, stored), ids.scalar_subquery()).add_cte(outbox.cte("event"))


def _as_new(columns: dict, draft: prescription_drafts.Draft) -> Prescription:
    """The row about to be stored, as the status event describes it (no id yet)."""
    row = Prescription(**columns)
    set_committed_value(row, "prescriber", draft.prescriber)
    return row


def item_row(line: int, content: dict) -> PrescriptionItem:
    """A signed line's row (its prescription and quantity_total still unset)."""
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
        cancellation_id=None,
    )
