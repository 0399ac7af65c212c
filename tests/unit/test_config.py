"""Settings are read when an app is created, and unsafe ones are refused."""

import base64

import pytest

from eprescription.config import load_config
from eprescription.domain.errors import ConfigurationError


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_config(str(tmp_path), overrides={"ENVIRONMENT": "production"})


def test_production_refuses_to_start_without_a_key_encryption_key(monkeypatch, tmp_path):
    monkeypatch.delenv("KEY_ENCRYPTION_KEY", raising=False)

    with pytest.raises(ConfigurationError, match="KEY_ENCRYPTION_KEY"):
        load_config(str(tmp_path), overrides={"ENVIRONMENT": "production", "SECRET_KEY": "s" * 32})


@pytest.mark.parametrize(
    "written",
    [
        "0123456789abcdef" * 4,
        base64.b64encode(bytes.fromhex("0123456789abcdef" * 4)).decode(),
        base64.urlsafe_b64encode(bytes.fromhex("0123456789abcdef" * 4)).decode().rstrip("="),
    ],
)
def test_the_key_encryption_key_is_read_as_hex_or_base64_of_32_bytes(tmp_path, written):
    settings = load_config(
        str(tmp_path), overrides={"ENVIRONMENT": "development", "KEY_ENCRYPTION_KEY": written}
    )

    assert settings["KEY_ENCRYPTION_KEY"] == bytes.fromhex("0123456789abcdef" * 4)


@pytest.mark.parametrize(
    "written", ["too-short", "ab" * 31, "a passphrase of forty-four chars or so, hm?"]
)
def test_a_key_encryption_key_that_is_not_32_bytes_is_refused(tmp_path, written):
    with pytest.raises(ConfigurationError, match="KEY_ENCRYPTION_KEY"):
        load_config(
            str(tmp_path), overrides={"ENVIRONMENT": "development", "KEY_ENCRYPTION_KEY": written}
        )


def test_development_gets_a_development_key_encryption_key(monkeypatch, tmp_path):
    monkeypatch.delenv("KEY_ENCRYPTION_KEY", raising=False)

    settings = load_config(str(tmp_path), overrides={"ENVIRONMENT": "development"})

    assert len(settings["KEY_ENCRYPTION_KEY"]) == 32


def test_development_gets_a_development_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)

    settings = load_config(str(tmp_path), overrides={"ENVIRONMENT": "development"})

    assert settings["SECRET_KEY"]
    assert settings["SESSION_COOKIE_SECURE"] is False


def test_production_cookies_are_secure_httponly_and_samesite(tmp_path):
    settings = load_config(
        str(tmp_path),
        overrides={
            "ENVIRONMENT": "production",
            "SECRET_KEY": "s" * 32,
            "KEY_ENCRYPTION_KEY": "ab" * 32,
        },
    )

    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_the_default_database_is_a_sqlite_file_under_instance(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)

    settings = load_config(str(tmp_path), overrides={"ENVIRONMENT": "development"})

    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path}/eprescription.sqlite3"


def test_database_url_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")

    settings = load_config(str(tmp_path), overrides={"ENVIRONMENT": "development"})

    assert settings["DATABASE_URL"] == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("name, value", [("ENVIRONMENT", "staging"), ("COUNTRY", "DE")])
def test_unknown_environment_or_country_is_refused(tmp_path, name, value):
    with pytest.raises(ConfigurationError):
        load_config(str(tmp_path), overrides={name: value, "SECRET_KEY": "x"})
