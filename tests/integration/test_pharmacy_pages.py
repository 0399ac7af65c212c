"""The pharmacist's web pages through the Flask test client, on both databases: scan (QR text or
number + NIR), lookup by card, what is left to dispense, refusals on the page, dispense once, the
receipt, reopened later, the pharmacy's list, and reversal."""

import html
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from eprescription.models import AuditEvent, Dispensation, Prescription, Role
from eprescription.services import accounts
from eprescription.services.accounts import PersonDetails
from tests.integration import test_dispensing_api as api
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD, add_account, operator
from tests.integration.signed_rows import signed_with_validity
from tests.integration.test_prescriptions_api import PATIENT_NIR, issue, make_nir

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
    until = date.fromisoformat(issued["valid_until"])  # in words, as Babel writes it in English
    assert f"until {until:%B} {until.day}, {until.year} — valid today" in page
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
    today = date.today()
    signed_with_validity(
        db_session, issued["id"], today - timedelta(days=10), today - timedelta(days=1)
    )
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
    euros = lambda cents: f"€{cents // 100}.{cents % 100:02d}"  # noqa: E731  (Babel, English)
    assert f'id="total">{euros(total)}<' in receipt
    assert f'id="covered">{euros(covered)}<' in receipt
    assert f'id="patient-share">{euros(share)}<' in receipt
    assert (
        f"CIP13 {pack.cip13}" in receipt
        and f"LOT7, December 31, {date.today().year + 2}" in receipt
    )
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
    assert f"LOT42, December 31, {date.today().year + 2}" in receipt and "SN SER0001" in receipt
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


# -- the camera scanner -------------------------------------------------------------------------


def test_the_scan_page_offers_the_camera_with_the_vendored_jsqr_and_its_licence(client, pharmacist):
    page = text(client.get(SCAN))

    camera = re.search(r'<section class="camera".*?</section>', page, re.S).group(0)
    assert "hidden" in camera.split(">")[0]  # shown by the script only: nothing dead without JS
    assert 'id="camera-button"' in camera and 'id="camera-message"' in camera
    assert camera in re.search(r'<form[^>]*id="scan-form".*?</form>', page, re.S).group(0)
    assert '<script src="/static/vendor/jsqr/jsQR.js" defer></script>' in page
    assert "http" not in re.sub(r'href="[^"]*"|action="[^"]*"', "", page).split("<main")[1]
    for path, words in (("jsQR.js", b"jsQR"), ("LICENSE", b"Apache License")):
        with client.get(f"/static/vendor/jsqr/{path}") as served:
            assert served.status_code == 200 and words in served.data
    for target in ("/pharmacy/card", "/pharmacy/dispensations"):
        assert f'href="{target}"' in page


# -- lookup by card -----------------------------------------------------------------------------

CARD = "/pharmacy/card"


def test_the_card_lists_public_prescriptions_and_private_ones_once_identity_is_checked(
    client, db_session, people, products, pharmacist
):
    public = issue(client, people, products)
    private = issue(client, people, products, pickup_mode="private")

    form = client.get(CARD)
    holder = client.post(CARD, data={"nir": PATIENT_NIR})
    in_person = client.post(CARD, data={"nir": PATIENT_NIR, "identity_confirmed": "1"})

    assert form.status_code == 200 and 'method="post"' in text(form)
    page = text(holder)
    assert holder.status_code == 200 and holder.headers["Cache-Control"] == "no-store"
    assert public["number"] in page and private["number"] not in page
    assert re.search(r'id="withheld">1 private or authorised prescription not shown', page)
    assert "period 1 of 1" in page
    # Opening one posts the number and the NIR to the scan page: no NIR in any URL.
    assert f'action="{SCAN}"' in page and f'name="patient_nir" value="{PATIENT_NIR}"' in page
    assert not re.search(rf'(href|action)="[^"]*{PATIENT_NIR}', page)
    both = text(in_person)
    assert public["number"] in both and private["number"] in both and "withheld" not in both
    assert both.count('name="identity_confirmed" value="1">') == 2  # carried to the scan
    events = db_session.scalars(
        select(AuditEvent.object_id).where(AuditEvent.action == "lookup_by_card")
    ).all()
    assert sorted(events) == sorted([public["id"], public["id"], private["id"]])


def test_a_bad_or_unknown_nir_on_the_card_page_is_explained_and_shows_nothing(
    client, people, products, pharmacist
):
    issue(client, people, products)

    bad = client.post(CARD, data={"nir": "1234"})
    unknown = client.post(CARD, data={"nir": people["other_patient_nir"]})

    assert bad.status_code == 422
    page = text(bad)
    assert 'id="nir-error"' in page and re.search(r'id="nir"[^>]*aria-invalid="true"', page)
    assert unknown.status_code == 200 and 'id="nothing"' in text(unknown)


def test_a_private_prescription_found_by_card_is_opened_and_dispensed_to_the_checked_patient(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products, pickup_mode="private")
    listed = text(client.post(CARD, data={"nir": PATIENT_NIR, "identity_confirmed": "1"}))
    open_form = re.search(rf'<form[^>]*action="{SCAN}".*?</form>', listed, re.S).group(0)
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', open_form))
    assert fields == {
        "number": issued["id"],
        "patient_nir": PATIENT_NIR,
        "identity_confirmed": "1",
        "csrf_token": fields["csrf_token"],
    }

    opened = client.post(SCAN, data=fields)
    page = text(opened)
    assert opened.status_code == 200, page
    assert "Signature verified" in page
    line = {1: {"pack": packs["doliprane"].cip13, "quantity": "1", "batch": "B", "expiry": EXPIRY}}
    data = dispense_form(issued, page, line)
    del data["code"]
    data.update(number=issued["id"], patient_nir=PATIENT_NIR)

    unchecked = post_dispense(client, issued, data)  # identity box untouched: refused
    dispensed = post_dispense(client, issued, {**data, "identity_confirmed": "1"})

    assert unchecked.status_code == 403 and 'data-code="pickup_refused"' in text(unchecked)
    assert dispensed.status_code == 200, text(dispensed)
    assert "<h1>Dispensing receipt</h1>" in text(dispensed)
    assert api.item_quantities(db_session, issued) == [1, 0]


def test_a_representative_at_the_counter_opens_and_collects_an_authorised_prescription(
    client, db_session, people, products, packs, pharmacist
):
    representation = api.name_representative(client, people)
    lea = people["other_patient_nir"]
    authorised = issue(client, people, products, pickup_mode="authorised")
    private = issue(client, people, products, pickup_mode="private")
    card = {"nir": PATIENT_NIR, "presenter": "representative", "presenter_nir": lea}

    unchecked = text(client.post(CARD, data=card))
    listed = text(client.post(CARD, data={**card, "identity_confirmed": "1"}))

    assert authorised["number"] not in unchecked and "2 private or authorised" in unchecked
    assert authorised["number"] in listed and private["number"] not in listed
    assert re.search(r'id="withheld">1 private or authorised prescription not shown', listed)
    assert re.search(r'id="presenter-representative"[^>]*checked', listed)
    for page in (unchecked, listed):
        assert not re.search(rf'(href|action|src)="[^"]*({PATIENT_NIR}|{lea})', page)
    open_form = re.search(rf'<form[^>]*action="{SCAN}".*?</form>', listed, re.S).group(0)
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', open_form))
    assert fields == {
        "number": authorised["id"],
        "patient_nir": PATIENT_NIR,
        "presenter_nir": lea,
        "identity_confirmed": "1",
        "csrf_token": fields["csrf_token"],
    }

    opened = client.post(SCAN, data=fields)
    page = text(opened)
    assert opened.status_code == 200, page
    assert f'name="presenter_nir" value="{lea}"' in page  # carried to the dispensing form
    assert re.search(r'id="collected_kind-representative"[^>]*checked', page)
    assert f'name="collected_national_id" value="{lea}"' in page
    assert "I checked the identity of the representative at the counter" in page
    line = {1: {"pack": packs["doliprane"].cip13, "quantity": "1", "batch": "B", "expiry": EXPIRY}}
    data = dispense_form(
        authorised, page, line, collected_kind="representative", collected_national_id=lea
    )
    del data["code"]
    data.update(number=authorised["id"], patient_nir=PATIENT_NIR, presenter_nir=lea)

    as_patient = post_dispense(
        client, authorised, {**data, "collected_kind": "patient", "identity_confirmed": "1"}
    )
    unchecked_dispense = post_dispense(client, authorised, data)
    dispensed = post_dispense(client, authorised, {**data, "identity_confirmed": "1"})

    assert as_patient.status_code == 422
    assert re.search(
        r'id="collected_national_id-error">the person at the counter collects it', text(as_patient)
    )
    assert unchecked_dispense.status_code == 403
    assert 'data-code="pickup_refused"' in text(unchecked_dispense)
    receipt = text(dispensed)
    assert dispensed.status_code == 200, receipt
    assert "<h1>Dispensing receipt</h1>" in receipt
    assert f"a representative ({lea})" in receipt
    assert api.item_quantities(db_session, authorised) == [1, 0]
    stored = db_session.scalars(select(Dispensation)).one()
    assert (stored.collected_by_kind, stored.collected_by_national_id) == ("representative", lea)
    # The private one cannot be opened by the representative with the numbers either.
    refused = client.post(SCAN, data={**fields, "number": private["id"]})
    assert refused.status_code == 403 and "patient in person only" in text(refused)
    presenters = db_session.scalars(
        select(AuditEvent.outcome)
        .where(AuditEvent.action == "lookup_by_card", AuditEvent.object_type == "representative")
        .where(AuditEvent.object_id == str(representation["id"]))
        .order_by(AuditEvent.id)
    ).all()
    assert presenters == ["identity_not_confirmed", "success"]


def test_a_bad_representative_nir_on_the_card_page_is_explained_next_to_its_field(
    client, people, products, pharmacist
):
    issue(client, people, products, pickup_mode="authorised")

    response = client.post(
        CARD,
        data={
            "nir": PATIENT_NIR,
            "presenter": "representative",
            "presenter_nir": "12345",
            "identity_confirmed": "1",
        },
    )
    missing = client.post(CARD, data={"nir": PATIENT_NIR, "presenter": "representative"})

    page = text(response)
    assert response.status_code == 422
    assert 'id="presenter_nir-error"' in page and 'id="card-result"' not in page
    field = re.search(r'<input[^>]*id="presenter_nir"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in field and "autofocus" in field and 'value="12345"' in field
    assert missing.status_code == 422 and 'id="presenter_nir-error"' in text(missing)


# -- the pharmacy's dispensations: reopen, list, reverse ------------------------------------------

RECEIPT_ID = re.compile(r'<dd class="code">([0-9a-f]{32})</dd>')


def dispensed(client, issued, packs) -> str:
    """Dispense line 1 through the pages; the receipt's id."""
    page = text(scan(client, issued))
    line = {1: {"pack": packs["doliprane"].cip13, "quantity": "1", "batch": "B", "expiry": EXPIRY}}
    receipt = post_dispense(client, issued, dispense_form(issued, page, line))
    assert receipt.status_code == 200, text(receipt)
    return RECEIPT_ID.search(text(receipt)).group(1)


def other_pharmacy_client(app, db_session):
    finess = "75000012" + api.luhn.calc_check_digit("75000012")
    with operator(db_session) as uow:
        accounts.create_pharmacy(uow, finess=finess, name="Pharmacie du Port", address="")
        accounts.create_account(
            uow,
            username="ph.garnier",
            password=PASSWORD,
            role=Role.PHARMACIST,
            person=PersonDetails(make_nir("2880233063123"), "Inès", "Garnier", date(1988, 2, 2)),
            pharmacy_finess=finess,
        )
    other = app.test_client()
    other.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert other.post("/login", data={"username": "ph.garnier", "password": PASSWORD}).status_code
    return other


def test_a_receipt_is_reopened_later_by_its_pharmacy_only(
    app, client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    receipt_id = dispensed(client, issued, packs)
    url = f"/pharmacy/dispensations/{receipt_id}"

    reopened = client.get(url)
    download = client.get(url + "/receipt.jws")
    no_reversal = client.get(url + "/reversal.jws")
    other = other_pharmacy_client(app, db_session)
    foreign, unknown = other.get(url), other.get("/pharmacy/dispensations/" + "0" * 32)

    page = text(reopened)
    assert reopened.status_code == 200 and reopened.headers["Cache-Control"] == "no-store"
    assert "<h1>Dispensing receipt</h1>" in page and "Dispensed and recorded" not in page
    assert receipt_id in page and "signature verified" in page
    assert 'id="reversal-form"' in page and 'name="reason"' in page
    stored = db_session.get(Dispensation, receipt_id)
    assert download.status_code == 200 and download.mimetype == "application/jose"
    assert download.get_data(as_text=True).strip() == stored.jws
    assert "attachment" in download.headers["Content-Disposition"]
    assert no_reversal.status_code == 404
    assert foreign.status_code == unknown.status_code == 404
    assert text(foreign).replace(receipt_id, "") == text(unknown).replace("0" * 32, "")
    assert "Your pharmacy has no dispensation with this id." in text(foreign)
    assert "DOLIPRANE" not in text(foreign)


def test_the_recent_dispensations_list_newest_first_and_links_to_each_receipt(
    client, db_session, people, products, packs, pharmacist
):
    first = issue(client, people, products)
    second = issue(client, people, products)
    older = dispensed(client, first, packs)
    stored = db_session.get(Dispensation, older)
    stored.dispensed_at -= timedelta(minutes=5)
    db_session.commit()
    newer = dispensed(client, second, packs)

    response = client.get("/pharmacy/dispensations")
    empty = client.get("/pharmacy/dispensations?page=2")
    bad = client.get("/pharmacy/dispensations?page=abc")

    page = text(response)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert page.index(f"/pharmacy/dispensations/{newer}") < page.index(
        f"/pharmacy/dispensations/{older}"
    )
    assert first["number"] in page and "Camille Dubois" in page and "DOLIPRANE" in page
    assert 'rel="next"' not in page and 'rel="prev"' not in page
    assert empty.status_code == 200 and 'rel="prev"' in text(empty)
    assert bad.status_code == 422


def test_a_receipt_is_reversed_from_its_page_with_a_reason_and_then_shows_it_signed(
    app, client, db_session, people, products, packs, pharmacist, tmp_path
):
    issued = issue(client, people, products)
    receipt_id = dispensed(client, issued, packs)
    url = f"/pharmacy/dispensations/{receipt_id}"

    no_reason = client.post(url + "/reversal", data={"reason": "   "})
    done = client.post(url + "/reversal", data={"reason": "boîte abîmée"})
    page = text(client.get(url))
    twice = client.post(url + "/reversal", data={"reason": "encore"})
    signed = client.get(url + "/reversal.jws")

    assert no_reason.status_code == 422 and 'id="reason-error"' in text(no_reason)
    assert done.status_code == 303 and done.headers["Location"].endswith(url)
    assert 'id="reversal-title">Reversed' in page
    assert '<q id="reversal-reason">boîte abîmée</q>' in page
    assert re.search(r'id="reversal-signature">Reversal signed by the service[^<]*verified', page)
    assert "The dispensation is reversed" in page  # the flash after the redirect
    assert 'id="reversal-form"' not in page and "now active" in page
    assert twice.status_code == 409 and 'data-code="reversal_refused"' in text(twice)
    assert "was reversed already" in text(twice)
    stored = db_session.get(Dispensation, receipt_id)
    db_session.refresh(stored)
    assert signed.get_data(as_text=True).strip() == stored.reversal_jws
    downloaded = tmp_path / "reversal.jws"
    downloaded.write_bytes(signed.data)
    checked = app.test_cli_runner().invoke(args=["verify", str(downloaded)])
    assert checked.exit_code == 0 and "The signature is valid." in checked.output, checked.output
    assert api.item_quantities(db_session, issued) == [0, 0]


def test_after_24_hours_the_page_says_it_can_no_longer_be_reversed(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    receipt_id = dispensed(client, issued, packs)
    stored = db_session.get(Dispensation, receipt_id)
    stored.dispensed_at -= timedelta(hours=25)
    db_session.commit()
    url = f"/pharmacy/dispensations/{receipt_id}"

    page = text(client.get(url))
    late = client.post(url + "/reversal", data={"reason": "trop tard"})

    assert 'id="not-reversible"' in page and 'id="reversal-form"' not in page
    assert late.status_code == 409 and "within 24 hours only" in text(late)
    assert api.item_quantities(db_session, issued) == [1, 0]
