"""What was given from a patient's prescriptions: read in one statement, shown pack by pack."""

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from sqlalchemy import (
    Select,
    bindparam,
    case,
    select,
)
from sqlalchemy.orm import aliased, contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from eprescription.domain import health_space as rules
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
from eprescription.services import signed_documents
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
                "prescribed": rules.medication_words(
                    item.medication_name, item.strength, item.form
                ),
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
            "town": rules.town_of(pharmacy.address),
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
