"""Throttles on every route where a secret can be guessed (Flask-Limiter): per client and per
target, kept in Redis when REDIS_URL is set (else in memory); a breach is a 429 with
Retry-After, audited through the unit of work's refusal path (docs/security.md, "Throttling")."""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.datastructures import MultiDict

from eprescription.domain.errors import ClientRateLimited, TooManyAttempts
from eprescription.domain.messages import Message
from eprescription.services import audit
from eprescription.services.software_clients import SoftwareCaller
from eprescription.use_cases import unit_of_work

EXTENSION = "eprescription.limiter"
MISSED = "eprescription.throttle.missed"
# Answers that mean "that guess was wrong": refused credentials, nothing there, bad input.
WRONG_GUESS = frozenset({401, 403, 404, 409, 422})
TOO_MANY = "Too many attempts from here: try again in {minutes} min."
THROTTLED = "throttled"
TOO_MANY_CALLS = "Too many calls from this software: try again in {seconds} s."


@dataclass(frozen=True)
class Guesses:
    """What a route's guesses are counted against: its scope (one counter for the web page and
    the API that take the same secret), and the target of each guess, if it names one."""

    scope: str
    target: Callable[[], str | None] | None = None
    by_status: bool = True


def guesses(
    scope: str, *, target: Callable[[], str | None] | None = None, by_status: bool = True
) -> Callable:
    """Mark a view as taking a guessable secret: init_app throttles it, counting each wrong
    guess (a refusal answer unless `by_status` is False, and what the view says it `missed()`)
    per client address and, when `target` names one (a prescription number typed by hand), per
    target too."""

    def mark(view: Callable) -> Callable:
        view.throttle = Guesses(scope, target, by_status)  # type: ignore[attr-defined]
        return view

    return mark


def typed_number() -> str | None:
    """The prescription number typed by hand with a NIR (manual entry), the target of those
    guesses; None when a QR text is given (its access code is not guessable)."""
    fields = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(fields, dict | MultiDict) or fields.get("code"):
        return None
    number = fields.get("number")
    if not isinstance(number, str):
        return None
    return "".join(character for character in number.upper() if character.isalnum())[:32] or None


def missed() -> None:
    """The view found nothing for this guess though it answers normally (a card that shows no
    prescription, a login page shown again): count it as a wrong guess."""
    request.environ[MISSED] = True


def init_app(app: Flask) -> None:
    """One limiter per app, wrapped around every view marked by `guesses` (call after the
    blueprints are registered)."""
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        strategy="fixed-window",
        key_prefix=app.config["THROTTLE_KEY_PREFIX"],  # several services on one Redis
        headers_enabled=False,  # our own Retry-After, on the 429 only (errors.py)
    )
    app.extensions[EXTENSION] = limiter
    for endpoint, view in list(app.view_functions.items()):
        marked: Guesses | None = getattr(view, "throttle", None)
        if marked is not None:
            app.view_functions[endpoint] = _throttled(limiter, view, marked)


def software_call(software: SoftwareCaller) -> None:
    """Count one call of a software client (whoever it acts for) against SOFTWARE_RATE_LIMIT;
    past it the call is refused, audited, with ClientRateLimited (429, Retry-After)."""
    strategy = current_app.extensions[EXTENSION].limiter
    prefix = current_app.config["THROTTLE_KEY_PREFIX"]
    for limit in parse_many(current_app.config["SOFTWARE_RATE_LIMIT"]):
        if not strategy.hit(limit, prefix, "software", software.client_id):
            reset_at, _remaining = strategy.get_window_stats(
                limit, prefix, "software", software.client_id
            )
            seconds = max(1, min(limit.get_expiry(), math.ceil(reset_at - time.time())))
            actor = audit.actor_for(None, software)
            with unit_of_work(actor=actor) as uow:
                uow.refuse(THROTTLED, "software_client", software.client_id, outcome="rate_limited")
            raise ClientRateLimited(
                Message("client_rate_limited", TOO_MANY_CALLS, seconds=seconds),
                retry_after=seconds,
            )


def reset(app: Flask) -> None:
    """Forget every count (the tests, between cases; an operator, after an incident)."""
    app.extensions[EXTENSION].reset()


def _throttled(limiter: Limiter, view: Callable, marked: Guesses) -> Callable:
    # Shared by scope: the page and the API that take the same secret count together.
    per_client = limiter.shared_limit(
        lambda: current_app.config["THROTTLE_GUESSES"],
        marked.scope,
        key_func=lambda: "client:" + (get_remote_address() or "unknown"),
        methods=["POST"],
        deduct_when=_wrong_guess if marked.by_status else _missed,
        on_breach=_refuse(marked.scope),
        override_defaults=False,
    )
    view = per_client(view)
    target = marked.target
    if target is not None:
        per_target = limiter.shared_limit(
            lambda: current_app.config["THROTTLE_TARGET_GUESSES"],
            marked.scope + ":target",
            key_func=lambda: "target:" + (target() or ""),
            methods=["POST"],
            exempt_when=lambda: not target(),
            deduct_when=_wrong_guess if marked.by_status else _missed,
            on_breach=_refuse(marked.scope),
            override_defaults=False,
        )
        view = per_target(view)
    return view


def _wrong_guess(response: Response) -> bool:
    return response.status_code in WRONG_GUESS or _missed(response)


def _missed(_response: Response) -> bool:
    return bool(request.environ.get(MISSED))


def _refuse(scope: str) -> Callable[[RequestLimit], None]:
    def refuse(limit: RequestLimit) -> None:
        # reset_at is rounded up to the second: never announce more than the window itself.
        window = limit.limit.get_expiry()
        seconds = max(1, min(window, math.ceil(limit.reset_at - time.time())))
        # Who is throttled is the connection, not an account: the address, never the secret.
        actor = audit.Actor(None, "client", (get_remote_address() or "unknown")[:64])
        with unit_of_work(actor=actor) as uow:
            uow.refuse(THROTTLED, "guess", scope, outcome="too_many_attempts")
        minutes = max(1, math.ceil(seconds / 60))
        raise TooManyAttempts(
            Message("too_many_attempts", TOO_MANY, minutes=minutes), retry_after=seconds
        )

    return refuse
