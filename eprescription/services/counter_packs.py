"""The boxes at the counter: a scanned DataMatrix read back, and each line's packs to pick from."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from eprescription.domain import gs1
from eprescription.models import Presentation, Product
from eprescription.services.pharmacy_view import CounterView
from eprescription.services.uow import UnitOfWork

OFFERS_MAX = 30  # a product has a handful of packs; a long list would not help at the counter


@dataclass(frozen=True)
class Offer:
    """A pack of the prescribed product, as the pharmacist picks it: CIP13 and its name."""

    cip13: str
    name: str


@dataclass(frozen=True)
class Reading:
    """A box's DataMatrix as the counter shows it before dispensing."""

    cip13: str
    name: str | None  # None: the catalog has no pack with this CIP13
    batch: str | None
    expiry: date | None


def read(uow: UnitOfWork, text: str) -> Reading:
    """What the box's code says (InvalidGs1Code in the pharmacist's words), with the catalog's
    name of the pack."""
    code = gs1.parse(text)
    row = uow.session.execute(
        select(Product.name, Presentation.label)
        .join(Presentation.product)
        .where(Presentation.cip13 == code.cip13)
    ).first()
    name = f"{row.name} — {row.label}" if row else None
    return Reading(code.cip13, name, code.batch, code.expiry)


def offered(uow: UnitOfWork, view: CounterView) -> dict[int, list[Offer]]:
    """The packs of the product each open line prescribes (a line by substance offers none:
    the pharmacist scans any pack of it), still in the catalog, in one statement."""
    by_line = {
        item.line: item.medication["cis"]
        for item in view.items
        if item.dispensable and item.medication.get("cis")
    }
    if not by_line:
        return {}
    rows = uow.session.execute(
        select(Presentation.cis, Presentation.cip13, Product.name, Presentation.label)
        .join(Presentation.product)
        .where(Presentation.cis.in_(set(by_line.values())))
        .where(Presentation.removed_from_bdpm_at.is_(None))
        .order_by(Presentation.cis, Presentation.cip13)
    ).all()
    packs: dict[str, list[Offer]] = {}
    for row in rows:
        packs.setdefault(row.cis, []).append(Offer(row.cip13, f"{row.name} — {row.label}"))
    return {line: packs.get(cis, [])[:OFFERS_MAX] for line, cis in by_line.items()}
