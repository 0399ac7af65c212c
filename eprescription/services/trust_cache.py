"""Per-process copies, for a few seconds, of what signing and verifying read on every request
(the trust list, the service key); forgotten at once when this process commits a change to
them."""

import time
import weakref
from collections.abc import Callable
from typing import TypeVar, cast

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from eprescription.models import (
    CertificateAuthority,
    PrescriberCredential,
    PrescriberCrl,
    ServiceKey,
    TrustedPrescriberCa,
)

TTL_SECONDS = 10.0  # how long another process's change (a revocation) may go unseen here
T = TypeVar("T")

# By engine (one per app, so per database), then by name: (when read, what was read).
_copies: "weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, object]]]" = (
    weakref.WeakKeyDictionary()
)
_TRUST_ROWS = (
    CertificateAuthority,
    PrescriberCredential,
    ServiceKey,
    TrustedPrescriberCa,
    PrescriberCrl,
)
_CHANGED = "eprescription.trust_changed"  # the key in Session.info


def shared(session: Session, name: str, load: Callable[[], T], *, fresh: bool = False) -> T:
    """What `load` read for this database less than TTL_SECONDS ago, else `load()` (always
    when `fresh`), kept for the next ones."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    copies = _copies.setdefault(engine, {})
    now = time.monotonic()
    kept = copies.get(name)
    if not fresh and kept is not None and now - kept[0] < TTL_SECONDS:
        return cast(T, kept[1])  # stored by load() under this name, so a T
    value = load()
    copies[name] = (now, value)
    return value


def forget() -> None:
    """Drop every copy: the next request reads them again."""
    _copies.clear()


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context) -> None:
    if any(
        isinstance(row, _TRUST_ROWS) for row in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_after_a_change(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        forget()
