"""The pharmacist's web pages through the Flask test client, on both databases: scan (QR text or
number + NIR), what is left to dispense, refusals on the page, dispense once, the receipt."""

import html
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from eprescription.models import Dispensation, Prescription, Role
from tests.integration import test_dispensing_api as api
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD, add_account
from tests.integration.test_prescriptions_api import PATIENT_NIR, issue

people = prescribing.people
products = prescribing.products
packs = api.packs

SCAN = "/pharmacy/scan"
KEY = re.compile(r'name="idempotency_key" value="([0-9a-f]{32})"')
VERSION = re.compile(r'name="version" value="(\d+)"')
EXPIRY = f"12/{date.today().year + 2}"


@pytest.fixture
def pharmacist(client, db_session, people):
    """A pharmacist of a pharmacy, logged in through the login page."""
    account = add_account(db_session, Role.PHARMACIST)
    response = client.post("/login", data={"username": account.username, "password": PASSWORD})
    assert response.status_code == 302
    return account


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def scan(client, issued, **form):
    return client.post(SCAN, data=form or {"code": issued["qr_text"]})


def dispense_form(issued, page: str, lines: dict, **fields) -> dict:
    """The dispensing form as the page rendered it, with `lines` {line: {field: value}}."""
    data = {
        "code": issued["qr_text"],
        "idempotency_key": KEY.search(page).group(1),
        "version": VERSION.search(page).group(1),
        "collected_kind": "patient",
    }
    for line, values in lines.items():
        for name, value in values.items():
            data[f"lines-{line}-{name}"] = value
    data.update(fields)
    return data


def post_dispense(client, issued, data):
    return client.post(f"/pharmacy/prescriptions/{issued['id']}/dispensations", data=data)


def count_dispensations(session) -> int:
    return session.scalar(select(func.count()).select_from(Dispensation))


# -- scan -------------------------------------------------------------------------------------


def test_the_landing_page_leads_to_the_scan_page_whose_scan_field_has_the_focus(client, pharmacist):
    assert 'href="/pharmacy/scan"' in text(client.get("/pharmacy/"))

    response = client.get(SCAN)

    page = text(response)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert page.count("<h1>") == 1
    scan_field = re.search(r"<input[^>]*id=\"code\"[^>]*>", page, re.S).group(0)
    assert "autofocus" in scan_field and 'autocomplete="off"' in scan_field
    assert 'name="number"' in page and 'name="patient_nir"' in page


def test_other_roles_cannot_open_the_pharmacy_pages(client, db_session):
    patient = add_account(db_session, Role.PATIENT)
    client.post("/login", data={"username": patient.username, "password": PASSWORD})
    assert client.get(SCAN).status_code == 403
    client.post("/logout")
    assert client.get(SCAN).status_code == 302  # to the login page


def test_a_scanned_qr_text_shows_each_line_with_what_remains_and_the_verified_signature(
    client, people, products, pharmacist
):
    issued = issue(client, people, products, renewals=1)

    response = scan(client, issued, code=issued["qr_text"].lower() + "\r\n")  # wedge quirks

    page = text(response)
    assert response.status_code == 200, page
    assert response.headers["Cache-Control"] == "no-store"
    assert issued["number"] in page
    assert "Signature verified" in page and "Signed by Dr Claire Martin" in page
    assert f"until {issued['valid_until']} — valid today" in page
    line1 = re.search(r'<tr id="line-1">.*?</tr>', page, re.S).group(0)
    assert "DOLIPRANE" in line1
    assert "1 × 2 periods = 2" in line1 and "2 of 2" in line1
    assert "period 1 of 2: 1 left now" in line1
    assert "Allowed" in line1 and "generic group" in line1
    line2 = re.search(r'<tr id="line-2">.*?</tr>', page, re.S).group(0)
    assert "Not allowed" in line2 and "not substitutable (CIF): give this product" in line2
    assert "ALD" in line2
    # The dispensing form: one pack per open line, a fresh key per render, the version.
    assert 'id="lines-1-pack"' in page and 'id="lines-2-pack"' in page
    assert VERSION.search(page).group(1) == "1"
    again = text(scan(client, issued))
    assert KEY.search(page).group(1) != KEY.search(again).group(1)


def test_manual_entry_opens_with_the_grouped_number_and_the_patients_nir(
    client, people, products, pharmacist
):
    issued = issue(client, people, products)

    for number in (issued["number"], issued["id"], issued["number"].lower()):
        response = scan(client, issued, number=number, patient_nir=PATIENT_NIR)
        page = text(response)
        assert response.status_code == 200, page
        assert "Signature verified" in page
        assert f'name="patient_nir" value="{PATIENT_NIR}"' in page  # carried to dispensing
        assert 'name="code"' not in page


def test_a_typo_in_the_number_is_shown_next_to_the_number_field(
    client, people, products, pharmacist
):
    issued = issue(client, people, products)
    number = issued["id"]
    typo = number[:-1] + ("A" if number[-1] != "A" else "B")

    response = scan(client, issued, number=typo, patient_nir=PATIENT_NIR)

    page = text(response)
    assert response.status_code == 422
    assert re.search(r'id="number-error">[^<]*check character', page), page
    assert re.search(r'<input[^>]*id="number"[^>]*aria-invalid="true"', page, re.S)
    assert f'value="{typo}"' in page  # the form as typed
    bad_nir = scan(client, issued, number=number, patient_nir="123")
    assert bad_nir.status_code == 422
    assert 'id="patient_nir-error"' in text(bad_nir)


@pytest.mark.parametrize(
    "code", ["hello", "EP1.H24VYEBTSCH", "EP1.H24VYEBTSCH.5DWYQBHMKZWB67NPC6HT", "", "x" * 300]
)
def test_garbage_or_truncated_qr_text_is_explained_next_to_the_scan_field(client, pharmacist, code):
    response = client.post(SCAN, data={"code": code})

    page = text(response)
    assert response.status_code == 422
    assert 'id="code-error"' in page
    assert 'id="code" name="code" value=""' in page  # empty again for the next scan


def test_a_wrong_access_code_and_a_wrong_nir_read_like_an_unknown_number(
    client, people, products, pharmacist
):
    issued = issue(client, people, products)
    wrong_code = issued["qr_text"][:-4] + (
        "AAAA" if not issued["qr_text"].endswith("AAAA") else "BBBB"
    )

    answers = [
        scan(client, issued, code=wrong_code),
        scan(client, issued, number=issued["number"], patient_nir=people["other_patient_nir"]),
    ]

    for response in answers:
        page = text(response)
        assert response.status_code == 404
        assert 'role="alert"' in page and "No prescription matches this code" in page
        assert 'data-code="prescription_not_found"' in page


def _cancelled(client, db_session, people, products):
    issued = issue(client, people, products)
    client.post(
        f"/api/v1/prescriptions/{issued['id']}/cancel",
        json={"pin": "1234", "reason": "erreur"},
        headers=people["doctor"],
    )
    return issued


def _expired(client, db_session, people, products):
    issued = issue(client, people, products)
    db_session.execute(
        update(Prescription)
        .where(Prescription.number == issued["id"])
        .values(
            valid_from=date.today() - timedelta(days=10),
            valid_until=date.today() - timedelta(days=1),
        )
    )
    db_session.commit()
    return issued


def _tampered(client, db_session, people, products):
    issued = issue(client, people, products)
    stored = db_session.scalar(select(Prescription).where(Prescription.number == issued["id"]))
    stored.payload = stored.payload.replace(b'"quantity":1', b'"quantity":9')
    db_session.commit()
    return issued


@pytest.mark.parametrize(
    ("make", "status", "code", "words"),
    [
        (_cancelled, 409, "prescription_cancelled", "cancelled"),
        (_expired, 409, "prescription_expired", "expired"),
        (_tampered, 409, "prescription_signature_invalid", "payload"),
    ],
    ids=["cancelled", "expired", "bad-signature"],
)
def test_closed_or_forged_prescriptions_are_refused_on_the_page_with_the_reason(
    client, db_session, people, products, pharmacist, make, status, code, words
):
    issued = make(client, db_session, people, products)

    response = scan(client, issued)

    page = text(response)
    assert response.status_code == status
    assert f'data-code="{code}"' in page and words in page
    assert "Nothing was dispensed" in page
    assert 'id="dispense-form"' not in page


# -- dispense ---------------------------------------------------------------------------------


def test_dispensing_one_pack_shows_a_signed_receipt_with_price_and_cover(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    page = text(scan(client, issued))
    pack = packs["doliprane"]

    response = post_dispense(
        client,
        issued,
        dispense_form(
            issued,
            page,
            {1: {"pack": pack.cip13, "quantity": "1", "batch": "LOT7", "expiry": EXPIRY}},
        ),
    )

    receipt = text(response)
    assert response.status_code == 200, receipt
    assert response.headers["Cache-Control"] == "no-store"
    assert "<h1>Dispensing receipt</h1>" in receipt
    total, covered, share = api.expected_cover(pack, 1, ald=False)
    euros = lambda cents: f"{cents // 100}.{cents % 100:02d} €"  # noqa: E731
    assert f'id="total">{euros(total)}<' in receipt
    assert f'id="covered">{euros(covered)}<' in receipt
    assert f'id="patient-share">{euros(share)}<' in receipt
    assert f"CIP13 {pack.cip13}" in receipt and f"LOT7, {date.today().year + 2}-12-31" in receipt
    assert "signature verified" in receipt
    assert "now partially dispensed" in receipt
    assert "data-print" in receipt
    assert count_dispensations(db_session) == 1
    assert api.item_quantities(db_session, issued) == [1, 0]


def test_a_double_submission_of_one_form_dispenses_once_and_shows_the_same_receipt(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    page = text(scan(client, issued))
    data = dispense_form(
        issued,
        page,
        {1: {"pack": packs["doliprane"].cip13, "quantity": "1", "batch": "B1", "expiry": EXPIRY}},
    )

    first, second = post_dispense(client, issued, data), post_dispense(client, issued, data)

    assert first.status_code == second.status_code == 200
    receipt_id = re.compile(r'<dd class="code">([0-9a-f]{32})</dd>')
    assert receipt_id.search(text(first)).group(1) == receipt_id.search(text(second)).group(1)
    assert count_dispensations(db_session) == 1
    assert api.item_quantities(db_session, issued) == [1, 0]


def test_a_scanned_gs1_datamatrix_fills_batch_and_expiry(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products, pickup_mode="private")
    page = text(
        scan(
            client, issued, number=issued["number"], patient_nir=PATIENT_NIR, identity_confirmed="1"
        )
    )
    gs1 = f"]d2010{packs['doliprane'].cip13}17{(date.today().year + 2) % 100:02d}1231" + (
        "10LOT42\x1d21SER0001"
    )
    data = dispense_form(issued, page, {1: {"pack": gs1, "quantity": "1"}}, identity_confirmed="1")
    del data["code"]
    data.update(number=issued["number"], patient_nir=PATIENT_NIR)

    response = post_dispense(client, issued, data)

    receipt = text(response)
    assert response.status_code == 200, receipt
    assert f"LOT42, {date.today().year + 2}-12-31" in receipt and "SN SER0001" in receipt
    assert api.item_quantities(db_session, issued) == [1, 0]


def test_refusals_show_the_prescription_again_with_the_messages_by_their_fields(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    page = text(scan(client, issued))
    first_key = KEY.search(page).group(1)

    substitution = post_dispense(
        client,
        issued,
        dispense_form(
            issued,
            page,
            {
                2: {
                    "pack": packs["doliprane"].cip13,
                    "quantity": "1",
                    "batch": "B",
                    "expiry": EXPIRY,
                }
            },
        ),
    )
    unknown_and_unreadable = post_dispense(
        client,
        issued,
        dispense_form(
            issued,
            page,
            {
                1: {"pack": "3400000000000", "quantity": "1", "batch": "B", "expiry": EXPIRY},
                2: {"pack": packs["amoxicilline"].cip13, "quantity": "x", "expiry": "soon"},
            },
        ),
    )
    too_many = post_dispense(
        client,
        issued,
        dispense_form(
            issued,
            page,
            {
                1: {
                    "pack": packs["doliprane"].cip13,
                    "quantity": "3",
                    "batch": "B",
                    "expiry": EXPIRY,
                }
            },
        ),
    )
    nothing = post_dispense(client, issued, dispense_form(issued, page, {1: {"pack": ""}}))

    again = text(substitution)
    assert substitution.status_code == 422
    assert 'data-code="substitution_refused"' in again
    assert re.search(r'id="lines-2-pack-error">[^<]+', again)
    assert f'value="{packs["doliprane"].cip13}"' in again  # the form as typed
    assert KEY.search(again).group(1) != first_key  # a fresh key for the corrected form
    both = text(unknown_and_unreadable)
    assert unknown_and_unreadable.status_code == 422
    assert 'id="lines-2-quantity-error"' in both and 'id="lines-2-expiry-error"' in both
    assert too_many.status_code == 409
    assert "1 left in period 1 of 1" in text(too_many)
    assert nothing.status_code == 422 and 'id="lines-error"' in text(nothing)
    assert count_dispensations(db_session) == 0
    assert api.item_quantities(db_session, issued) == [0, 0]


def test_a_form_based_on_a_stale_view_is_refused_and_the_page_shows_the_new_state(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    stale = text(scan(client, issued))
    line1 = {1: {"pack": packs["doliprane"].cip13, "quantity": "1", "batch": "B", "expiry": EXPIRY}}
    fresh = text(scan(client, issued))
    assert post_dispense(client, issued, dispense_form(issued, fresh, line1)).status_code == 200

    response = post_dispense(client, issued, dispense_form(issued, stale, line1))

    page = text(response)
    assert response.status_code == 412
    assert 'data-code="prescription_version_mismatch"' in page
    assert "period 1 of 1: 0 left now" in page and VERSION.search(page).group(1) == "2"
    assert count_dispensations(db_session) == 1


def test_a_completed_prescription_is_refused_at_the_next_scan(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    page = text(scan(client, issued))
    lines = {
        1: {"pack": packs["doliprane"].cip13, "quantity": "1", "batch": "B", "expiry": EXPIRY},
        2: {"pack": packs["amoxicilline"].cip13, "quantity": "2", "batch": "C", "expiry": EXPIRY},
    }
    done = post_dispense(client, issued, dispense_form(issued, page, lines))
    assert done.status_code == 200 and "now completed" in text(done)

    response = scan(client, issued)

    assert response.status_code == 409
    assert 'data-code="prescription_completed"' in text(response)


def test_odd_characters_in_the_numbers_are_refused_on_the_page_not_with_a_500(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    page = text(scan(client, issued))
    cip13 = packs["doliprane"].cip13
    data = dispense_form(
        issued, page, {1: {"pack": cip13, "quantity": "²", "batch": "B", "expiry": "13/2030"}}
    )

    response = post_dispense(client, issued, {**data, "version": "²"})

    page = text(response)
    assert response.status_code == 422
    assert 'id="lines-1-quantity-error"' in page and 'id="lines-1-expiry-error"' in page
    assert count_dispensations(db_session) == 0
