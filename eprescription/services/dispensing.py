"""Dispensing: what leaves the pharmacy, recorded once under the row lock, receipt signed."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import cast

from sqlalchemy import (
    Column,
    CursorResult,
    Integer,
    Select,
    Table,
    Update,
    bindparam,
    case,
    column,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from eprescription import qr
from eprescription.domain import dispensing as rules
from eprescription.domain import dispensing_periods as periods
from eprescription.domain import identifiers
from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import (
    DomainError,
    InvalidIdentifier,
    PrescriptionNotFound,
    QuantityExceeded,
    ValidationFailed,
    VersionMismatch,
)
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import DURATION_DAYS_MAX, today_of
from eprescription.domain.signed_prescription import SignedLine, SignedPrescription
from eprescription.models import (
    CompositionLine,
    Dispensation,
    DispensationLine,
    EventOutboxEntry,
    Pharmacist,
    Prescription,
    PrescriptionItem,
)
from eprescription.services import (
    access,
    array_rows,
    counter,
    counter_access,
    dispensed_packs,
    events,
    idempotency,
    pki,
    prescription_events,
    receipts,
    signed_documents,
)
from eprescription.services.uow import UnitOfWork


@dataclass(frozen=True)
class Collector:
    kind: str
    national_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class DispenseRequest:
    credentials: counter_access.Credentials
    lines: list[dispensed_packs.PackLine]
    collected_by: Collector
    if_match: int | None = None


def dispense(uow: UnitOfWork, number: str, request: DispenseRequest) -> Dispensation:
    """Record what leaves the pharmacy, exactly once, with a receipt signed by the service.

    Every check runs under the prescription's row lock, so concurrent dispensations are taken
    one after another and the sum never exceeds what the current period allows; the items'
    conditional UPDATE and the CHECK (dispensed ≤ total) back this up.
    """
    country = uow.settings.country
    pharmacist = counter.pharmacist_of(uow)
    collector = request.collected_by
    unidentified = rules.collector_identity_problem(
        collector.kind, collector.national_id, collector.name
    )
    if unidentified:
        raise ValidationFailed(
            Message("nothing_dispensed", "Nothing was dispensed: {problem}.", problem=unidentified),
            errors={"collected_by": {"national_id": [unidentified]}},
        )
    if request.credentials.qr_text is None:
        number_given = codes.validate_number(number)
        request = DispenseRequest(
            counter_access.Credentials(
                number=number_given,
                patient_nir=request.credentials.patient_nir,
                identity_confirmed=request.credentials.identity_confirmed,
                presenter_nir=counter_access.compact_presenter_nir(
                    request.credentials.presenter_nir, country
                ),
            ),
            request.lines,
            request.collected_by,
            request.if_match,
        )
    else:
        token = qr.decode(request.credentials.qr_text)
        if token.number != codes.validate_number(number):
            raise PrescriptionNotFound(access.NO_MATCH)
    found = counter_access.open_prescription(
        uow, request.credentials, access.Action.DISPENSE, for_update=True
    )
    try:
        return _dispense_locked(uow, pharmacist, found, request)
    except DomainError as error:
        counter.record_refusal(uow, found, "dispense", error)
        raise


def _dispense_locked(
    uow: UnitOfWork, pharmacist: Pharmacist, prescription: Prescription, request: DispenseRequest
) -> Dispensation:
    """dispense() once the prescription is held under its row lock: every check, then the
    dispensation, the lines' new quantities and the signed receipt."""
    now = uow.now.replace(microsecond=0)
    today = today_of(now)
    _check_version(prescription, request.if_match)
    # Every decision below is taken on what the verified documents say.
    found = signed_documents.require(uow, prescription)
    status = found.status_on(today)
    rules.check_dispensable(status, found.valid_from, today)
    _check_who_collects(uow, prescription, found, request, today)
    progress = {line.line: line.progress for line in found.lines}
    asked = rules.check_quantities(
        progress.values(), [(line.line, line.quantity) for line in request.lines]
    )
    limited = _check_periods(uow, prescription, found, asked, now)
    priced = dispensed_packs.priced(uow, found, request.lines, today)
    dispensation = _dispensation(uow, pharmacist, prescription, request, priced, progress, now)
    dispensation.payload = receipts.receipt(
        dispensation, prescription, pharmacist, priced, progress, limited
    )
    dispensation.jws = pki.sign_as_service(uow, dispensation.payload)
    _add_given(uow, prescription, status, progress, request.lines, dispensation)
    prescription_events.record(uow, "dispense", prescription)
    uow.session.flush()
    return dispensation


def _check_periods(
    uow: UnitOfWork,
    prescription: Prescription,
    found: SignedPrescription,
    asked: dict[int, int],
    now: datetime,
) -> dict[int, Message]:
    """Each line's period open and its dispensing rules kept (docs/rules.md), as signed; the
    rule that limited each line given less than the rest of its period."""
    lines = {line.line: line for line in found.lines}
    asked_rules = [(lines[number].rules, quantity) for number, quantity in sorted(asked.items())]
    return periods.check(
        asked_rules,
        start=found.valid_from,
        issued_on=found.issued_on,
        today=today_of(now),
        early_days=uow.settings.dispensing_early_days,
        running={
            rules_.progress.line: _running(uow, prescription, lines[rules_.progress.line], now)
            for rules_, _ in asked_rules
            if rules_.no_overlap
        },
    )


def _running(
    uow: UnitOfWork, prescription: Prescription, line: SignedLine, now: datetime
) -> list[periods.Running]:
    """What the patient's other prescriptions gave of the same substance as `line` (any of
    its active substances or fractions, CIS_COMPO) in the longest a line lasts, unreversed:
    one statement."""
    drug = line.content["medication"]
    codes: Select | list[str] = [drug.get("substance_code") or ""]
    if drug.get("cis"):
        codes = select(CompositionLine.substance_code).where(CompositionLine.cis == drug["cis"])
    same = or_(
        PrescriptionItem.substance_code.in_(codes),
        PrescriptionItem.cis.in_(
            select(CompositionLine.cis).where(CompositionLine.substance_code.in_(codes))
        ),
    )
    rows = uow.session.execute(
        select(
            Dispensation.dispensed_at,
            DispensationLine.quantity,
            PrescriptionItem.quantity,
            PrescriptionItem.duration_days,
        )
        .join(DispensationLine.dispensation)
        .join(PrescriptionItem, PrescriptionItem.id == DispensationLine.item_id)
        .join(Prescription, Prescription.id == PrescriptionItem.prescription_id)
        .where(
            Prescription.patient_person_id == prescription.patient_person_id,
            Prescription.id != prescription.id,
            Dispensation.reversed_at.is_(None),
            Dispensation.dispensed_at <= now,
            Dispensation.dispensed_at > now - timedelta(days=DURATION_DAYS_MAX),
            PrescriptionItem.duration_days.is_not(None),
            same,
        )
    ).all()
    return [
        periods.Running(today_of(at), periods.covered_days(given, quantity, days))
        for at, given, quantity, days in rows
        if days is not None  # the statement reads only lines with a duration
    ]


def _check_version(prescription: Prescription, if_match: int | None) -> None:
    """The version the pharmacist saw (If-Match), when they say, must be the current one."""
    if if_match is not None and if_match != prescription.version:
        raise VersionMismatch(
            f"The prescription is at version {prescription.version}, not {if_match}: "
            "scan it again before dispensing."
        )


def _check_who_collects(
    uow: UnitOfWork,
    prescription: Prescription,
    found: SignedPrescription,
    request: DispenseRequest,
    today: date,
) -> None:
    """Who is at the counter and who takes the packs away, under the pickup mode in force."""
    credentials, collector = request.credentials, request.collected_by
    collector_nir = _nir_or_none(collector.national_id, uow.settings.country)
    # With number + NIR, who is at the counter: the patient, or someone else (presenter_nir).
    presenter_nir = credentials.presenter_nir
    if presenter_nir == prescription.patient.national_id:
        presenter_nir = None
    if credentials.qr_text is None:
        counter_access.check_card(
            uow, found, prescription.patient, credentials, presenter_nir, today
        )
        mismatch = rules.collector_problem(presenter_nir, collector.kind, collector_nir)
        if mismatch:
            raise ValidationFailed(
                Message("nothing_dispensed", "Nothing was dispensed: {problem}.", problem=mismatch),
                errors={"collected_by": {"national_id": [mismatch]}},
            )
    representative = counter.representation_of(
        uow, collector_nir, prescription.patient_person_id, today
    )
    problem = rules.pickup_problem(
        found.pickup_mode,
        collector.kind,
        # The identity checked is the patient's only when nobody else is at the counter.
        credentials.identity_confirmed and presenter_nir is None,
        representative_known=representative is not None,
    )
    if problem:
        raise counter_access.pickup_refused(found.pickup_mode, problem)


def _dispensation(
    uow: UnitOfWork,
    pharmacist: Pharmacist,
    prescription: Prescription,
    request: DispenseRequest,
    priced: list[dispensed_packs.PricedPack],
    progress: dict[int, rules.LineProgress],
    now: datetime,
) -> Dispensation:
    """The new dispensation and its lines (its receipt still unsigned)."""
    collector = request.collected_by
    items = {item.line: item for item in prescription.items}
    dispensation = Dispensation(
        id=uuid.uuid4().hex,
        prescription_id=prescription.id,
        pharmacy=pharmacist.pharmacy,
        pharmacy_id=pharmacist.pharmacy_id,
        pharmacist_account_id=uow.require_account().id,
        dispensed_at=now,
        collected_by_kind=collector.kind,
        collected_by_national_id=collector.national_id,
        collected_by_name=collector.name,
        total_cents=sum(p.price.total_cents for p in priced),
        covered_cents=sum(p.price.covered_cents for p in priced),
        patient_share_cents=sum(p.price.patient_share_cents for p in priced),
        payload=b"",
        jws="",
    )
    for p in priced:
        dispensation.lines.append(
            DispensationLine(
                item_id=items[p.line].id,
                line=p.line,
                period=progress[p.line].current_period,
                cip13=p.presentation.cip13,
                substituted=p.substituted,
                quantity=p.price.quantity,
                batch=p.pack.batch,
                expiry=p.pack.expiry,
                serial=p.pack.serial,
                unit_price_cents=p.price.unit_price_cents,
                total_cents=p.price.total_cents,
                rate=p.price.rate,
                covered_cents=p.price.covered_cents,
                patient_share_cents=p.price.patient_share_cents,
            )
        )
    return dispensation


def _add_given(
    uow: UnitOfWork,
    prescription: Prescription,
    status: str,
    progress: dict[int, rules.LineProgress],
    lines: list[dispensed_packs.PackLine],
    dispensation: Dispensation,
) -> None:
    """Add the packs given to their lines, move the prescription to the state they imply and
    store the signed dispensation and its status event."""
    given = _summed(lines)
    after = rules.status_from_progress(
        replace(state, dispensed=state.dispensed + given.get(number, 0))
        for number, state in progress.items()
    )
    items = {item.line: item for item in prescription.items}
    _record_given(
        uow,
        prescription,
        {items[line_number]: quantity for line_number, quantity in given.items()},
        str(rules.transition_for_dispensing(status, after)),
        dispensation,
    )


def _nir_or_none(value: str | None, country: str) -> str | None:
    """The compact national identifier a collector gave, or None if it is not one."""
    try:
        return identifiers.validate_national_id(value, country)
    except InvalidIdentifier:
        return None


def _summed(lines: list[dispensed_packs.PackLine]) -> dict[int, int]:
    total: dict[int, int] = {}
    for line in lines:
        total[line.line] = total.get(line.line, 0) + line.quantity
    return total


def _record_given(
    uow: UnitOfWork,
    prescription: Prescription,
    given: dict[PrescriptionItem, int],
    status: str,
    dispensation: Dispensation,
) -> None:
    """Add what was given to its lines, move the prescription to `status` and its next
    version, and store the dispensation, its lines and its status event (the outbox row): one
    statement on PostgreSQL (the lines' UPDATE and the INSERTs in a WITH), on SQLite two and
    the ORM's INSERTs.

    Each line's UPDATE is conditional: it changes nothing if the line's total would be
    exceeded (belt and braces with the lock and the CHECK constraint), and a line left
    unchanged refuses the whole dispensation (its rows roll back with the transaction)."""
    session = uow.session
    version = prescription.version + 1  # under the row lock
    if session.get_bind().dialect.name == "postgresql":
        set_committed_value(prescription, "status", status)  # as its status event says
        event = events.entry(uow, events.DISPENSED, prescription, dispensation=dispensation.id)
        row = _values(dispensation)
        lines = [
            _values(line) | {"dispensation_id": dispensation.id} for line in dispensation.lines
        ]
        lines_changed, ids = session.execute(
            _record_statement(tuple(row), tuple(lines[0]), tuple(event)),
            array_rows.values(
                "amounts", _AMOUNT_COLUMNS, [(item.id, amount) for item, amount in given.items()]
            )
            | {"state_id": prescription.id, "state_status": status, "state_version": version}
            | {f"row_{name}": value for name, value in row.items()}
            | array_rows.values(
                "given", _line_columns(tuple(lines[0])), [list(line.values()) for line in lines]
            )
            | {f"event_{name}": value for name, value in event.items()},
        ).one()
    else:
        items = cast(Table, PrescriptionItem.__table__)
        quantity = case({item.id: amount for item, amount in given.items()}, value=items.c.id)
        changed = session.execute(
            update(items)
            .where(items.c.id.in_([item.id for item in given]))
            .where(items.c.dispensed_quantity + quantity <= items.c.quantity_total)
            .values(dispensed_quantity=items.c.dispensed_quantity + quantity)
        )
        lines_changed, ids = cast(CursorResult, changed).rowcount, None
        session.execute(
            update(cast(Table, Prescription.__table__))
            .where(Prescription.id == prescription.id)
            .values(status=status, version=version)
        )
    if lines_changed != len(given):
        lines_given = ", ".join(str(item.line) for item in given)
        raise QuantityExceeded(f"Lines {lines_given}: this would go beyond what was prescribed.")
    for item, amount in given.items():
        set_committed_value(item, "dispensed_quantity", item.dispensed_quantity + amount)
    set_committed_value(prescription, "status", status)
    set_committed_value(prescription, "version", version)
    if ids is None:  # inserted at the flush
        session.add(dispensation)
        dispensation.prescription = prescription  # now among its loaded dispensations too
        events.emit(uow, events.DISPENSED, prescription, dispensation=dispensation.id)
    else:
        _attach(uow, prescription, dispensation, ids)


def _values(row: object) -> dict[str, object]:
    """The new row's column values by column name (an unset one set to None, as the INSERT
    leaves it), its unset serial id left to the database."""
    values = {}
    for prop in inspect(type(row)).column_attrs:
        column = prop.columns[0]
        if prop.key not in vars(row) and not column.primary_key:
            setattr(row, prop.key, None)
        if prop.key in vars(row):
            values[column.name] = getattr(row, prop.key)
    return values


_ITEMS = cast(Table, PrescriptionItem.__table__)
# What each line is given: (its row id, the quantity), bound as arrays.
_AMOUNT_COLUMNS = (_ITEMS.c.id, column("amount", Integer))


def _line_columns(names: tuple[str, ...]) -> tuple[Column, ...]:
    return tuple(cast(Table, DispensationLine.__table__).c[name] for name in names)


@lru_cache(maxsize=4)
def _record_statement(
    row_columns: tuple[str, ...], line_columns: tuple[str, ...], event_columns: tuple[str, ...]
) -> Update:
    """_record_given's statement on PostgreSQL, built once (its cache key too): the lines'
    conditional UPDATE from the bound amounts, the dispensation (row_<column>), its lines
    (arrays) and its status event (event_<column>) INSERTed in its WITH, the prescription's
    new status and version (state_<column>): no name is a column's, which an UPDATE would
    take for one more value to SET; returning how many lines changed and the new lines' ids in
    their order (a serial is drawn row by row)."""
    amounts = array_rows.rows("amounts", _AMOUNT_COLUMNS)
    changed = (
        update(_ITEMS)
        .where(_ITEMS.c.id == amounts.c.id)
        .where(_ITEMS.c.dispensed_quantity + amounts.c.amount <= _ITEMS.c.quantity_total)
        .values(dispensed_quantity=_ITEMS.c.dispensed_quantity + amounts.c.amount)
        .returning(_ITEMS.c.id)
        .cte("changed")
    )
    table = cast(Table, Dispensation.__table__)
    stored = (
        insert(table)
        .values({name: bindparam(f"row_{name}", type_=table.c[name].type) for name in row_columns})
        .returning(table.c.id)
        .cte("stored")
    )
    line_table = cast(Table, DispensationLine.__table__)
    given = array_rows.rows("given", _line_columns(line_columns))
    new_lines = (
        insert(line_table)
        .from_select(list(line_columns), select(*given.c))
        .returning(line_table.c.id)
        .cte("new_lines")
    )
    outbox_table = cast(Table, EventOutboxEntry.__table__)
    event = insert(outbox_table).values(
        {
            name: bindparam(f"event_{name}", type_=outbox_table.c[name].type)
            for name in event_columns
        }
    )
    prescriptions_table = cast(Table, Prescription.__table__)
    return (
        update(prescriptions_table)
        .where(prescriptions_table.c.id == bindparam("state_id"))
        .values(status=bindparam("state_status"), version=bindparam("state_version"))
        .add_cte(stored, event.cte("event"))
        .returning(
            select(func.count()).select_from(changed).scalar_subquery(),
            select(
                func.array_agg(aggregate_order_by(new_lines.c.id, new_lines.c.id))
            ).scalar_subquery(),
        )
    )


def _attach(
    uow: UnitOfWork, prescription: Prescription, dispensation: Dispensation, line_ids: list[int]
) -> None:
    """The dispensation and its lines, stored by _stored_with, as the session's rows, and
    among the prescription's dispensations when those are loaded."""
    for line, line_id in zip(dispensation.lines, line_ids, strict=True):
        line.id, line.dispensation_id = line_id, dispensation.id
        make_transient_to_detached(line)
    make_transient_to_detached(dispensation)
    uow.session.add(dispensation)
    set_committed_value(dispensation, "prescription", prescription)
    if "dispensations" not in inspect(prescription).unloaded:
        given = [*prescription.dispensations, dispensation]
        set_committed_value(prescription, "dispensations", given)


def dispense_once(
    uow: UnitOfWork,
    number: str,
    request: DispenseRequest,
    *,
    idempotency_key: str | None,
    scope: str,
    body: bytes,
    status: int,
    render: Callable[[receipts.Receipt], bytes],
) -> idempotency.StoredResponse:
    """dispense() behind an Idempotency-Key: a retry gets the first answer byte for byte, and
    the same key with another body is refused.

    The key is claimed first, in this unit of work: a concurrent call with the same key waits
    for this one to end, then replays its answer (or, when this one was refused and so rolled
    back, its claim with it, runs in its turn). `render` turns the dispensation's description
    into the response body, stored with the dispensation and the caller's `status`, so the
    answer and what it answers exist together.
    """
    return idempotency.answer_once(
        uow,
        idempotency.Retry(idempotency_key, scope, body),
        status,
        lambda: render(receipts.describe(dispense(uow, number, request))),
    )
