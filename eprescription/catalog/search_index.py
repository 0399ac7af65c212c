"""The search index: the words and codes that lead a search to each product, and its hit."""

import json
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from eprescription.catalog import popularity, substance_lines
from eprescription.catalog.popularity import Popularity
from eprescription.catalog.text import normalise, search_words, strengths, without_form
from eprescription.models import (
    CompositionLine,
    GenericGroup,
    GenericGroupMember,
    Presentation,
    Product,
    SearchDocument,
    SearchTerm,
    SubstanceLine,
    SubstanceLineTerm,
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
# A hit's substances and packs: each field of the document, and the column it is read from.
SUBSTANCE_FIELDS = {
    "code": CompositionLine.substance_code,
    "name": CompositionLine.substance_name,
    "strength": CompositionLine.strength,
    "per": CompositionLine.reference_quantity,
    "nature": CompositionLine.nature,
    "link_number": CompositionLine.link_number,
}
PRESENTATION_FIELDS = {
    name: getattr(Presentation, name)
    for name in ("cip13", "cip7", "label", "marketing_status", "reimbursement_rate", "price_cents")
}


def rebuild(session: Session) -> int:
    """Replace every search term, document and substance line from the catalog (the caller
    commits); the number of terms."""
    for table in (SearchTerm, SearchDocument, SubstanceLineTerm, SubstanceLine):
        session.execute(delete(table))
    products = session.scalars(select(Product)).all()
    terms: dict[str, dict[str, str]] = {product.cis: {} for product in products}
    for product in products:
        name_words = search_words(product.name)
        _add(terms[product.cis], name_words[:1], NAME_FIRST)
        _add(terms[product.cis], name_words[1:] + strengths(product.name), NAME)
        _add(terms[product.cis], [product.cis], CIS)
    substances = select(
        CompositionLine.cis, CompositionLine.substance_name, CompositionLine.strength
    ).where(CompositionLine.nature.in_(SEARCHED_NATURES))
    for cis, substance_name, strength in session.execute(substances):
        _add(terms[cis], search_words(substance_name) + strengths(strength), SUBSTANCE)
    for cis, cip13, cip7 in session.execute(
        select(Presentation.cis, Presentation.cip13, Presentation.cip7)
    ):
        _add(terms[cis], [cip13], CIP13)
        _add(terms[cis], [cip7] if cip7 else [], CIP7)
    compositions: dict[str, list[CompositionLine]] = defaultdict(list)
    for line in session.scalars(select(CompositionLine).order_by(CompositionLine.id)):
        compositions[line.cis].append(line)
    popular = popularity.of_products(session)
    order = _catalog_order(compositions, popularity.of_names(products, popular))
    rows = [
        {"term": term, "kind": kind, "cis": product.cis, "product_rank": rank}
        for rank, product in enumerate(sorted(products, key=order))
        for term, kind in terms[product.cis].items()
    ]
    bulk_insert(session, SearchTerm.__table__, rows)
    bulk_insert(session, SearchDocument.__table__, _documents(session, products))
    _write_lines(session, substance_lines.build(products, compositions, popular))
    # Fresh statistics, or the planners guess the term ranges and pick slow plans.
    for table in (SearchTerm, SubstanceLineTerm):
        session.execute(text(f"ANALYZE {table.__tablename__}"))
    return len(rows)


def _write_lines(session: Session, lines: list[substance_lines.Line]) -> None:
    """The substance lines, their place in the order as their id, and their terms."""
    documents = [
        {"id": rank, "document": json.dumps(line.document(), ensure_ascii=False)}
        for rank, line in enumerate(lines)
    ]
    bulk_insert(session, SubstanceLine.__table__, documents)
    terms = [
        {"term": term[:TERM_LENGTH], "kind": kind, "line_id": rank}
        for rank, line in enumerate(lines)
        for term, kind in line.terms().items()
    ]
    bulk_insert(session, SubstanceLineTerm.__table__, terms)


def _documents(session: Session, products: Sequence[Product]) -> list[dict]:
    """Each product as a search hit shows it, so that a search reads one row per hit."""
    substances, presentations, groups = defaultdict(list), defaultdict(list), defaultdict(list)
    lines = select(CompositionLine.cis, *SUBSTANCE_FIELDS.values()).order_by(CompositionLine.id)
    for cis, *fields in session.execute(lines):
        substances[cis].append(dict(zip(SUBSTANCE_FIELDS, fields, strict=True)))
    packs = (
        select(Presentation.cis, *PRESENTATION_FIELDS.values())
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
                    # As domain/prescribing_conditions.to_json stored them at the import.
                    "conditions": json.loads(product.conditions or "[]"),
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


def _catalog_order(
    compositions: dict[str, list[CompositionLine]], popular: dict[str, Popularity]
) -> Callable[[Product], tuple]:
    """The sort key of products in the catalog order: marketed prescribable products first,
    then authorised ones, then withdrawn; among them single substances before combinations,
    the most prescribed first; then the plainest name (the brand's base product before its
    variants: "SPASFON, comprimé enrobé" before "SPASFON LYOC 160 mg"), then by name."""

    def order(product: Product) -> tuple:
        if not product.is_prescribable:
            availability = 2
        else:
            availability = 0 if product.marketing_status == MARKETED else 1
        combination = substance_lines.is_combination(product.name, compositions[product.cis])
        plainness = len(search_words(without_form(product.name)))
        known = popular.get(product.cis, Popularity()).first()
        return availability, combination, known, plainness, normalise(product.name), product.cis

    return order
