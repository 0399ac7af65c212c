"""Substance lines: an active substance at a strength in a form (a DCI line), as a
prescription by DCI names it, made of the single-substance products a pharmacy can give."""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from eprescription.catalog.popularity import Popularity
from eprescription.catalog.text import normalise, search_words, strengths, without_form
from eprescription.models import CompositionLine, Product

# Homeopathic dilutions ("2CH à 30CH") are not prescribed by DCI.
HOMEOPATHIC_PROCEDURE = "homéo"
# "AMOXICILLINE ANHYDRE", "METFORMINE BASE": the DCI a doctor writes leaves these words out.
DISPLAY_DROPPED = {"base", "anhydre"}
# Shorter words ("de", "acide") say nothing of which substance a product's name shows.
SIGNIFICANT_LENGTH = 6
# Kinds of term of a line: the substance's words, best; its strength and form after.
SUBSTANCE, DETAIL = "substance", "detail"


@dataclass
class Line:
    """One substance line and the products it gathers (most popular first)."""

    substance_code: str
    strength: str  # as the catalog writes it for the line's most popular product
    per: str
    form: str
    names: Counter = field(default_factory=Counter)  # the substance's names in the catalog
    products: list[str] = field(default_factory=list)
    popularity: Popularity = field(default_factory=Popularity)

    @property
    def substance_name(self) -> str:
        """The DCI as a prescription writes it, lowercase ("amoxicilline"): the line's most
        common name of its substance."""
        name = self.names.most_common(1)[0][0]
        return " ".join(
            word for word in name.lower().split() if normalise(word) not in DISPLAY_DROPPED
        )

    @property
    def label(self) -> str:
        """The line as shown: "amoxicilline 1 g, comprimé dispersible", "… 250 mg pour 5 ml, …"."""
        per = f" pour {self.per}" if self.per[:1].isdigit() else ""
        return f"{self.substance_name} {self.strength}{per}, {self.form}"

    def terms(self) -> dict[str, str]:
        """The line's search terms and their kinds: substance words first."""
        found: dict[str, str] = {}
        for name in self.names:
            found.update(dict.fromkeys(search_words(name), SUBSTANCE))
        details = strengths(self.strength) + search_words(self.strength) + search_words(self.form)
        for term in details:
            found.setdefault(term, DETAIL)
        return found

    def document(self) -> dict:
        """The line as a search hit shows it (schemas.medications.SubstanceLineSchema)."""
        return {
            "name": self.label,
            "substance_name": self.substance_name,
            "substance": {
                "code": self.substance_code,
                "strength": self.strength,
                "form": self.form,
            },
            "per": self.per,
            "products": len(self.products),
            "reimbursed": self.popularity.reimbursed > 0,
        }


def build(
    products: Sequence[Product],
    compositions: Mapping[str, Sequence[CompositionLine]],
    popularity: Mapping[str, Popularity],
) -> list[Line]:
    """The lines of the catalog, most prescribed first: one per substance, strength and form
    (compared as the counter compares them), from the prescribable single-substance products
    with a pack on the market; `compositions` by CIS, `popularity` of products on the market."""
    eligible = {
        product.cis: product
        for product in products
        if product.is_prescribable
        and product.cis in popularity
        and HOMEOPATHIC_PROCEDURE not in product.authorisation_procedure
    }
    ordered = sorted(
        eligible.values(), key=lambda product: (popularity[product.cis].first(), product.cis)
    )
    lines: dict[tuple[str, str, str], Line] = {}
    for product in ordered:
        dci = dci_composition(product.name, compositions.get(product.cis, ()))
        if dci is None:
            continue
        strength, form = " ".join(dci.strength.split()), " ".join(product.form.split())
        key = (dci.substance_code, strength.casefold(), form.casefold())
        line = lines.setdefault(
            key,
            Line(dci.substance_code, strength, dci.reference_quantity.strip(), form),
        )
        line.names[dci.substance_name] += 1
        line.products.append(product.cis)
        line.popularity += popularity[product.cis]
    return sorted(lines.values(), key=lambda line: (line.popularity.first(), normalise(line.label)))


def is_combination(product_name: str, compositions: Iterable[CompositionLine]) -> bool:
    """Several active substances, and a name (before the form) that shows it
    ("PARACETAMOL/CODEINE …", "DAFALGAN CODEINE"); a brand of several substances named as
    one medicine ("SPASFON") is prescribed as one. A substance is its SA line with, paired by
    link number, its FT line."""
    groups = _groups(compositions)
    if len(groups) < 2:
        return False
    named = {
        word for word in search_words(without_form(product_name)) if len(word) >= SIGNIFICANT_LENGTH
    }
    return any(named & set(search_words(line.substance_name)) for group in groups for line in group)


def dci_composition(
    product_name: str, compositions: Iterable[CompositionLine]
) -> CompositionLine | None:
    """The composition line a prescription by DCI names for a single-substance product: the
    one whose strength the product's name states ("METFORMINE … 1000 mg": the hydrochloride,
    not the 780 mg of base), else its therapeutic fraction (FT), else its substance (SA)."""
    groups = _groups(compositions)
    if len(groups) != 1:
        return None
    candidates = [line for line in groups[0] if line.strength.strip()]
    named = set(strengths(product_name))
    for line in candidates:
        if set(strengths(line.strength)) & named:
            return line
    candidates.sort(key=lambda line: line.nature != "FT")
    return candidates[0] if candidates else None


def _groups(compositions: Iterable[CompositionLine]) -> list[list[CompositionLine]]:
    groups: dict[object, list[CompositionLine]] = defaultdict(list)
    for line in compositions:
        groups[line.link_number if line.link_number is not None else ("line", line.id)].append(line)
    return list(groups.values())
