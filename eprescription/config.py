"""Settings from the environment, read only when an app is created."""

import base64
import binascii
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from eprescription.domain.errors import ConfigurationError
from eprescription.signing.keyring import DEFAULT_KEY_ID, Keyring, is_valid_key_id

ENVIRONMENTS = ("development", "testing", "production")
COUNTRIES = ("FR", "EE")
DEV_SECRET_KEY = "development-only-secret-key"
# Wraps signing keys outside production only; published on purpose, like DEV_SECRET_KEY.
DEV_KEY_ENCRYPTION_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
KEY_ENCRYPTION_KEY_LENGTH = 32
HSTS_ONE_YEAR = 365 * 24 * 3600
KEY_ENCRYPTION_KEY_HELP = (
    "KEY_ENCRYPTION_KEY must be 32 random bytes written as 64 hex digits or in base64; make one "
    "with: python3 -c 'import secrets; print(secrets.token_hex(32))'"
)
KEYRING_HELP = (
    "KEY_ENCRYPTION_KEYS is a keyring 'id:key,id:key' (ids of 1 to 32 letters, digits, '.', '_' "
    "or '-'; each key 32 bytes in hex or base64) and KEY_ENCRYPTION_KEY_ID names the current "
    "one; flask keys rotate kek prints one to set (docs/signing.md)"
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
        "KEY_ENCRYPTION_KEYS": env.get("KEY_ENCRYPTION_KEYS"),
        "KEY_ENCRYPTION_KEY_ID": env.get("KEY_ENCRYPTION_KEY_ID"),
        # Older SECRET_KEYs, comma-separated: sessions signed with them still load (Flask 3.1).
        "SECRET_KEY_FALLBACKS": env.get("SECRET_KEY_FALLBACKS"),
        "COUNTRY": env.get("EPRESCRIPTION_COUNTRY", "FR"),
        # The time zone in which pages show times (docs/languages.md); the database keeps UTC.
        "DISPLAY_TIME_ZONE": env.get("DISPLAY_TIME_ZONE", "Europe/Paris"),
        "TOKEN_LIFETIME_SECONDS": int(env.get("TOKEN_LIFETIME_SECONDS", "3600")),
        # How many days before its period a renewal may be given (docs/rules.md).
        "DISPENSING_EARLY_DAYS": int(env.get("DISPENSING_EARLY_DAYS", "3")),
        # A prescription.expiring event this many days before the validity ends (docs/events.md).
        "EVENT_EXPIRY_NOTICE_DAYS": int(env.get("EVENT_EXPIRY_NOTICE_DAYS", "7")),
        # "1": an organisation's webhooks may target private addresses (closed networks).
        "EVENT_WEBHOOK_PRIVATE_TARGETS": env.get("EVENT_WEBHOOK_PRIVATE_TARGETS") == "1",
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", str(256 * 1024))),
        "SEARCH_PAGE_SIZE_MAX": 50,
        # Input and headers (docs/security.md): JSON nesting refused before parsing; HSTS.
        "JSON_DEPTH_MAX": int(env.get("JSON_DEPTH_MAX", "32")),
        "HSTS_MAX_AGE": env.get("HSTS_MAX_AGE"),
        # Sessions (docs/security.md, "Sessions"): idle minutes by role, absolute hours.
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES", "15")),
        "SESSION_IDLE_MINUTES_PATIENT": int(env.get("SESSION_IDLE_MINUTES_PATIENT", "30")),
        "SESSION_ABSOLUTE_HOURS": int(env.get("SESSION_ABSOLUTE_HOURS", "12")),
        # Throttles (docs/security.md, "Throttling"): shared in Redis when it is set.
        "REDIS_URL": env.get("REDIS_URL") or None,
        "THROTTLE_GUESSES": env.get(
            "THROTTLE_GUESSES", "10 per minute; 30 per 10 minutes; 100 per day"
        ),
        "THROTTLE_TARGET_GUESSES": env.get(
            "THROTTLE_TARGET_GUESSES", "5 per 10 minutes; 20 per day"
        ),
        "THROTTLE_KEY_PREFIX": env.get("THROTTLE_KEY_PREFIX", "eprescription"),
        # Calls per software client, whoever it acts for (docs/software-clients.md).
        "SOFTWARE_RATE_LIMIT": env.get("SOFTWARE_RATE_LIMIT", "20 per second; 600 per minute"),
    }
    settings.update(overrides or {})
    if settings["ENVIRONMENT"] not in ENVIRONMENTS:
        raise ConfigurationError(f"EPRESCRIPTION_ENV must be one of {', '.join(ENVIRONMENTS)}")
    if settings["COUNTRY"] not in COUNTRIES:
        raise ConfigurationError(f"EPRESCRIPTION_COUNTRY must be one of {', '.join(COUNTRIES)}")
    if settings["DISPLAY_TIME_ZONE"] not in available_timezones():
        raise ConfigurationError("DISPLAY_TIME_ZONE must be an IANA time zone, e.g. Europe/Paris")
    is_production = settings["ENVIRONMENT"] == "production"
    if settings["HSTS_MAX_AGE"] is None:  # browsers keep to HTTPS, outside development
        development = settings["ENVIRONMENT"] == "development"
        settings["HSTS_MAX_AGE"] = 0 if development else HSTS_ONE_YEAR
    settings["HSTS_MAX_AGE"] = int(settings["HSTS_MAX_AGE"])
    if not settings["SECRET_KEY"]:
        if is_production:
            raise ConfigurationError("SECRET_KEY must be set in production (EPRESCRIPTION_ENV)")
        settings["SECRET_KEY"] = DEV_SECRET_KEY
    settings["SECRET_KEY_FALLBACKS"] = parse_fallbacks(settings["SECRET_KEY_FALLBACKS"])
    if not settings["KEY_ENCRYPTION_KEY"] and not settings["KEY_ENCRYPTION_KEYS"]:
        if is_production:
            raise ConfigurationError(
                "KEY_ENCRYPTION_KEY (or the keyring KEY_ENCRYPTION_KEYS) must be set in "
                "production (EPRESCRIPTION_ENV); " + KEY_ENCRYPTION_KEY_HELP
            )
        settings["KEY_ENCRYPTION_KEY"] = DEV_KEY_ENCRYPTION_KEY
    keyring = key_encryption_keyring(
        settings["KEY_ENCRYPTION_KEY"],
        settings["KEY_ENCRYPTION_KEYS"],
        settings["KEY_ENCRYPTION_KEY_ID"],
    )
    settings.update(
        KEY_ENCRYPTION_KEYS=keyring,
        KEY_ENCRYPTION_KEY=keyring.current,
        KEY_ENCRYPTION_KEY_ID=keyring.current_id,
    )
    settings.update(
        TESTING=settings["ENVIRONMENT"] == "testing",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=is_production,
        # __Host-: only over HTTPS, for this host alone, on every path (RFC 6265bis §4.1.3.2).
        SESSION_COOKIE_NAME="__Host-session" if is_production else "session",
        RATELIMIT_STORAGE_URI=settings["REDIS_URL"] or "memory://",
        WTF_CSRF_TIME_LIMIT=None,
    )
    return settings


def key_encryption_keyring(
    single: str | bytes | None,
    ring: str | Mapping[str, str | bytes] | Keyring | None,
    current: str | None,
) -> Keyring:
    """The keyring from KEY_ENCRYPTION_KEYS ('id:key,…', current named by KEY_ENCRYPTION_KEY_ID),
    or a keyring of one from KEY_ENCRYPTION_KEY (its id KEY_ENCRYPTION_KEY_ID, by default k1)."""
    if isinstance(ring, Keyring):
        return ring
    if single and ring:
        raise ConfigurationError(
            "KEY_ENCRYPTION_KEY and KEY_ENCRYPTION_KEYS are both set: keep only the keyring "
            "KEY_ENCRYPTION_KEYS (with KEY_ENCRYPTION_KEY_ID naming the current key)"
        )
    if current is not None and not is_valid_key_id(current):
        raise ConfigurationError(f"KEY_ENCRYPTION_KEY_ID is not a valid key id; {KEYRING_HELP}")
    if not ring:
        return Keyring.of_one(parse_key_encryption_key(single or b""), current or DEFAULT_KEY_ID)
    entries = _keyring_entries(ring)
    keys: dict[str, bytes] = {}
    for key_id, written in entries:
        if not is_valid_key_id(key_id) or key_id in keys:
            raise ConfigurationError(
                f"KEY_ENCRYPTION_KEYS: a missing, bad or repeated id; {KEYRING_HELP}"
            )
        keys[key_id] = parse_key_encryption_key(written)
    if current is None and len(keys) == 1:
        current = next(iter(keys))
    if current not in keys:
        raise ConfigurationError(
            "KEY_ENCRYPTION_KEY_ID must name one of the ids of KEY_ENCRYPTION_KEYS; " + KEYRING_HELP
        )
    try:
        return Keyring(current, keys)
    except ValueError as error:
        raise ConfigurationError(f"KEY_ENCRYPTION_KEYS: {error}; {KEYRING_HELP}") from None


def _keyring_entries(ring: str | Mapping[str, str | bytes]) -> list[tuple[str, str | bytes]]:
    if not isinstance(ring, str):
        return list(ring.items())
    entries: list[tuple[str, str | bytes]] = []
    for entry in ring.split(","):
        key_id, separator, written = entry.strip().partition(":")
        if not separator:
            raise ConfigurationError(f"KEY_ENCRYPTION_KEYS: an entry without 'id:'; {KEYRING_HELP}")
        entries.append((key_id.strip(), written.strip()))
    return entries


def parse_fallbacks(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """SECRET_KEY_FALLBACKS as Flask wants it: a list, newest first (comma-separated in the
    environment)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()]


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
