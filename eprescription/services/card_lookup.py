"""Looking a patient up by their card at the counter: what who is there may see, audited."""

from dataclasses import dataclass

from sqlalchemy import (
    select,
)

from eprescription.domain import dispensing as rules
from eprescription.domain.prescriptions import OBJECT_TYPE, OPEN_STATES, today_of
from eprescription.models import (
    Person,
    Prescription,
)
from eprescription.services import (
    audit,
    counter,
    counter_access,
    patient_representatives,
    pharmacy_view,
    signed_documents,
)
from eprescription.services.pharmacy_view import CounterView
from eprescription.services.prescription_views import Unverified
from eprescription.services.uow import UnitOfWork


@dataclass(frozen=True)
class Lookup:
    """One page of what the person at the counter may see of the patient's prescriptions."""

    prescriptions: list[CounterView | Unverified]  # this page, newest first
    withheld: int  # those not shown to who is at the counter
    total: int  # all those shown, on every page
    page: int
    page_size: int


def lookup_by_card(
    uow: UnitOfWork,
    nir: str,
    *,
    identity_confirmed: bool,
    presenter_nir: str | None = None,
    page: int = 1,
    page_size: int = rules.CARD_PAGE_SIZE,
) -> Lookup:
    """The patient's dispensable prescriptions, as when the pharmacy reads their card.

    Who is at the counter decides what is shown (domain SEEN_BY_CARD): the patient, identity
    confirmed, sees all; a representative (`presenter_nir`, identity confirmed, active today)
    public and authorised ones; anyone else public ones. The rest are counted, not shown.
    Each one shown is audited, and so is a presenter other than the patient (the representation,
    never the NIR). One page of `page_size` is described (newest first), with the total.
    """
    session, country = uow.session, uow.settings.country
    counter.pharmacist_of(uow)
    national_id = counter_access.national_id_on(nir, country, "nir")
    presenter_nir = counter_access.compact_presenter_nir(presenter_nir, country)
    today = today_of(uow.now)
    person = session.scalar(select(Person).where(Person.national_id == national_id))
    if person is None:
        uow.audit("lookup_by_card", "patient", outcome="not_found")
        return Lookup([], 0, 0, page, page_size)
    presenter, used = counter.presenter(uow, person, presenter_nir, today)
    who = rules.at_counter(identity_confirmed, presenter)
    if presenter != rules.PATIENT:
        _record_presenter(uow, person, used, who)
    rows = (
        session.scalars(
            select(Prescription)
            .where(Prescription.patient_person_id == person.id)
            .where(Prescription.status.in_([str(s) for s in OPEN_STATES]))
            .where(Prescription.valid_until >= today)
            .order_by(Prescription.issued_at.desc(), Prescription.id.desc())
            .options(*signed_documents.PARTS)
        )
        .unique()
        .all()
    )
    checked = signed_documents.check(uow, rows)
    # One that cannot be verified is listed as such (its number, why): its mode is unknown.
    visible = [
        prescription
        for prescription in rows
        if not checked[prescription.id].verified
        or rules.may_see_by_card(checked[prescription.id].pickup_mode, who)
    ]
    start = (page - 1) * page_size
    shown: list[CounterView | Unverified] = []
    for prescription in visible[start : start + page_size]:
        found = checked[prescription.id]
        shown.append(pharmacy_view.describe(found, today))
        uow.audit(
            "lookup_by_card",
            OBJECT_TYPE,
            prescription.number,
            patient_person_id=person.id,
            outcome=audit.SUCCESS if found.verified else "signature_invalid",
        )
    if not shown:
        uow.audit("lookup_by_card", "patient", patient_person_id=person.id, outcome="nothing_shown")
    return Lookup(shown, len(rows) - len(visible), len(visible), page, page_size)


def _record_presenter(uow: UnitOfWork, patient: Person, used, who: str) -> None:
    """Audit that someone else than the patient presented their card: the representation
    recognised (its id, never a NIR), or why none was."""
    if who == rules.REPRESENTATIVE:
        outcome = audit.SUCCESS
    else:
        outcome = "identity_not_confirmed" if used else "not_representative"
    uow.audit(
        "lookup_by_card",
        patient_representatives.REPRESENTATIVE_OBJECT,
        str(used.id) if used else "",
        patient_person_id=patient.id,
        outcome=outcome,
    )
