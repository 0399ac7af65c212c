"""What was given from a patient's prescriptions: read in one statement, shown pack by pack."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import (
    Select,
    bindparam,
    case,
    select,
)
from sqlalchemy.orm import aliased, contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from eprescription.domain import bounded_json
from eprescription.domain import health_space as rules
from eprescription.domain.signed_prescription import MALFORMED
from eprescription.models import (
    Dispensation,
    DispensationLine,
    GenericGroup,
    GenericGroupMember,
    Prescription,
    PrescriptionItem,
    Presentation,
    Product,
)
from eprescription.services import receipts, signed_documents
from eprescription.services.uow import UnitOfWork


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


@dataclass(frozen=True)
class GivenProduct:
    name: str
    cip13: str
    pack: str  # the presentation's label


@dataclass(frozen=True)
class Substitution:
    """Why a line was given another product: the generic group both share (CIS_GENER)."""

    generic_group: str | None
    line_substitutable: bool


@dataclass(frozen=True)
class GivenLine:
    """A pack given, as its receipt signs it, with what the line prescribed in words."""

    line: int
    period: int
    prescribed: str
    product: GivenProduct
    quantity: int
    batch: str
    expiry: date
    substituted: bool
    substitution: Substitution | None
    unit_price_cents: int
    total_cents: int
    reimbursement_rate: int
    covered_cents: int
    patient_share_cents: int


# The fields of a GivenLine that are its dispensation line's columns of the same name.
AS_STORED = (
    "line",
    "period",
    "quantity",
    "batch",
    "expiry",
    "substituted",
    "unit_price_cents",
    "total_cents",
    "covered_cents",
    "patient_share_cents",
)


@dataclass(frozen=True)
class GivenPharmacy:
    name: str
    town: str  # empty when its address does not tell
    finess: str


@dataclass(frozen=True)
class Collector:
    """Who took the packs away: the kind and the name the pharmacy wrote (never an NIR)."""

    kind: str
    name: str | None


@dataclass(frozen=True)
class GivenDispensation:
    """A dispensation of a verified prescription as the patient's health space shows it."""

    id: str
    dispensed_at: datetime
    pharmacy: GivenPharmacy
    lines: list[GivenLine]
    collected_by: Collector
    total_cents: int
    covered_cents: int
    patient_share_cents: int
    reversed_at: datetime | None
    reversal_reason: str | None
    limits: list[receipts.Limit]  # which rule limited a line, as the receipt signs it

    @property
    def reversed(self) -> bool:
        return self.reversed_at is not None


def dispensations(rows: list[Prescription], given: Given) -> dict[int, list[GivenDispensation]]:
    """Every dispensation of these verified prescriptions (from `given`, checked against their
    receipts), oldest first, by prescription id: pharmacy, packs given and why substituted,
    amounts, reversal."""
    items = {item.id: item for prescription in rows for item in prescription.items}
    views: dict[int, list[GivenDispensation]] = defaultdict(list)
    for prescription in rows:
        for row in given.by_prescription.get(prescription.id, []):
            views[row.prescription_id].append(_dispensation_view(row, items, given))
    return views


def _dispensation_view(row: Dispensation, items: dict, given: Given) -> GivenDispensation:
    pharmacy = row.pharmacy
    lines = []
    for line in row.lines:
        item, pack = items[line.item_id], given.packs[line.cip13]
        substitution = None
        if line.substituted:
            substitution = Substitution(given.shared_groups.get(line.id), item.substitutable)
        lines.append(
            GivenLine(
                **{name: getattr(line, name) for name in AS_STORED},
                prescribed=rules.medication_words(item.medication_name, item.strength, item.form),
                product=GivenProduct(pack.product.name, line.cip13, pack.label),
                substitution=substitution,
                reimbursement_rate=line.rate,
            )
        )
    return GivenDispensation(
        id=row.id,
        dispensed_at=row.dispensed_at,
        pharmacy=GivenPharmacy(pharmacy.name, rules.town_of(pharmacy.address), pharmacy.finess),
        lines=lines,
        collected_by=Collector(row.collected_by_kind, row.collected_by_name),
        total_cents=row.total_cents,
        covered_cents=row.covered_cents,
        patient_share_cents=row.patient_share_cents,
        reversed_at=row.reversed_at,
        reversal_reason=row.reversal_reason,
        limits=_limits(row),
    )


def _limits(row: Dispensation) -> list[receipts.Limit]:
    """The receipt's limits: its prescription verified, the stored payload is the signed one
    (anything else reads as none)."""
    try:
        return receipts.limits_of(bounded_json.loads(row.payload))
    except MALFORMED:
        return []
