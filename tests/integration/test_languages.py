"""The pages in French and English: chosen from the browser or the switch, every text of every
page translated, and the committed compiled catalogue in step with the French file."""

import re
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from eprescription.domain import health_space
from eprescription.domain.messages import Message
from eprescription.domain.prescriptions import PickupMode, Status
from eprescription.services.patient_access_log import LogEntry
from eprescription.web import messages, patient, patient_filters
from tests.conftest import REPO_ROOT, make_test_app
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.test_patient_pages import log_in
from tests.integration.test_prescriptions_api import issue

products = prescribing.products
people = prescribing.people

PACKAGE = REPO_ROOT / "eprescription"
FRENCH = PACKAGE / "translations" / "fr" / "LC_MESSAGES"
# Every file babel.cfg names: each template, and every module (views, the messages by code).
SOURCES = [
    *sorted((PACKAGE / "web" / "templates").glob("**/*.html")),
    *sorted(PACKAGE.glob("**/*.py")),
]
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]+)">', page).group(1)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
def visitor(app, db_session):
    """A client that sends no language preference."""
    return app.test_client()


@pytest.mark.parametrize(
    ("accept_language", "lang", "heading"),
    [
        ("fr-FR,fr;q=0.9", "fr", "Se connecter"),
        (None, "fr", "Se connecter"),
        ("en", "en", "Log in"),
        ("de-DE,de;q=0.9,en;q=0.8", "en", "Log in"),
    ],
)
def test_the_page_language_follows_the_browser_and_is_french_by_default(
    visitor, accept_language, lang, heading
):
    headers = {"Accept-Language": accept_language} if accept_language else {}

    page = visitor.get("/login", headers=headers).get_data(as_text=True)

    assert html_lang(page) == lang
    assert f"<h1>{heading}</h1>" in page


def in_french(client):
    """The client's browser now prefers French (its default header would win over `headers`)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr-FR,fr;q=0.9,en;q=0.5"


def test_the_health_space_in_french(client, people, products):
    issued = issue(client, people, products)
    log_in(client, "camille")
    in_french(client)

    home = client.get("/me").get_data(as_text=True)
    sheet = client.get(f"/me/prescriptions/{issued['id']}").get_data(as_text=True)

    assert html_lang(home) == "fr" and "<h1>Mon espace santé</h1>" in home
    assert "Ordonnances à retirer" in home and "Qui a consulté" in home
    assert re.search(r"encore \d+ jours", home)
    assert "Présentez ce code à la pharmacie" in sheet
    number = issued["number"]
    assert f'aria-label="QR code de l\'ordonnance {number}"' in sheet
    assert re.search(r"<dt>Validité</dt><dd>du \d{1,2} \w+ 20\d\d au \d{1,2} \w+ 20\d\d", sheet)
    assert "boîte" in sheet and "days left" not in sheet


def test_the_access_log_the_form_errors_and_the_error_page_in_french(client, people, products):
    issued = issue(client, people, products)
    log_in(client, "camille")
    in_french(client)

    log = client.get("/me/access-log").get_data(as_text=True)
    refused = client.post("/me/representatives", data={"nir": "123", "family_name": "Roux"})
    refused = refused.get_data(as_text=True)
    client.post("/logout")
    log_in(client, "lea")
    missing = client.get(f"/me/prescriptions/{issued['id']}")

    assert "<strong>Dr Claire Martin</strong>, prescripteur — RPPS 10001234565" in log
    assert re.search(r"a prescrit l&#39;ordonnance [0-9A-Z-]+", log)
    assert "un NIR comporte 15 caractères, et non 3" in refused
    assert missing.status_code == 404 and "<h1>Introuvable</h1>" in missing.get_data(True)
    assert "Aucune ordonnance portant ce numéro ne vous est accessible." in missing.get_data(True)


def test_the_switch_remembers_the_choice_and_goes_back_to_the_same_page(database_url, db_session):
    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    browser = app.test_client()
    french = browser.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert html_lang(french) == "fr"

    response = browser.post(
        "/language/en",
        data={"csrf_token": csrf_token(french), "next": "/login?next=/me"},
        headers={"Accept-Language": "fr"},
    )

    assert response.status_code == 302 and response.location == "/login?next=/me"
    assert re.match(r"lang=en;", response.headers["Set-Cookie"])
    english = browser.get(response.location, headers={"Accept-Language": "fr"}).get_data(True)
    assert html_lang(english) == "en" and "<h1>Log in</h1>" in english
    assert 'lang="en"' in english and 'aria-current="true">English<' in english


def test_the_switch_refuses_a_missing_csrf_token_and_ignores_an_unknown_language(
    database_url, db_session
):
    app = make_test_app(database_url, WTF_CSRF_ENABLED=True)
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)

    forged = browser.post("/language/en", data={"next": "/login"})
    unknown = browser.post("/language/de", data={"csrf_token": csrf_token(page), "next": "/login"})

    assert forged.status_code == 400 and "Set-Cookie" not in forged.headers
    assert unknown.status_code == 302 and "Set-Cookie" not in unknown.headers
    assert html_lang(browser.get("/login").get_data(as_text=True)) == "fr"


def test_every_word_of_the_domain_shown_on_the_pages_has_a_translated_label():
    missing = {
        "actions": set(health_space.ACTION_WORDS) - set(patient_filters.ACTION_LABELS),
        "roles": set(health_space.ROLE_WORDS) - set(patient_filters.ROLE_LABELS),
        "pickup modes": set(PickupMode) - set(patient_filters.PICKUP_LABELS),
        "statuses": set(Status) - set(patient.STATUS_LABELS),
    }

    assert not any(missing.values()), missing


def test_the_health_space_words_are_built_in_the_page_language(app):
    # The fields the filters read of a card's line and of a card (patient_cards.CardLine, Card).
    line = SimpleNamespace(status="active", remaining_quantity=3, remaining_now=1)
    later = SimpleNamespace(valid_from="2026-06-01", valid_until="2026-08-31", days_left=100)
    collected = SimpleNamespace(**{**vars(line), "remaining_quantity": 0})
    last_day = SimpleNamespace(**{**vars(later), "days_left": 0})
    refused = LogEntry(
        1, datetime(2026, 5, 1), "Dr Paul Petit", "prescriber", "", "read", "prescription",
        "ABCD-EFGH-JKX", "denied", "tried: opened prescription ABCD-EFGH-JKX (refused: denied)",
    )  # fmt: skip

    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert patient_filters.remaining(line, renewals=2) == (
            "1 boîte à retirer maintenant, 3 boîtes au total avec les renouvellements"
        )
        assert patient_filters.remaining(collected, 2) == ("tout a été retiré")
        assert patient_filters.validity(later) == "valable à partir du 1 juin 2026"
        assert patient_filters.validity(last_day) == "dernier jour aujourd'hui"
        assert patient_filters.log_what(refused) == (
            "a tenté : a consulté l'ordonnance ABCD-EFGH-JKX (refusé : accès refusé)"
        )
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert patient_filters.validity(later) == "valid from June 1, 2026"
        assert patient_filters.log_what(refused) == refused.what


def test_a_message_is_worded_by_its_code_and_parameters_never_by_its_english_text(app):
    key = Message(
        "nir_key", "the NIR's key should be {expected}, not {typed}", expected=97, typed=12
    )
    same_text = "the NIR's key should be 97, not 12"  # the very English, without its code

    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert messages.message(key) == "la clé du NIR devrait être 97, et non 12"
        assert messages.message(same_text) == same_text
        assert messages.message(Message("no_such_code", "as it is")) == "as it is"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert messages.message(key) == str(key)


def extracted_messages() -> dict[str, list[str]]:
    """Every msgid of every page, view and table of messages, with the files it comes from."""
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        method = "jinja2" if path.suffix == ".html" else "python"
        for _, message, _, _ in extract_from_file(method, path, keywords=KEYWORDS):
            msgid = message if isinstance(message, str) else message[0]
            found.setdefault(msgid, []).append(str(path.relative_to(REPO_ROOT)))
    return found


def test_every_text_of_every_page_has_a_french_translation():
    with (FRENCH / "messages.po").open("rb") as po:
        catalog = read_po(po)
    texts = extracted_messages()
    assert len(texts) > 500  # the extraction really found the pages' texts

    problems = []
    for msgid, paths in sorted(texts.items()):
        entry = catalog.get(msgid)
        strings = () if entry is None else entry.string
        strings = (strings,) if isinstance(strings, str) else strings
        if entry is None or not all(strings):
            problems.append(f"no French for {msgid!r} ({', '.join(sorted(set(paths)))})")
        elif entry.fuzzy:
            problems.append(f"fuzzy French for {msgid!r} ({', '.join(sorted(set(paths)))})")
    assert not problems, "\n".join(problems)


def test_the_committed_compiled_catalogue_matches_the_french_file(tmp_path: Path):
    with (FRENCH / "messages.po").open("rb") as po:
        catalog = read_po(po)
    with (tmp_path / "messages.mo").open("wb") as mo:
        write_mo(mo, catalog)

    def entries(path: Path) -> dict:
        with path.open("rb") as mo:
            return {str(message.id): str(message.string) for message in read_mo(mo) if message.id}

    assert entries(FRENCH / "messages.mo") == entries(tmp_path / "messages.mo")
