"""Settings from the environment, read only when an app is created."""

import os
from pathlib import Path

from eprescription.domain.errors import ConfigurationError

ENVIRONMENTS = ("development", "testing", "production")
COUNTRIES = ("FR", "EE")
DEV_SECRET_KEY = "development-only-secret-key"


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    """Return the settings: defaults, then the environment, then `overrides`; refuse unsafe ones."""
    env = os.environ
    settings = {
        "ENVIRONMENT": env.get("EPRESCRIPTION_ENV", "production"),
        "DATABASE_URL": env.get("DATABASE_URL")
        or "sqlite:///" + str(Path(instance_path) / "eprescription.sqlite3"),
        "SECRET_KEY": env.get("SECRET_KEY"),
        "COUNTRY": env.get("EPRESCRIPTION_COUNTRY", "FR"),
        "TOKEN_LIFETIME_SECONDS": int(env.get("TOKEN_LIFETIME_SECONDS", "3600")),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", str(256 * 1024))),
        "SEARCH_PAGE_SIZE_MAX": 50,
    }
    settings.update(overrides or {})
    if settings["ENVIRONMENT"] not in ENVIRONMENTS:
        raise ConfigurationError(f"EPRESCRIPTION_ENV must be one of {', '.join(ENVIRONMENTS)}")
    if settings["COUNTRY"] not in COUNTRIES:
        raise ConfigurationError(f"EPRESCRIPTION_COUNTRY must be one of {', '.join(COUNTRIES)}")
    is_production = settings["ENVIRONMENT"] == "production"
    if not settings["SECRET_KEY"]:
        if is_production:
            raise ConfigurationError("SECRET_KEY must be set in production (EPRESCRIPTION_ENV)")
        settings["SECRET_KEY"] = DEV_SECRET_KEY
    settings.update(
        TESTING=settings["ENVIRONMENT"] == "testing",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["ENVIRONMENT"] == "production",
        WTF_CSRF_TIME_LIMIT=None,
    )
    return settings
