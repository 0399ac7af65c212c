"""The prescriber's review before signing: the content to sign, therapy and allergy warnings
grouped per substance, and their acknowledgement at signing."""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, select

from eprescription.domain import prescriptions as rules
from eprescription.domain.acknowledgements import REASON_MAX, Acknowledgement, unacknowledged
from eprescription.domain.errors import WarningsNotAcknowledged
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import Problems, today_of
from eprescription.models import (
    Allergy,
    CompositionLine,
    Person,
    Prescription,
    PrescriptionItem,
)
from eprescription.services import (
    allergies,
    prescription_drafts,
)
from eprescription.services.uow import UnitOfWork

COUNTED_NATURES = prescription_drafts.COUNTED_NATURES
# The warnings a prescriber must acknowledge (tick, or give a reason) to sign.
ACKNOWLEDGED_KINDS = ("allergy", "duplicate_therapy", "duplicate_line")


@dataclass(frozen=True)
class Substance:
    """One substance of a line: its name, and every BDPM code naming it (a salt, SA, and its
    active fraction, FT, share a link number in CIS_COMPO)."""

    name: str
    codes: frozenset[str]


@dataclass(frozen=True)
class Warning:
    """Something the prescriber must see before signing; duplicate therapy and allergy ones
    must be acknowledged (ticked, or a reason given) to sign."""

    kind: str  # "duplicate_therapy", "duplicate_line", "allergy" or "rule_not_judged"
    line: int
    message: str
    substances: tuple[Substance, ...] = ()

    @property
    def key(self) -> str:
        """Stable between the review and the signature while the line is the same."""
        codes = "+".join(sorted(code for s in self.substances for code in s.codes))
        return f"{self.kind}:{self.line}:{codes}"

    @property
    def needs_acknowledgement(self) -> bool:
        return self.kind in ACKNOWLEDGED_KINDS

    def as_record(self) -> dict:
        """The warning as stored with the prescription and shown by the API."""
        return {
            "key": self.key,
            "kind": self.kind,
            "line": self.line,
            "substances": [substance.name for substance in self.substances],
            "message": str(self.message),
            "needs_acknowledgement": self.needs_acknowledgement,
        }


@dataclass(frozen=True)
class Review:
    """What issue() will sign for this request (its number and time are given at signing)."""

    content: dict
    patient: Person
    warnings: list[Warning] = field(default_factory=list)
    allergies: list[Allergy] = field(default_factory=list)


def review(uow: UnitOfWork, request: prescription_drafts.IssueRequest) -> Review:
    """Check the request as issue() does and show the content it would sign (issuing.prepare),
    with the warnings (duplicate therapy, allergy). Nothing is stored but one audit event.
    """
    draft = prescription_drafts.prepare(uow, request)
    patient = draft.patient
    recorded = allergies.allergies_of(uow, patient)
    warnings = warnings_of(uow, draft, recorded, request.renewing)
    uow.audit("review_warnings", allergies.PERSON, str(patient.id), patient_person_id=patient.id)
    return Review(draft.content, patient, warnings, recorded)


def warnings_of(
    uow: UnitOfWork,
    draft: prescription_drafts.Draft,
    recorded: list[Allergy] | None = None,
    renewing: str | None = None,
) -> list[Warning]:
    """The draft's warnings: grouped per substance, and what the rules could not judge; the
    lines of the prescription it renews (`renewing`, a number) are no duplicate therapy."""
    if recorded is None:
        recorded = allergies.allergies_of(uow, draft.patient)
    found = _warnings(
        uow,
        draft.patient,
        draft.content["items"],
        draft.compositions,
        recorded,
        today_of(uow.now),
        renewing,
    )
    # What the prescribing rules could not judge: accepted, and said (docs/rules.md).
    return found + [Warning("rule_not_judged", line, note) for line, note in draft.rule_notes]


def acknowledged(
    uow: UnitOfWork,
    draft: prescription_drafts.Draft,
    acknowledgement: Acknowledgement,
    renewing: str | None = None,
) -> list[dict]:
    """The warnings of the draft that need acknowledging, as stored with the prescription;
    WarningsNotAcknowledged (nothing signed) when one is neither ticked nor given a reason."""
    found = warnings_of(uow, draft, renewing=renewing)
    open_warnings = [w for w in found if w.needs_acknowledgement]
    problems = Problems()
    if len(acknowledgement.reason) > REASON_MAX:
        problems.add(
            "acknowledgement_reason",
            Message("at_most_characters", "at most {count} characters", count=REASON_MAX),
        )
    missing = unacknowledged([w.key for w in open_warnings], acknowledgement)
    for key in missing:
        problems.add(
            "acknowledged",
            Message(
                "warning_not_acknowledged",
                "Tick each warning you have checked, or give a reason, before signing.",
                key=key,
            ),
        )
    if problems:
        raise problems.refusal(WarningsNotAcknowledged)
    reason = acknowledgement.reason.strip()
    return [w.as_record() | {"reason": reason} for w in open_warnings]


def _substances_of_products(rows: Iterable[CompositionLine]) -> dict[str, list[Substance]]:
    """CIS → the active substances of each product from its counted composition lines, a salt
    and its active fraction (linked by their link number) as one substance named by the
    fraction (FT) when there is one."""
    groups: dict[tuple[str, object], list[CompositionLine]] = defaultdict(list)
    for row in sorted(rows, key=lambda line: (line.cis, line.id)):
        link = row.link_number if row.link_number is not None else row.substance_code
        groups[(row.cis, link)].append(row)
    found: dict[str, list[Substance]] = defaultdict(list)
    for (cis, _), lines in groups.items():
        named = next((line for line in lines if line.nature == "FT"), lines[0])
        found[cis].append(
            Substance(named.substance_name, frozenset(line.substance_code for line in lines))
        )
    return found


def _line_substances(drug: dict, by_product: dict) -> list[Substance]:
    if drug.get("cis"):
        return by_product.get(drug["cis"], [])
    return [Substance(drug["name"], frozenset({drug["substance_code"]}))]


def _names(substances: list[Substance]) -> str:
    return ", ".join(dict.fromkeys(substance.name for substance in substances))


def _warnings(
    uow: UnitOfWork,
    patient: Person,
    items: list[dict],
    compositions: Mapping[str, tuple[CompositionLine, ...]],
    recorded: list[Allergy],
    today: date,
    renewing: str | None,
) -> list[Warning]:
    """Duplicate therapy (with an open prescription of this patient, whoever prescribed it, or
    within the new lines) and recorded allergies: one warning of each kind per line at most,
    naming the substances concerned. The open lines are read with their products' counted
    composition lines in one statement; the new lines' came with the draft."""
    rows = uow.session.execute(
        select(PrescriptionItem, Prescription.issued_at, CompositionLine)
        .join(Prescription, Prescription.id == PrescriptionItem.prescription_id)
        .outerjoin(
            CompositionLine,
            and_(
                CompositionLine.cis == PrescriptionItem.cis,
                CompositionLine.nature.in_(COUNTED_NATURES),
            ),
        )
        .where(
            Prescription.patient_person_id == patient.id,
            Prescription.status.in_([str(status) for status in rules.OPEN_STATES]),
            Prescription.valid_until >= today,
            PrescriptionItem.cancellation_id.is_(None),
            Prescription.number != (renewing or "").replace("-", ""),
        )
        .order_by(Prescription.issued_at, PrescriptionItem.id)
    ).all()
    active = list({row.id: (row, issued_at) for row, issued_at, _ in rows}.values())
    counted = {line.id: line for lines in compositions.values() for line in lines}
    counted.update((line.id, line) for _, _, line in rows if line is not None)
    by_product = _substances_of_products(counted.values())
    already: dict[str, list[tuple[str, date]]] = defaultdict(list)
    for row, issued_at in active:
        drug = {"cis": row.cis, "substance_code": row.substance_code, "name": row.medication_name}
        for substance in _line_substances(drug, by_product):
            for code in substance.codes:
                already[code].append((row.medication_name, issued_at.date()))
    allergic = {allergy.substance_code for allergy in recorded}
    warnings: list[Warning] = []
    seen: dict[str, int] = {}
    for item in items:
        line = item["line"]
        substances = _line_substances(item["medication"], by_product)
        allergy = [s for s in substances if s.codes & allergic]
        if allergy:
            warnings.append(
                Warning(
                    "allergy",
                    line,
                    Message(
                        "warning_allergy",
                        "Line {line}: the patient is recorded as allergic to {substances}.",
                        line=line,
                        substances=_names(allergy),
                    ),
                    tuple(allergy),
                )
            )
        duplicate = [s for s in substances if s.codes & already.keys()]
        if duplicate:
            earlier = [entry for s in duplicate for code in s.codes for entry in already[code]]
            warnings.append(
                Warning(
                    "duplicate_therapy",
                    line,
                    Message(
                        "warning_duplicate_therapy",
                        "Line {line}: {substances} already prescribed for this patient in an "
                        "active prescription (since {since}): {prescribed}.",
                        line=line,
                        substances=_names(duplicate),
                        since=min(day for _, day in earlier),
                        prescribed="; ".join(dict.fromkeys(name for name, _ in earlier)),
                    ),
                    tuple(duplicate),
                )
            )
        twice = [s for s in substances if any(seen.get(code, line) != line for code in s.codes)]
        if twice:
            other = min(seen[code] for s in twice for code in s.codes if code in seen)
            warnings.append(
                Warning(
                    "duplicate_line",
                    line,
                    Message(
                        "warning_duplicate_line",
                        "Line {line}: {substances} also on line {other} of this prescription.",
                        line=line,
                        substances=_names(twice),
                        other=other,
                    ),
                    tuple(twice),
                )
            )
        for substance in substances:
            for code in substance.codes:
                seen.setdefault(code, line)
    return warnings
