"""Settings from the environment, read only when an app is created."""

import base64
import binascii
import os
import re
from pathlib import Path
from typing import Any

from eprescription.domain.errors import ConfigurationError

ENVIRONMENTS = ("development", "testing", "production")
COUNTRIES = ("FR", "EE")
DEV_SECRET_KEY = "development-only-secret-key"
# Wraps signing keys outside production only; published on purpose, like DEV_SECRET_KEY.
DEV_KEY_ENCRYPTION_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
KEY_ENCRYPTION_KEY_LENGTH = 32
KEY_ENCRYPTION_KEY_HELP = (
    "KEY_ENCRYPTION_KEY must be 32 random bytes written as 64 hex digits or in base64; make one "
    "with: python3 -c 'import secrets; print(secrets.token_hex(32))'"
)


def load_config(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the settings: defaults, then the environment, then `overrides`; refuse unsafe ones."""
    env = os.environ
    settings: dict[str, Any] = {
        "ENVIRONMENT": env.get("EPRESCRIPTION_ENV", "production"),
        "DATABASE_URL": env.get("DATABASE_URL")
        or "sqlite:///" + str(Path(instance_path) / "eprescription.sqlite3"),
        "SECRET_KEY": env.get("SECRET_KEY"),
        "KEY_ENCRYPTION_KEY": env.get("KEY_ENCRYPTION_KEY"),
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
    if not settings["KEY_ENCRYPTION_KEY"]:
        if is_production:
            raise ConfigurationError(
                "KEY_ENCRYPTION_KEY must be set in production (EPRESCRIPTION_ENV); "
                + KEY_ENCRYPTION_KEY_HELP
            )
        settings["KEY_ENCRYPTION_KEY"] = DEV_KEY_ENCRYPTION_KEY
    settings["KEY_ENCRYPTION_KEY"] = parse_key_encryption_key(settings["KEY_ENCRYPTION_KEY"])
    settings.update(
        TESTING=settings["ENVIRONMENT"] == "testing",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["ENVIRONMENT"] == "production",
        WTF_CSRF_TIME_LIMIT=None,
    )
    return settings


def parse_key_encryption_key(value: str | bytes) -> bytes:
    """The 32 bytes of KEY_ENCRYPTION_KEY, given as 64 hex digits or base64 (either alphabet).

    No KDF stretches a shorter passphrase: the secret is what keeps a stolen database from
    guessing PINs offline, so it must carry full 256-bit entropy (docs/signing.md).
    """
    if isinstance(value, bytes) and len(value) == KEY_ENCRYPTION_KEY_LENGTH:
        return value
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    text = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text)
    try:
        padded = text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4)
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_ENCRYPTION_KEY_LENGTH:
        raise ConfigurationError(KEY_ENCRYPTION_KEY_HELP)
    return raw
