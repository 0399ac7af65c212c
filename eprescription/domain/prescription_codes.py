"""A prescription's identity: the typable number (ISO 7064 check character) and the access code."""

import base64
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from stdnum.iso7064 import mod_37_36

from eprescription.domain.errors import InvalidPrescriptionNumber
from eprescription.domain.messages import Message

# Crockford's base 32: no I, L, O or U, so nothing reads as another character.
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NUMBER_BODY_LENGTH = 10  # 50 random bits
NUMBER_LENGTH = NUMBER_BODY_LENGTH + 1
NUMBER_GROUPS = (4, 4, 3)
# What people type for the letters left out; the check character then still has the last word.
TYPED_ALIKE = str.maketrans({"O": "0", "I": "1", "L": "1"})

ACCESS_CODE_BYTES = 16  # 128 random bits
ACCESS_CODE_LENGTH = 26  # base 32 without padding
ACCESS_CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


# -- the number -------------------------------------------------------------------------------


def new_number() -> str:
    """A random number: 10 characters of NUMBER_ALPHABET and a MOD 37,36 check character.

    Draws are thrown away (about 1 in 8) when the check character falls outside the alphabet
    (I, L, O, U or *), so every character is unambiguous, and when swapping two neighbouring
    characters would give another valid number: MOD 37,36 catches every single-character
    typo but misses about 1 adjacent transposition in 600, and a number we issue must not.
    """
    while True:
        body = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(NUMBER_BODY_LENGTH))
        check = mod_37_36.calc_check_digit(body)
        if check in NUMBER_ALPHABET and not _has_valid_transposition(body + check):
            return body + check


def _has_valid_transposition(number: str) -> bool:
    for position in range(len(number) - 1):
        first, second = number[position], number[position + 1]
        if first != second:
            swapped = number[:position] + second + first + number[position + 2 :]
            if mod_37_36.is_valid(swapped):
                return True
    return False


def compact_number(value: str | None) -> str:
    """The number without spaces or dashes, in capitals, with look-alike letters read as digits."""
    text = "".join((value or "").split()).replace("-", "").upper()
    return text.translate(TYPED_ALIKE)


def validate_number(value: str | None) -> str:
    """The compact number, or InvalidPrescriptionNumber saying what is wrong (typos included)."""
    number = compact_number(value)
    if not number:
        raise InvalidPrescriptionNumber(
            Message("number_missing", "The prescription number is missing.")
        )
    if len(number) != NUMBER_LENGTH:
        raise InvalidPrescriptionNumber(
            Message(
                "number_length",
                "A prescription number has {length} characters, not {count}.",
                length=NUMBER_LENGTH,
                count=len(number),
            )
        )
    if any(character not in NUMBER_ALPHABET for character in number):
        raise InvalidPrescriptionNumber(
            Message(
                "number_characters",
                "A prescription number has only digits and the letters {letters}.",
                letters=NUMBER_ALPHABET[10:],
            )
        )
    if not mod_37_36.is_valid(number):
        raise InvalidPrescriptionNumber(
            Message(
                "number_typo",
                "This prescription number has a typo: its check character does not match.",
            )
        )
    return number


def display_number(number: str) -> str:
    """Grouped for reading aloud and typing: ABCD-EFGH-JKX."""
    parts, start = [], 0
    for size in NUMBER_GROUPS:
        parts.append(number[start : start + size])
        start += size
    return "-".join(parts)


# -- the access code ---------------------------------------------------------------------------


def new_access_code() -> str:
    """128 random bits in base 32 (capitals and 2–7: QR alphanumeric mode, easy to read)."""
    return base64.b32encode(secrets.token_bytes(ACCESS_CODE_BYTES)).decode().rstrip("=")


def is_well_formed_access_code(code: str) -> bool:
    return len(code) == ACCESS_CODE_LENGTH and all(c in ACCESS_CODE_ALPHABET for c in code)


def hash_access_code(code: str) -> str:
    """The only form of the access code used for checks: SHA-256, hex.

    A plain hash is enough: the code has 128 random bits, so it cannot be guessed from it.
    """
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def access_code_matches(code: str, stored_hash: str) -> bool:
    """Whether `code` is the one whose hash is stored (in constant time)."""
    if not isinstance(code, str) or not code.isascii():
        return False
    return hmac.compare_digest(hash_access_code(code), stored_hash)


# -- sealing, so that its patient and prescriber can show the QR code again -----------------------


def _sealing_key(secret: str | bytes) -> bytes:
    secret = secret.encode() if isinstance(secret, str) else secret
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"eprescription access code v1"
    ).derive(secret)


def seal_access_code(code: str, number: str, secret: str | bytes) -> bytes:
    """The code encrypted (AES-256-GCM) under a key derived from the server secret.

    The number is authenticated with it, so a sealed code copied to another row fails to open.
    """
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_sealing_key(secret)).encrypt(nonce, code.encode(), number.encode())


def open_access_code(sealed: bytes, number: str, secret: str | bytes) -> str:
    """The access code sealed by seal_access_code (cryptography's InvalidTag if tampered)."""
    nonce, ciphertext = sealed[:12], sealed[12:]
    return AESGCM(_sealing_key(secret)).decrypt(nonce, ciphertext, number.encode()).decode()
