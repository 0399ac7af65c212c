"""Private keys are stored wrapped: only the right PIN with the right server secret opens them."""

import pytest

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
