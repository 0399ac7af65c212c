"""The key-encryption keyring: ids, the current key, and how the settings name them."""

import pytest

from eprescription.config import load_config
from eprescription.domain.errors import ConfigurationError
from eprescription.signing.keyring import DEFAULT_KEY_ID, Keyring, UnknownKeyId

ONE, TWO = "11" * 32, "22" * 32


@pytest.fixture(autouse=True)
def no_keys_in_the_environment(monkeypatch):
    for name in ("KEY_ENCRYPTION_KEY", "KEY_ENCRYPTION_KEYS", "KEY_ENCRYPTION_KEY_ID"):
        monkeypatch.delenv(name, raising=False)


def settings(**overrides):
    return load_config("/nonexistent", overrides={"ENVIRONMENT": "development", **overrides})


def test_a_lone_key_encryption_key_is_a_keyring_of_one_named_k1():
    loaded = settings(KEY_ENCRYPTION_KEY=ONE)

    ring = loaded["KEY_ENCRYPTION_KEYS"]
    assert ring.current_id == DEFAULT_KEY_ID == loaded["KEY_ENCRYPTION_KEY_ID"]
    assert dict(ring.keys) == {"k1": bytes.fromhex(ONE)}
    assert loaded["KEY_ENCRYPTION_KEY"] == bytes.fromhex(ONE)


def test_a_keyring_names_its_current_key_and_keeps_the_older_ones_readable():
    loaded = settings(KEY_ENCRYPTION_KEYS=f" k1:{ONE}, k2:{TWO} ", KEY_ENCRYPTION_KEY_ID="k2")

    ring = loaded["KEY_ENCRYPTION_KEYS"]
    assert ring.current == bytes.fromhex(TWO) == loaded["KEY_ENCRYPTION_KEY"]
    assert ring.key("k1") == bytes.fromhex(ONE)
    assert ring.older_ids == ("k1",)
    assert ring.next_id() == "k3"
    with pytest.raises(UnknownKeyId):
        ring.key("k0")


@pytest.mark.parametrize(
    "overrides, says",
    [
        ({"KEY_ENCRYPTION_KEYS": f"k1:{ONE},k2:{TWO}"}, "KEY_ENCRYPTION_KEY_ID"),
        (
            {"KEY_ENCRYPTION_KEYS": f"k1:{ONE}", "KEY_ENCRYPTION_KEY_ID": "k2"},
            "KEY_ENCRYPTION_KEY_ID",
        ),
        ({"KEY_ENCRYPTION_KEYS": f"k1:{ONE},k1:{TWO}", "KEY_ENCRYPTION_KEY_ID": "k1"}, "repeated"),
        ({"KEY_ENCRYPTION_KEYS": f"k1:{ONE},k2:{ONE}", "KEY_ENCRYPTION_KEY_ID": "k1"}, "two ids"),
        ({"KEY_ENCRYPTION_KEYS": ONE}, "without 'id:'"),
        ({"KEY_ENCRYPTION_KEYS": f"a b:{ONE}"}, "bad"),
        ({"KEY_ENCRYPTION_KEYS": "k1:too-short"}, "32 random bytes"),
        ({"KEY_ENCRYPTION_KEYS": f"k1:{ONE}", "KEY_ENCRYPTION_KEY": TWO}, "both set"),
        ({"KEY_ENCRYPTION_KEY": ONE, "KEY_ENCRYPTION_KEY_ID": "no/slash"}, "not a valid key id"),
    ],
)
def test_a_keyring_that_is_ambiguous_or_malformed_is_refused_with_the_reason(overrides, says):
    with pytest.raises(ConfigurationError, match=says):
        settings(**overrides)


def test_production_accepts_a_keyring_in_place_of_the_lone_key():
    loaded = load_config(
        "/nonexistent",
        overrides={
            "ENVIRONMENT": "production",
            "SECRET_KEY": "s" * 32,
            "KEY_ENCRYPTION_KEYS": f"2026-01:{ONE}",
        },
    )

    assert loaded["KEY_ENCRYPTION_KEY_ID"] == "2026-01"


def test_older_secret_keys_are_read_as_flask_fallbacks(monkeypatch):
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", " older , oldest,")

    assert settings()["SECRET_KEY_FALLBACKS"] == ["older", "oldest"]
    monkeypatch.delenv("SECRET_KEY_FALLBACKS")
    assert settings()["SECRET_KEY_FALLBACKS"] == []


def test_a_keyring_refuses_a_current_id_it_does_not_hold_or_a_short_key():
    with pytest.raises(ValueError):
        Keyring("k2", {"k1": bytes(32)})
    with pytest.raises(ValueError):
        Keyring("k1", {"k1": bytes(31)})
