"""GET /api/v1/medications on the full BDPM: relevance, substance lines (DCI) first, strengths
as typed, pagination, the hit, the refusals."""

import time

import pytest

from eprescription.catalog.text import words
from eprescription.models import Role
from eprescription.schemas.medications import MedicationPageSchema
from eprescription.services import accounts
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import add_account, operator

PROBLEM = "application/problem+json"
MARKETED = "Commercialisée"
people = prescribing.people
products = prescribing.products


@pytest.fixture
def search(client, db_session, catalog):
    """GET the search as a logged-in prescriber; returns the parsed response."""
    account = add_account(db_session, Role.PRESCRIBER)
    with operator(db_session) as uow:
        token, _expires_at = accounts.issue_token(uow, account, 3600)

    def get(**params):
        response = client.get(
            "/api/v1/medications", query_string=params, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    return get


@pytest.fixture(scope="module")
def first_presentation(bdpm_dir) -> dict:
    """The CIS, CIP7 and CIP13 on the first line of the real CIS_CIP_bdpm.txt."""
    fields = (bdpm_dir / "CIS_CIP_bdpm.txt").read_bytes().split(b"\n", 1)[0].split(b"\t")
    return {"cis": fields[0].decode(), "cip7": fields[1].decode(), "cip13": fields[6].decode()}


def log_in(client, account) -> None:
    """A browser session as login writes it (login_sessions.open_session)."""
    with client.session_transaction() as session:
        now = int(time.time())
        session.update(
            account_id=account.id, version=account.session_version, started=now, seen=now
        )


def names(page: dict) -> list[str]:
    return [item["name"] for item in page["items"]]


def test_doliprane_returns_doliprane_products_first(search):
    page = search(q="doliprane")

    assert page["total"] > 10
    assert all(words(name)[0].startswith("doliprane") for name in names(page))


def test_doliprane_1000_narrows_to_the_1000_mg_products(search):
    everything = search(q="doliprane")["total"]
    page = search(q="doliprane 1000")

    assert 0 < page["total"] < everything
    assert all(
        words(name)[0].startswith("doliprane") and "1000" in words(name) for name in names(page)
    )


def test_amox_finds_amoxicilline_products(search):
    page = search(q="amox", page_size=50)

    assert page["total"] > 50
    assert names(page)[0].startswith("AMOXICILLINE")
    for item in page["items"]:
        substances = {word for s in item["substances"] for word in words(s["name"])}
        assert any(word.startswith("amox") for word in words(item["name"]) + sorted(substances))


def test_paracetamol_is_found_without_accent_and_in_capitals_with_one(search):
    plain = search(q="paracetamol", page_size=50)
    accented = search(q="PARACÉTAMOL", page_size=50)

    assert plain == accented
    assert plain["total"] > 100
    assert all("PARAC" in s["name"] for s in plain["items"][0]["substances"])


def test_products_named_after_the_query_come_before_those_only_containing_it(search):
    page, ranks = 1, []
    while True:
        found = search(q="paracetamol", page=page, page_size=50)
        ranks += [words(name)[0] == "paracetamol" for name in names(found)]
        if page * 50 >= found["total"]:
            break
        page += 1

    assert ranks.index(False) > 0
    assert True not in ranks[ranks.index(False) :]


def test_marketed_prescribable_products_come_before_the_others_of_the_same_name(search):
    items = search(q="arimidex")["items"]
    marketed = [
        item["prescribable"] and item["marketing_status"] == "Commercialisée" for item in items
    ]

    assert True in marketed
    assert False in marketed
    assert marketed == sorted(marketed, reverse=True)


def test_a_cis_finds_exactly_that_product(search, first_presentation):
    page = search(q=first_presentation["cis"])

    assert page["total"] == 1
    assert page["items"][0]["cis"] == first_presentation["cis"]


@pytest.mark.parametrize("code", ["cip13", "cip7"])
def test_a_cip_code_finds_exactly_its_product(search, first_presentation, code):
    page = search(q=first_presentation[code])

    assert page["total"] == 1
    assert page["items"][0]["cis"] == first_presentation["cis"]
    cip13s = [p["cip13"] for p in page["items"][0]["presentations"]]
    assert first_presentation["cip13"] in cip13s


def test_pages_never_repeat_a_product_and_add_up_to_the_total(search):
    seen, totals, page = [], set(), 1
    while True:
        found = search(q="acide", page=page, page_size=50)
        seen += [item["cis"] for item in found["items"]]
        totals.add(found["total"])
        if not found["items"]:
            break
        page += 1

    assert len(totals) == 1
    assert len(seen) == len(set(seen)) == totals.pop()


def test_a_hit_carries_what_a_prescriber_needs(search):
    hit = search(q="arimidex 1 mg")["items"][0]

    assert hit["name"] == "ARIMIDEX 1 mg, comprimé pelliculé"
    assert hit["form"] == "comprimé pelliculé"
    assert hit["routes"] == ["orale"]
    assert hit["prescribable"] is True
    assert hit["marketing_status"] == "Commercialisée"
    assert {"name": "ANASTROZOLE", "strength": "1,00 mg", "nature": "SA"}.items() <= (
        hit["substances"][0].items()
    )
    presentation = hit["presentations"][0]
    assert len(presentation["cip13"]) == 13
    assert presentation["price_cents"] > 0
    assert presentation["reimbursement_rate"] == 100
    assert {"kind": "list_i", "text": "liste I"} in hit["conditions"]
    group = hit["generic_groups"][0]
    assert isinstance(group["id"], int)
    assert group["type"] == "princeps"
    assert "ANASTROZOLE" in group["label"]


def test_a_page_past_the_last_is_empty_but_keeps_the_total(search):
    total = search(q="doliprane")["total"]

    assert search(q="doliprane", page=99) == {
        "items": [],
        "total": total,
        "page": 99,
        "page_size": 20,
        "substances": [],
    }


def test_a_pharmacist_may_search_too(client, db_session, catalog):
    account = add_account(db_session, Role.PHARMACIST)
    with operator(db_session) as uow:
        token, _expires_at = accounts.issue_token(uow, account, 3600)

    response = client.get(
        "/api/v1/medications?q=amox", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("q=", "q"),
        ("q=%20%20%20", "q"),
        ("q=--", "q"),
        ("", "q"),
        ("q=" + "a" * 101, "q"),
        ("q=amox&page_size=51", "page_size"),
        ("q=amox&page=0", "page"),
    ],
)
def test_a_bad_query_is_refused_with_the_field_that_is_wrong(client, db_session, query, field):
    log_in(client, add_account(db_session, Role.PRESCRIBER))

    response = client.get(f"/api/v1/medications?{query}")

    assert response.status_code == 422
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["code"] == "validation_failed"
    assert list(body["errors"]) == [field]


def test_an_anonymous_caller_must_log_in(client):
    response = client.get("/api/v1/medications?q=amox")

    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.get_json()["code"] == "authentication_required"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_patient_may_not_search_the_catalog(client, db_session):
    log_in(client, add_account(db_session, Role.PATIENT))

    response = client.get("/api/v1/medications?q=amox")

    assert response.status_code == 403
    assert response.mimetype == PROBLEM
    assert response.get_json()["code"] == "permission_denied"


def test_the_hits_match_the_documented_schema_field_for_field(search):
    for q in ("amox", "doliprane 1000", "anastrozole"):
        page = search(q=q, page_size=50)

        assert page["items"]
        assert MedicationPageSchema().validate(page) == {}
    assert search(q="amox")["substances"]


# -- by substance first ----------------------------------------------------------------------


def line_key(line: dict) -> tuple[str, str, str]:
    return line["substance"]["code"], line["substance"]["strength"], line["substance"]["form"]


def test_a_substance_is_offered_first_as_its_strengths_and_forms(search):
    page = search(q="amoxicilline", page_size=10)
    names = [line["name"] for line in page["substances"]]

    assert len(names) == 10
    assert all(name.startswith("amoxicilline ") for name in names)
    assert {"amoxicilline 1 g, comprimé dispersible", "amoxicilline 500 mg, gélule"} <= set(names)
    assert all(line["products"] >= 1 for line in page["substances"])
    # Most prescribed first: as many products on the market behind the first as any other.
    assert page["substances"][0]["products"] == max(s["products"] for s in page["substances"])
    # The combinations come after the products of amoxicilline alone (those on the market).
    combined = [
        "CLAVULANIQUE" in item["name"]
        for item in every_item(search, "amoxicilline")
        if words(item["name"])[0] == "amoxicilline" and item["marketing_status"] == MARKETED
    ]
    assert True in combined and False in combined
    assert combined == sorted(combined)


def names_of(page: dict) -> list[str]:
    return [item["name"] for item in page["items"]]


def every_item(search, q: str) -> list[dict]:
    """Every product found for `q`, page after page."""
    items, page = [], 1
    while found := search(q=q, page=page, page_size=50)["items"]:
        items += found
        page += 1
    return items


@pytest.mark.parametrize("query", ["amoxicilline 1 g", "amoxicilline 1000 mg", "AMOXICILLINE 1G"])
def test_a_strength_matches_however_it_is_typed(search, query):
    typed = search(q=query, page_size=50)
    reference = search(q="amoxicilline 1g", page_size=50)

    assert typed["substances"] == reference["substances"]
    assert names_of(typed) == names_of(reference)
    assert line_key(typed["substances"][0]) == ("05248", "1 g", "comprimé dispersible")
    assert all(" 1 g" in name or " 1000 mg" in name for name in names_of(typed))


def test_single_substance_products_come_before_combinations(search):
    named = [
        item
        for item in every_item(search, "paracetamol")
        if words(item["name"])[0] == "paracetamol" and item["marketing_status"] == MARKETED
    ]
    combined = [len({s["link_number"] for s in item["substances"]}) > 1 for item in named]

    assert True in combined and False in combined
    assert combined == sorted(combined)


def test_a_brand_has_no_substance_line_before_it(search):
    for brand in ("doliprane", "levothyrox", "augmentin"):
        page = search(q=brand)

        assert page["substances"] == []
        assert words(page["items"][0]["name"])[0] == brand


def test_substance_lines_are_on_the_first_page_only(search):
    assert search(q="paracetamol", page=1)["substances"]
    assert search(q="paracetamol", page=2)["substances"] == []


def test_a_substance_line_chosen_in_the_search_is_prescribed_by_dci(client, people, products):
    queries = ("amoxicilline 1g", "paracetamol 500", "metformine 850", "ibuprofene", "tramadol")
    lines = []
    for query in queries:
        response = client.get(
            "/api/v1/medications", query_string={"q": query}, headers=people["doctor"]
        )
        lines.append(response.get_json()["substances"][0])
    items = [
        {"substance": line["substance"], "dosage_text": "1 par jour", "quantity": 1}
        for line in lines
    ]

    issued = prescribing.issue(client, people, products, items=items)

    for line, item in zip(lines, issued["items"], strict=True):
        medication = item["medication"]
        assert medication["type"] == "substance"
        assert (medication["substance_code"], medication["strength"], medication["form"]) == (
            line_key(line)
        )
