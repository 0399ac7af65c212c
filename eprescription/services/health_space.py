"""The patient's health space: their prescriptions and those of the people they represent, the
QR code, the pickup mode, representatives and the access log; each use case one transaction."""

import base64
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import NoReturn

from sqlalchemy import (
    Integer,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased, contains_eager, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from eprescription.domain import health_space as rules
from eprescription.domain import identifiers
from eprescription.domain import prescription_codes as codes
from eprescription.domain.errors import (
    InvalidIdentifier,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from eprescription.domain.health_space import RepresentativeKind, View
from eprescription.domain.prescriptions import OPEN_STATES, Action, Problems, Status
from eprescription.domain.prescriptions import ensure_allowed as ensure_state_allows
from eprescription.domain.signed_prescription import SignedPrescription
from eprescription.models import (
    Account,
    AuditEvent,
    Dispensation,
    DispensationLine,
    GenericGroup,
    GenericGroupMember,
    Person,
    Prescription,
    PrescriptionItem,
    Presentation,
    Product,
    Representative,
    Role,
)
from eprescription.services import (
    access,
    audit_seal,
    prescriptions,
    representation,
    signed_documents,
)
from eprescription.services.uow import UnitOfWork

OBJECT_TYPE = prescriptions.OBJECT_TYPE
REPRESENTATIVE_OBJECT = "representative"
ACCESS_LOG_OBJECT = "access_log"
# "1 place de la Gare, 75010 Paris" → "Paris"; without a postcode, the part after the last comma.
POSTCODE_TOWN = re.compile(r"(?:^|[\s,])\d{5}\s+([^,\d][^,]*)$")
NO_SUCH_PERSON = (
    "no person with this national identifier and this family name is recorded; check both "
    "on their card (the person needs to be registered with the service)"
)


@dataclass(frozen=True)
class Page:
    items: list
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class LogEntry:
    """One line of "who looked at my prescriptions"."""

    sequence: int
    occurred_at: datetime
    actor_name: str
    actor_role: str
    organisation: str
    action: str
    object_type: str
    object_id: str
    outcome: str
    what: str
    # Once sealed: its place in the global log, its leaf bytes and its RFC 9162 inclusion
    # proof against the newest signed head (base64), for anyone to check (docs/health-space.md).
    leaf_index: int | None = None
    leaf_data: str | None = None
    inclusion_proof: dict | None = None


@dataclass(frozen=True)
class Representatives:
    named: list[dict]  # the people this patient named (ongoing first), revoked ones kept
    represented: list[dict]  # the people this account may act for, now


def _today(uow: UnitOfWork) -> date:
    return prescriptions.today_of(uow.now)


def _person_id(account: Account | None) -> int:
    if account is None or account.role is not Role.PATIENT or account.person_id is None:
        raise PermissionDenied("The health space is for patients.")
    return account.person_id


def _check_page(problems: Problems, page: int, page_size: int) -> None:
    if not 1 <= page_size <= rules.PAGE_SIZE_MAX:
        problems.add("page_size", f"between 1 and {rules.PAGE_SIZE_MAX}")
    if page < 1:
        problems.add("page", "at least 1")


def _raise(problems: Problems) -> None:
    if problems:
        _refuse(problems)


def _refuse(problems: Problems) -> NoReturn:
    raise ValidationFailed(
        "Some fields are not valid: " + ", ".join(map(str, problems.errors)),
        errors=problems.errors,
    )


# -- who may see what ------------------------------------------------------------------------------


def _open(
    uow: UnitOfWork, number: str, action: access.Action, today: date
) -> access.Opened[Prescription]:
    """The prescription opened for `action` by the access rule (a patient's account only)."""
    _person_id(uow.account)
    return access.open_prescription(uow, number, action, today)


# -- prescriptions ---------------------------------------------------------------------------------


def _view_condition(view: View, today: date):
    open_now = and_(
        Prescription.status.in_([str(s) for s in OPEN_STATES]), Prescription.valid_until >= today
    )
    return open_now if view is View.ACTIVE else not_(open_now)


def list_prescriptions(
    uow: UnitOfWork,
    *,
    view: str = View.ACTIVE,
    page: int = 1,
    page_size: int = 20,
) -> Page:
    """The account's prescriptions and those of the people it represents, newest first;
    `active` (still to collect) or `history` (expired, completed, cancelled). Each one listed
    is audited."""
    session = uow.session
    person_id = _person_id(uow.account)
    today = _today(uow)
    problems = Problems()
    chosen_view = None
    try:
        chosen_view = View(view or View.ACTIVE)
    except ValueError:
        problems.add("status", "one of " + ", ".join(View))
    _check_page(problems, page, page_size)
    if problems or chosen_view is None:  # None only when a problem was recorded
        _refuse(problems)
    # The page, its total (a window count) and each row's parts, in one statement; the people
    # represented today are a subquery of it.
    patients = union_all(
        select(literal(person_id, Integer).label("id")),
        select(Representative.patient_person_id.label("id")).where(
            Representative.representative_person_id == person_id, representation.ongoing(today)
        ),
    ).subquery()
    conditions = [
        Prescription.patient_person_id.in_(select(patients.c.id)),
        _view_condition(chosen_view, today),
    ]
    found_rows = (
        session.execute(
            select(Prescription, func.count().over().label("total"))
            .where(*conditions)
            .order_by(Prescription.issued_at.desc(), Prescription.id.desc())
            .limit(page_size)
            .offset((page - 1) * page_size)
            .options(*signed_documents.PARTS)
        )
        .unique()
        .all()
    )
    rows = [row for row, _ in found_rows]
    total = found_rows[0][1] if found_rows else 0
    if not rows and page > 1:  # past the end: the window had nothing to count
        total = session.scalar(select(func.count(Prescription.id)).where(*conditions)) or 0
    loaded = given_of(uow, rows)
    checked = signed_documents.check(uow, rows, loaded.by_prescription)
    given = dispensations([row for row in rows if checked[row.id].verified], loaded)
    cards = []
    for prescription in rows:
        own = prescription.patient_person_id == person_id
        relation = access.Relation.PATIENT if own else access.Relation.REPRESENTATIVE
        uow.audit(
            "list",
            OBJECT_TYPE,
            prescription.number,
            patient_person_id=prescription.patient_person_id,
            actor=access.audit_actor(uow, relation),
        )
        found = checked[prescription.id]
        cards.append(card(found, today, relation, given.get(prescription.id, [])))
    return Page(cards, total, page, page_size)


def get_prescription(uow: UnitOfWork, number: str) -> dict:
    """One prescription with, while it can be collected, its QR text; the read and the QR
    display are audited."""
    today = _today(uow)
    opened = _open(uow, number, access.Action.READ, today)
    prescription, relation = opened.object, opened.relation
    actor = access.audit_actor(uow, relation)
    loaded = given_of(uow, [prescription])
    found = signed_documents.require(uow, prescription, "read", loaded.by_prescription)
    given = dispensations([prescription], loaded).get(prescription.id, [])
    view = card(found, today, relation, given)
    uow.audit(
        "read",
        OBJECT_TYPE,
        prescription.number,
        patient_person_id=prescription.patient_person_id,
        actor=actor,
    )
    view["qr_text"] = None
    if view["view"] == View.ACTIVE:
        view["qr_text"] = prescriptions.open_qr_text(prescription, uow.settings.key_encryption_key)
        uow.audit(
            "view_qr",
            OBJECT_TYPE,
            prescription.number,
            patient_person_id=prescription.patient_person_id,
            actor=actor,
        )
    return view


def qr_text(uow: UnitOfWork, number: str) -> str:
    """The QR text, for the patient and their representatives (the patient's state rules)."""
    today = _today(uow)
    opened = _open(uow, number, access.Action.HEALTH_SPACE_QR, today)
    prescription = opened.object
    found = signed_documents.require(uow, prescription, "view_qr")
    ensure_state_allows("patient", Action.VIEW_QR, found.status_on(today))
    text = prescriptions.open_qr_text(prescription, uow.settings.key_encryption_key)
    uow.audit(
        "view_qr",
        OBJECT_TYPE,
        prescription.number,
        patient_person_id=prescription.patient_person_id,
        actor=access.audit_actor(uow, opened.relation),
    )
    return text


def change_pickup_mode(uow: UnitOfWork, number: str, pickup_mode: str | None) -> dict:
    """The patient chooses who may collect an open prescription (public, private, authorised);
    the signed content keeps the prescriber's choice, the patient's is a document the service
    signs (the stored mode says the same)."""
    today = _today(uow)
    prescription = _open(uow, number, access.Action.CHANGE_PICKUP_MODE, today).object
    loaded = given_of(uow, [prescription])
    found = signed_documents.require(
        uow, prescription, "change_pickup_mode", loaded.by_prescription
    )
    mode = rules.pickup_change(found.status_on(today), pickup_mode)
    if str(mode) != found.pickup_mode:
        signed_documents.sign_pickup_choice(uow, prescription, str(mode))
        prescription.version += 1
        uow.audit(
            "change_pickup_mode",
            OBJECT_TYPE,
            prescription.number,
            patient_person_id=prescription.patient_person_id,
        )
        found = signed_documents.check_one(uow, prescription, loaded.by_prescription)
    given = dispensations([prescription], loaded).get(prescription.id, [])
    return card(found, today, access.Relation.PATIENT, given)


def card(found: SignedPrescription, today: date, relation: str, given: list[dict]) -> dict:
    """What the health space shows of a prescription: the verified signed content in plain
    words, what is left to collect, days left, whose it is, and what was given (from
    `dispensations`); only its number and why when it cannot be verified."""
    if not found.verified:
        return {
            **prescriptions.describe_unverified(found),
            "relation": relation,
            "view": str(View.HISTORY),  # nothing to collect from it
        }
    signed = prescriptions.describe(found, today)
    status = Status(signed["status"])
    lines = []
    progresses = []
    for item in signed["items"]:
        progress = rules.line_progress(
            item["quantity"],
            found.renewals,
            item["dispensed_quantity"],
            item["status"] == "cancelled",
        )
        progresses.append(progress)
        medication = item["medication"]
        lines.append(
            {
                "line": item["line"],
                "medication": _medication_words(
                    medication["name"], medication.get("strength"), medication.get("form")
                ),
                "dosage": item["dosage"]["text"],
                "quantity": item["quantity"],
                "quantity_text": rules.packs(item["quantity"]) + " per supply",
                "substitutable": item["substitutable"],
                "ald": item["ald"],
                "status": item["status"],
                "total_quantity": progress.total,
                "dispensed_quantity": progress.dispensed,
                "remaining_quantity": progress.remaining,
                "remaining_now": progress.remaining_in_period,
                "remaining_text": rules.remaining_words(progress),
            }
        )
    valid_from, valid_until = found.valid_from, found.valid_until
    patient, prescriber = signed["patient"], signed["prescriber"]
    return {
        "id": signed["id"],
        "number": signed["number"],
        "verified": True,
        "status": str(status),
        "view": str(rules.view_of(status)),
        "relation": relation,
        "patient": {
            "given_name": patient["given_name"],
            "family_name": patient["family_name"],
            "name": f"{patient['given_name']} {patient['family_name']}",
        },
        "prescriber": {
            **prescriber,
            "name": f"Dr {prescriber['given_name']} {prescriber['family_name']}",
        },
        "issued_at": signed["issued_at"],
        "issued_on": signed["issued_at"][:10],
        "valid_from": signed["valid_from"],
        "valid_until": signed["valid_until"],
        "days_left": rules.days_left(valid_until, today),
        "validity_text": rules.validity_words(valid_from, valid_until, today),
        "renewals": signed["renewals"],
        "renewal_in_progress": rules.renewal_in_progress(progresses),
        "pickup_mode": found.pickup_mode,
        "pickup_mode_prescribed": signed["pickup_mode"],
        "pickup_text": rules.PICKUP_WORDS.get(found.pickup_mode, found.pickup_mode),
        "remaining_quantity": sum(progress.remaining for progress in progresses),
        "lines": lines,
        "dispensations": given,
        "version": found.version,
    }


def _medication_words(name: str, strength: str | None, form: str | None) -> str:
    """A product by its name; an active substance with its strength and form."""
    return f"{name} {strength}, {form}" if strength else name


# -- what was given --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Given:
    """The dispensations of some prescriptions (as signed_documents.dispensations_of gives
    them), the catalog's presentation of each pack given (its product loaded), and for each
    substituted line the label of a generic group (CIS_GENER) that the prescribed product and
    the one given share, the ground of the substitution."""

    by_prescription: signed_documents.Dispensations
    packs: dict[str, Presentation]  # by CIP13
    shared_groups: dict[int, str | None]  # by dispensation line id


def given_of(uow: UnitOfWork, rows: list[Prescription]) -> Given:
    """What was given from these prescriptions: one statement (a row per line given) however
    many prescriptions, dispensations and lines."""
    by_prescription: signed_documents.Dispensations = {row.id: [] for row in rows}
    packs: dict[str, Presentation] = {}
    shared: dict[int, str | None] = {}
    if not rows:
        return Given(by_prescription, packs, shared)
    found = uow.session.execute(_given_statement(), {"ids": list(by_prescription)}).unique()
    dispensations_found = {}
    for dispensation, line, presentation, product, label in found:
        dispensations_found[dispensation.id] = dispensation
        if presentation is not None:
            set_committed_value(presentation, "product", product)
            packs[presentation.cip13] = presentation
        shared[line.id] = label
    for dispensation in sorted(dispensations_found.values(), key=Dispensation.chronological_key):
        by_prescription[dispensation.prescription_id].append(dispensation)
    return Given(by_prescription, packs, shared)


@cache
def _given_statement() -> Select:
    """given_of's statement, built once (its aliases cost milliseconds to build each time)."""
    prescribed = aliased(PrescriptionItem)
    member_prescribed, member_given = aliased(GenericGroupMember), aliased(GenericGroupMember)
    shared_label = (
        select(GenericGroup.label)
        .join(member_prescribed, member_prescribed.group_id == GenericGroup.id)
        .join(member_given, member_given.group_id == GenericGroup.id)
        .where(member_prescribed.cis == prescribed.cis, member_given.cis == Presentation.cis)
        .order_by(GenericGroup.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            Dispensation,
            DispensationLine,
            Presentation,
            Product,
            case((DispensationLine.substituted, shared_label), else_=None),
        )
        .join(Dispensation.lines)
        .join(Dispensation.pharmacy)
        .join(prescribed, prescribed.id == DispensationLine.item_id)
        .outerjoin(Presentation, Presentation.cip13 == DispensationLine.cip13)
        .outerjoin(Product, Product.cis == Presentation.cis)
        .where(Dispensation.prescription_id.in_(bindparam("ids", expanding=True)))
        .options(contains_eager(Dispensation.lines), contains_eager(Dispensation.pharmacy))
    )


def dispensations(rows: list[Prescription], given: Given) -> dict[int, list[dict]]:
    """Every dispensation of these verified prescriptions (from `given`, checked against their
    receipts), oldest first, by prescription id: pharmacy, packs given and why substituted,
    amounts, reversal."""
    items = {item.id: item for prescription in rows for item in prescription.items}
    views: dict[int, list[dict]] = defaultdict(list)
    for prescription in rows:
        for row in given.by_prescription.get(prescription.id, []):
            views[row.prescription_id].append(_dispensation_view(row, items, given))
    return views


def _dispensation_view(row: Dispensation, items: dict, given: Given) -> dict:
    pharmacy = row.pharmacy
    lines = []
    for line in row.lines:
        item, pack = items[line.item_id], given.packs[line.cip13]
        substitution = None
        if line.substituted:
            substitution = {
                "generic_group": given.shared_groups.get(line.id),
                "line_substitutable": item.substitutable,
            }
        lines.append(
            {
                "line": line.line,
                "period": line.period,
                "prescribed": _medication_words(item.medication_name, item.strength, item.form),
                "product": {"name": pack.product.name, "cip13": line.cip13, "pack": pack.label},
                "quantity": line.quantity,
                "batch": line.batch,
                "expiry": line.expiry,
                "substituted": line.substituted,
                "substitution": substitution,
                "unit_price_cents": line.unit_price_cents,
                "total_cents": line.total_cents,
                "reimbursement_rate": line.rate,
                "covered_cents": line.covered_cents,
                "patient_share_cents": line.patient_share_cents,
            }
        )
    return {
        "id": row.id,
        "dispensed_at": row.dispensed_at,
        "pharmacy": {
            "name": pharmacy.name,
            "town": town_of(pharmacy.address),
            "finess": pharmacy.finess,
        },
        "lines": lines,
        # Who took the packs away: the kind and the name the pharmacy wrote (never an NIR).
        "collected_by": {"kind": row.collected_by_kind, "name": row.collected_by_name},
        "total_cents": row.total_cents,
        "covered_cents": row.covered_cents,
        "patient_share_cents": row.patient_share_cents,
        "reversed": row.reversed_at is not None,
        "reversed_at": row.reversed_at,
        "reversal_reason": row.reversal_reason,
    }


def town_of(address: str) -> str:
    """The town of a pharmacy's address as recorded (no separate column): after the postcode,
    else after the last comma; empty when it cannot be told."""
    address = " ".join((address or "").split())
    found = POSTCODE_TOWN.search(address)
    if found:
        return found.group(1).strip()
    return address.rsplit(",", 1)[1].strip() if "," in address else ""


# -- the access log --------------------------------------------------------------------------------


def access_log(uow: UnitOfWork, *, page: int = 1, page_size: int = 20) -> Page:
    """Every audited access by others to the patient's data (prescriptions, dispensations,
    representatives), newest first. The patient's own actions are left out: they did them."""
    session = uow.session
    person_id = _person_id(uow.account)
    problems = Problems()
    _check_page(problems, page, page_size)
    _raise(problems)
    own_accounts = select(Account.id).where(
        Account.person_id == person_id, Account.role == Role.PATIENT
    )
    conditions = [
        AuditEvent.patient_person_id == person_id,
        AuditEvent.object_type != ACCESS_LOG_OBJECT,  # reading the log is not news
        or_(
            AuditEvent.actor_account_id.is_(None),
            AuditEvent.actor_account_id.not_in(own_accounts),
        ),
    ]
    total = session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    actor_account, actor_person = aliased(Account), aliased(Person)
    rows = session.execute(
        select(AuditEvent, actor_account.username, actor_person)
        .outerjoin(actor_account, actor_account.id == AuditEvent.actor_account_id)
        .outerjoin(actor_person, actor_person.id == actor_account.person_id)
        .where(*conditions)
        .order_by(AuditEvent.chain_seq.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    proofs = audit_seal.inclusions(uow, [event for event, _username, _person in rows])
    entries = [
        _entry(event, username, person, proofs.get(event.id)) for event, username, person in rows
    ]
    uow.audit("read", ACCESS_LOG_OBJECT, patient_person_id=person_id)
    return Page(entries, total, page, page_size)


def _entry(
    event: AuditEvent,
    username: str | None,
    person: Person | None,
    proof: audit_seal.Inclusion | None,
) -> LogEntry:
    if person is not None:
        name = person.full_name
        if event.actor_role == "prescriber":
            name = f"Dr {name}"
    elif event.actor_role == "operator":
        name = "Service operator"
    else:
        name = username or "unknown account"
    object_id = event.object_id
    if event.object_type == OBJECT_TYPE and object_id:
        object_id = codes.display_number(object_id)
    return LogEntry(
        sequence=event.id,
        occurred_at=event.occurred_at,
        actor_name=name,
        actor_role=rules.ROLE_WORDS.get(event.actor_role, event.actor_role),
        organisation=event.organisation,
        action=event.action,
        object_type=event.object_type,
        object_id=object_id,
        outcome=event.outcome,
        what=rules.action_words(event.action, event.object_type, object_id, event.outcome),
        leaf_index=proof.leaf_index if proof else None,
        leaf_data=base64.b64encode(proof.leaf_data).decode() if proof else None,
        inclusion_proof=(
            {"tree_size": proof.tree_size, "hashes": [audit_seal.b64(h) for h in proof.hashes]}
            if proof
            else None
        ),
    )


# -- representatives -------------------------------------------------------------------------------


def representatives(uow: UnitOfWork) -> Representatives:
    """Whom the patient named (ongoing first, then ended), and whom the account represents."""
    person_id = _person_id(uow.account)
    today = _today(uow)
    named = uow.session.scalars(
        select(Representative)
        .where(Representative.patient_person_id == person_id)
        .order_by(Representative.created_at.desc(), Representative.id.desc())
        .options(selectinload(Representative.representative))
    ).all()
    named_views = sorted(
        (representative_view(row, today, row.representative) for row in named),
        key=lambda view: not view["active"],
    )
    represented = [
        representative_view(row, today, row.patient)
        for row in representation.represented(uow, person_id, today).values()
    ]
    return Representatives(named_views, represented)


def representative_view(row: Representative, today: date, person: Person) -> dict:
    """A representation as shown: the other person's name (never their identifier)."""
    return {
        "id": row.id,
        "name": person.full_name,
        "kind": row.kind,
        "valid_until": row.valid_until,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "active": row.is_active_on(today),
        "revocable": row.kind == RepresentativeKind.AUTHORISED and row.revoked_at is None,
    }


def add_representative(
    uow: UnitOfWork,
    *,
    nir: str | None,
    family_name: str | None,
    valid_until: date | None = None,
) -> dict:
    """Name a recorded person (national identifier and family name, both as on their card) who
    may see and collect the patient's prescriptions, until `valid_until` if given.

    Both must match: the identifier alone would let anyone learn who holds a number.
    """
    session, now = uow.session, uow.now
    person_id = _person_id(uow.account)
    today = _today(uow)
    problems = Problems()
    representative = _named_person(uow, problems, nir, family_name)
    rules.check_representative(
        problems,
        patient_person_id=person_id,
        representative_person_id=representative.id if representative else None,
        valid_until=valid_until,
        today=today,
    )
    if problems or representative is None:  # None only when a problem was recorded
        _refuse(problems)
    _end_lapsed_or_refuse(uow, person_id, representative.id, today)
    row = Representative(
        patient_person_id=person_id,
        representative=representative,
        kind=str(RepresentativeKind.AUTHORISED),
        valid_until=valid_until,
        created_at=now,
        created_by_account_id=uow.require_account().id,
    )
    session.add(row)
    session.flush()
    uow.audit("grant", REPRESENTATIVE_OBJECT, str(row.id), patient_person_id=person_id)
    return representative_view(row, today, representative)


def _named_person(uow: UnitOfWork, problems, nir, family_name) -> Person | None:
    try:
        national_id = identifiers.validate_national_id(nir, uow.settings.country)
    except InvalidIdentifier as error:
        problems.add("nir", error.detail)
        return None
    person = uow.session.scalar(select(Person).where(Person.national_id == national_id))
    typed = " ".join((family_name or "").split()).casefold()
    if not typed:
        problems.add("family_name", "the family name is required, as on their card")
        return None
    if person is None or person.family_name.casefold() != typed:
        problems.add("nir", NO_SUCH_PERSON)
        return None
    return person


def _end_lapsed_or_refuse(
    uow: UnitOfWork, patient_id: int, representative_id: int, today: date
) -> None:
    """Refuse a duplicate; an ongoing row past its end date is closed so a new one can start."""
    ongoing = uow.session.scalar(
        select(Representative).where(
            Representative.patient_person_id == patient_id,
            Representative.representative_person_id == representative_id,
            Representative.revoked_at.is_(None),
        )
    )
    if ongoing is None:
        return
    rules.refuse_duplicate(ongoing.is_active_on(today))
    ongoing.revoked_at = uow.now
    uow.session.flush()


def revoke_representative(uow: UnitOfWork, representative_id: int) -> dict:
    """End a representation the patient made, at once (their next request is refused)."""
    person_id = _person_id(uow.account)
    row = uow.session.get(Representative, representative_id)
    if row is None or row.patient_person_id != person_id:
        raise NotFound("You named no such representative.")
    if row.kind != RepresentativeKind.AUTHORISED:
        raise PermissionDenied(
            "A parent's access was recorded by an administrator: ask them to end it."
        )
    if row.revoked_at is None:
        row.revoked_at = uow.now
        row.revoked_by_account_id = uow.require_account().id
        uow.audit("revoke", REPRESENTATIVE_OBJECT, str(row.id), patient_person_id=person_id)
    return representative_view(row, _today(uow), row.representative)


def record_parent(
    uow: UnitOfWork,
    *,
    child_nir: str,
    parent_nir: str,
    valid_until: date | None = None,
) -> Representative:
    """An administrator records a parent of a minor (at the command line, after checking the
    family record book or a court decision): until the child's 18th birthday unless earlier."""
    session, now = uow.session, uow.now
    today = _today(uow)
    problems = Problems()
    people: dict[str, Person | None] = {}
    for field, value in (("child_nir", child_nir), ("parent_nir", parent_nir)):
        try:
            national_id = identifiers.validate_national_id(value, uow.settings.country)
        except InvalidIdentifier as error:
            problems.add(field, error.detail)
            continue
        people[field] = session.scalar(select(Person).where(Person.national_id == national_id))
        if people[field] is None:
            problems.add(field, "no person is recorded with this national identifier")
    child, parent = people.get("child_nir"), people.get("parent_nir")
    if child is not None and not rules.is_minor(child.birth_date, today):
        problems.add("child_nir", "this person is not a minor (18 or older, or no birth date)")
    if child is not None and parent is not None and child.id == parent.id:
        problems.add("parent_nir", "the parent and the child are the same person")
    if child is not None and child.birth_date is not None:
        last_day = rules.coming_of_age(child.birth_date) - timedelta(days=1)
        if valid_until is not None and valid_until > last_day:
            problems.add("valid_until", f"a parent's access ends by the 18th birthday ({last_day})")
        valid_until = valid_until or last_day
    if valid_until is not None and valid_until < today:
        problems.add("valid_until", "the end date is in the past")
    if problems or child is None or parent is None:  # None only when a problem was recorded
        _refuse(problems)
    _end_lapsed_or_refuse(uow, child.id, parent.id, today)
    row = Representative(
        patient=child,
        representative=parent,
        kind=str(RepresentativeKind.PARENT),
        valid_until=valid_until,
        created_at=now,
    )
    session.add(row)
    session.flush()
    uow.audit("grant", REPRESENTATIVE_OBJECT, str(row.id), patient_person_id=child.id)
    return row


def end_by_administrator(uow: UnitOfWork, representative_id: int) -> Representative:
    """An administrator ends any representation (a parent's included), at once."""
    row = uow.session.get(Representative, representative_id)
    if row is None:
        raise NotFound(f"No representation has the id {representative_id}.")
    if row.revoked_at is None:
        row.revoked_at = uow.now
        uow.audit(
            "revoke", REPRESENTATIVE_OBJECT, str(row.id), patient_person_id=row.patient_person_id
        )
    return row
