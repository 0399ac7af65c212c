"""Text normalisation shared by the search index, the search query and the prescriber's form."""

import re
import unicodedata

# Letters that NFKD does not decompose but that a French keyboard user types as two letters.
LIGATURES = str.maketrans({"œ": "oe", "æ": "ae"})
WORD = re.compile(r"[^\W_]+")


def normalise(text: str) -> str:
    """Lowercase `text` and strip its accents: "PARACÉTAMOL" → "paracetamol"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(LIGATURES))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """The normalised words of `text`, in order, without repeats; punctuation separates words."""
    return list(dict.fromkeys(WORD.findall(normalise(text))))
