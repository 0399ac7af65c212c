"""Private keys at rest: AES-256-GCM under the server secret (the key-encryption key), and for a
prescriber a second layer under their PIN, so the server secret can change without the PIN.
See docs/signing.md for the format and why the derivations are fast."""

import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = 2  # server-secret layer ‖ (PIN layer) ‖ PKCS#8
LEGACY_VERSION = 1  # one layer under HKDF(server secret ‖ PIN): rewrapped only with the PIN
SALT_LENGTH = 16
NONCE_LENGTH = 12
HEADER_LENGTH = 1 + SALT_LENGTH + NONCE_LENGTH
SERVER_SECRET_LENGTH = 32
PIN_PATTERN = re.compile(r"[0-9]{4,8}")
NO_PIN, WITH_PIN = b"\x00", b"\x01"  # the first byte inside the server-secret layer


class UnwrapFailed(Exception):
    """The wrapping key is wrong (wrong PIN or server secret) or the blob was altered."""


class ServerSecretRefused(UnwrapFailed):
    """The server secret does not open the blob (another key-encryption key, or an altered
    blob): nothing is known about the PIN, which is never tried."""


def is_valid_pin(pin: str | None) -> bool:
    """A signing PIN is 4 to 8 ASCII digits."""
    return isinstance(pin, str) and PIN_PATTERN.fullmatch(pin) is not None


def format_version(blob: bytes) -> int | None:
    """The format of a wrapped key (FORMAT_VERSION or LEGACY_VERSION), None if neither."""
    version = blob[0] if blob else None
    return version if version in (FORMAT_VERSION, LEGACY_VERSION) else None


def derive_wrapping_key(server_secret: bytes, pin: str | None, salt: bytes, purpose: str) -> bytes:
    """The legacy (version 1) key: HKDF-SHA256 over (server secret, PIN), salted per credential,
    bound to `purpose`. The PIN is length-prefixed so that no two (secret, PIN) pairs share an
    input."""
    if len(server_secret) != SERVER_SECRET_LENGTH:
        raise ValueError("the server secret must be 32 bytes")
    material = server_secret + _pin_material(pin)
    info = f"eprescription key wrapping v{LEGACY_VERSION}: {purpose}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material)


def wrap_private_key(
    private_key: PrivateKeyTypes, *, server_secret: bytes, purpose: str, pin: str | None = None
) -> bytes:
    """The PKCS#8 DER of `private_key`, encrypted: 2 ‖ salt ‖ nonce ‖ ciphertext+tag under the
    server secret, around (for a PIN) 1 ‖ salt ‖ nonce ‖ ciphertext+tag under the PIN.

    `purpose` (e.g. "prescriber:<serial>") is in every derivation and associated data, so a
    blob copied onto another credential does not open there.
    """
    plaintext = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    inner = NO_PIN + plaintext if pin is None else WITH_PIN + _seal(plaintext, pin, purpose)
    return _outer(inner, server_secret, purpose)


def unwrap_private_key(
    blob: bytes, *, server_secret: bytes, purpose: str, pin: str | None = None
) -> PrivateKeyTypes:
    """Decrypt a blob made by wrap_private_key (either version); ServerSecretRefused when the
    server secret does not open it, UnwrapFailed when the PIN does not."""
    version = format_version(blob)
    if version == LEGACY_VERSION:
        plaintext = _open_legacy(blob, server_secret, purpose, pin)
    elif version == FORMAT_VERSION:
        inner = _open_outer(blob, server_secret, purpose)
        marker, rest = inner[:1], inner[1:]
        if marker != (NO_PIN if pin is None else WITH_PIN):
            raise UnwrapFailed("wrong PIN or server secret")
        plaintext = rest if pin is None else _open(rest, pin, purpose)
    else:
        raise UnwrapFailed("not a wrapped key of a known format")
    return serialization.load_der_private_key(plaintext, password=None)


def rewrap(blob: bytes, *, old_secret: bytes, new_secret: bytes, purpose: str) -> bytes:
    """The same key under `new_secret`, its PIN layer (if any) untouched: no PIN needed.

    A legacy blob is rewrapped only if it has no PIN (the CA's, the service's); one with a PIN
    raises UnwrapFailed, and moves at its owner's next signature (services/pki.py)."""
    if format_version(blob) == LEGACY_VERSION:
        key = unwrap_private_key(blob, server_secret=old_secret, purpose=purpose)
        return wrap_private_key(key, server_secret=new_secret, purpose=purpose)
    return _outer(_open_outer(blob, old_secret, purpose), new_secret, purpose)


# The layers


def _pin_material(pin: str | None) -> bytes:
    pin_bytes = (pin or "").encode("ascii")
    return len(pin_bytes).to_bytes(1, "big") + pin_bytes


def _layer_key(material: bytes, salt: bytes, layer: str, purpose: str) -> bytes:
    info = f"eprescription key wrapping v{FORMAT_VERSION} {layer}: {purpose}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material)


def _outer(inner: bytes, server_secret: bytes, purpose: str) -> bytes:
    if len(server_secret) != SERVER_SECRET_LENGTH:
        raise ValueError("the server secret must be 32 bytes")
    salt, nonce = os.urandom(SALT_LENGTH), os.urandom(NONCE_LENGTH)
    header = bytes([FORMAT_VERSION]) + salt + nonce
    key = _layer_key(server_secret, salt, "server secret", purpose)
    return header + AESGCM(key).encrypt(nonce, inner, header + purpose.encode())


def _open_outer(blob: bytes, server_secret: bytes, purpose: str) -> bytes:
    if len(blob) <= HEADER_LENGTH or blob[0] != FORMAT_VERSION:
        raise UnwrapFailed("not a wrapped key of a known format")
    if len(server_secret) != SERVER_SECRET_LENGTH:
        raise ValueError("the server secret must be 32 bytes")
    salt, nonce = blob[1 : 1 + SALT_LENGTH], blob[1 + SALT_LENGTH : HEADER_LENGTH]
    try:
        key = _layer_key(server_secret, salt, "server secret", purpose)
        return AESGCM(key).decrypt(
            nonce, blob[HEADER_LENGTH:], blob[:HEADER_LENGTH] + purpose.encode()
        )
    except (InvalidTag, UnicodeEncodeError) as error:
        raise ServerSecretRefused("the server secret does not open this key") from error


def _seal(plaintext: bytes, pin: str, purpose: str) -> bytes:
    salt, nonce = os.urandom(SALT_LENGTH), os.urandom(NONCE_LENGTH)
    header = salt + nonce
    key = _layer_key(_pin_material(pin), salt, "PIN", purpose)
    return header + AESGCM(key).encrypt(nonce, plaintext, WITH_PIN + header + purpose.encode())


def _open(sealed: bytes, pin: str, purpose: str) -> bytes:
    header_length = SALT_LENGTH + NONCE_LENGTH
    salt, nonce = sealed[:SALT_LENGTH], sealed[SALT_LENGTH:header_length]
    try:
        key = _layer_key(_pin_material(pin), salt, "PIN", purpose)
        return AESGCM(key).decrypt(
            nonce, sealed[header_length:], WITH_PIN + sealed[:header_length] + purpose.encode()
        )
    except (InvalidTag, UnicodeEncodeError, OverflowError) as error:
        raise UnwrapFailed("wrong PIN") from error


def _open_legacy(blob: bytes, server_secret: bytes, purpose: str, pin: str | None) -> bytes:
    if len(blob) <= HEADER_LENGTH:
        raise UnwrapFailed("not a wrapped key of a known format")
    salt, nonce = blob[1 : 1 + SALT_LENGTH], blob[1 + SALT_LENGTH : HEADER_LENGTH]
    try:
        key = derive_wrapping_key(server_secret, pin, salt, purpose)
        return AESGCM(key).decrypt(
            nonce, blob[HEADER_LENGTH:], blob[:HEADER_LENGTH] + purpose.encode()
        )
    except (InvalidTag, UnicodeEncodeError, OverflowError) as error:
        raise UnwrapFailed("wrong PIN or server secret") from error
