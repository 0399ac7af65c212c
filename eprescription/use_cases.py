"""Opens the unit of work of one request or command, from the current app's settings."""

from flask import current_app

from eprescription.db import get_session
from eprescription.models import Account
from eprescription.services import audit
from eprescription.services.uow import Settings, UnitOfWork


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
    )


def unit_of_work(account: Account | None = None, *, actor: audit.Actor | None = None) -> UnitOfWork:
    """A unit of work on this request's (or command's) session, for `account` (None: the
    operator at the command line, or an anonymous caller when `actor` says so)."""
    return UnitOfWork(get_session(), settings(), account, actor=actor)
