"""The pharmacist at the counter in a real browser: the camera scanner (Chromium's fake camera
playing a video of a real prescription's QR code, decoded by the vendored jsQR), lookup by the
patient's card then dispensing (to the patient, or to a representative with their own card),
and a receipt reopened later then reversed."""

import io
import re
from datetime import date

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from eprescription import qr
from eprescription.db import get_session
from eprescription.domain import prescription_codes as codes
from eprescription.domain.prescriptions import ItemDraft
from eprescription.models import Account, Presentation
from eprescription.services import issuing, patient_representatives, prescription_drafts
from eprescription.services.demo import DEMO_USERS
from eprescription.use_cases import unit_of_work
from tests.e2e.axe import report, violations
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_login_journeys import log_in_with_the_keyboard
from tests.e2e.test_pharmacist_journey import AMLODIPINE, PATIENT, PHARMACIST

PRESCRIBER = next(user for user in DEMO_USERS if user.username == "demo-prescriber")
FRAME = (640, 480)  # even sides: the chroma planes are half size


def issue_for_the_demo_patient(app, pickup_mode: str) -> tuple[str, str]:
    """A fresh amlodipine prescription for the demo patient, signed by the demo prescriber
    (PIN 1234): its QR text and grouped number. Each test has its own, whatever ran before."""
    with app.app_context():
        session = get_session()
        doctor, patient = (
            session.scalar(select(Account).where(Account.username == name))
            for name in ("demo-prescriber", "demo-patient")
        )
        request = prescription_drafts.IssueRequest(
            patient_nir=patient.person.national_id,
            pin="1234",
            items=[ItemDraft(cis=AMLODIPINE, dosage_text="1 gélule le matin", quantity=1)],
            pickup_mode=pickup_mode,
        )
        with unit_of_work(doctor) as uow:
            issued = issuing.issue(uow, request)
        return issued.qr_text, codes.display_number(issued.prescription.number)


def assert_accessible(page) -> None:
    """No serious or critical axe-core violation on what the page shows now."""
    found = violations(page)
    assert not found, f"{page.url}:\n{report(found)}"


def amlodipine_pack(app) -> str:
    """A priced CIP13 of the prescribed amlodipine product."""
    with app.app_context():
        return (
            get_session()
            .scalars(
                select(Presentation.cip13)
                .where(Presentation.cis == AMLODIPINE)
                .where(Presentation.price_cents.is_not(None))
                .order_by(Presentation.cip13)
            )
            .first()
        )


def write_y4m(image: Image.Image, path, frames: int = 15) -> None:
    """A YUV4MPEG2 video of `image` (4:2:0, full range), the format Chromium's fake camera plays."""
    width, height = image.size
    y, cb, cr = image.convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = (
        b"FRAME\n"
        + y.tobytes()
        + cb.resize(half, Image.Resampling.BOX).tobytes()
        + cr.resize(half, Image.Resampling.BOX).tobytes()
    )
    header = f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)


def qr_video(text: str, path) -> None:
    """The QR PNG the patient shows, held up in front of the camera: centred on a grey frame."""
    code = Image.open(io.BytesIO(qr.render_png(text))).convert("RGB")
    side = FRAME[1] - 80
    frame = Image.new("RGB", FRAME, (200, 200, 200))
    frame.paste(code.resize((side, side), Image.Resampling.NEAREST), ((FRAME[0] - side) // 2, 40))
    write_y4m(frame, path)


@pytest.fixture
def camera_page(browser, live_server, live_app, tmp_path):
    """A page of a Chromium launched apart, whose fake camera films the QR code of a prescription
    of the demo patient; yields the page and the prescription's grouped number."""
    qr_text, number = issue_for_the_demo_patient(live_app, "public")
    video = tmp_path / "qr.y4m"
    qr_video(qr_text, video)
    camera_browser = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    context = camera_browser.new_context(base_url=live_server, permissions=["camera"])
    yield context.new_page(), number
    context.close()
    camera_browser.close()


def test_the_camera_reads_the_qr_code_and_opens_the_verified_prescription(camera_page):
    page, number = camera_page
    log_in_with_the_keyboard(page, PHARMACIST.username, PHARMACIST.password)
    page.get_by_role("link", name="Scan a prescription").click()

    page.get_by_role("button", name="Scan with the camera").click()

    expect(page.locator("#prescription-number")).to_have_text(number, timeout=20_000)
    expect(page.get_by_role("heading", name="Signature verified")).to_be_visible()
    expect(page.locator("dl.summary")).to_contain_text(
        f"{PATIENT.given_name} {PATIENT.family_name}"
    )
    expect(page.locator("#line-1")).to_contain_text("AMLODIPINE")


def test_without_a_camera_the_scan_page_says_so_and_still_takes_the_scanner(page):
    log_in_with_the_keyboard(page, PHARMACIST.username, PHARMACIST.password)
    page.get_by_role("link", name="Scan a prescription").click()

    page.get_by_role("button", name="Scan with the camera").click()

    expect(page.locator("#camera-message")).to_have_text(
        re.compile("(permission was refused|No camera was found).*type the number")
    )
    expect(page.locator("#camera-view")).to_be_hidden()
    expect(page.get_by_role("button", name="Scan with the camera")).to_be_visible()
    expect(page.get_by_label(re.compile("^QR code"))).to_be_editable()
    assert_accessible(page)


def test_a_private_prescription_found_by_card_is_dispensed_to_the_patient_in_person(page, live_app):
    _, number = issue_for_the_demo_patient(live_app, "private")
    cip13 = amlodipine_pack(live_app)
    nir = PATIENT.national_ids["FR"]
    log_in_with_the_keyboard(page, PHARMACIST.username, PHARMACIST.password)
    page.get_by_role("link", name="Scan a prescription").click()
    page.get_by_role("link", name="Look up by the patient's card").click()

    card = page.get_by_label(re.compile("^Patient's NIR"))
    expect(card).to_be_focused()
    page.keyboard.type(nir)  # a card reader types it, like a wedge scanner
    page.keyboard.press("Enter")
    expect(page.locator("#withheld")).to_contain_text("not shown: check the patient's identity")
    expect(page.get_by_role("button", name=f"Open {number} to dispense")).to_have_count(0)
    assert nir not in page.url
    assert_accessible(page)

    page.get_by_label(re.compile("I checked the identity of the person at the counter")).check()
    page.get_by_role("button", name="Look up").click()
    page.get_by_role("button", name=f"Open {number} to dispense").click()

    expect(page.locator("#prescription-number")).to_have_text(number)
    expect(page.get_by_role("heading", name="Signature verified")).to_be_visible()
    assert nir not in page.url
    page.get_by_label("Pack given: CIP13, or scan the box's DataMatrix").fill(cip13)
    page.get_by_label("Batch (lot)").fill("LOTCARD1")
    page.get_by_label(re.compile("^Expiry")).fill(f"03/{date.today().year + 2}")
    expect(page.get_by_label("The patient is here and I checked their identity")).to_be_checked()
    page.get_by_role("button", name="Dispense and sign the receipt").click()

    expect(page.get_by_role("heading", name="Dispensing receipt")).to_be_visible()
    expect(page.locator("#receipt-lines")).to_contain_text("LOTCARD1")
    expect(page.locator("#receipt-signature")).to_contain_text("signature verified")
    expect(page.locator("#receipt")).to_contain_text("now completed")


@pytest.fixture
def representative(live_app):
    """The demo patient names the demo prescriber (Claire Martin) their representative for the
    test, and ends it afterwards: the representative's NIR."""
    with live_app.app_context():
        session = get_session()
        patient = session.scalar(select(Account).where(Account.username == PATIENT.username))
        nir = PRESCRIBER.national_ids["FR"]
        with unit_of_work(patient) as uow:
            named = patient_representatives.add_representative(uow, nir=nir, family_name="Martin")
    yield nir
    with live_app.app_context():
        session = get_session()
        patient = session.scalar(select(Account).where(Account.username == PATIENT.username))
        with unit_of_work(patient) as uow:
            patient_representatives.revoke_representative(uow, named.id)


def test_a_representative_with_their_card_collects_an_authorised_prescription(
    page, live_app, representative
):
    _, authorised = issue_for_the_demo_patient(live_app, "authorised")
    _, private = issue_for_the_demo_patient(live_app, "private")
    cip13 = amlodipine_pack(live_app)
    nir = PATIENT.national_ids["FR"]
    log_in_with_the_keyboard(page, PHARMACIST.username, PHARMACIST.password)
    page.get_by_role("link", name="Scan a prescription").click()
    page.get_by_role("link", name="Look up by the patient's card").click()

    page.get_by_label(re.compile("^Patient's NIR")).fill(nir)
    page.get_by_label("A representative of the patient").check()
    page.get_by_label(re.compile("^The representative's NIR")).fill(representative)
    page.get_by_label(re.compile("I checked the identity of the person at the counter")).check()
    page.get_by_role("button", name="Look up").click()

    expect(page.get_by_role("button", name=f"Open {authorised} to dispense")).to_be_visible()
    expect(page.get_by_role("button", name=f"Open {private} to dispense")).to_have_count(0)
    expect(page.locator("#withheld")).to_contain_text("not shown")
    assert nir not in page.url and representative not in page.url
    assert_accessible(page)
    page.get_by_role("button", name=f"Open {authorised} to dispense").click()

    expect(page.locator("#prescription-number")).to_have_text(authorised)
    assert nir not in page.url and representative not in page.url
    expect(page.get_by_label("A representative of the patient")).to_be_checked()
    expect(page.get_by_label(re.compile("^Their national id"))).to_have_value(representative)
    page.get_by_label("Their name (if not the patient)").fill("Claire Martin")
    page.get_by_label("Pack given: CIP13, or scan the box's DataMatrix").fill(cip13)
    page.get_by_label("Batch (lot)").fill("LOTREP1")
    page.get_by_label(re.compile("^Expiry")).fill(f"03/{date.today().year + 2}")
    expect(
        page.get_by_label("I checked the identity of the representative at the counter")
    ).to_be_checked()
    page.get_by_role("button", name="Dispense and sign the receipt").click()

    expect(page.get_by_role("heading", name="Dispensing receipt")).to_be_visible()
    expect(page.locator("#receipt")).to_contain_text(
        f"a representative: Claire Martin ({representative})"
    )
    expect(page.locator("#receipt-signature")).to_contain_text("signature verified")


def test_a_receipt_reopened_from_the_recent_list_is_reversed_with_a_reason(page, live_app):
    qr_text, number = issue_for_the_demo_patient(live_app, "public")
    cip13 = amlodipine_pack(live_app)
    log_in_with_the_keyboard(page, PHARMACIST.username, PHARMACIST.password)
    page.get_by_role("link", name="Scan a prescription").click()
    # The scanner types only once the scan page has loaded and focused its field.
    expect(page.get_by_label(re.compile("^QR code"))).to_be_focused()
    page.keyboard.type(qr_text)
    page.keyboard.press("Enter")
    page.get_by_label("Pack given: CIP13, or scan the box's DataMatrix").fill(cip13)
    page.get_by_label("Batch (lot)").fill("LOTREV1")
    page.get_by_label(re.compile("^Expiry")).fill(f"03/{date.today().year + 2}")
    page.get_by_role("button", name="Dispense and sign the receipt").click()
    expect(page.locator("#receipt")).to_contain_text("now completed")
    receipt_id = page.locator("#receipt dd.code").inner_text()

    # Later: from the scan page to the pharmacy's recent dispensations, newest first.
    page.goto("/pharmacy/scan")
    page.get_by_role("link", name="Recent dispensations").click()
    expect(page.get_by_role("heading", name="Recent dispensations")).to_be_visible()
    first = page.locator("#dispensations tbody tr").first
    expect(first).to_have_id(f"dispensation-{receipt_id}")
    expect(first).to_contain_text(number)
    assert_accessible(page)
    first.get_by_role("link", name=re.compile("^Open")).click()

    expect(page.get_by_role("heading", name="Dispensing receipt")).to_be_visible()
    expect(page.locator("#receipt dd.code")).to_have_text(receipt_id)
    page.get_by_role("button", name="Reverse the dispensation").click()  # no reason yet
    expect(page.get_by_label("Why is it reversed?")).to_be_focused()
    assert_accessible(page)
    page.get_by_label("Why is it reversed?").fill("Wrong strength handed over")
    page.get_by_role("button", name="Reverse the dispensation").click()

    expect(page.get_by_role("heading", name="Reversed")).to_be_visible()
    expect(page.locator("#reversal-reason")).to_have_text("Wrong strength handed over")
    expect(page.locator("#reversal-signature")).to_contain_text("signature verified")
    expect(page.locator("#receipt")).to_contain_text("now active")
    expect(page.get_by_role("button", name="Reverse the dispensation")).to_have_count(0)
    assert_accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the signed reversal").click()
    assert download.value.suggested_filename == f"reversal-{receipt_id}.jws"
    assert download.value.path().read_text().count(".") == 2  # a compact JWS
