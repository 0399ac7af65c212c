"""The BDPM's prescribing and dispensing conditions (CIS_CPD) read into typed rules."""

import enum
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass

# A month of a "prescription limitée à N mois" counts 30 days (docs/rules.md).
DAYS_PER_UNIT = {"jour": 1, "jours": 1, "semaine": 7, "semaines": 7, "mois": 30}
# The days an initial hospital prescription stays valid, by the word the BDPM uses.
INITIAL_DAYS = {"annuelle": 365, "semestrielle": 182, "trimestrielle": 91}


class Kind(enum.StrEnum):
    """What a condition asks of the service (docs/rules.md lists the rule of each)."""

    LIST_I = "list_i"
    LIST_II = "list_ii"
    NARCOTIC = "narcotic"  # stupéfiants
    SECURE_FORM = "secure_form"  # en toutes lettres sur ordonnance sécurisée
    DURATION_LIMIT = "duration_limit"  # prescription limitée à N jours / semaines / mois
    RESTRICTED_USE = "restricted_use"  # hospital, professional, emergency use: no community
    HOSPITAL_PRESCRIPTION = "hospital_prescription"
    SPECIALIST = "specialist"  # prescription réservée aux spécialistes …
    INITIAL_HOSPITAL = "initial_hospital"  # prescription initiale hospitalière …
    INITIAL_SPECIALIST = "initial_specialist"  # prescription initiale réservée …
    RENEWAL_SPECIALIST = "renewal_specialist"  # renouvellement réservé aux spécialistes en …
    FRACTIONED = "fractioned"  # délivrance fractionnée de N jours
    NO_OVERLAP = "no_overlap"  # chevauchement interdit sauf mention expresse
    NOTICE = "notice"  # shown to the prescriber and the pharmacist; nothing to enforce
    UNKNOWN = "unknown"  # a text no pattern reads: shown, and listed by `catalog conditions`


@dataclass(frozen=True)
class Condition:
    """One condition: its kind, the BDPM's text (the rule's source) and its parameters."""

    kind: Kind
    text: str
    days: int | None = None  # DURATION_LIMIT, FRACTIONED; INITIAL_HOSPITAL: its validity
    specialty: str | None = None  # SPECIALIST, INITIAL_SPECIALIST, RENEWAL_SPECIALIST


def normalised(text: str) -> str:
    """Lowercase, no accents, straight apostrophes, spaces collapsed: what the patterns read."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("\u2019", "'"))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.split())


def _days(count: str, unit: str) -> int:
    return int(count) * DAYS_PER_UNIT[unit]


def _limit(match: re.Match, text: str) -> Condition:
    # "7 jours ou 28 jours" depends on the form (docs/rules.md): the shorter, the safer.
    days = [_days(match["count"], match["unit"])]
    if match["other"]:
        days.append(_days(match["other"], match["other_unit"]))
    return Condition(Kind.DURATION_LIMIT, text, days=min(days))


def _specialty(kind: Kind):
    def read(match: re.Match, text: str) -> Condition:
        start, end = match.span("who")
        return Condition(kind, text, specialty=text[start:end].strip(" .") or None)

    return read


def _initial_hospital(match: re.Match, text: str) -> Condition:
    return Condition(Kind.INITIAL_HOSPITAL, text, days=INITIAL_DAYS.get(match["period"] or ""))


def _fractioned(match: re.Match, text: str) -> Condition:
    return Condition(Kind.FRACTIONED, text, days=int(match["count"]))


def _plain(kind: Kind):
    return lambda _match, text: Condition(kind, text)


UNIT = r"(?:jours?|semaines?|mois)"
# (pattern over the normalised text, reader). The same letters, accents and case are kept in
# the specialty from the original text, so the pattern's "who" group is matched on a text of
# the same length (normalising removes combining marks only after NFKD: see _match).
PATTERNS = (
    (r"liste i", _plain(Kind.LIST_I)),
    (r"liste ii", _plain(Kind.LIST_II)),
    (r"stupefiants?", _plain(Kind.NARCOTIC)),
    (r"prescription en toutes lettres sur ordonnance securisee", _plain(Kind.SECURE_FORM)),
    (
        rf"prescription limitee a (?P<count>\d+) (?P<unit>{UNIT})"
        rf"(?: ou (?P<other>\d+) (?P<other_unit>{UNIT}))?",
        _limit,
    ),
    (r"delivrance fractionnee de (?P<count>\d+) jours", _fractioned),
    (r"chevauchement interdit sauf mention expresse.*", _plain(Kind.NO_OVERLAP)),
    (r"prescription hospitaliere", _plain(Kind.HOSPITAL_PRESCRIPTION)),
    (
        r"prescription reservee aux medecins hospitaliers .*",
        _plain(Kind.HOSPITAL_PRESCRIPTION),
    ),
    (
        r"prescription initiale hospitaliere(?: (?P<period>annuelle|semestrielle|trimestrielle))?",
        _initial_hospital,
    ),
    (
        r"prescription initiale(?: annuelle| semestrielle)? reservee a certains specialistes",
        _plain(Kind.INITIAL_SPECIALIST),
    ),
    (
        r"prescription initiale(?: annuelle| semestrielle)? (?:reservee aux specialistes et "
        r"services|par un medecin exercant dans un) (?P<who>.+)",
        _specialty(Kind.INITIAL_SPECIALIST),
    ),
    (
        r"renouvellement de la prescription reservee? aux specialistes en (?P<who>.+)",
        _specialty(Kind.RENEWAL_SPECIALIST),
    ),
    (
        r"prescription reservee aux (?:specialistes et services|specialistes en|specialistes "
        r"autorises|specialistes|medecins competents en|medecins exercant dans les|"
        r"medecins exercant dans|titulaires de la|unites de soins intensifs en|"
        r"medecins specialistes ou qualifies en) (?P<who>.+)",
        _specialty(Kind.SPECIALIST),
    ),
    (
        r"prescription par un medecin exercant (?:dans un|en) (?P<who>.+)",
        _specialty(Kind.SPECIALIST),
    ),
    (
        r"(?:reserve a l'usage|reserve a une structure|reserve aux vehicules|reserve aux "
        r"centres|delivrance reservee aux|l'administration doit etre effectuee dans) .*",
        _plain(Kind.RESTRICTED_USE),
    ),
    # Obligations of the prescriber or the pharmacist the service cannot check (a consent, a
    # leaflet, a test result, an administration in hospital), and the continuation lines of
    # several-line conditions ("pour tous les patients :"): shown, never silently dropped.
    (
        r"(?:medicament (?:necessitant|soumis)|pour (?:les |toute |tous |enfants )|femmes en age"
        r"|prescription necessitant|prescription et delivrance subordonnees|delivrance apres"
        r"|delivrance ne pouvant|delivrance effectuee par une pharmacie de ville"
        r"|la prescription necessite|la delivrance ne peut|la premiere delivrance|mise a jour"
        r"|ordonnance avec|dosage|conservation d'une copie|un livret"
        r"|(?:les )?(?:premiere|deux|trois|six|huit|(?:deux|trois|six|huit) premieres) "
        r"(?:premieres )?administrations?"
        r"|dispositions particulieres|a ne prendre que|hors etablissement de sante).*",
        _plain(Kind.NOTICE),
    ),
)
_COMPILED = tuple((re.compile(pattern), read) for pattern, read in PATTERNS)


def classify(text: str) -> Condition:
    """The typed rule of one CIS_CPD text; UNKNOWN (kept, and shown as it is) when none fits."""
    text = " ".join(text.split())
    plain = normalised(text)
    # The specialty is copied from the original text: the normalised one has the same words.
    aligned = len(plain) == len(text)
    for pattern, read in _COMPILED:
        match = pattern.fullmatch(plain)
        if match:
            condition = read(match, text if aligned else plain)
            if not aligned and condition.specialty:
                return Condition(condition.kind, text, condition.days, condition.specialty.upper())
            return Condition(condition.kind, text, condition.days, condition.specialty)
    return Condition(Kind.UNKNOWN, text)


def classify_all(texts: Iterable[str]) -> list[Condition]:
    """The conditions of one product, in the BDPM's order, each text once."""
    return [classify(text) for text in dict.fromkeys(texts)]


def to_json(conditions: Iterable[Condition]) -> str:
    """The conditions as the catalog stores them with the product (read by `from_json`)."""
    return json.dumps(
        [{k: v for k, v in asdict(c).items() if v is not None} for c in conditions],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def from_json(stored: str | None) -> tuple[Condition, ...]:
    """The conditions `to_json` stored; an empty or absent value is no condition."""
    return from_items(json.loads(stored)) if stored else ()


def from_items(items: Iterable[dict] | None) -> tuple[Condition, ...]:
    """The conditions as `to_json` wrote them, parsed (a signed line's "conditions")."""
    return tuple(
        Condition(Kind(item["kind"]), item["text"], item.get("days"), item.get("specialty"))
        for item in items or ()
    )
