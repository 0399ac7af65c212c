"""The health space's prescriptions (own and represented): list, one, QR, pickup mode."""

from dataclasses import replace
from datetime import date

from sqlalchemy import (
    Integer,
    and_,
    literal,
    not_,
    select,
    union_all,
)

from eprescription.domain import health_space as rules
from eprescription.domain.health_space import View
from eprescription.domain.prescriptions import OPEN_STATES, Action, Problems, today_of
from eprescription.domain.prescriptions import ensure_allowed as ensure_state_allows
from eprescription.models import (
    Prescription,
    Representative,
)
from eprescription.services import (
    access,
    given_dispensations,
    paging,
    patient_account,
    patient_cards,
    prescription_events,
    prescription_qr,
    representation,
    signed_documents,
)
from eprescription.services.uow import UnitOfWork


def _open(
    uow: UnitOfWork, number: str, action: access.Action, today: date
) -> access.Opened[Prescription]:
    """The prescription opened for `action` by the access rule (a patient's account only)."""
    patient_account.patient_person_id(uow.account)
    return access.open_prescription(uow, number, action, today)


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
) -> paging.Page:
    """The account's prescriptions and those of the people it represents, newest first;
    `active` (still to collect) or `history` (expired, completed, cancelled). Each one listed
    is audited."""
    person_id = patient_account.patient_person_id(uow.account)
    today = today_of(uow.now)
    problems = Problems()
    chosen_view = None
    try:
        chosen_view = View(view or View.ACTIVE)
    except ValueError:
        problems.add("status", "one of " + ", ".join(View))
    paging.check_page(problems, page, page_size)
    if problems or chosen_view is None:  # None only when a problem was recorded
        raise problems.refusal()
    # The people represented today are a subquery of the page's one statement.
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
    rows, total = paging.newest_prescriptions(uow, conditions, page, page_size)
    loaded = given_dispensations.given_of(uow, rows)
    checked = signed_documents.check(uow, rows, loaded.by_prescription)
    given = given_dispensations.dispensations(
        [row for row in rows if checked[row.id].verified], loaded
    )
    cards = []
    for prescription in rows:
        own = prescription.patient_person_id == person_id
        relation = access.Relation.PATIENT if own else access.Relation.REPRESENTATIVE
        prescription_events.record(
            uow,
            "list",
            prescription,
            actor=access.audit_actor(uow, relation),
        )
        found = checked[prescription.id]
        cards.append(patient_cards.card(found, today, relation, given.get(prescription.id, [])))
    return paging.Page(cards, total, page, page_size)


def get_prescription(uow: UnitOfWork, number: str) -> patient_cards.Card:
    """One prescription with, while it can be collected, its QR text; the read and the QR
    display are audited."""
    today = today_of(uow.now)
    opened = _open(uow, number, access.Action.READ, today)
    prescription, relation = opened.object, opened.relation
    actor = access.audit_actor(uow, relation)
    loaded = given_dispensations.given_of(uow, [prescription])
    found = signed_documents.require(uow, prescription, "read", loaded.by_prescription)
    given = given_dispensations.dispensations([prescription], loaded).get(prescription.id, [])
    view = patient_cards.verified_card(found, today, relation, given)
    prescription_events.record(uow, "read", prescription, actor=actor)
    if view.view != View.ACTIVE:
        return view
    qr_text = prescription_qr.open_qr_text(prescription, uow.settings.keyring)
    prescription_events.record(uow, "view_qr", prescription, actor=actor)
    return replace(view, qr_text=qr_text)


def qr_text(uow: UnitOfWork, number: str) -> str:
    """The QR text, for the patient and their representatives (the patient's state rules)."""
    today = today_of(uow.now)
    opened = _open(uow, number, access.Action.HEALTH_SPACE_QR, today)
    prescription = opened.object
    found = signed_documents.require(uow, prescription, "view_qr")
    ensure_state_allows("patient", Action.VIEW_QR, found.status_on(today))
    text = prescription_qr.open_qr_text(prescription, uow.settings.keyring)
    prescription_events.record_opened(uow, "view_qr", opened)
    return text


def change_pickup_mode(uow: UnitOfWork, number: str, pickup_mode: str | None) -> patient_cards.Card:
    """The patient chooses who may collect an open prescription (public, private, authorised);
    the signed content keeps the prescriber's choice, the patient's is a document the service
    signs (the stored mode says the same)."""
    today = today_of(uow.now)
    prescription = _open(uow, number, access.Action.CHANGE_PICKUP_MODE, today).object
    loaded = given_dispensations.given_of(uow, [prescription])
    found = signed_documents.require(
        uow, prescription, "change_pickup_mode", loaded.by_prescription
    )
    mode = rules.pickup_change(found.status_on(today), pickup_mode)
    if str(mode) != found.pickup_mode:
        signed_documents.sign_pickup_choice(uow, prescription, str(mode))
        prescription.version += 1
        prescription_events.record(uow, "change_pickup_mode", prescription)
        found = signed_documents.check_one(uow, prescription, loaded.by_prescription)
    given = given_dispensations.dispensations([prescription], loaded).get(prescription.id, [])
    # Verified before, and the choice signed in this very use case: it verifies still.
    return patient_cards.verified_card(found, today, access.Relation.PATIENT, given)
