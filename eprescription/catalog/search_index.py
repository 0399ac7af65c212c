"""The search index: the words and codes that lead a search to each product, and its hit."""

import json
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from eprescription.catalog.text import normalise, words
from eprescription.models import (
    CompositionLine,
    GenericGroup,
    GenericGroupMember,
    Presentation,
    Product,
    SearchDocument,
    SearchTerm,
)
from eprescription.models.bulk import bulk_insert

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
GENERIC_TYPES = {0: "princeps", 1: "generic", 2: "complementary", 4: "substitutable"}
SUBSTANCE_FIELDS = ("code", "name", "strength", "per", "nature", "link_number")
PRESENTATION_FIELDS = (
    "cip13",
    "cip7",
    "label",
    "marketing_status",
    "reimbursement_rate",
    "price_cents",
)


def rebuild(session: Session) -> int:
    """Replace every search term and document from the catalog (the caller commits); the count."""
    session.execute(delete(SearchTerm))
    session.execute(delete(SearchDocument))
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
    bulk_insert(session, SearchTerm.__table__, rows)
    bulk_insert(session, SearchDocument.__table__, _documents(session, products))
    # Fresh statistics, or the planners guess the term ranges and pick slow plans.
    session.execute(text(f"ANALYZE {SearchTerm.__tablename__}"))
    return len(rows)


def _documents(session: Session, products: Sequence[Product]) -> list[dict]:
    """Each product as a search hit shows it, so that a search reads one row per hit."""
    substances, presentations, groups = defaultdict(list), defaultdict(list), defaultdict(list)
    lines = select(
        CompositionLine.cis,
        CompositionLine.substance_code,
        CompositionLine.substance_name,
        CompositionLine.strength,
        CompositionLine.reference_quantity,
        CompositionLine.nature,
        CompositionLine.link_number,
    ).order_by(CompositionLine.id)
    for cis, *fields in session.execute(lines):
        substances[cis].append(dict(zip(SUBSTANCE_FIELDS, fields, strict=True)))
    packs = (
        select(
            Presentation.cis,
            Presentation.cip13,
            Presentation.cip7,
            Presentation.label,
            Presentation.marketing_status,
            Presentation.reimbursement_rate,
            Presentation.price_cents,
        )
        .where(Presentation.removed_from_bdpm_at.is_(None))
        .order_by(Presentation.cip13)
    )
    for cis, *fields in session.execute(packs):
        presentations[cis].append(dict(zip(PRESENTATION_FIELDS, fields, strict=True)))
    memberships = (
        select(
            GenericGroupMember.cis,
            GenericGroupMember.group_id,
            GenericGroupMember.generic_type,
            GenericGroup.label,
        )
        .join(GenericGroup)
        .order_by(GenericGroupMember.group_id)
    )
    for cis, group_id, generic_type, label in session.execute(memberships):
        groups[cis].append(
            {
                "id": group_id,
                "label": label,
                "type": GENERIC_TYPES.get(generic_type, str(generic_type)),
            }
        )
    return [
        {
            "cis": product.cis,
            "document": json.dumps(
                {
                    "cis": product.cis,
                    "name": product.name,
                    "form": product.form,
                    "routes": [route for route in product.routes.split(";") if route],
                    "prescribable": product.is_prescribable,
                    "authorisation_status": product.authorisation_status,
                    "marketing_status": product.marketing_status,
                    "substances": substances[product.cis],
                    "presentations": presentations[product.cis],
                    "generic_groups": groups[product.cis],
                },
                ensure_ascii=False,
            ),
        }
        for product in products
    ]


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
