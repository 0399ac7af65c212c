"""A patient's recorded allergies: read, and recorded by a prescriber or the operator."""

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from eprescription.domain import prescriptions as rules
from eprescription.domain.errors import (
    AlreadyExists,
)
from eprescription.domain.prescriptions import Problems
from eprescription.models import (
    Allergy,
    CompositionLine,
    Person,
)
from eprescription.services import persons
from eprescription.services.uow import UnitOfWork

PERSON = "person"


def allergies_of(uow: UnitOfWork, patient: Person) -> list[Allergy]:
    """The patient's recorded allergies by substance name: those loaded with the patient if the
    caller asked for them (prescription_drafts does), else read now."""
    if "allergies" not in inspect(patient).unloaded:
        return list(patient.allergies)
    return list(
        uow.session.scalars(
            select(Allergy).where(Allergy.person_id == patient.id).order_by(Allergy.substance_name)
        )
    )


def substance_code_of(uow: UnitOfWork, text: str | None) -> str | None:
    """The BDPM code of a substance typed by a prescriber: its code, or its name as in the
    catalog (case aside), an active fraction (FT) before a salt; None when neither."""
    typed = rules.normalise_text(text)
    if not typed:
        return None
    return uow.session.scalar(
        select(CompositionLine.substance_code)
        .where(
            (CompositionLine.substance_code == typed)
            | (CompositionLine.substance_name == typed.upper())  # the BDPM's are in capitals
        )
        .order_by(CompositionLine.nature)
        .limit(1)
    )


def record_allergy(uow: UnitOfWork, nir: str | None, substance_code: str | None) -> Allergy:
    """Record that the person with this NIR is allergic to a catalog substance, recorded by the
    acting account (None: the operator); audited."""
    session = uow.session
    problems = Problems()
    person = persons.by_national_id(uow, problems, "nir", nir, persons.UNKNOWN)
    code = rules.normalise_text(substance_code)
    name = (
        session.scalar(
            select(CompositionLine.substance_name)
            .where(CompositionLine.substance_code == code)
            .limit(1)
        )
        if code
        else None
    )
    if name is None:
        problems.add("substance_code", f"no substance has the code {code or '(empty)'}")
    if problems or person is None:  # no person: a problem is recorded
        raise problems.refusal()
    allergy = Allergy(
        person_id=person.id,
        substance_code=code,
        substance_name=name,
        recorded_by_account_id=uow.account.id if uow.account else None,
    )
    session.add(allergy)
    try:
        session.flush()
    except IntegrityError as error:  # the unit of work rolls the failed insert back
        raise AlreadyExists(f"This allergy to {name} is already recorded.") from error
    uow.audit("record_allergy", PERSON, str(person.id), patient_person_id=person.id)
    return allergy
