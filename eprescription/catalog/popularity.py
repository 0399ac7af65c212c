"""How commonly a product is prescribed, as far as the catalog tells: its packs on the market."""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from eprescription.catalog.text import normalise
from eprescription.models import Presentation, Product

# A pack's marketing status while pharmacies can order it (the others: stopped or suspended).
MARKETED_PACK = "Déclaration de commercialisation"


@dataclass(frozen=True)
class Popularity:
    """Packs on the market that social security reimburses, then all packs on the market:
    what doctors prescribe most is sold in most packs, and reimbursed."""

    reimbursed: int = 0
    marketed: int = 0

    def first(self) -> tuple[int, int]:
        """A sort key that puts the most popular first."""
        return -self.reimbursed, -self.marketed

    def __add__(self, other: "Popularity") -> "Popularity":
        return Popularity(self.reimbursed + other.reimbursed, self.marketed + other.marketed)


def of_products(session: Session) -> dict[str, Popularity]:
    """Each product's popularity by CIS (products with no pack on the market are absent)."""
    reimbursed, marketed = Counter[str](), Counter[str]()
    packs = select(Presentation.cis, Presentation.reimbursement_rate).where(
        Presentation.marketing_status == MARKETED_PACK,
        Presentation.removed_from_bdpm_at.is_(None),
    )
    for cis, rate in session.execute(packs):
        marketed[cis] += 1
        reimbursed[cis] += rate is not None
    return {cis: Popularity(reimbursed[cis], marketed[cis]) for cis in marketed}


def of_names(products: Sequence[Product], popular: dict[str, Popularity]) -> dict[str, Popularity]:
    """Each product's popularity with that of the products of the same name: parallel imports
    (a product bought abroad, a CIS of its own) are of what sells most."""
    names = {product.cis: normalise(product.name) for product in products}
    by_name: dict[str, Popularity] = defaultdict(Popularity)
    for cis, known in popular.items():
        if cis in names:
            by_name[names[cis]] += known
    return {cis: by_name.get(name, Popularity()) for cis, name in names.items()}
