"""Opens the unit of work of one request or command, from the current app's settings."""

from flask import current_app, has_request_context, request

from eprescription.db import get_session
from eprescription.models import Account
from eprescription.services import audit
from eprescription.services.software_clients import SoftwareCaller
from eprescription.services.uow import Settings, UnitOfWork

# Where api/security.py keeps the software client of the request (the WSGI environ: it lives
# exactly as long as the request).
SOFTWARE_KEY = "eprescription.software"


def settings() -> Settings:
    """The settings services need, from the current app's configuration."""
    config = current_app.config
    return Settings(
        country=config["COUNTRY"],
        key_encryption_key=config["KEY_ENCRYPTION_KEY"],
        key_encryption_keys=config["KEY_ENCRYPTION_KEYS"],
        token_lifetime_seconds=config["TOKEN_LIFETIME_SECONDS"],
        token_idle_minutes=config["SESSION_IDLE_MINUTES"],
        token_idle_minutes_patient=config["SESSION_IDLE_MINUTES_PATIENT"],
        dispensing_early_days=config["DISPENSING_EARLY_DAYS"],
        webhook_private_targets=config["EVENT_WEBHOOK_PRIVATE_TARGETS"],
    )


def unit_of_work(account: Account | None = None, *, actor: audit.Actor | None = None) -> UnitOfWork:
    """A unit of work on this request's (or command's) session, for `account` (None: the
    operator at the command line, or an anonymous caller when `actor` says so); during a
    request made with a software client's token, its events name the software."""
    software = current_software()
    if actor is None and software is not None:
        actor = audit.actor_for(account, software)
    return UnitOfWork(get_session(), settings(), account, actor=actor)


def current_software() -> "SoftwareCaller | None":
    """The software client whose token this request carries, once api/security.py has read the
    token (None outside a request or without one)."""
    if not has_request_context():
        return None
    return request.environ.get(SOFTWARE_KEY)
