"""One way to read a form (issue 11 item 8): the pharmacy pages read their forms with the API's
schemas, so each input sent to both faces is accepted by both or refused by both with the same
code, next to the same field; the pages word the schema's refusals by code (French by default)."""

import re

import pytest

from eprescription.schemas.dispensing import DispenseSchema
from tests.integration.seeded_app import LOGINS, PATIENT_NIR, dispose, seeded_app

PROBLEM = "application/problem+json"
CODE = re.compile(r'data-code="([a-z0-9_]+)"')


@pytest.fixture(scope="module")
def seeded(engine_name, tmp_path_factory):
    seeded, url = seeded_app(engine_name, tmp_path_factory.mktemp("one-way"))
    # Many refusals from one client on purpose: the throttles (test_throttling.py) out of the way.
    seeded.app.config.update(
        THROTTLE_GUESSES="100000 per day", THROTTLE_TARGET_GUESSES="100000 per day"
    )
    yield seeded
    dispose(seeded, url)


def _pharmacist_page_client(seeded, language: str):
    client = seeded.app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    username, password = LOGINS["pharmacist"]
    login = client.post("/login", data={"username": username, "password": password})
    assert login.status_code in (302, 303), login.get_data(as_text=True)[:300]
    return client


@pytest.fixture(scope="module")
def page(seeded):
    return _pharmacist_page_client(seeded, "en")


@pytest.fixture(scope="module")
def french_page(seeded):
    return _pharmacist_page_client(seeded, "fr")


@pytest.fixture(scope="module")
def qr(seeded) -> str:
    client = seeded.app.test_client()
    number = seeded.values["number"]
    detail = client.get(f"/api/v1/me/prescriptions/{number}", headers=seeded.bearer("patient"))
    return detail.get_json()["qr_text"]


def api_refusal(response) -> tuple[int, str, set[str]]:
    """The API's status, code and the paths of the fields it names (lines.0.quantity…)."""
    if response.status_code < 400:
        return response.status_code, "", set()
    assert response.mimetype == PROBLEM, response.get_data(as_text=True)[:300]
    body = response.get_json()
    return response.status_code, body["code"], set(_paths(body.get("errors") or {}))


def _paths(errors: dict, prefix: str = ""):
    for key, value in errors.items():
        if isinstance(value, dict):
            yield from _paths(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def page_refusal(response) -> tuple[int, str, set[str]]:
    """The page's status, the refusal's code it carries, and the ids of the fields it marks."""
    text = response.get_data(as_text=True)
    if response.status_code < 400:
        return response.status_code, "", set()
    codes = set(CODE.findall(text))
    assert len(codes) == 1, (codes, text[:2000])
    fields = set(re.findall(r'<p class="field-error" id="([a-z0-9_-]+)-error"', text))
    return response.status_code, codes.pop(), fields


# The API's field path, and the page's field it is shown next to.
SCAN_CASES = [
    ("nothing", {}, "validation_failed", {"code": "code"}),
    (
        "number alone",
        {"number": "K7QM-2D3F-9TX"},
        "validation_failed",
        {"patient_nir": "patient_nir"},
    ),
    ("NIR alone", {"patient_nir": PATIENT_NIR}, "validation_failed", {"number": "number"}),
    ("QR text too long", {"code": "x" * 300}, "validation_failed", {"code": "code"}),
    ("not a QR text", {"code": "hello"}, "invalid_qr_code", {}),
    ("a typo in the number", {"number": "K7QM-2D3F-9TX", "patient_nir": PATIENT_NIR}, None, {}),
    (
        "a NIR too short",
        {"number": "{number}", "patient_nir": "123"},
        "invalid_identifier",
        {"patient_nir": "patient_nir"},
    ),
    (
        "a number too long",
        {"number": "A" * 40, "patient_nir": PATIENT_NIR},
        "validation_failed",
        {"number": "number"},
    ),
    (
        "identity neither yes nor no",
        {"code": "{qr}", "identity_confirmed": "maybe"},
        "validation_failed",
        {"identity_confirmed": "form"},
    ),
    ("the QR text", {"code": "{qr}"}, "", {}),
]


def _filled(fields: dict, seeded, qr: str) -> dict:
    values = {"qr": qr, "number": seeded.values["number"]}
    return {name: value.format(**values) for name, value in fields.items()}


def _json(fields: dict) -> dict:
    """The form's text as the API's JSON carries it (a checkbox's value is a boolean there)."""
    return {
        name: (value if name != "identity_confirmed" or value == "maybe" else value == "1")
        for name, value in fields.items()
    }


@pytest.mark.parametrize(
    ("form", "code", "fields"),
    [case[1:] for case in SCAN_CASES],
    ids=[case[0] for case in SCAN_CASES],
)
def test_the_scan_page_and_the_scan_api_accept_and_refuse_the_same_inputs(
    seeded, page, qr, form, code, fields
):
    form = _filled(form, seeded, qr)

    api = seeded.app.test_client().post(
        "/api/v1/pharmacy/scan", json=_json(form), headers=seeded.bearer("pharmacist")
    )
    shown = page.post("/pharmacy/scan", data=form)

    api_status, api_code, api_fields = api_refusal(api)
    page_status, page_code, page_fields = page_refusal(shown)
    assert (api_status, api_code) == (page_status, page_code)
    if code is not None:  # None: whatever the code, the same on both faces
        assert api_code == code
        assert api_fields == set(fields)
        assert page_fields >= {f for f in fields.values() if f != "form"}


CARD_CASES = [
    ("no NIR", {}, "validation_failed", {"nir": "nir"}),
    ("a NIR too short", {"nir": "123"}, "invalid_identifier", {"nir": "nir"}),
    ("a NIR too long", {"nir": "1" * 40}, "validation_failed", {"nir": "nir"}),
    ("page 0", {"nir": PATIENT_NIR, "page": "0"}, "validation_failed", {"page": "card-form"}),
    ("page x", {"nir": PATIENT_NIR, "page": "x"}, "validation_failed", {"page": "card-form"}),
    (
        "a representative's NIR too short",
        {"nir": PATIENT_NIR, "presenter_nir": "12345"},
        "invalid_identifier",
        {"presenter_nir": "presenter_nir"},
    ),
    ("the patient's card", {"nir": PATIENT_NIR, "identity_confirmed": "1"}, "", {}),
]


@pytest.mark.parametrize(
    ("form", "code", "fields"),
    [case[1:] for case in CARD_CASES],
    ids=[case[0] for case in CARD_CASES],
)
def test_the_card_page_and_the_card_api_accept_and_refuse_the_same_inputs(
    seeded, page, form, code, fields
):
    body = {
        name: int(value) if name == "page" and value.isdigit() else value
        for name, value in _json(form).items()
    }
    presenter = {"presenter": "representative"} if "presenter_nir" in form else {}

    api = seeded.app.test_client().post(
        "/api/v1/pharmacy/card-lookup", json=body, headers=seeded.bearer("pharmacist")
    )
    shown = page.post("/pharmacy/card", data={**form, **presenter})

    assert api_refusal(api)[:2] == page_refusal(shown)[:2] == (api.status_code, code)
    assert api_refusal(api)[2] == set(fields)
    assert page_refusal(shown)[2] == set(fields.values())


def _dispense_form(qr: str, line: dict, collector: dict) -> dict:
    form = {"code": qr, "collected_kind": collector.get("kind", "patient")}
    form.update({f"lines-1-{name}": value for name, value in line.items()})
    if "name" in collector:
        form["collected_name"] = collector["name"]
    return form


def _dispense_body(qr: str, line: dict, collector: dict) -> dict:
    lines = []
    if line.get("pack"):
        pack = line["pack"]
        sent = {"line": 1, "cip13" if len(pack) <= 13 and pack.isdigit() else "gs1": pack}
        for name in ("quantity", "batch", "expiry"):
            if line.get(name):
                value = line[name]
                whole = value.isascii() and value.isdigit()
                sent[name] = int(value) if name == "quantity" and whole else value
        lines.append(sent)
    return {"code": qr, "lines": lines, "collected_by": {"kind": "patient", **collector}}


PACK = "3400930000000"  # 13 digits: only the format matters, each case is refused before
DISPENSE_CASES = [
    ("no pack given", {"pack": ""}, {}, {"lines": "lines"}),
    (
        "a quantity that is not a number",
        {"pack": PACK, "quantity": "x"},
        {},
        {"lines.0.quantity": "lines-1-quantity"},
    ),
    (
        "an odd digit as quantity",
        {"pack": PACK, "quantity": "²"},
        {},
        {"lines.0.quantity": "lines-1-quantity"},
    ),
    ("no quantity", {"pack": PACK}, {}, {"lines.0.quantity": "lines-1-quantity"}),
    ("quantity 0", {"pack": PACK, "quantity": "0"}, {}, {"lines.0.quantity": "lines-1-quantity"}),
    (
        "an expiry that is no date",
        {"pack": PACK, "quantity": "1", "expiry": "soon"},
        {},
        {"lines.0.expiry": "lines-1-expiry"},
    ),
    (
        "month 13 on the box",
        {"pack": PACK, "quantity": "1", "expiry": "13/2030"},
        {},
        {"lines.0.expiry": "lines-1-expiry"},
    ),
    (
        "a CIP13 of 12 digits",
        {"pack": PACK[:12], "quantity": "1"},
        {},
        {"lines.0.cip13": "lines-1-pack"},
    ),
    (
        "a batch too long",
        {"pack": PACK, "quantity": "1", "batch": "B" * 30},
        {},
        {"lines.0.batch": "lines-1-batch"},
    ),
    (
        "someone else, unnamed",
        {"pack": PACK, "quantity": "1"},
        {"kind": "other"},
        {"collected_by.national_id": "collected_national_id"},
    ),
    (
        "a collector of no kind",
        {"pack": PACK, "quantity": "1"},
        {"kind": "neighbour"},
        {"collected_by.kind": "collected_kind"},
    ),
    (
        "a collector's name too long",
        {"pack": PACK, "quantity": "1"},
        {"kind": "other", "name": "N" * 300},
        {"collected_by.name": "collected_name"},
    ),
]


@pytest.mark.parametrize(
    ("line", "collector", "fields"),
    [case[1:] for case in DISPENSE_CASES],
    ids=[case[0] for case in DISPENSE_CASES],
)
def test_the_dispensing_form_and_the_dispensing_api_refuse_the_same_inputs(
    seeded, page, qr, line, collector, fields
):
    number = seeded.values["number"]

    api = seeded.app.test_client().post(
        f"/api/v1/prescriptions/{number}/dispensations",
        json=_dispense_body(qr, line, collector),
        headers=seeded.bearer("pharmacist"),
    )
    shown = page.post(
        f"/pharmacy/prescriptions/{number}/dispensations",
        data=_dispense_form(qr, line, collector),
    )

    assert api_refusal(api) == (422, "validation_failed", set(fields))
    status, code, marked = page_refusal(shown)
    assert (status, code) == (422, "validation_failed")
    assert marked == set(fields.values())


def test_the_reversal_form_and_the_reversal_api_refuse_the_same_reasons(seeded, page):
    url = f"/dispensations/{seeded.values['dispensation_id']}/reversal"

    for reason in ("", "x" * 501):
        api = seeded.app.test_client().post(
            f"/api/v1{url}", json={"reason": reason}, headers=seeded.bearer("pharmacist")
        )
        shown = page.post(f"/pharmacy{url}", data={"reason": reason})

        assert api_refusal(api) == (422, "validation_failed", {"reason"})
        assert page_refusal(shown) == (422, "validation_failed", {"reason"})


def test_the_list_page_and_the_list_api_refuse_the_same_page_numbers(seeded, page):
    for bad in ("0", "x", "10001"):
        api = seeded.app.test_client().get(
            f"/api/v1/dispensations?page={bad}", headers=seeded.bearer("pharmacist")
        )
        shown = page.get(f"/pharmacy/dispensations?page={bad}")

        assert api_refusal(api)[:2] == (422, "validation_failed")
        assert shown.status_code == 422


def test_the_schemas_refusals_are_worded_in_french_by_their_code(seeded, french_page, qr):
    number = seeded.values["number"]

    dispensed = french_page.post(
        f"/pharmacy/prescriptions/{number}/dispensations",
        data=_dispense_form(qr, {"pack": PACK, "quantity": "x", "expiry": "bientôt"}, {}),
    )
    scanned = french_page.post("/pharmacy/scan", data={"number": number})
    looked_up = french_page.post("/pharmacy/card", data={"nir": PATIENT_NIR, "page": "0"})

    page = dispensed.get_data(as_text=True)
    assert 'id="lines-1-quantity-error">un nombre entier<' in page
    assert 'id="lines-1-expiry-error">une date : MM/AAAA comme sur la boîte, ou AAAA-MM-JJ<' in page
    assert 'id="patient_nir-error">le NIR du patient va avec le numéro<' in scanned.get_data(
        as_text=True
    )
    assert 'id="card-form-error">de 1 à 10000<' in looked_up.get_data(as_text=True)
    for response in (dispensed, scanned, looked_up):
        text = response.get_data(as_text=True)
        assert "Not a valid" not in text and "Missing data" not in text and "Must be" not in text


def test_the_api_takes_the_expiry_printed_on_the_box_as_the_pages_do():
    line = {"line": 1, "cip13": PACK, "quantity": 1}
    body = {"code": "EP1.x.y", "collected_by": {"kind": "patient"}}

    loaded = [
        DispenseSchema().load({**body, "lines": [{**line, "expiry": expiry}]})["lines"][0]["expiry"]
        for expiry in ("07/2027", "2027-07", "2027-07-31", "2/2028")
    ]

    assert [day.isoformat() for day in loaded] == [
        "2027-07-31",
        "2027-07-31",
        "2027-07-31",
        "2028-02-29",
    ]
