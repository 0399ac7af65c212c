"""The administrator's and the own-account pages, and their refusals (bad NIR, RPPS, FINESS,
passwords or PINs that differ, what exists already), are in French with no English left."""

import pytest

from tests.integration.seeded_app import dispose, seeded_app
from tests.integration.test_translations import client_of, english_words, shown

LONG = "a" * 12
PATIENT = {"national_id": "285037505612306", "given_name": "Camille", "family_name": "Dubois"}
PAGES = [
    ("admin", "GET", "/admin/accounts", None),
    ("admin", "GET", "/admin/accounts/new", None),
    ("admin", "GET", "/admin/pharmacies/new", None),
    (
        "admin",
        "POST",
        "/admin/accounts/new",
        {"role": "pharmacist", "username": "x", "password": "a", "repeat": "b"}
        | {"national_id": "1", "birth_date": "x", "pharmacy_finess": "330004565"},
    ),
    (
        "admin",
        "POST",
        "/admin/accounts/new",
        {"role": "prescriber", "username": "demo-admin", "password": LONG, "repeat": LONG}
        | PATIENT
        | {"birth_date": "1986-03-12", "rpps": "1"},
    ),
    (
        "admin",
        "POST",
        "/admin/accounts/new",
        {"role": "admin", "username": "demo-admin", "password": LONG, "repeat": LONG},
    ),
    ("admin", "POST", "/admin/pharmacies/new", {"finess": "1", "name": ""}),
    ("admin", "POST", "/admin/pharmacies/new", {"finess": "750001232", "name": "x"}),
    ("prescriber", "GET", "/account/pin", None),
    ("prescriber", "POST", "/account/pin", {"pin": "1", "new_pin": "12", "repeat": "12"}),
    ("prescriber", "POST", "/account/pin", {"pin": "1", "new_pin": "1234", "repeat": "12"}),
    ("prescriber", "GET", "/account/password", None),
    ("prescriber", "POST", "/account/password", {"current": "x", "new": "y", "repeat": "z"}),
]


@pytest.fixture
def seeded(engine_name, tmp_path_factory):
    seeded, url = seeded_app(engine_name, tmp_path_factory.mktemp("account_pages"))
    yield seeded
    dispose(seeded, url)


def test_the_account_pages_and_their_refusals_are_in_french(seeded):
    problems = []
    for role, method, path, form in PAGES:
        response = client_of(seeded, role, "fr").open(path, method=method, data=form)
        assert response.status_code < 500 and response.mimetype == "text/html", (path, form)
        assert (method == "GET") == (response.status_code == 200), (path, form)
        for line in shown(response.get_data(as_text=True)).texts:
            if english_words(line):
                problems.append(
                    f"{method} {path}: English {sorted(english_words(line))} in {line!r}"
                )
    assert not problems, "\n".join(sorted(set(problems)))
