"""The search index: the normalised words and codes that lead a search to each product."""

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from eprescription.catalog.text import normalise, words
from eprescription.models import CompositionLine, Presentation, Product, SearchTerm

MARKETED = "Commercialisée"
SEARCHED_NATURES = ("SA", "FT")
TERM_LENGTH = 128

# Kinds of term, best first: when one word of a product is several kinds, the best is kept.
NAME_FIRST, NAME, SUBSTANCE, CIS, CIP13, CIP7 = (
    "name_first",
    "name",
    "substance",
    "cis",
    "cip13",
    "cip7",
)
KINDS = (NAME_FIRST, NAME, SUBSTANCE, CIS, CIP13, CIP7)
CODE_KINDS = (CIS, CIP13, CIP7)


def rebuild(session: Session) -> int:
    """Replace every search term from the catalog in `session` (the caller commits); the count."""
    session.execute(delete(SearchTerm))
    products = session.scalars(select(Product)).all()
    terms: dict[str, dict[str, str]] = {product.cis: {} for product in products}
    for product in products:
        name_words = words(product.name)
        _add(terms[product.cis], name_words[:1], NAME_FIRST)
        _add(terms[product.cis], name_words[1:], NAME)
        _add(terms[product.cis], [product.cis], CIS)
    substances = select(CompositionLine.cis, CompositionLine.substance_name).where(
        CompositionLine.nature.in_(SEARCHED_NATURES)
    )
    for cis, substance_name in session.execute(substances):
        _add(terms[cis], words(substance_name), SUBSTANCE)
    for cis, cip13, cip7 in session.execute(
        select(Presentation.cis, Presentation.cip13, Presentation.cip7)
    ):
        _add(terms[cis], [cip13], CIP13)
        _add(terms[cis], [cip7] if cip7 else [], CIP7)
    rows = [
        {"term": term, "kind": kind, "cis": product.cis, "product_rank": rank}
        for rank, product in enumerate(sorted(products, key=_catalog_order))
        for term, kind in terms[product.cis].items()
    ]
    if rows:  # a Core executemany: the ORM's per-row bookkeeping would double the time
        session.execute(insert(SearchTerm.__table__), rows)
    # Fresh statistics, or the planners guess the term ranges and pick slow plans.
    session.execute(text(f"ANALYZE {SearchTerm.__tablename__}"))
    return len(rows)


def _add(product_terms: dict[str, str], new_terms: list[str], kind: str) -> None:
    for term in new_terms:
        term = term[:TERM_LENGTH]
        known = product_terms.get(term)
        if known is None or KINDS.index(kind) < KINDS.index(known):
            product_terms[term] = kind


def _catalog_order(product: Product) -> tuple:
    """Marketed prescribable products first, then authorised ones, then withdrawn; then by name."""
    if not product.is_prescribable:
        availability = 2
    else:
        availability = 0 if product.marketing_status == MARKETED else 1
    return availability, normalise(product.name), product.cis
