"""Private keys at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the server secret
and, for a prescriber, their PIN. See docs/signing.md for why the derivation is fast."""

import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT_VERSION = 1
SALT_LENGTH = 16
NONCE_LENGTH = 12
SERVER_SECRET_LENGTH = 32
PIN_PATTERN = re.compile(r"[0-9]{4,8}")


class UnwrapFailed(Exception):
    """The wrapping key is wrong (wrong PIN or server secret) or the blob was altered."""


def is_valid_pin(pin: str | None) -> bool:
    """A signing PIN is 4 to 8 ASCII digits."""
    return isinstance(pin, str) and PIN_PATTERN.fullmatch(pin) is not None


def derive_wrapping_key(server_secret: bytes, pin: str | None, salt: bytes, purpose: str) -> bytes:
    """HKDF-SHA256 over (server secret, PIN), salted per credential, bound to `purpose`.

    The PIN is length-prefixed so that no two (secret, PIN) pairs share an input.
    """
    if len(server_secret) != SERVER_SECRET_LENGTH:
        raise ValueError("the server secret must be 32 bytes")
    pin_bytes = (pin or "").encode("ascii")
    material = server_secret + len(pin_bytes).to_bytes(1, "big") + pin_bytes
    info = f"eprescription key wrapping v{FORMAT_VERSION}: {purpose}".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(material)


def wrap_private_key(
    private_key: PrivateKeyTypes, *, server_secret: bytes, purpose: str, pin: str | None = None
) -> bytes:
    """The PKCS#8 DER of `private_key`, encrypted: version ‖ salt ‖ nonce ‖ ciphertext+tag.

    `purpose` (e.g. "prescriber:<RPPS>") is both in the derivation and the associated data,
    so a blob copied onto another credential does not open there.
    """
    plaintext = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt = os.urandom(SALT_LENGTH)
    nonce = os.urandom(NONCE_LENGTH)
    key = derive_wrapping_key(server_secret, pin, salt, purpose)
    header = bytes([FORMAT_VERSION]) + salt + nonce
    return header + AESGCM(key).encrypt(nonce, plaintext, header + purpose.encode())


def unwrap_private_key(
    blob: bytes, *, server_secret: bytes, purpose: str, pin: str | None = None
) -> PrivateKeyTypes:
    """Decrypt a blob made by wrap_private_key; UnwrapFailed when anything does not match."""
    header_length = 1 + SALT_LENGTH + NONCE_LENGTH
    if len(blob) <= header_length or blob[0] != FORMAT_VERSION:
        raise UnwrapFailed("not a wrapped key of a known format")
    salt = blob[1 : 1 + SALT_LENGTH]
    nonce = blob[1 + SALT_LENGTH : header_length]
    try:
        key = derive_wrapping_key(server_secret, pin, salt, purpose)
        plaintext = AESGCM(key).decrypt(
            nonce, blob[header_length:], blob[:header_length] + purpose.encode()
        )
    except (InvalidTag, UnicodeEncodeError) as error:
        raise UnwrapFailed("wrong PIN or server secret") from error
    return serialization.load_der_private_key(plaintext, password=None)
