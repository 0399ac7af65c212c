"""Medication search: every query word prefix-matches a term of the product; best matches first."""

import json
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from eprescription.catalog.search_index import CODE_KINDS, NAME, NAME_FIRST, SUBSTANCE
from eprescription.catalog.text import words
from eprescription.domain.errors import ValidationFailed

QUERY_MAX_LENGTH = 100
PAGE_SIZE_MAX = 50
# Shorter numbers are strengths ("doliprane 500"), not the start of a CIS, CIP7 or CIP13.
CODE_PREFIX_MIN_DIGITS = 6


@dataclass(frozen=True)
class SearchPage:
    """One page of hits (products as search_index documents them), best first, and the total."""

    items: list[dict]
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
    # The longest word drives the scan, as it is usually the rarest ("chlorhydrate de").
    driver = query_words.index(max(query_words, key=len))
    codes = tuple(_may_be_a_code(word) for word in query_words)
    params = {"first": query_words[0], "limit": page_size, "offset": (page - 1) * page_size}
    for index, word in enumerate(query_words):
        params[f"from_{index}"] = word
        params[f"to_{index}"] = word[:-1] + chr(ord(word[-1]) + 1)  # after every extension
    rows = session.execute(_page_statement(len(query_words), driver, codes), params).all()
    if rows:
        total = rows[0].total
    elif page == 1:
        total = 0
    else:  # past the last page, the window count has no row to ride on
        total = session.scalar(_count_statement(len(query_words), driver, codes), params)
    return SearchPage([json.loads(row.document) for row in rows], total, page, page_size)


def _may_be_a_code(word: str) -> bool:
    return word.isdigit() and len(word) >= CODE_PREFIX_MIN_DIGITS


# The statements are plain SQL, made once per query shape: building them with the
# expression language cost more than running them. Both engines serve the term ranges
# from the (term, …) index; PostgreSQL compares terms in the "C" collation.


@lru_cache(maxsize=256)
def _page_statement(word_count: int, driver: int, codes: tuple[bool, ...]) -> TextClause:
    """Rank and cut the page on the search terms alone; then read only the page's documents."""
    return text(f"""
        WITH matches AS ({_matches_sql(word_count, driver, codes)}),
        page AS (
            SELECT cis, score, product_rank, COUNT(*) OVER () AS total
            FROM matches ORDER BY score, product_rank LIMIT :limit OFFSET :offset
        )
        SELECT documents.document, page.total
        FROM page JOIN medication_search_documents AS documents ON documents.cis = page.cis
        ORDER BY page.score, page.product_rank
    """)


@lru_cache(maxsize=256)
def _count_statement(word_count: int, driver: int, codes: tuple[bool, ...]) -> TextClause:
    return text(f"SELECT COUNT(*) FROM ({_matches_sql(word_count, driver, codes)}) AS matches")


def _matches_sql(word_count: int, driver: int, codes: tuple[bool, ...]) -> str:
    """(cis, product_rank, score) of the products having a term that starts with every word."""
    others = "".join(
        f"""
            AND EXISTS (SELECT 1 FROM medication_search_terms AS other_{index}
                        WHERE other_{index}.cis = terms.cis
                        AND {_starts_with(f"other_{index}", index, codes[index])})"""
        for index in range(word_count)
        if index != driver
    )
    if driver == 0:
        score = f"MIN({_score('terms')})"
    else:  # scored on the first word, which is not the one scanned
        score = f"""(SELECT MIN({_score("first_word")})
                     FROM medication_search_terms AS first_word
                     WHERE first_word.cis = terms.cis
                     AND {_starts_with("first_word", 0, codes[0])})"""
    return f"""
        SELECT terms.cis, MIN(terms.product_rank) AS product_rank, {score} AS score
        FROM medication_search_terms AS terms
        WHERE {_starts_with("terms", driver, codes[driver])}{others}
        GROUP BY terms.cis"""


def _starts_with(alias: str, index: int, may_be_a_code: bool) -> str:
    """Terms from the word up to (not including) the word with its last letter raised."""
    condition = f"{alias}.term >= :from_{index} AND {alias}.term < :to_{index}"
    if not may_be_a_code:
        condition += f" AND {alias}.kind NOT IN ({', '.join(repr(kind) for kind in CODE_KINDS)})"
    return condition


def _score(alias: str) -> str:
    """0: the first word is the name's first word; 1: starts it; 2: another name word;
    3: a substance; 4: a code."""
    return (
        f"CASE WHEN {alias}.kind = '{NAME_FIRST}' AND {alias}.term = :first THEN 0"
        f" WHEN {alias}.kind = '{NAME_FIRST}' THEN 1 WHEN {alias}.kind = '{NAME}' THEN 2"
        f" WHEN {alias}.kind = '{SUBSTANCE}' THEN 3 ELSE 4 END"
    )
