"""The prescriber's acknowledgement of the warnings a review showed: ticked, or a reason."""

from collections.abc import Iterable
from dataclasses import dataclass

REASON_MAX = 500  # characters of the reason given instead of ticking each warning


@dataclass(frozen=True)
class Acknowledgement:
    """What the prescriber confirmed at signing: the keys of the warnings ticked, and a reason
    that covers every warning (empty when none is given)."""

    keys: frozenset[str] = frozenset()
    reason: str = ""


def unacknowledged(open_keys: Iterable[str], acknowledgement: Acknowledgement) -> list[str]:
    """The keys of the open warnings the prescriber neither ticked nor gave a reason for."""
    if acknowledgement.reason.strip():
        return []
    return [key for key in open_keys if key not in acknowledgement.keys]
