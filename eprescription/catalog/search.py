"""Medication search: every query word prefix-matches a term of the product; best matches first."""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Subquery, and_, case, func, select
from sqlalchemy.orm import Session, aliased, selectinload

from eprescription.catalog.search_index import CODE_KINDS, NAME, NAME_FIRST, SUBSTANCE
from eprescription.catalog.text import words
from eprescription.domain.errors import ValidationFailed
from eprescription.models import GenericGroupMember, Presentation, Product, SearchTerm

QUERY_MAX_LENGTH = 100
PAGE_SIZE_MAX = 50
# Shorter numbers are strengths ("doliprane 500"), not the start of a CIS, CIP7 or CIP13.
CODE_PREFIX_MIN_DIGITS = 6


@dataclass(frozen=True)
class SearchPage:
    """One page of products, in rank order, and how many products match in all."""

    items: list[Product]
    total: int
    page: int
    page_size: int


def search_medications(session: Session, q: str, page: int, page_size: int) -> SearchPage:
    """The `page`-th page (from 1) of products matching every word of `q`, best first."""
    query_words = words(q)
    if not query_words:
        raise ValidationFailed(
            "Type at least one letter or digit to search.",
            errors={"q": ["Type at least one letter or digit."]},
        )
    ranked = _ranked_matches(query_words)
    # Rank and cut the page on the search terms alone; only the page's products are read.
    page_ranks = (
        select(ranked, func.count().over().label("total"))
        .order_by(ranked.c.score, ranked.c.product_rank)
        .limit(page_size)
        .offset((page - 1) * page_size)
        .subquery()
    )
    statement = (
        select(Product, page_ranks.c.total)
        .join(page_ranks, page_ranks.c.cis == Product.cis)
        .order_by(page_ranks.c.score, page_ranks.c.product_rank)
        .options(
            selectinload(Product.presentations.and_(Presentation.removed_from_bdpm_at.is_(None))),
            selectinload(Product.compositions),
            selectinload(Product.generic_memberships).joinedload(GenericGroupMember.group),
        )
    )
    rows = session.execute(statement).all()
    # Past the last page, the window count has no row to ride on.
    total = rows[0].total if rows else session.scalar(select(func.count()).select_from(ranked))
    return SearchPage([row.Product for row in rows], total, page, page_size)


def _ranked_matches(query_words: list[str]) -> Subquery:
    """(cis, score, product_rank) of the products matching every word; scored on the first word.

    The longest word drives the scan, as it is usually the rarest ("chlorhydrate de"): each
    of its products is then checked for the other words through the (cis, term) index.
    """
    first = query_words[0]
    driver = max(query_words, key=len)
    terms = aliased(SearchTerm)
    statement = select(terms.cis, func.min(terms.product_rank).label("product_rank")).where(
        *_starts_with(terms, driver),
        *(_has_term_starting_with(terms.cis, word) for word in query_words if word != driver),
    )
    if driver == first:
        statement = statement.add_columns(func.min(_score(terms, first)).label("score"))
    else:
        of_first = aliased(SearchTerm)
        statement = statement.add_columns(
            select(func.min(_score(of_first, first)))
            .where(of_first.cis == terms.cis, *_starts_with(of_first, first))
            .scalar_subquery()
            .label("score")
        )
    return statement.group_by(terms.cis).subquery()


def _score(terms: type[SearchTerm], first: str) -> ColumnElement[int]:
    """0: `first` is the first name word; 1: starts it; 2: another name word; 3: a substance."""
    return case(
        (and_(terms.kind == NAME_FIRST, terms.term == first), 0),
        (terms.kind == NAME_FIRST, 1),
        (terms.kind == NAME, 2),
        (terms.kind == SUBSTANCE, 3),
        else_=4,
    )


def _has_term_starting_with(cis: ColumnElement[str], word: str) -> ColumnElement[bool]:
    other = aliased(SearchTerm)
    return select(other.id).where(other.cis == cis, *_starts_with(other, word)).exists()


def _starts_with(terms: type[SearchTerm], word: str) -> list[ColumnElement[bool]]:
    """Terms that start with `word`, as a range the term indexes serve on every engine."""
    after_every_extension = word[:-1] + chr(ord(word[-1]) + 1)
    conditions = [terms.term >= word, terms.term < after_every_extension]
    if not (word.isdigit() and len(word) >= CODE_PREFIX_MIN_DIGITS):
        conditions.append(terms.kind.not_in(CODE_KINDS))
    return conditions
