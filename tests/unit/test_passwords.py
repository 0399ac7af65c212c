"""Password hashing: argon2id, salted, never the password itself."""

from eprescription.services import accounts


def test_passwords_are_hashed_with_argon2id_and_a_salt():
    first, second = accounts.hash_password("same password"), accounts.hash_password("same password")

    assert first.startswith("$argon2id$")
    assert first != second
    assert "same password" not in first
    assert accounts.password_hasher.verify(first, "same password")


def test_usernames_are_compared_without_case_or_spaces():
    assert accounts.normalise_username("  Dr.Martin ") == "dr.martin"
