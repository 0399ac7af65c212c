"""The rules a line must keep when it is issued: its product's conditions and the CSP's limits."""

from collections.abc import Iterable
from dataclasses import dataclass

from num2words import num2words

from eprescription.domain.messages import Message
from eprescription.domain.prescribing_conditions import Condition, Kind, normalised

NARCOTIC_DAYS_MAX = 28  # R5132-30
LISTED_DAYS_MAX = 365  # R5132-21: liste I and II, renewals included, at most 12 months
HOSPITAL, COMMUNITY = "hospital", "community"
SETTINGS = (COMMUNITY, HOSPITAL)
INITIAL_KINDS = frozenset({Kind.INITIAL_HOSPITAL, Kind.INITIAL_SPECIALIST})
SECURE_KINDS = frozenset({Kind.NARCOTIC, Kind.SECURE_FORM})


def is_secure(conditions: Iterable[Condition]) -> bool:
    """Whether the line is written on a secure prescription, its quantity in words too
    (CSP R5132-29: narcotics, and "prescription en toutes lettres sur ordonnance sécurisée")."""
    return any(condition.kind in SECURE_KINDS for condition in conditions)


def quantity_in_words(quantity: int) -> str:
    """The quantity as the French copy writes it in full: 4 → "quatre"."""
    return num2words(quantity, lang="fr")


@dataclass(frozen=True)
class Prescriber:
    """What the rules need of the prescriber: their specialty and where they practise."""

    specialty: str
    setting: str = COMMUNITY


@dataclass(frozen=True)
class Line:
    """What the rules need of one line as asked for."""

    conditions: tuple[Condition, ...]
    duration_days: int | None  # of one period; None when the prescriber gave no structure
    renewals: int
    renewal_authorised: bool = False  # "renouvelable" written expressly (liste I)
    initial_prescription: str | None = None  # the initial prescription this line renews
    fractionation_days: int | None = None  # the prescriber's fractionation (narcotics)

    def has(self, kind: Kind) -> bool:
        return any(condition.kind is kind for condition in self.conditions)

    def of_kind(self, *kinds: Kind) -> list[Condition]:
        return [condition for condition in self.conditions if condition.kind in kinds]

    @property
    def total_days(self) -> int | None:
        """The treatment's duration over every period, when the line says it."""
        return None if self.duration_days is None else self.duration_days * (1 + self.renewals)


@dataclass(frozen=True)
class Judgement:
    """What the rules say of one line: the refusals, and what they could not judge (accepted,
    and said to the prescriber)."""

    refusals: tuple[Message, ...]
    notes: tuple[Message, ...]


def judge(line: Line, prescriber: Prescriber) -> Judgement:
    """Every rule of the line's conditions and of the Code de la santé publique, applied."""
    refusals: list[Message] = []
    notes: list[Message] = []
    _restricted(line, refusals)
    _narcotic(line, refusals, notes)
    _duration_limits(line, refusals, notes)
    _listed(line, refusals, notes)
    _who_prescribes(line, prescriber, refusals, notes)
    return Judgement(tuple(refusals), tuple(notes))


def _restricted(line: Line, refusals: list[Message]) -> None:
    for condition in line.of_kind(Kind.RESTRICTED_USE):
        refusals.append(
            Message(
                "rule_restricted_use",
                "«{source}»: not dispensed by community pharmacies, so it cannot be "
                "prescribed here",
                source=condition.text,
            )
        )


def _over_limit(days: int, limit: int, source: str) -> Message:
    return Message(
        "rule_duration_over_limit",
        "{days} days of treatment, at most {limit} (source: {source})",
        days=days,
        limit=limit,
        source=source,
    )


def _not_judged(notes: list[Message], source: str) -> None:
    notes.append(
        Message(
            "rule_duration_not_judged",
            "no duration in days was given, so «{source}» could not be checked",
            source=source,
        )
    )


def _narcotic(line: Line, refusals: list[Message], notes: list[Message]) -> None:
    if not line.has(Kind.NARCOTIC):
        if line.fractionation_days is not None:
            refusals.append(
                Message(
                    "rule_fractionation_narcotic",
                    "only a narcotic (stupéfiant) is given fractioned as the prescriber writes "
                    "(source: {source})",
                    source="CSP R5132-30",
                )
            )
        return
    if line.renewals:
        refusals.append(
            Message(
                "rule_narcotic_renewal",
                "a narcotic (stupéfiant) cannot be renewed (source: {source})",
                source="CSP R5132-30",
            )
        )
    limits = [NARCOTIC_DAYS_MAX] + [c.days for c in line.of_kind(Kind.DURATION_LIMIT) if c.days]
    longest = min(limits)
    if line.total_days is None:
        _not_judged(notes, "stupéfiants")
    elif line.total_days > longest:
        source = "CSP R5132-30" if longest == NARCOTIC_DAYS_MAX else "BDPM"
        refusals.append(_over_limit(line.total_days, longest, source))


def _duration_limits(line: Line, refusals: list[Message], notes: list[Message]) -> None:
    if line.has(Kind.NARCOTIC):
        return  # _narcotic applied the shorter of the two
    for condition in line.of_kind(Kind.DURATION_LIMIT):
        if line.total_days is None:
            _not_judged(notes, condition.text)
        elif condition.days is not None and line.total_days > condition.days:
            refusals.append(
                _over_limit(line.total_days, condition.days, f"BDPM «{condition.text}»")
            )


def _listed(line: Line, refusals: list[Message], notes: list[Message]) -> None:
    if line.has(Kind.LIST_I) and line.renewals and not line.renewal_authorised:
        refusals.append(
            Message(
                "rule_list_i_renewal",
                "a liste I medicine is renewed only when the prescriber says so expressly "
                "(source: {source})",
                source="CSP R5132-22",
            )
        )
    if not (line.has(Kind.LIST_I) or line.has(Kind.LIST_II)) or line.renewals == 0:
        return
    if line.total_days is None:
        _not_judged(notes, "liste I / liste II")
    elif line.total_days > LISTED_DAYS_MAX:
        refusals.append(_over_limit(line.total_days, LISTED_DAYS_MAX, "CSP R5132-21"))


def specialty_matches(specialty: str, allowed: Iterable[str]) -> bool:
    """Whether the prescriber's specialty is one of `allowed` (accents, case and the BDPM's
    wording aside: "Cardiologie" is "CARDIOLOGIE", "Oncologie" is "ONCOLOGIE MEDICALE")."""
    mine = normalised(specialty)
    return bool(mine) and any(
        mine in normalised(other) or normalised(other) in mine for other in allowed
    )


def _who_prescribes(
    line: Line, prescriber: Prescriber, refusals: list[Message], notes: list[Message]
) -> None:
    hospital = prescriber.setting == HOSPITAL
    if line.has(Kind.HOSPITAL_PRESCRIPTION) and not hospital:
        refusals.append(
            Message(
                "rule_hospital_prescriber",
                "«{source}»: only a prescriber practising in hospital may prescribe it",
                source=line.of_kind(Kind.HOSPITAL_PRESCRIPTION)[0].text,
            )
        )
    specialists = [c.specialty for c in line.of_kind(Kind.SPECIALIST) if c.specialty]
    specialists += [c.specialty for c in line.of_kind(Kind.INITIAL_SPECIALIST) if c.specialty]
    initial = line.of_kind(*INITIAL_KINDS)
    renewing = initial and line.initial_prescription is not None
    if renewing:
        # The initial prescription was written by whom the conditions name; its renewal may be
        # reserved to some specialists too.
        renewers = [c.specialty for c in line.of_kind(Kind.RENEWAL_SPECIALIST) if c.specialty]
        if renewers and not specialty_matches(prescriber.specialty, renewers):
            refusals.append(_specialist_message("rule_renewal_specialist", renewers))
        return
    if line.has(Kind.INITIAL_HOSPITAL) and not hospital:
        refusals.append(
            Message(
                "rule_initial_hospital",
                "«{source}»: prescribe it from hospital, or renew it giving the reference of "
                "the initial hospital prescription",
                source=line.of_kind(Kind.INITIAL_HOSPITAL)[0].text,
            )
        )
    if specialists and not specialty_matches(prescriber.specialty, specialists):
        refusals.append(_specialist_message("rule_specialist", specialists))
    elif not specialists and line.has(Kind.INITIAL_SPECIALIST):
        notes.append(
            Message(
                "rule_specialist_not_judged",
                "«{source}»: the BDPM does not say which specialists, so it was not checked",
                source=line.of_kind(Kind.INITIAL_SPECIALIST)[0].text,
            )
        )


def _specialist_message(code: str, specialties: list[str]) -> Message:
    english = {
        "rule_specialist": "reserved to these specialists: {specialties} (source: BDPM)",
        "rule_renewal_specialist": "its renewal is reserved to these specialists: "
        "{specialties} (source: BDPM); renew it without the initial prescription's reference "
        "only where you may write the initial one",
    }[code]
    return Message(code, english, specialties=", ".join(dict.fromkeys(specialties)))
