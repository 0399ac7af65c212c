"""Renewal request rules: which prescriptions may be asked for, the 8-day lapse, transitions."""

import enum
from datetime import date, datetime, timedelta

from eprescription.domain.errors import (
    DomainError,
    PrescriptionAlreadyRenewed,
    PrescriptionCancelled,
    RenewalNotAllowed,
    RenewalRequestDeclined,
    RenewalRequestExpired,
    RenewalRequestPending,
    RenewalRequestRenewed,
)
from eprescription.domain.prescriptions import OPEN_STATES, Problems, Status, add_months

LAPSE = timedelta(days=8)  # a request nobody treated within this lapses (expired)
RUNNING_OUT_DAYS = 30  # an open prescription may be asked for in its last days of validity…
ENDED_MONTHS_MAX = 6  # …and an expired or completed one for this long after its validity
MESSAGE_MAX = 500
ALREADY_ASKED = "You asked already: your doctor has not answered yet."


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    RENEWED = "renewed"
    DECLINED = "declined"
    EXPIRED = "expired"


# Only a pending request moves: the prescriber renews or declines it, or it lapses.
TRANSITIONS = {
    RequestStatus.PENDING: frozenset(
        {RequestStatus.RENEWED, RequestStatus.DECLINED, RequestStatus.EXPIRED}
    )
}
CLOSED_ERRORS: dict[RequestStatus, type[DomainError]] = {
    RequestStatus.RENEWED: RenewalRequestRenewed,
    RequestStatus.DECLINED: RenewalRequestDeclined,
    RequestStatus.EXPIRED: RenewalRequestExpired,
}
CLOSED_DETAILS = {
    RequestStatus.RENEWED: "This renewal request has been renewed already.",
    RequestStatus.DECLINED: "This renewal request has been declined already.",
    RequestStatus.EXPIRED: "This renewal request lapsed: nobody treated it within 8 days.",
}


# -- the lapse and the transitions ----------------------------------------------------------


def lapses_at(requested_at: datetime) -> datetime:
    """When a request still pending becomes expired: 8 × 24 hours after it was made (stored
    with the request, so that SQL can tell a lapsed one as well as Python)."""
    return requested_at + LAPSE


def is_lapsed(stored: RequestStatus | str, lapses_at: datetime, now: datetime) -> bool:
    """Whether a request has lapsed by `now`: still pending at its stored `lapses_at`."""
    return RequestStatus(stored) is RequestStatus.PENDING and now >= lapses_at


def effective_status(
    stored: RequestStatus | str, lapses_at: datetime, now: datetime
) -> RequestStatus:
    """The status as of `now`: a pending request reads as expired from its `lapses_at` on."""
    if is_lapsed(stored, lapses_at, now):
        return RequestStatus.EXPIRED
    return RequestStatus(stored)


def transition(current: RequestStatus | str, target: RequestStatus | str) -> RequestStatus:
    """`target` if a request in `current` may move there; else the closed state's refusal."""
    current, target = RequestStatus(current), RequestStatus(target)
    if target in TRANSITIONS.get(current, ()):
        return target
    if current is RequestStatus.PENDING:  # pending → pending: nothing to decide
        raise RenewalRequestPending("This renewal request is still waiting.")
    raise CLOSED_ERRORS[current](CLOSED_DETAILS[current])


# -- which prescriptions may be asked for ---------------------------------------------------


def refusal(
    status: Status | str,
    *,
    renewals: int,
    renewal_in_progress: int,
    valid_until: date,
    today: date,
) -> DomainError | None:
    """Why a patient may not ask to renew this prescription now, or None if they may.

    A request is for a **long-term treatment**: a prescription written with at least one
    renewal (an "ordonnance renouvelable"); a one-off treatment needs a consultation. It may be
    asked for when the treatment is running out — the last supply is being collected, or the
    last 30 days of validity have come — and after it ended (completed or expired) for six
    months after its last valid day. Never for a cancelled prescription.
    """
    status = Status(status)
    if status is Status.CANCELLED:
        return PrescriptionCancelled(
            "This prescription was cancelled: it cannot be renewed on request."
        )
    if renewals < 1:
        return RenewalNotAllowed(
            "Only a long-term treatment (prescribed with renewals) can be renewed on request; "
            "for this one, see your doctor."
        )
    if status in OPEN_STATES:
        last_supply = renewal_in_progress >= renewals
        if not last_supply and (valid_until - today).days > RUNNING_OUT_DAYS:
            return RenewalNotAllowed(
                "It is too early: you can ask once you collect its last supply, or in its last "
                f"{RUNNING_OUT_DAYS} days of validity."
            )
        return None
    if today > add_months(valid_until, ENDED_MONTHS_MAX):
        return RenewalNotAllowed(
            f"It ended more than {ENDED_MONTHS_MAX} months ago: see your doctor for a new one."
        )
    return None


def ensure_renewable(
    status: Status | str,
    *,
    renewals: int,
    renewal_in_progress: int,
    valid_until: date,
    today: date,
    pending: bool,
    renewed: bool,
) -> None:
    """Refuse a new request: not eligible (see `refusal`), one already waiting, or one granted
    already (the patient asks from the new prescription then)."""
    error = refusal(
        status,
        renewals=renewals,
        renewal_in_progress=renewal_in_progress,
        valid_until=valid_until,
        today=today,
    )
    if error is not None:
        raise error
    if renewed:
        raise PrescriptionAlreadyRenewed(
            "Your doctor renewed this prescription already: ask from the new one when needed."
        )
    if pending:
        raise RenewalRequestPending(ALREADY_ASKED)


def message(problems: Problems, field: str, text: str | None, *, required: bool) -> str | None:
    """A message as kept: trimmed, at most MESSAGE_MAX characters; None when empty."""
    text = (text or "").strip()
    if required and not text:
        problems.add(field, "say why, in a few words, for the patient")
    if len(text) > MESSAGE_MAX:
        problems.add(field, f"at most {MESSAGE_MAX} characters")
    return text or None
