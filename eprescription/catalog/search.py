"""Medication search: every query word prefix-matches a term of the product or substance line;
substance lines (DCI) first, then products, best matches first."""

import json
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from eprescription.catalog import substance_lines
from eprescription.catalog.search_index import CODE_KINDS, NAME, NAME_FIRST, SUBSTANCE
from eprescription.catalog.text import query_words
from eprescription.domain.errors import ValidationFailed

QUERY_MAX_LENGTH = 100
PAGE_SIZE_MAX = 50
# Shorter numbers are strengths ("doliprane 500"), not the start of a CIS, CIP7 or CIP13.
CODE_PREFIX_MIN_DIGITS = 6


@dataclass(frozen=True)
class SearchPage:
    """One page of hits (products as search_index documents them), best first, and the total;
    on the first page, the substance lines that match as well as the best product, best first."""

    items: list[dict]
    total: int
    page: int
    page_size: int
    substances: list[dict]


def search_medications(session: Session, q: str, page: int, page_size: int) -> SearchPage:
    """The `page`-th page (from 1) of products matching every word of `q`, best first; on the
    first page, up to `page_size` substance lines too (one statement either way)."""
    words = query_words(q)
    if not words:
        raise ValidationFailed(
            "Type at least one letter or digit to search.",
            errors={"q": ["Type at least one letter or digit."]},
        )
    # The longest word drives the scan, as it is usually the rarest ("chlorhydrate de").
    driver = words.index(max(words, key=len))
    codes = tuple(_may_be_a_code(word) for word in words)
    params = {
        "first": words[0],
        "limit": page_size,
        "offset": (page - 1) * page_size,
        "lines": page_size if page == 1 else 0,
    }
    for index, word in enumerate(words):
        params[f"from_{index}"] = word
        params[f"to_{index}"] = word[:-1] + chr(ord(word[-1]) + 1)  # after every extension
    rows = session.execute(_page_statement(len(words), driver, codes), params).all()
    products = [row for row in rows if row.part == PRODUCTS]
    if products:
        total = products[0].total
    elif page == 1:
        total = 0
    else:  # past the last page, the window count has no row to ride on
        total = session.scalar(_count_statement(len(words), driver, codes), params)
    return SearchPage(
        [json.loads(row.document) for row in products],
        total,
        page,
        page_size,
        [json.loads(row.document) for row in rows if row.part == LINES],
    )


def _may_be_a_code(word: str) -> bool:
    return word.isdigit() and len(word) >= CODE_PREFIX_MIN_DIGITS


# The statements are plain SQL, made once per query shape: building them with the
# expression language cost more than running them. Both engines serve the term ranges
# from the (term, …) index; PostgreSQL compares terms in the "C" collation.


@lru_cache(maxsize=256)
def _page_statement(word_count: int, driver: int, codes: tuple[bool, ...]) -> TextClause:
    """Rank and cut the page on the search terms alone; then read only the page's documents.
    The substance lines kept are those that match at least as well as the best product."""
    products = _matches_sql(PRODUCT_TERMS, word_count, driver, codes)
    lines = _matches_sql(LINE_TERMS, word_count, driver, codes)
    return text(f"""
        WITH matches AS ({products}),
        page AS (
            SELECT cis, score, entry_rank, COUNT(*) OVER () AS total
            FROM matches ORDER BY score, entry_rank LIMIT :limit OFFSET :offset
        ),
        line_matches AS ({lines}),
        line_page AS (
            SELECT line_matches.line_id, line_matches.score FROM line_matches
            WHERE line_matches.score <= COALESCE((SELECT MIN(score) FROM matches), {WORST})
            ORDER BY line_matches.score, line_matches.line_id LIMIT :lines
        )
        SELECT {LINES} AS part, line_page.score, line_page.line_id AS entry_rank,
               lines.document, NULL AS total
        FROM line_page JOIN medication_substance_lines AS lines ON lines.id = line_page.line_id
        UNION ALL
        SELECT {PRODUCTS} AS part, page.score, page.entry_rank,
               documents.document, page.total
        FROM page JOIN medication_search_documents AS documents ON documents.cis = page.cis
        ORDER BY part, score, entry_rank
    """)


@lru_cache(maxsize=256)
def _count_statement(word_count: int, driver: int, codes: tuple[bool, ...]) -> TextClause:
    matches = _matches_sql(PRODUCT_TERMS, word_count, driver, codes)
    return text(f"SELECT COUNT(*) FROM ({matches}) AS matches")


@dataclass(frozen=True)
class _Terms:
    """An index of terms: its table, the column of what a term leads to, its rank, its scores."""

    table: str
    key: str
    rank: str
    score: str  # the score of a term matching the first word, from 0 (best) to WORST
    code_kinds: tuple[str, ...]


def _matches_sql(index: _Terms, word_count: int, driver: int, codes: tuple[bool, ...]) -> str:
    """(key, entry_rank, score) of the products or lines with a term starting with every word."""
    others = "".join(
        f"""
            AND EXISTS (SELECT 1 FROM {index.table} AS other_{i}
                        WHERE other_{i}.{index.key} = terms.{index.key}
                        AND {_starts_with(index, f"other_{i}", i, codes[i])})"""
        for i in range(word_count)
        if i != driver
    )
    if driver == 0:
        score = f"MIN({index.score.format(alias='terms')})"
    else:  # scored on the first word, which is not the one scanned
        score = f"""(SELECT MIN({index.score.format(alias="first_word")})
                     FROM {index.table} AS first_word
                     WHERE first_word.{index.key} = terms.{index.key}
                     AND {_starts_with(index, "first_word", 0, codes[0])})"""
    return f"""
        SELECT terms.{index.key}, MIN(terms.{index.rank}) AS entry_rank, {score} AS score
        FROM {index.table} AS terms
        WHERE {_starts_with(index, "terms", driver, codes[driver])}{others}
        GROUP BY terms.{index.key}"""


def _starts_with(index: _Terms, alias: str, i: int, may_be_a_code: bool) -> str:
    """Terms from the word up to (not including) the word with its last letter raised."""
    condition = f"{alias}.term >= :from_{i} AND {alias}.term < :to_{i}"
    if index.code_kinds and not may_be_a_code:
        kinds = ", ".join(repr(kind) for kind in index.code_kinds)
        condition += f" AND {alias}.kind NOT IN ({kinds})"
    return condition


WORST = 4
LINES, PRODUCTS = 0, 1
# Products: 0 the first word is the name's first word; 1 starts it; 2 another name word;
# 3 a substance; 4 a code.
PRODUCT_TERMS = _Terms(
    table="medication_search_terms",
    key="cis",
    rank="product_rank",
    score=(
        f"CASE WHEN {{alias}}.kind = '{NAME_FIRST}' AND {{alias}}.term = :first THEN 0"
        f" WHEN {{alias}}.kind = '{NAME_FIRST}' THEN 1 WHEN {{alias}}.kind = '{NAME}' THEN 2"
        f" WHEN {{alias}}.kind = '{SUBSTANCE}' THEN 3 ELSE {WORST} END"
    ),
    code_kinds=CODE_KINDS,
)
# Substance lines: 0 the first word is a word of the substance; 1 starts one; 3 the strength
# or the form. The line's id is its rank.
LINE_TERMS = _Terms(
    table="medication_substance_line_terms",
    key="line_id",
    rank="line_id",
    score=(
        f"CASE WHEN {{alias}}.kind = '{substance_lines.SUBSTANCE}' AND {{alias}}.term = :first"
        f" THEN 0 WHEN {{alias}}.kind = '{substance_lines.SUBSTANCE}' THEN 1 ELSE 3 END"
    ),
    code_kinds=(),
)
