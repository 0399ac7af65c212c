"""When each period of a line opens, and how much one dispensation may give of it."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from math import ceil

from eprescription.domain.dispensing import LineProgress
from eprescription.domain.errors import DispensingRuleRefused, RenewalPeriodNotOpen
from eprescription.domain.messages import Message
from eprescription.domain.prescribing_conditions import Condition, Kind
from eprescription.domain.prescriptions import add_months

EARLY_DAYS_DEFAULT = 3  # a renewal may be given this many days before its period opens
MONTH_DAYS = 30  # R5132-22: liste I and II are given for at most one month at a time
NARCOTIC_LATE_DAYS = 3  # R5132-33: presented later, only the rest of the treatment is given


def period_opens(start: date, period: int, duration_days: int | None) -> date:
    """The day period `period` (1-based) opens: `start` + (period - 1) × the line's duration,
    or whole months when the line gives no duration in days."""
    if duration_days:
        return start + timedelta(days=(period - 1) * duration_days)
    return add_months(start, period - 1)


@dataclass(frozen=True)
class LineRules:
    """What the dispensing rules need of one signed line."""

    progress: LineProgress
    conditions: tuple[Condition, ...]
    duration_days: int | None
    fractionation_days: int | None = None  # as the prescriber wrote it (narcotics)
    overlap_allowed: bool = False  # "chevauchement autorisé" written by the prescriber

    def has(self, kind: Kind) -> bool:
        return any(condition.kind is kind for condition in self.conditions)

    @property
    def no_overlap(self) -> bool:
        """Whether this line may not be given while the same substance given from another
        prescription runs (R5132-33: narcotics, and the BDPM's "chevauchement interdit …")."""
        kept = self.has(Kind.NARCOTIC) or self.has(Kind.NO_OVERLAP)
        return kept and not self.overlap_allowed

    @property
    def given_in_period(self) -> int:
        return self.progress.dispensed - (self.progress.current_period - 1) * self.progress.quantity


@dataclass(frozen=True)
class Cap:
    """The most this line may give today, and the rule that says so."""

    packs: int
    rule: Message


def opens_after(line: LineRules, start: date, today: date) -> date | None:
    """The day the line's current period opens, when that is after today (what the counter
    is shown before it: nothing of it is given then, but for the tolerance)."""
    progress = line.progress
    if progress.current_period == 1 or progress.complete or progress.cancelled:
        return None
    opens = period_opens(start, progress.current_period, line.duration_days)
    return opens if opens > today else None


def opening_problem(
    line: LineRules, start: date, today: date, early_days: int = EARLY_DAYS_DEFAULT
) -> date | None:
    """The day the line's current period opens, when that is after today's tolerance."""
    return opens_after(line, start, today + timedelta(days=early_days))


def _chunked(line: LineRules, chunk_days: int, elapsed: int, rule: Message) -> Cap | None:
    """A period given `chunk_days` at a time: by day `elapsed` of the period, the packs of the
    chunks begun so far (rounded up: one pack is never split)."""
    days = line.duration_days
    if not days or days <= chunk_days:
        return None
    covered = min(days, (max(elapsed, 0) // chunk_days + 1) * chunk_days)
    allowed = ceil(line.progress.quantity * covered / days) - line.given_in_period
    return Cap(max(allowed, 0), rule)


def cap(
    line: LineRules, start: date, issued_on: date, today: date, early_days: int = EARLY_DAYS_DEFAULT
) -> Cap | None:
    """The tightest limit the rules set on what this line gives today; None when none applies
    (or none can be judged: a line without a duration in days)."""
    if line.duration_days is None:
        return None
    opens = period_opens(start, line.progress.current_period, line.duration_days)
    elapsed = (today - opens).days + early_days
    caps: list[Cap | None] = []
    if (line.has(Kind.LIST_I) or line.has(Kind.LIST_II)) and not line.has(Kind.NARCOTIC):
        caps.append(
            _chunked(
                line,
                MONTH_DAYS,
                elapsed,
                Message(
                    "rule_one_month",
                    "a liste I or II medicine is given one month at a time (source: {source})",
                    source="CSP R5132-22",
                ),
            )
        )
    caps += [_chunked(line, days, elapsed, rule) for days, rule in _fractions(line)]
    caps.append(_narcotic_late(line, issued_on, today))
    found = [c for c in caps if c is not None]
    return min(found, key=lambda c: c.packs) if found else None


def _fractions(line: LineRules) -> list[tuple[int, Message]]:
    """The fractionations of the line: the BDPM's, and the one the prescriber wrote."""
    found = [
        (
            condition.days,
            Message(
                "rule_fractioned",
                "given {days} days at a time (source: BDPM «{source}»)",
                days=condition.days,
                source=condition.text,
            ),
        )
        for condition in line.conditions
        if condition.kind is Kind.FRACTIONED and condition.days
    ]
    if line.fractionation_days and line.has(Kind.NARCOTIC):
        written = Message(
            "rule_fractioned_by_prescriber",
            "given {days} days at a time, as the prescriber wrote (source: {source})",
            days=line.fractionation_days,
            source="CSP R5132-30",
        )
        found.append((line.fractionation_days, written))
    return found


@dataclass(frozen=True)
class Running:
    """What another prescription of the patient gave of the same substance: the day, and the
    days of treatment its packs cover (the line's duration × packs given / packs per period)."""

    given_on: date
    days: int

    @property
    def until(self) -> date:
        return self.given_on + timedelta(days=self.days)


def covered_days(given: int, quantity: int, duration_days: int) -> int:
    """The days of treatment `given` packs of a line of `quantity` packs per `duration_days`
    cover (rounded up)."""
    return ceil(duration_days * given / quantity)


def overlap_until(line: LineRules, running: Iterable[Running], today: date) -> date | None:
    """The day the running treatment of the same substance ends, when this line may not
    overlap it (R5132-33) and one runs today; None otherwise."""
    if not line.no_overlap:
        return None
    return max((r.until for r in running if r.given_on <= today < r.until), default=None)


def _narcotic_late(line: LineRules, issued_on: date, today: date) -> Cap | None:
    late = (today - issued_on).days
    days = line.duration_days
    if not line.has(Kind.NARCOTIC) or not days or late <= NARCOTIC_LATE_DAYS:
        return None
    if line.given_in_period:
        return None  # the first presentation decided; later fractions follow their own rule
    left = max(days - late, 0)
    return Cap(
        ceil(line.progress.quantity * left / days),
        Message(
            "rule_narcotic_late",
            "presented {late} days after it was written: only the {left} days of treatment left "
            "are given (source: {source})",
            late=late,
            left=left,
            source="CSP R5132-33",
        ),
    )


def check(
    lines: Iterable[tuple[LineRules, int]],
    start: date,
    issued_on: date,
    today: date,
    early_days: int = EARLY_DAYS_DEFAULT,
    running: Mapping[int, Iterable[Running]] | None = None,
) -> dict[int, Message]:
    """Refuse (nothing given) a line asked before its period opens, beyond its cap, or while
    the same substance given from another prescription runs (`running`, by line); the rule
    that limited each line given less than the rest of its period, by line."""
    limited: dict[int, Message] = {}
    for line, asked in lines:
        number = line.progress.line
        until = overlap_until(line, (running or {}).get(number, ()), today)
        if until is not None:
            raise DispensingRuleRefused(
                Message(
                    "rule_overlap",
                    "line {line}: the same substance, given from another prescription, covers "
                    "the treatment until {until}; without the prescriber's express mention "
                    "«chevauchement autorisé» it is not given before (source: {source}); nothing "
                    "was dispensed",
                    line=number,
                    until=until,
                    source="CSP R5132-33",
                ),
                errors={"lines": [f"line {number}: overlaps a running treatment until {until}"]},
            )
        opens = opening_problem(line, start, today, early_days)
        if opens is not None:
            raise RenewalPeriodNotOpen(
                Message(
                    "rule_period_opens",
                    "line {line}: period {period} opens on {opens}; nothing was dispensed",
                    line=number,
                    period=line.progress.current_period,
                    opens=opens,
                ),
                errors={"lines": [f"line {number}: period opens on {opens.isoformat()}"]},
            )
        limit = cap(line, start, issued_on, today, early_days)
        if limit is None or limit.packs >= line.progress.remaining_in_period:
            continue
        if asked > limit.packs:
            raise DispensingRuleRefused(
                Message(
                    "rule_cap_exceeded",
                    "line {line}: {asked} asked, at most {allowed} today: {rule}; nothing was "
                    "dispensed",
                    line=number,
                    asked=asked,
                    allowed=limit.packs,
                    rule=limit.rule,
                ),
                errors={"lines": [f"line {number}: at most {limit.packs} today"]},
            )
        limited[number] = limit.rule
    return limited
