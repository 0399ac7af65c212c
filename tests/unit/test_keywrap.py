"""Private keys are stored wrapped: only the right PIN with the right server secret opens them."""

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from eprescription.signing import certificates, keywrap

SECRET = bytes(range(32))
PURPOSE = "prescriber:0abc"


@pytest.fixture(scope="module")
def key():
    return certificates.generate_key()


@pytest.fixture(scope="module")
def wrapped(key):
    return keywrap.wrap_private_key(key, server_secret=SECRET, purpose=PURPOSE, pin="1234")


def test_the_right_pin_and_server_secret_open_the_key(key, wrapped):
    opened = keywrap.unwrap_private_key(wrapped, server_secret=SECRET, purpose=PURPOSE, pin="1234")

    assert opened.private_numbers() == key.private_numbers()


@pytest.mark.parametrize("pin", ["1235", "12345", "0000", "", None])
def test_a_wrong_pin_does_not_open_the_key(wrapped, pin):
    with pytest.raises(keywrap.UnwrapFailed):
        keywrap.unwrap_private_key(wrapped, server_secret=SECRET, purpose=PURPOSE, pin=pin)


def test_the_right_pin_with_another_server_secret_does_not_open_the_key(wrapped):
    other = bytes(reversed(SECRET))

    with pytest.raises(keywrap.UnwrapFailed):
        keywrap.unwrap_private_key(wrapped, server_secret=other, purpose=PURPOSE, pin="1234")


def test_a_wrapped_key_copied_to_another_credential_does_not_open(wrapped):
    with pytest.raises(keywrap.UnwrapFailed):
        keywrap.unwrap_private_key(
            wrapped, server_secret=SECRET, purpose="prescriber:0abd", pin="1234"
        )


def test_any_altered_byte_of_the_wrapped_key_is_detected(wrapped):
    for position in range(len(wrapped)):
        altered = bytearray(wrapped)
        altered[position] ^= 0x80
        with pytest.raises(keywrap.UnwrapFailed):
            keywrap.unwrap_private_key(
                bytes(altered), server_secret=SECRET, purpose=PURPOSE, pin="1234"
            )


def test_the_key_is_not_stored_in_clear_and_each_wrapping_is_salted_anew(key, wrapped):
    again = keywrap.wrap_private_key(key, server_secret=SECRET, purpose=PURPOSE, pin="1234")
    secret_scalar = key.private_numbers().private_value.to_bytes(32, "big")

    assert again != wrapped
    assert wrapped[1:17] != again[1:17]  # the salts
    assert secret_scalar not in wrapped


@pytest.mark.parametrize(
    "pin, valid",
    [
        ("1234", True),
        ("12345678", True),
        ("123", False),
        ("123456789", False),
        ("12a4", False),
        ("١٢٣٤", False),
        ("", False),
        (None, False),
    ],
)
def test_a_pin_is_four_to_eight_ascii_digits(pin, valid):
    assert keywrap.is_valid_pin(pin) is valid


# Rotation: the server-secret layer changes without the PIN


NEW_SECRET = bytes(range(32, 64))


def test_a_rewrapped_key_opens_with_the_new_server_secret_and_the_same_pin_only(key, wrapped):
    moved = keywrap.rewrap(wrapped, old_secret=SECRET, new_secret=NEW_SECRET, purpose=PURPOSE)

    opened = keywrap.unwrap_private_key(
        moved, server_secret=NEW_SECRET, purpose=PURPOSE, pin="1234"
    )
    assert opened.private_numbers() == key.private_numbers()
    with pytest.raises(keywrap.ServerSecretRefused):
        keywrap.unwrap_private_key(moved, server_secret=SECRET, purpose=PURPOSE, pin="1234")
    with pytest.raises(keywrap.UnwrapFailed):
        keywrap.unwrap_private_key(moved, server_secret=NEW_SECRET, purpose=PURPOSE, pin="1235")


def test_a_wrong_server_secret_is_told_apart_from_a_wrong_pin(wrapped):
    with pytest.raises(keywrap.ServerSecretRefused):
        keywrap.unwrap_private_key(wrapped, server_secret=NEW_SECRET, purpose=PURPOSE, pin="1234")
    with pytest.raises(keywrap.UnwrapFailed) as wrong_pin:
        keywrap.unwrap_private_key(wrapped, server_secret=SECRET, purpose=PURPOSE, pin="9999")
    assert not isinstance(wrong_pin.value, keywrap.ServerSecretRefused)


def test_rewrapping_needs_the_old_server_secret(wrapped):
    with pytest.raises(keywrap.ServerSecretRefused):
        keywrap.rewrap(wrapped, old_secret=NEW_SECRET, new_secret=SECRET, purpose=PURPOSE)


def legacy_blob(key, *, pin: str | None, purpose: str = PURPOSE, secret: bytes = SECRET) -> bytes:
    """A key wrapped as version 1 did: one layer under HKDF(server secret ‖ PIN)."""
    plaintext = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt, nonce = os.urandom(16), os.urandom(12)
    wrapping = keywrap.derive_wrapping_key(secret, pin, salt, purpose)
    header = bytes([keywrap.LEGACY_VERSION]) + salt + nonce
    return header + AESGCM(wrapping).encrypt(nonce, plaintext, header + purpose.encode())


def test_a_legacy_key_still_opens_and_without_a_pin_is_rewrapped_into_the_new_format(key):
    with_pin = legacy_blob(key, pin="1234")
    without = legacy_blob(key, pin=None, purpose="ca:01")

    assert keywrap.format_version(with_pin) == keywrap.LEGACY_VERSION
    opened = keywrap.unwrap_private_key(with_pin, server_secret=SECRET, purpose=PURPOSE, pin="1234")
    assert opened.private_numbers() == key.private_numbers()
    moved = keywrap.rewrap(without, old_secret=SECRET, new_secret=NEW_SECRET, purpose="ca:01")
    assert keywrap.format_version(moved) == keywrap.FORMAT_VERSION
    assert (
        keywrap.unwrap_private_key(
            moved, server_secret=NEW_SECRET, purpose="ca:01"
        ).private_numbers()
        == key.private_numbers()
    )
    with pytest.raises(keywrap.UnwrapFailed):  # its PIN is needed: it moves at a signature
        keywrap.rewrap(with_pin, old_secret=SECRET, new_secret=NEW_SECRET, purpose=PURPOSE)


def test_a_key_wrapped_without_a_pin_does_not_open_with_one_nor_the_reverse(key, wrapped):
    plain = keywrap.wrap_private_key(key, server_secret=SECRET, purpose=PURPOSE)

    with pytest.raises(keywrap.UnwrapFailed):
        keywrap.unwrap_private_key(plain, server_secret=SECRET, purpose=PURPOSE, pin="1234")
    with pytest.raises(keywrap.UnwrapFailed):
        keywrap.unwrap_private_key(wrapped, server_secret=SECRET, purpose=PURPOSE)
