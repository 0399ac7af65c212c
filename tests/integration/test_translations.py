"""Every page of every role on the seeded demo, in French (by default) and in English (by the
switch): no English left on a French page, no ISO or UTC time on any page, money in the words of
the page; and every error code and message code worded in both languages (docs/languages.md)."""

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from eprescription.domain import errors
from eprescription.errors import CODE_BY_HTTP_STATUS
from eprescription.web import formats, messages, script_words
from tests.conftest import REPO_ROOT, make_test_app
from tests.integration.seeded_app import LOGINS, dispose, seeded_app

PACKAGE = REPO_ROOT / "eprescription"
FRENCH_PO = PACKAGE / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
ROLES = ("anonymous", *LOGINS)
PAGE_PREFIXES = ("/api/", "/fhir/", "/static/")
NOT_PAGES = {"/", "/pharmacy/dispensations/<dispensation_id>/<document>.jws"}
# Words of English that French sentences never use: one of them on a French page is a text
# that escaped translation (the catalogue test cannot see a text nobody wrapped in _()).
ENGLISH = frozenset(
    re.findall(
        r"\w+",
        "the and with your you this that from until has have been not of to is are by for its "
        "which will was what who when there here cannot only any yet issued valid renewal "
        "renewals dispensed medication medications packs pack search scan cancel sign review "
        "open print back line lines left now none nothing shown show given should must please",
    )
)
ISO_MOMENT = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\d{2}:\d{2}:\d{2}|\bUTC\b")
SHOWN_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")
# Refusals worded on the pages, as (role, method, path, form): a message of each kind.
REFUSALS = [
    ("anonymous", "POST", "/login", {"username": "demo-prescriber", "password": "wrong-one"}),
    ("anonymous", "GET", "/no/such/page", None),
    ("patient", "GET", "/prescriber/prescriptions", None),
    ("patient", "POST", "/me/representatives", {"nir": "123", "family_name": ""}),
    ("pharmacist", "POST", "/pharmacy/scan", {"code": "not a prescription code"}),
    ("pharmacist", "POST", "/pharmacy/scan", {"number": "ABCD-EFGH", "patient_nir": "1"}),
    ("pharmacist", "POST", "/pharmacy/card", {"nir": "123"}),
    ("prescriber", "POST", "/prescriber/prescriptions/new", {"renewals": "x"}),
    (
        "prescriber",
        "POST",
        "/prescriber/prescriptions/new",
        {"patient_nir": "1", "items-0-cis": "1234", "items-0-quantity": "99", "pickup_mode": "?"},
    ),
]


class ShownText(HTMLParser):
    """The texts a visitor sees or hears: text nodes (not those of scripts, styles or the
    signed data shown as JSON) and the attributes a screen reader says."""

    HIDDEN = frozenset({"script", "style", "pre"})

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.words_attribute: str | None = None
        self._hidden = 0

    def handle_starttag(self, tag, attrs) -> None:
        attributes = dict(attrs)
        if tag in self.HIDDEN:
            self._hidden += 1
        if tag == "body":
            self.words_attribute = attributes.get("data-words")
        for name, value in attrs:
            sentence = name.startswith("data-") and name != "data-words" and " " in (value or "")
            if value and (name in SHOWN_ATTRIBUTES or sentence):
                self.texts.append(value)

    def handle_endtag(self, tag) -> None:
        if tag in self.HIDDEN:
            self._hidden -= 1

    def handle_data(self, data) -> None:
        if not self._hidden and data.strip():
            self.texts.append(" ".join(data.split()))


def shown(page: str) -> ShownText:
    parser = ShownText()
    parser.feed(page)
    return parser


def english_words(text: str) -> set[str]:
    return {word for word in re.findall(r"[^\W\d_]+", text.lower()) if word in ENGLISH}


@pytest.fixture(scope="module")
def seeded(engine_name, tmp_path_factory):
    seeded, url = seeded_app(engine_name, tmp_path_factory.mktemp("translations"))
    yield seeded
    dispose(seeded, url)


def client_of(seeded, role: str, language: str):
    """A browser of `role`: French by default (no preference), English by the switch."""
    client = seeded.app.test_client()
    if language == "en":
        client.post("/language/en", data={"next": "/login"})
    if role in LOGINS:
        username, password = LOGINS[role]
        client.post("/login", data={"username": username, "password": password})
    return client


def page_paths(seeded) -> list[str]:
    """The path of every page (an HTML GET route), its parameters filled from the seed."""
    paths = []
    for rule in sorted(seeded.app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if "GET" not in rule.methods or rule.rule.startswith(PAGE_PREFIXES):
            continue
        if re.sub(r"<[^<>:]+:", "<", rule.rule) in NOT_PAGES:
            continue
        paths.append(
            re.sub(r"<(?:[^<>:]+:)?([a-z_]+)>", lambda m: seeded.values[m.group(1)], rule.rule)
        )
    return paths


def rendered(seeded, language: str) -> list[tuple[str, str, str]]:
    """(role, what, page) for every page each role reaches, and for each refusal."""
    found = []
    for role in ROLES:
        client = client_of(seeded, role, language)
        for path in page_paths(seeded):
            response = client.get(path)
            if response.status_code == 200 and response.mimetype == "text/html":
                found.append((role, f"GET {path}", response.get_data(as_text=True)))
    for role, method, path, form in REFUSALS:
        response = client_of(seeded, role, language).open(path, method=method, data=form)
        refused = 400 <= response.status_code < 500 or b'role="alert"' in response.data
        assert refused and response.status_code != 500, (role, path, response.status_code)
        found.append((role, f"{method} {path}", response.get_data(as_text=True)))
    return found


def test_every_page_of_every_role_is_in_french_by_default_with_no_english_left(seeded):
    pages = rendered(seeded, "fr")
    reached = {role: sum(1 for who, _, _ in pages if who == role) for role in ROLES}
    assert reached["prescriber"] >= 8 and reached["pharmacist"] >= 6, reached
    assert reached["patient"] >= 5 and reached["admin"] >= 1, reached

    problems = []
    for role, what, page in pages:
        assert '<html lang="fr">' in page, (role, what)
        text = shown(page)
        words = json.loads(text.words_attribute or "{}")
        assert words["search_failed"] == "La recherche a échoué ; réessayez.", (role, what)
        for line in text.texts:
            if english_words(line):
                problems.append(f"{role} {what}: English {sorted(english_words(line))} in {line!r}")
            if ISO_MOMENT.search(line):
                problems.append(f"{role} {what}: a time as ISO or UTC in {line!r}")
    assert not problems, "\n".join(sorted(set(problems)))


def test_every_page_is_in_english_by_the_switch_with_times_and_money_in_english_words(seeded):
    pages = rendered(seeded, "en")

    problems = []
    for role, what, page in pages:
        assert '<html lang="en">' in page, (role, what)
        for line in shown(page).texts:
            if ISO_MOMENT.search(line):
                problems.append(f"{role} {what}: a time as ISO or UTC in {line!r}")
    assert not problems, "\n".join(sorted(set(problems)))
    receipts = [page for _, what, page in pages if "/pharmacy/dispensations/" in what]
    assert receipts and re.search(r'id="total">€\d+\.\d\d<', receipts[0])


def test_the_receipt_shows_money_and_times_in_french_words_and_the_paris_time_zone(seeded):
    client = client_of(seeded, "pharmacist", "fr")

    receipt = client.get(f"/pharmacy/dispensations/{seeded.values['dispensation_id']}").text

    assert re.search(r'id="total">\d+,\d\d\xa0€<', receipt)
    moment = re.search(r"<dt>Date</dt><dd>([^<]+)</dd>", receipt).group(1)
    assert re.fullmatch(r"\d{1,2} [a-zéû]+\.? 20\d\d \d\d:\d\d", moment), moment


def test_times_are_shown_in_the_display_time_zone_paris_by_default(app):
    moment = datetime(2026, 12, 1, 7, 40, tzinfo=UTC)  # 08:40 in Paris, 02:40 in New York
    elsewhere = make_test_app("sqlite://", DISPLAY_TIME_ZONE="America/New_York")

    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert formats.when(moment) == "1 déc. 2026 08:40"
        assert formats.day("2026-12-01T23:30:00Z") == "2 décembre 2026"  # the day in Paris
        assert formats.money(255) == "2,55\xa0€"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert formats.when("2026-12-01T07:40:00Z") == "Dec 1, 2026 8:40\u202fAM"
        assert formats.money(255) == "€2.55"
    with elsewhere.test_request_context(headers={"Accept-Language": "fr"}):
        assert formats.when(moment) == "1 déc. 2026 02:40"


def test_an_unknown_display_time_zone_is_refused_when_the_app_starts():
    with pytest.raises(errors.ConfigurationError, match="DISPLAY_TIME_ZONE"):
        make_test_app("sqlite://", DISPLAY_TIME_ZONE="Europe/Atlantis")


def _codes(kind: type[errors.DomainError]):
    yield kind.code
    for subclass in kind.__subclasses__():
        yield from _codes(subclass)


def message_codes_in_the_sources() -> dict[str, Path]:
    """Every code a Message is made with, written Message("code", …) (domain/messages.py)."""
    found = {}
    for path in sorted(PACKAGE.glob("**/*.py")):
        for code in re.findall(r'\bMessage\(\s*"(\w+)"', path.read_text()):
            found[code] = path.relative_to(REPO_ROOT)
    return found


def test_every_error_code_and_message_code_has_french_and_english_words(app):
    with FRENCH_PO.open("rb") as po:
        catalog = read_po(po)
    error_codes = {*_codes(errors.DomainError), *CODE_BY_HTTP_STATUS.values(), "internal_error"}
    in_sources = message_codes_in_the_sources()
    assert len(in_sources) > 80  # the search really found the messages

    missing = {
        "error codes without a title": error_codes - set(messages.TITLES),
        "message codes without words": set(in_sources) - set(messages.MESSAGES),
        # errors.py words werkzeug's own sentence of each status by the code http_<status>
        "HTTP statuses without words": {f"http_{status}" for status in CODE_BY_HTTP_STATUS}
        - set(messages.MESSAGES),
    }
    assert not any(missing.values()), missing
    tables = [messages.TITLES, messages.MESSAGES, messages.CHECKS, script_words.WORDS]
    with app.test_request_context(headers={"Accept-Language": "en"}):  # English: the msgids
        english = {
            code: str(text)
            for table in [*tables, script_words.PROBLEMS]
            for code, text in table.items()
        }
    untranslated = [
        f"{code}: {text!r}"
        for code, text in english.items()
        if not text or catalog.get(text) is None or not catalog.get(text).string
    ]
    assert not untranslated, "\n".join(untranslated)


def test_the_french_keeps_every_placeholder_of_the_english():
    with FRENCH_PO.open("rb") as po:
        catalog = read_po(po)

    problems = [f"{message.id!r}: {errors}" for message, errors in catalog.check()]
    braces = [
        message.id
        for message in catalog
        if isinstance(message.id, str)
        and set(re.findall(r"\{\w+\}", message.id)) != set(re.findall(r"\{\w+\}", message.string))
    ]
    assert not problems and not braces, (problems, braces)
