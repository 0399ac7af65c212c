"""Text normalisation shared by the search index, the search query and the prescriber's form."""

import re
import unicodedata
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise

# Letters that NFKD does not decompose but that a French keyboard user types as two letters.
LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})
WORD = re.compile(r"[^\W_]+")
# The combining marks that NFKD splits off Latin, Greek and Cyrillic letters (the accents), as
# one regular expression: a search rebuild normalises some 250,000 texts.
COMBINING = re.compile(
    "[\u0300-\u034e\u0350-\u036f\u0483-\u0487\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"
)
# Search words: a decimal number ("2,5" or "2.5") or a run of letters, so "1g" is "1", "g".
SEARCH_WORD = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+")
# "100 000 UI": the BDPM writes large strengths with a space between thousands.
THOUSANDS = re.compile(r"\b\d{1,3}(?: \d{3})+(?= ?(?:ui|mui)\b)")
# A rebuild reads each substance name, strength and form thousands of times, and each name
# thrice: enough of them to cover the catalog's distinct texts.
TOKENS_CACHED = 2**15
# Units of a strength, and how many of the canonical unit one of them is: "1 g" is "1000mg".
UNITS = {
    "mg": ("mg", Decimal(1)),
    "g": ("mg", Decimal(1000)),
    "μg": ("mg", Decimal("0.001")),
    "mcg": ("mg", Decimal("0.001")),
    "microgramme": ("mg", Decimal("0.001")),
    "microgrammes": ("mg", Decimal("0.001")),
    "ml": ("ml", Decimal(1)),
    "ui": ("ui", Decimal(1)),
}


def normalise(text: str) -> str:
    """Lowercase `text` and strip its accents: "PARACÉTAMOL" → "paracetamol"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(LIGATURES))
    return COMBINING.sub("", decomposed)


def words(text: str) -> list[str]:
    """The normalised words of `text`, in order, without repeats; punctuation separates words."""
    return list(dict.fromkeys(WORD.findall(normalise(text))))


def without_form(product_name: str) -> str:
    """A BDPM product name without the form after its ", ": "DOLIPRANE 1000 mg, comprimé" →
    "DOLIPRANE 1000 mg" (a comma inside a number, "62,5 mg", has no space after it)."""
    return product_name.split(", ", 1)[0]


def search_words(text: str) -> list[str]:
    """The words of `text` as the search index holds them: numbers apart from letters
    ("1g" → "1", "g"), decimals with a point ("2,5" → "2.5"); in order, without repeats."""
    return list(dict.fromkeys(_tokens(text)))


def strengths(text: str) -> list[str]:
    """The strengths written in `text`, each in its canonical unit: "1 g/125 mg" →
    "1000mg", "125mg"; "100 microgrammes" → "0.1mg"."""
    tokens = _tokens(text)
    found = (_strength(number, unit) for number, unit in pairwise(tokens))
    return list(dict.fromkeys(strength for strength in found if strength))


def query_words(text: str) -> list[str]:
    """The words of a search query: search words, with each number and its unit taken as one
    strength ("amoxicilline 1 g", "1g" and "1000 mg" all give "amoxicilline", "1000mg")."""
    tokens, merged = _tokens(text), []
    index = 0
    while index < len(tokens):
        strength = _strength(*tokens[index : index + 2]) if index + 1 < len(tokens) else None
        merged.append(strength or tokens[index])
        index += 2 if strength else 1
    return list(dict.fromkeys(merged))


@lru_cache(maxsize=TOKENS_CACHED)
def _tokens(text: str) -> tuple[str, ...]:
    normalised = THOUSANDS.sub(lambda match: match.group().replace(" ", ""), normalise(text))
    return tuple(token.replace(",", ".") for token in SEARCH_WORD.findall(normalised))


def _strength(number: str, unit: str) -> str | None:
    """`number` `unit` as one canonical strength ("1", "g" → "1000mg"), or None."""
    if not number[0].isdigit() or unit not in UNITS:
        return None
    canonical, factor = UNITS[unit]
    return f"{(Decimal(number) * factor).normalize():f}{canonical}"
