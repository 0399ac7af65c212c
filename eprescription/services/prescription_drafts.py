"""A prescriber's request checked field by field into the content to sign; changes nothing."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import cast

from sqlalchemy import Row, Table, and_, or_, select, union_all
from sqlalchemy.orm import joinedload

from eprescription.domain import identifiers, prescribing_rules
from eprescription.domain import prescriptions as rules
from eprescription.domain import signed_prescription as signed
from eprescription.domain.acknowledgements import Acknowledgement
from eprescription.domain.errors import (
    PrescribingRuleRefused,
    SelfPrescriptionRefused,
    ValidationFailed,
)
from eprescription.domain.messages import Message
from eprescription.domain.prescribing_conditions import Condition, from_json, to_json
from eprescription.domain.prescriptions import ItemDraft, Problems, today_of
from eprescription.domain.signed_prescription import iso_seconds
from eprescription.domain.strengths import same_strength
from eprescription.models import (
    CompositionLine,
    Person,
    Prescriber,
    Product,
)
from eprescription.services import persons, prescribers
from eprescription.services.uow import UnitOfWork

PAYLOAD_TYPE = signed.PRESCRIPTION_TYPE
PAYLOAD_VERSION = signed.VERSION
IDENTIFIER_SYSTEMS = {identifiers.FRANCE: "NIR", identifiers.ESTONIA: "isikukood"}
# Active substances (SA) and therapeutic fractions (FT) name what a product really contains.
COUNTED_NATURES = ("SA", "FT")


@dataclass(frozen=True)
class IssueRequest:
    """What a prescriber asks for; every value as typed, checked by issue()."""

    patient_nir: str | None
    pin: str
    items: list[ItemDraft]
    valid_from: date | None = None
    valid_until: date | None = None
    renewals: int | None = 0
    pickup_mode: str | None = rules.PickupMode.PUBLIC
    renewal_request_id: int | None = None  # the patient's request this prescription answers
    # The warnings the prescriber acknowledged (services/issue_review.acknowledged); the web
    # form and the API always give one. None: a service caller that meets no warning (the demo).
    acknowledgement: Acknowledgement | None = None
    # The number of the prescription this one renews: its lines are no duplicate therapy.
    renewing: str | None = None


@dataclass(frozen=True)
class Draft:
    """A checked request: the content issue() signs (its number still unset) and its people."""

    prescriber: Prescriber
    patient: Person
    validity: rules.Validity
    pickup_mode: rules.PickupMode
    content: dict
    # What the prescribing rules could not judge (accepted): (line, why), for the review.
    rule_notes: tuple[tuple[int, Message], ...] = ()
    # CIS → the counted composition lines (COUNTED_NATURES) of each product asked for by CIS,
    # read with the catalog rows: what the review's warnings compare.
    compositions: Mapping[str, tuple[CompositionLine, ...]] = field(default_factory=dict)


def prepare(uow: UnitOfWork, request: IssueRequest) -> Draft:
    """Check every field of `request` and build the content to sign; changes nothing.

    Every problem is reported in one ValidationFailed. The review screen shows this content,
    and issue() signs it, so the two can never differ. Its time is `uow.now` to the second.
    """
    now = uow.now.replace(microsecond=0)
    country = uow.settings.country
    prescriber = prescribers.prescriber_of(uow)
    problems = Problems()
    patient = _patient(uow, problems, request.patient_nir)
    is_self = patient is not None and patient.id == prescriber.person_id
    if is_self:
        problems.add(
            "patient_nir",
            Message(
                "self_prescription",
                "you cannot prescribe for yourself: another prescriber must issue this",
            ),
        )
    try:
        pickup_mode = rules.PickupMode(request.pickup_mode or rules.PickupMode.PUBLIC)
    except ValueError:
        problems.add(
            "pickup_mode",
            Message("one_of", "one of {choices}", choices=", ".join(rules.PickupMode)),
        )
        pickup_mode = None
    validity = rules.validity(
        problems, today_of(now), request.valid_from, request.valid_until, request.renewals
    )
    rules.check_items(problems, request.items)
    medications, compositions = _medications(uow, problems, request.items)
    renewals = validity.renewals if validity is not None else request.renewals or 0
    notes = _judged(problems, prescriber, request.items, medications, renewals)
    # Each value is None only where a problem was recorded.
    if (
        problems
        or patient is None
        or validity is None
        or pickup_mode is None
        or None in medications
    ):
        kind = SelfPrescriptionRefused if is_self else ValidationFailed
        if _only_rule_refusals(problems):
            kind = PrescribingRuleRefused
        raise problems.refusal(kind)
    content = prescription_content(None, patient, prescriber, country, now, validity, pickup_mode)
    content["items"] = [
        _item_content(line, item, medication)
        for line, (item, medication) in enumerate(
            zip(request.items, cast(list[_Medication], medications), strict=True), 1
        )
    ]
    return Draft(prescriber, patient, validity, pickup_mode, content, notes, compositions)


_RULE_FIELD = "rule"  # where a line's prescribing-rule refusals are reported


def _only_rule_refusals(problems: Problems) -> bool:
    """Whether every problem is a prescribing rule's: then the refusal is theirs (any other
    problem keeps the usual validation_failed, the rules' messages among its fields)."""
    items = problems.errors.get("items")
    if set(problems.errors) != {"items"} or not isinstance(items, dict):
        return False
    return all(isinstance(line, dict) and set(line) == {_RULE_FIELD} for line in items.values())


def _judged(
    problems: Problems,
    prescriber: Prescriber,
    items: list[ItemDraft],
    medications: list["_Medication | None"],
    renewals: int,
) -> tuple[tuple[int, Message], ...]:
    """The prescribing rules of each line's conditions (docs/rules.md): refusals added to
    `problems` under the line's "rule" field; what they could not judge, by line (1-based)."""
    who = prescribing_rules.Prescriber(prescriber.specialty, prescriber.setting)
    notes: list[tuple[int, Message]] = []
    for index, (item, medication) in enumerate(zip(items, medications, strict=True)):
        if medication is None:
            continue
        judgement = prescribing_rules.judge(
            prescribing_rules.Line(
                medication.conditions,
                item.duration_days,
                renewals,
                item.renewal_authorised,
                rules.normalise_text(item.initial_prescription) or None,
                item.fractionation_days,
            ),
            who,
        )
        for refusal in judgement.refusals:
            problems.add(("items", index, _RULE_FIELD), refusal)
        notes.extend((index + 1, note) for note in judgement.notes)
    return tuple(notes)


def _patient(uow: UnitOfWork, problems: Problems, nir: str | None):
    """The recorded person with this national identifier; unknown persons are refused."""
    return persons.by_national_id(
        uow,
        problems,
        "patient_nir",
        nir,
        Message(
            "no_such_patient",
            "no patient is recorded with this national identifier; check it with the patient's "
            "card, or have the patient registered first",
        ),
        # The allergies the warnings check at review and signing, in the same statement.
        options=(joinedload(Person.allergies),),
    )


@dataclass(frozen=True)
class _Medication:
    """What the catalog says about a line's medication (name, and the substance's details)."""

    name: str
    cis: str | None = None
    substance_code: str | None = None
    strength: str | None = None
    form: str | None = None
    # The product's CIS_CPD rules; by substance, those of every product that may be given.
    conditions: tuple[Condition, ...] = ()


def _by_cis(item: ItemDraft) -> bool:
    return bool(item.cis and item.cis.isdigit() and len(item.cis) == 8)


def _by_substance(item: ItemDraft) -> bool:
    return not item.cis and bool(item.substance_code and item.strength and item.form)


# What _medications reads of a product and of its composition lines.
_PRODUCT_COLUMNS = (
    Product.cis,
    Product.name,
    Product.form,
    Product.conditions,
    Product.is_prescribable.label("is_prescribable"),
)
# A composition line's columns, each as "line_<name>" (the product has a cis too).
_COMPOSITION_FIELDS = tuple(cast(Table, CompositionLine.__table__).columns.keys())
_COMPOSITION_COLUMNS = tuple(
    getattr(CompositionLine, name).label(f"line_{name}") for name in _COMPOSITION_FIELDS
)


def _composition_line(row: Row) -> CompositionLine:
    """A counted composition line read by _medications, as the warnings take it (not added
    to the session)."""
    return CompositionLine(**{name: getattr(row, f"line_{name}") for name in _COMPOSITION_FIELDS})


def _medications(
    uow: UnitOfWork, problems: Problems, items: list[ItemDraft]
) -> tuple[list[_Medication | None], dict[str, tuple[CompositionLine, ...]]]:
    """The catalog's product or substance for each line (None with the problem added), and
    the counted composition lines of the products asked for by CIS, all read in one
    statement: the products asked for by CIS with their counted lines, and those containing a
    substance asked for, with that substance's composition line."""
    wanted_cis = sorted({item.cis or "" for item in items if _by_cis(item)})
    codes = sorted(
        {rules.normalise_text(item.substance_code) for item in items if _by_substance(item)}
    )
    products: dict[str, Row] = {}
    containing: dict[str, list[Row]] = {}
    counted: dict[str, dict[int, CompositionLine]] = {}
    if wanted_cis or codes:
        wanted = union_all(
            select(Product.cis).where(Product.cis.in_(wanted_cis)),
            select(CompositionLine.cis).where(CompositionLine.substance_code.in_(codes)),
        ).subquery()
        # Columns, not entities: a substance may be in hundreds of products.
        rows = uow.session.execute(
            select(*_PRODUCT_COLUMNS, *_COMPOSITION_COLUMNS)
            .outerjoin(
                CompositionLine,
                and_(
                    CompositionLine.cis == Product.cis,
                    or_(
                        CompositionLine.substance_code.in_(codes),
                        and_(
                            Product.cis.in_(wanted_cis),
                            CompositionLine.nature.in_(COUNTED_NATURES),
                        ),
                    ),
                ),
            )
            .where(Product.cis.in_(select(wanted.c.cis)))
            .order_by(Product.cis, CompositionLine.id)
        ).all()
        for row in rows:
            products[row.cis] = row
            if row.line_id is None:
                continue
            if row.line_substance_code in codes:
                containing.setdefault(row.line_substance_code, []).append(row)
            if row.cis in wanted_cis and row.line_nature in COUNTED_NATURES:
                counted.setdefault(row.cis, {})[row.line_id] = _composition_line(row)
    medications = [
        _medication(problems, index, item, products, containing) for index, item in enumerate(items)
    ]
    return medications, {cis: tuple(lines.values()) for cis, lines in counted.items()}


def _medication(
    problems: Problems,
    index: int,
    item: ItemDraft,
    products: dict[str, Row],
    containing: dict[str, list[Row]],
) -> _Medication | None:
    """A line's product or substance from what _medications read, or None with the problem."""
    path = ("items", index)
    if _by_cis(item):
        product = products.get(item.cis or "")
        if product is None:
            problems.add(
                (*path, "cis"),
                Message("no_such_cis", "no product has the CIS {cis} in the catalog", cis=item.cis),
            )
            return None
        if not product.is_prescribable:
            problems.add(
                (*path, "cis"),
                Message(
                    "not_prescribable",
                    "{name} is withdrawn or not authorised: it cannot be prescribed",
                    name=product.name,
                ),
            )
            return None
        return _Medication(
            name=product.name, cis=product.cis, conditions=from_json(product.conditions)
        )
    if not _by_substance(item):
        return None  # the domain rules have reported it
    code = rules.normalise_text(item.substance_code)
    rows = containing.get(code, [])
    if not rows:
        problems.add(
            (*path, "substance_code"),
            Message(
                "no_such_substance", "no substance has the code {code} in the catalog", code=code
            ),
        )
        return None
    strength, form = rules.normalise_text(item.strength), rules.normalise_text(item.form)
    matching = [
        row
        for row in rows
        if row.is_prescribable
        and same_strength(row.line_strength, strength)
        and rules.normalise_text(row.form).casefold() == form.casefold()
    ]
    if matching:
        first = matching[0]
        conditions = {c.text: c for row in matching for c in from_json(row.conditions)}
        return _Medication(
            name=first.line_substance_name,
            substance_code=code,
            # As the prescriber wrote it ("1 g"), which the products' texts match by value.
            strength=strength,
            form=rules.normalise_text(first.form),
            conditions=tuple(conditions.values()),
        )
    problems.add(
        (*path, "medication"),
        Message(
            "no_such_strength",
            "no prescribable product contains {substance} at {strength} as {form}",
            substance=rows[0].line_substance_name,
            strength=strength,
            form=form,
        ),
    )
    return None


def prescription_content(number, patient, prescriber, country, now, validity, pickup_mode) -> dict:
    """The signed content (items added by the caller); only JSON types, dates as strings."""
    return {
        "type": PAYLOAD_TYPE,
        "version": PAYLOAD_VERSION,
        "number": number,
        "patient": {
            "identifier": {
                "system": IDENTIFIER_SYSTEMS.get(country, country),
                "value": patient.national_id,
            },
            "family_name": patient.family_name,
            "given_name": patient.given_name,
            "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
        },
        "prescriber": {
            "rpps": prescriber.rpps,
            "family_name": prescriber.person.family_name,
            "given_name": prescriber.person.given_name,
        },
        "issued_at": iso_seconds(now),
        "valid_from": validity.valid_from.isoformat(),
        "valid_until": validity.valid_until.isoformat(),
        "renewals": validity.renewals,
        "pickup_mode": str(pickup_mode),
    }


def _item_content(line: int, item: ItemDraft, medication: _Medication) -> dict:
    drug: dict[str, str | None]
    if medication.cis:
        drug = {"type": "product", "cis": medication.cis, "name": medication.name}
    else:
        drug = {
            "type": "substance",
            "substance_code": medication.substance_code,
            "name": medication.name,
            "strength": medication.strength,
            "form": medication.form,
        }
    # Present: check_items refused a missing one.
    dosage: dict[str, str | int] = {"text": (item.dosage_text or "").strip()}
    structured = {
        "dose": rules.dose_text(item.dose),
        "dose_unit": (item.dose_unit or "").strip() or None,
        "frequency_per_day": item.frequency_per_day,
        "duration_days": item.duration_days,
    }
    dosage.update({key: value for key, value in structured.items() if value is not None})
    content = {
        "line": line,
        "medication": drug,
        "dosage": dosage,
        "quantity": item.quantity,
        "substitutable": item.substitutable,
        "ald": item.ald,
    }
    if not item.substitutable:
        content["non_substitution_reason"] = item.non_substitution_reason
    # Signed with the line, so the counter and the printed copy apply the rules as issued.
    if medication.conditions:
        content["conditions"] = json.loads(to_json(medication.conditions))
    if prescribing_rules.is_secure(medication.conditions):
        content["quantity_in_words"] = prescribing_rules.quantity_in_words(item.quantity or 0)
    if item.renewal_authorised:
        content["renewal_authorised"] = True
    if rules.normalise_text(item.initial_prescription):
        content["initial_prescription"] = rules.normalise_text(item.initial_prescription)
    # Written by the prescriber for the counter (docs/rules.md); absent from older payloads.
    if item.fractionation_days is not None:
        content["fractionation_days"] = item.fractionation_days
    if item.overlap_allowed:
        content["overlap_allowed"] = True
    return content
