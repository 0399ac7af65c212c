"""The prescriber's form around issue(): review before signing, warnings, patients, allergies."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from eprescription.domain import identifiers
from eprescription.domain import prescriptions as rules
from eprescription.domain.errors import (
    AlreadyExists,
    InvalidIdentifier,
    NotFound,
    ValidationFailed,
)
from eprescription.domain.prescriptions import Problems
from eprescription.models import (
    Allergy,
    CompositionLine,
    Person,
    Prescription,
    PrescriptionItem,
)
from eprescription.services import prescriptions as issuing
from eprescription.services.uow import UnitOfWork

RECENT_PATIENTS = 8
# Active substances (SA) and therapeutic fractions (FT) name what a product really contains.
COUNTED_NATURES = ("SA", "FT")
PERSON = "person"


@dataclass(frozen=True)
class Warning:
    """Something the prescriber must see before signing; it does not stop the signature."""

    kind: str  # "duplicate_therapy" or "allergy"
    line: int
    message: str


@dataclass(frozen=True)
class Review:
    """What issue() will sign for this request (its number and time are given at signing)."""

    content: dict
    patient: Person
    warnings: list[Warning] = field(default_factory=list)
    allergies: list[Allergy] = field(default_factory=list)


def review(uow: UnitOfWork, request: issuing.IssueRequest) -> Review:
    """Check the request as issue() does and show the content it would sign (issuing.prepare),
    with the warnings (duplicate therapy, allergy). Nothing is stored but one audit event.
    """
    draft = issuing.prepare(uow, request)
    content, patient = draft.content, draft.patient
    warnings = _warnings(uow, patient, content["items"], issuing.today_of(uow.now))
    uow.audit("review_warnings", PERSON, str(patient.id), patient_person_id=patient.id)
    return Review(content, patient, warnings, allergies_of(uow, patient))


# -- warnings ---------------------------------------------------------------------------------


def _substances_of_products(uow: UnitOfWork, cis_codes: set[str]) -> dict[str, dict[str, str]]:
    """CIS → {substance code: substance name} of the active substances of each product."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    if cis_codes:
        rows = uow.session.execute(
            select(
                CompositionLine.cis, CompositionLine.substance_code, CompositionLine.substance_name
            ).where(CompositionLine.cis.in_(cis_codes), CompositionLine.nature.in_(COUNTED_NATURES))
        )
        for cis, code, name in rows:
            found[cis][code] = name
    return found


def _line_substances(drug: dict, by_product: dict) -> dict[str, str]:
    if drug.get("cis"):
        return by_product.get(drug["cis"], {})
    return {drug["substance_code"]: drug["name"]}


def _warnings(uow: UnitOfWork, patient: Person, items: list[dict], today: date) -> list[Warning]:
    """Duplicate therapy (within the new lines, or with an open prescription of this patient,
    whoever prescribed it) and recorded allergies, for each new line."""
    active = uow.session.execute(
        select(PrescriptionItem, Prescription.issued_at)
        .join(Prescription, Prescription.id == PrescriptionItem.prescription_id)
        .where(
            Prescription.patient_person_id == patient.id,
            Prescription.status.in_([str(status) for status in rules.OPEN_STATES]),
            Prescription.valid_until >= today,
            PrescriptionItem.cancellation_id.is_(None),
        )
    ).all()
    cis_codes = {item["medication"].get("cis") for item in items} | {row.cis for row, _ in active}
    by_product = _substances_of_products(uow, {code for code in cis_codes if code})
    already: dict[str, list[str]] = defaultdict(list)
    for row, issued_at in active:
        drug = {"cis": row.cis, "substance_code": row.substance_code, "name": row.medication_name}
        for code in _line_substances(drug, by_product):
            already[code].append(f"{row.medication_name} (prescribed on {issued_at:%Y-%m-%d})")
    allergies = {allergy.substance_code: allergy for allergy in allergies_of(uow, patient)}
    warnings: list[Warning] = []
    seen: dict[str, int] = {}
    for item in items:
        line, drug = item["line"], item["medication"]
        for code, name in sorted(_line_substances(drug, by_product).items()):
            if code in allergies:
                warnings.append(
                    Warning(
                        "allergy",
                        line,
                        f"Line {line}: the patient is recorded as allergic to {name}.",
                    )
                )
            if code in already:
                warnings.append(
                    Warning(
                        "duplicate_therapy",
                        line,
                        f"Line {line}: {name} is already prescribed for this patient in an "
                        f"active prescription: {'; '.join(already[code])}.",
                    )
                )
            if code in seen and seen[code] != line:
                warnings.append(
                    Warning(
                        "duplicate_therapy",
                        line,
                        f"Line {line}: {name} is also on line {seen[code]} of this prescription.",
                    )
                )
            seen.setdefault(code, line)
    return warnings


# -- patients ---------------------------------------------------------------------------------


def recent_patients(uow: UnitOfWork, limit: int = RECENT_PATIENTS) -> list:
    """The patients this prescriber issued prescriptions for, most recent first."""
    prescriber = issuing.prescriber_of(uow)
    latest = func.max(Prescription.issued_at).label("latest")
    rows = uow.session.execute(
        select(Person, latest)
        .join(Prescription, Prescription.patient_person_id == Person.id)
        .where(Prescription.prescriber_id == prescriber.id)
        .group_by(Person.id)
        .order_by(latest.desc())
        .limit(limit)
    ).all()
    return [person for person, _ in rows]


def find_patient(uow: UnitOfWork, nir: str | None) -> Person:
    """The recorded person with this NIR, for a prescriber confirming whom they prescribe for;
    an invalid NIR is a ValidationFailed on `patient_nir`, an unknown one NotFound. Audited."""
    issuing.prescriber_of(uow)
    try:
        national_id = identifiers.validate_national_id(nir, uow.settings.country)
    except InvalidIdentifier as error:
        detail = error.detail[:1].upper() + error.detail[1:] + "."
        raise InvalidIdentifier(detail, errors={"patient_nir": [error.detail]}) from error
    patient = uow.session.scalar(select(Person).where(Person.national_id == national_id))
    if patient is None:
        raise NotFound(
            "No patient is recorded with this NIR: check it with the patient's card, or have "
            "the patient registered first."
        )
    uow.audit("lookup", PERSON, str(patient.id), patient_person_id=patient.id)
    return patient


# -- allergies --------------------------------------------------------------------------------


def allergies_of(uow: UnitOfWork, patient: Person) -> list[Allergy]:
    return list(
        uow.session.scalars(
            select(Allergy).where(Allergy.person_id == patient.id).order_by(Allergy.substance_name)
        )
    )


def record_allergy(uow: UnitOfWork, nir: str | None, substance_code: str | None) -> Allergy:
    """Record that the person with this NIR is allergic to a catalog substance, recorded by the
    acting account (None: the operator); audited."""
    session = uow.session
    problems = Problems()
    try:
        national_id = identifiers.validate_national_id(nir, uow.settings.country)
    except InvalidIdentifier as error:
        problems.add("nir", error.detail)
        person = None
    else:
        person = session.scalar(select(Person).where(Person.national_id == national_id))
        if person is None:
            problems.add("nir", "no person is recorded with this national identifier")
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
        raise ValidationFailed(
            "Some fields are not valid: " + ", ".join(problems.errors), errors=problems.errors
        )
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
