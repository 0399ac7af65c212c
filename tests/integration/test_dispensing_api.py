"""The pharmacy API on both engines: real signed prescriptions, the real BDPM, real receipts."""

import base64
import hashlib
import io
import json
import threading
import time
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import jwt
import pytest
import zxingcpp
from cryptography import x509
from PIL import Image
from sqlalchemy import func, select, update
from stdnum import ean, luhn

from eprescription.domain.dispensing import COLLECTOR_UNIDENTIFIED
from eprescription.domain.errors import ValidationFailed
from eprescription.domain.prescription_codes import display_number
from eprescription.models import (
    AuditEvent,
    Dispensation,
    GenericGroupMember,
    IdempotencyKey,
    Prescription,
    PrescriptionItem,
    Presentation,
    Product,
    Role,
)
from eprescription.models.base import utcnow
from eprescription.services import (
    accounts,
    counter_access,
    dispensed_packs,
    dispensing,
    verification,
)
from eprescription.services.accounts import PersonDetails
from eprescription.services.idempotency import request_hash
from eprescription.use_cases import unit_of_work
from tests.integration import test_prescriptions_api as prescribing
from tests.integration.people import PASSWORD, PHARMACY_FINESS, add_account, operator
from tests.integration.signed_rows import signed_with_validity
from tests.integration.test_prescriptions_api import (
    PATIENT_NIR,
    assert_problem,
    bearer,
    issue,
    make_nir,
)

# The prescriber side's fixtures: a prescriber with a signing key, patients, real products.
people = prescribing.people
products = prescribing.products

SCAN = "/api/v1/pharmacy/scan"


def dispensations_url(issued) -> str:
    return f"/api/v1/prescriptions/{issued['id']}/dispensations"


def _pack(session, cis: str) -> Presentation:
    """A listed presentation of `cis` with a catalog price (the first by CIP13)."""
    return session.scalars(
        select(Presentation)
        .where(Presentation.cis == cis)
        .where(Presentation.removed_from_bdpm_at.is_(None))
        .where(Presentation.price_cents.is_not(None))
        .order_by(Presentation.cip13)
    ).first()


@pytest.fixture
def packs(db_session, products):
    """Real priced presentations of the products the prescriber side's fixture prescribes."""
    doliprane = _pack(db_session, products["doliprane"])
    amoxicilline = _pack(db_session, products["amoxicilline"])
    assert doliprane and amoxicilline, "the BDPM should hold these packs"
    return {"doliprane": doliprane, "amoxicilline": amoxicilline}


@pytest.fixture
def generic_group(db_session, catalog):
    """A real generic group (CIS_GENER): a prescribable princeps and a generic, both priced."""
    princeps_rows = db_session.execute(
        select(GenericGroupMember.group_id, GenericGroupMember.cis)
        .join(Product, Product.cis == GenericGroupMember.cis)
        .where(GenericGroupMember.generic_type == 0)
        .where(Product.authorisation_status == "Autorisation active")
        .where(Product.removed_from_bdpm_at.is_(None))
        .order_by(GenericGroupMember.group_id)
    ).all()
    for group_id, princeps in princeps_rows:
        generic = db_session.scalars(
            select(Presentation)
            .join(GenericGroupMember, GenericGroupMember.cis == Presentation.cis)
            .where(GenericGroupMember.group_id == group_id)
            .where(GenericGroupMember.generic_type == 1)
            .where(Presentation.price_cents.is_not(None))
            .where(Presentation.removed_from_bdpm_at.is_(None))
            .order_by(Presentation.cip13)
        ).first()
        pack = _pack(db_session, princeps)
        if generic is not None and pack is not None:
            return {"princeps": princeps, "princeps_pack": pack, "generic_pack": generic}
    pytest.fail("the BDPM should hold a generic group with priced packs")


def princeps_items(group) -> list[dict]:
    """Line 1 substitutable, line 2 the same product not substitutable (MTE)."""
    item = {"cis": group["princeps"], "dosage_text": "selon prescription", "quantity": 1}
    return [item, {**item, "substitutable": False, "non_substitution_reason": "MTE"}]


def add_pharmacist(session, username: str, finess: str | None = None, nir_body: str = ""):
    if finess is None:
        return bearer(session, add_account(session, Role.PHARMACIST))
    with operator(session) as uow:
        accounts.create_pharmacy(uow, finess=finess, name="Pharmacie du Port", address="")
        account = accounts.create_account(
            uow,
            username=username,
            password=PASSWORD,
            role=Role.PHARMACIST,
            person=PersonDetails(make_nir(nir_body), "Inès", "Garnier", date(1988, 2, 2)),
            pharmacy_finess=finess,
        )
    return bearer(session, account)


@pytest.fixture
def pharmacist(db_session, people):
    return add_pharmacist(db_session, "ph.bernard")


@pytest.fixture
def other_pharmacist(db_session, pharmacist):
    return add_pharmacist(
        db_session, "ph.garnier", "75000012" + luhn.calc_check_digit("75000012"), "2880233063123"
    )


def pack_line(line: int, pack: Presentation, quantity: int = 1, **extra) -> dict:
    expiry = (date.today() + timedelta(days=400)).isoformat()
    return {"line": line, "cip13": pack.cip13, "quantity": quantity, "batch": "B1", **extra} | (
        {"expiry": expiry} if "gs1" not in extra else {}
    )


def dispense(client, headers, issued, lines, *, extra_headers=None, **fields):
    body = {"code": issued["qr_text"], "lines": lines, "collected_by": {"kind": "patient"}}
    body.update(fields)
    return client.post(
        dispensations_url(issued), json=body, headers={**headers, **(extra_headers or {})}
    )


def item_quantities(session, issued) -> list[int]:
    return list(
        session.scalars(
            select(PrescriptionItem.dispensed_quantity)
            .join(Prescription)
            .where(Prescription.number == issued["id"])
            .order_by(PrescriptionItem.line)
            .execution_options(populate_existing=True)
        )
    )


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# -- scan ---------------------------------------------------------------------------------------


def test_a_scanned_qr_png_shows_the_lines_left_to_dispense_with_a_verified_signature(
    client, db_session, people, products, pharmacist
):
    issued = issue(client, people, products, renewals=1)
    png = client.get(f"/api/v1/prescriptions/{issued['id']}/qr.png", headers=people["patient"])
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))[0].text

    response = client.post(SCAN, json={"code": decoded + "\r\n"}, headers=pharmacist)

    assert response.status_code == 200, response.get_data(as_text=True)
    view = response.get_json()
    assert response.headers["ETag"] == f'"{view["version"]}"'
    assert view["signature"]["valid"] is True
    assert view["status"] == "active" and view["valid_today"] is True
    first, second = view["items"]
    assert first["prescribed_total"] == 2 and first["remaining_total"] == 2
    assert first["period"] == {"current": 1, "of": 2, "remaining": 1, "opens": None}
    assert first["substitution"]["allowed"] is True
    assert second["substitution"] == {
        "allowed": False,
        "reason": "not substitutable (CIF): give this product",
        "non_substitution_reason": "CIF",
    }
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "scan")).one()
    assert (event.outcome, event.object_id) == ("success", issued["id"])


@pytest.mark.parametrize(
    "code",
    ["hello", "EP1.H24VYEBTSCH", "EP1.H24VYEBTSCH.5DWYQBHMKZWB67NPC6HT", "", "x" * 300],
)
def test_garbage_or_truncated_qr_text_is_refused(client, pharmacist, code):
    response = client.post(SCAN, json={"code": code}, headers=pharmacist)
    assert response.status_code == 422
    assert response.get_json()["code"] in ("invalid_qr_code", "validation_failed")


def test_a_wrong_access_code_gets_exactly_the_answer_of_an_unknown_number(
    client, db_session, people, products, pharmacist
):
    issued = issue(client, people, products)
    other = issue(client, people, products)
    wrong = f"EP1.{issued['id']}.{other['access_code']}"
    unknown_number = other["id"]
    db_session.execute(update(Prescription).where(Prescription.number == other["id"]).values(
        number="0000000000" + "0"))  # fmt: skip
    db_session.commit()

    wrong_code = client.post(SCAN, json={"code": wrong}, headers=pharmacist)
    unknown = client.post(SCAN, json={"code": other["qr_text"]}, headers=pharmacist)

    assert_problem(wrong_code, 404, "prescription_not_found")
    assert wrong_code.get_json() == unknown.get_json()
    assert unknown_number not in wrong_code.get_data(as_text=True)
    outcomes = db_session.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "scan"))
    assert sorted(outcomes) == ["not_found", "wrong_code"]


def test_cancelled_and_expired_prescriptions_are_refused_with_their_codes(
    client, db_session, people, products, pharmacist
):
    cancelled = issue(client, people, products)
    client.post(
        f"/api/v1/prescriptions/{cancelled['id']}/cancel",
        json={"pin": "1234", "reason": "erreur"},
        headers=people["doctor"],
    )
    expired = issue(client, people, products)
    today = date.today()
    signed_with_validity(
        db_session, expired["id"], today - timedelta(days=10), today - timedelta(days=1)
    )

    assert_problem(
        client.post(SCAN, json={"code": cancelled["qr_text"]}, headers=pharmacist),
        409,
        "prescription_cancelled",
    )
    assert_problem(
        client.post(SCAN, json={"code": expired["qr_text"]}, headers=pharmacist),
        409,
        "prescription_expired",
    )
    assert_problem(
        dispense(
            client, pharmacist, expired, [pack_line(1, _pack(db_session, products["doliprane"]))]
        ),
        409,
        "prescription_expired",
    )


def test_a_prescription_whose_signed_payload_was_altered_is_refused_with_the_reason(
    client, db_session, people, products, pharmacist
):
    issued = issue(client, people, products)
    stored = db_session.scalar(select(Prescription).where(Prescription.number == issued["id"]))
    stored.payload = stored.payload.replace(b'"quantity":1', b'"quantity":9')
    db_session.commit()

    problem = assert_problem(
        client.post(SCAN, json={"code": issued["qr_text"]}, headers=pharmacist),
        409,
        "prescription_signature_invalid",
    )
    assert "payload" in problem["detail"]


def test_manual_entry_needs_the_patients_nir_and_the_number_alone_opens_nothing(
    client, people, products, pharmacist
):
    issued = issue(client, people, products)

    alone = client.post(SCAN, json={"number": issued["number"]}, headers=pharmacist)
    wrong_nir = client.post(
        SCAN,
        json={"number": issued["number"], "patient_nir": people["other_patient_nir"]},
        headers=pharmacist,
    )
    right = client.post(
        SCAN, json={"number": issued["number"], "patient_nir": PATIENT_NIR}, headers=pharmacist
    )

    assert alone.status_code == 422
    assert_problem(wrong_nir, 404, "prescription_not_found")
    assert right.status_code == 200 and right.get_json()["id"] == issued["id"]


# -- dispense -----------------------------------------------------------------------------------


def test_dispensing_partially_then_the_rest_completes_the_prescription(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)

    first = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])
    second = dispense(client, pharmacist, issued, [pack_line(2, packs["amoxicilline"], 2)])

    assert first.status_code == 201, first.get_data(as_text=True)
    assert first.get_json()["prescription_status"] == "partially_dispensed"
    assert second.status_code == 201, second.get_data(as_text=True)
    assert second.get_json()["prescription_status"] == "completed"
    assert item_quantities(db_session, issued) == [1, 2]
    assert_problem(
        client.post(SCAN, json={"code": issued["qr_text"]}, headers=pharmacist),
        409,
        "prescription_completed",
    )


def test_renewals_are_dispensed_one_period_at_a_time(client, people, products, packs, pharmacist):
    issued = issue(client, people, products, renewals=2)

    both_periods = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"], 2)])
    period_one = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])
    view = client.post(SCAN, json={"code": issued["qr_text"]}, headers=pharmacist).get_json()

    assert_problem(both_periods, 409, "quantity_exceeds_remaining")
    assert period_one.get_json()["lines"][0]["period"] == 1
    # Period 2 opens 5 days (the line's duration) after the issue: the counter is told when.
    opens = (date.fromisoformat(issued["issued_at"][:10]) + timedelta(days=5)).isoformat()
    assert view["items"][0]["period"] == {"current": 2, "of": 3, "remaining": 1, "opens": opens}


def test_a_quantity_above_what_remains_is_refused_and_nothing_changes(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)

    refused = dispense(
        client,
        pharmacist,
        issued,
        [pack_line(1, packs["doliprane"]), pack_line(2, packs["amoxicilline"], 3)],
    )

    problem = assert_problem(refused, 409, "quantity_exceeds_remaining")
    assert "line 2" in problem["detail"]
    assert item_quantities(db_session, issued) == [0, 0]
    assert count(db_session, Dispensation) == 0
    stored = db_session.scalar(select(Prescription).where(Prescription.number == issued["id"]))
    db_session.refresh(stored)
    assert (stored.status, stored.version) == ("active", 1)


def test_a_substitute_from_the_same_real_generic_group_is_accepted_and_marked(
    client, people, products, generic_group, pharmacist
):
    issued = issue(client, people, products, items=princeps_items(generic_group))

    response = dispense(client, pharmacist, issued, [pack_line(1, generic_group["generic_pack"])])

    assert response.status_code == 201, response.get_data(as_text=True)
    line = response.get_json()["lines"][0]
    assert (line["cip13"], line["substituted"]) == (generic_group["generic_pack"].cip13, True)


def test_a_pack_outside_the_group_or_on_a_non_substitutable_line_is_refused(
    client, db_session, people, products, packs, generic_group, pharmacist
):
    issued = issue(client, people, products, items=princeps_items(generic_group))

    outside = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])
    locked = dispense(client, pharmacist, issued, [pack_line(2, generic_group["generic_pack"])])
    prescribed = dispense(
        client, pharmacist, issued, [pack_line(2, generic_group["princeps_pack"])]
    )

    assert_problem(outside, 422, "substitution_refused")
    problem = assert_problem(locked, 422, "substitution_refused")
    assert "MTE" in json.dumps(problem["errors"])
    assert prescribed.status_code == 201
    assert item_quantities(db_session, issued) == [0, 1]


def test_a_cip13_not_in_the_catalog_and_an_expired_pack_are_refused(
    client, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    missing = "340093000001" + ean.calc_check_digit("340093000001")
    expired_on = (date.today() - timedelta(days=1)).isoformat()

    unknown = dispense(
        client, pharmacist, issued, [{**pack_line(1, packs["doliprane"]), "cip13": missing}]
    )
    expired = dispense(
        client, pharmacist, issued, [pack_line(1, packs["doliprane"]) | {"expiry": expired_on}]
    )

    assert assert_problem(unknown, 422, "validation_failed")["errors"]["lines"]["0"]["cip13"]
    assert_problem(expired, 422, "product_expired")


def test_a_scanned_gs1_datamatrix_gives_the_pack_batch_expiry_and_serial(
    client, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    gs1 = f"]d2010{packs['doliprane'].cip13}17{(date.today().year + 2) % 100:02d}1231" + (
        "10LOT42\x1d21SER0001"
    )

    response = dispense(client, pharmacist, issued, [{"line": 1, "gs1": gs1, "quantity": 1}])

    assert response.status_code == 201, response.get_data(as_text=True)
    line = response.get_json()["lines"][0]
    assert (line["batch"], line["serial"], line["cip13"]) == (
        "LOT42",
        "SER0001",
        packs["doliprane"].cip13,
    )


def test_a_malformed_gs1_string_is_refused(client, people, products, pharmacist):
    issued = issue(client, people, products)
    response = dispense(client, pharmacist, issued, [{"line": 1, "gs1": "0103400", "quantity": 1}])
    problem = assert_problem(response, 422, "validation_failed")
    assert "gs1" in problem["errors"]["lines"]["0"]


def expected_cover(pack: Presentation, quantity: int, ald: bool) -> tuple[int, int, int]:
    """Independent arithmetic in euros with Decimal, back to cents."""
    unit = pack.price_with_fees_cents or pack.price_cents
    total = Decimal(unit) * quantity / 100
    rate = 0 if not pack.reimbursement_rate else (100 if ald else pack.reimbursement_rate)
    covered = (total * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(total * 100), int(covered * 100), int((total - covered) * 100)


def test_prices_reimbursement_and_patient_share_follow_the_real_catalog(
    client, people, products, packs, pharmacist
):
    issued = issue(client, people, products)

    receipt = dispense(
        client,
        pharmacist,
        issued,
        [pack_line(1, packs["doliprane"]), pack_line(2, packs["amoxicilline"], 2)],
    ).get_json()

    paid, ald = receipt["lines"]
    assert (paid["total_cents"], paid["covered_cents"], paid["patient_share_cents"]) == (
        expected_cover(packs["doliprane"], 1, ald=False)
    )
    assert paid["reimbursement_rate"] == packs["doliprane"].reimbursement_rate
    assert (ald["total_cents"], ald["covered_cents"], ald["patient_share_cents"]) == (
        expected_cover(packs["amoxicilline"], 2, ald=True)
    )
    assert ald["reimbursement_rate"] == 100 and ald["patient_share_cents"] == 0
    assert receipt["total_cents"] == paid["total_cents"] + ald["total_cents"]


def test_the_receipt_is_signed_by_the_service_and_verifies_with_pyjwt_too(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    receipt = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])]).get_json()

    stored = db_session.get(Dispensation, receipt["id"])
    with operator(db_session) as uow:
        report = verification.verify_document(uow, receipt["jws"], stored.payload)
    header = jwt.get_unverified_header(receipt["jws"])
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    claims = jwt.PyJWS().decode(receipt["jws"], leaf.public_key(), algorithms=["ES256"])

    assert report.valid, report.checks
    assert "eprescription service" in leaf.subject.rfc4514_string()
    content = json.loads(claims)
    assert content["type"] == "eprescription.dispensation"
    assert content["prescription"]["number"] == issued["id"]
    assert content["pharmacy"]["finess"] == PHARMACY_FINESS


# -- exactly once -------------------------------------------------------------------------------


def test_a_retried_post_with_the_same_idempotency_key_returns_the_first_answer_byte_for_byte(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    key = {"Idempotency-Key": "retry-1"}
    lines = [pack_line(1, packs["doliprane"])]

    first = dispense(client, pharmacist, issued, lines, extra_headers=key)
    again = dispense(client, pharmacist, issued, lines, extra_headers=key)
    other_body = dispense(
        client, pharmacist, issued, [pack_line(2, packs["amoxicilline"])], extra_headers=key
    )

    assert first.status_code == again.status_code == 201
    assert first.data == again.data
    assert count(db_session, Dispensation) == 1
    assert_problem(other_body, 422, "idempotency_key_reused")
    assert item_quantities(db_session, issued) == [1, 0]


def test_an_answerless_claim_of_a_second_ago_is_taken_over_at_once_not_refused_with_409(
    client, db_session, people, products, packs, pharmacist
):
    """A claim commits only with its answer, so a row without one can only be left behind
    (by an earlier release): the retry takes it over at once instead of waiting minutes."""
    issued = issue(client, people, products)
    lines = [pack_line(1, packs["doliprane"])]
    body = {"code": issued["qr_text"], "lines": lines, "collected_by": {"kind": "patient"}}
    with operator(db_session) as uow:
        token_account = accounts.account_for_token(uow, pharmacist["Authorization"][7:])
    db_session.add(
        IdempotencyKey(
            account_id=token_account.id,
            scope=f"POST {dispensations_url(issued)}",
            key="left-behind",
            request_hash=request_hash(json.dumps(body).encode()),
            created_at=utcnow() - timedelta(seconds=1),
        )
    )
    db_session.commit()
    headers = {**pharmacist, "Idempotency-Key": "left-behind"}

    first = client.post(dispensations_url(issued), json=body, headers=headers)
    again = client.post(dispensations_url(issued), json=body, headers=headers)

    assert first.status_code == again.status_code == 201, first.get_json()
    assert first.data == again.data
    assert count(db_session, Dispensation) == 1


def test_a_claim_left_without_an_answer_for_long_is_taken_over(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    lines = [pack_line(1, packs["doliprane"])]
    body = {"code": issued["qr_text"], "lines": lines, "collected_by": {"kind": "patient"}}
    with operator(db_session) as uow:
        token_account = accounts.account_for_token(uow, pharmacist["Authorization"][7:])
    db_session.add(
        IdempotencyKey(
            account_id=token_account.id,
            scope=f"POST {dispensations_url(issued)}",
            key="abandoned",
            request_hash=request_hash(json.dumps(body).encode()),
            created_at=utcnow() - timedelta(minutes=10),
        )
    )
    db_session.commit()
    headers = {**pharmacist, "Idempotency-Key": "abandoned"}

    first = client.post(dispensations_url(issued), json=body, headers=headers)
    again = client.post(dispensations_url(issued), json=body, headers=headers)

    assert first.status_code == again.status_code == 201, first.get_json()
    assert first.data == again.data
    assert count(db_session, Dispensation) == 1


def test_a_refused_call_frees_its_key_so_the_corrected_request_can_use_it(
    client, db_session, people, products, packs, pharmacist
):
    """The claim is part of the dispensation's transaction: a refusal rolls it back (the
    refusal itself is still audited), and the key is free for the corrected body."""
    issued = issue(client, people, products)
    key = {"Idempotency-Key": "corrected-1"}

    refused = dispense(
        client, pharmacist, issued, [pack_line(2, packs["amoxicilline"], 3)], extra_headers=key
    )
    assert_problem(refused, 409, "quantity_exceeds_remaining")
    assert count(db_session, IdempotencyKey) == 0
    outcomes = db_session.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "dispense"))
    assert list(outcomes) == ["quantity_exceeds_remaining"]

    corrected = dispense(
        client, pharmacist, issued, [pack_line(2, packs["amoxicilline"], 2)], extra_headers=key
    )
    again = dispense(
        client, pharmacist, issued, [pack_line(2, packs["amoxicilline"], 2)], extra_headers=key
    )

    assert corrected.status_code == again.status_code == 201, corrected.get_json()
    assert corrected.data == again.data
    assert count(db_session, Dispensation) == 1
    assert item_quantities(db_session, issued) == [0, 2]


def test_a_stale_if_match_is_refused_with_412(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    etag = client.post(SCAN, json={"code": issued["qr_text"]}, headers=pharmacist).headers["ETag"]
    dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])])

    stale = dispense(
        client,
        pharmacist,
        issued,
        [pack_line(2, packs["amoxicilline"])],
        extra_headers={"If-Match": etag},
    )

    assert_problem(stale, 412, "prescription_version_mismatch")
    assert item_quantities(db_session, issued) == [1, 0]


def test_a_private_prescription_is_given_only_to_the_patient_whose_identity_was_checked(
    client, people, products, packs, pharmacist
):
    issued = issue(client, people, products, pickup_mode="private")
    lines = [pack_line(1, packs["doliprane"])]

    other = dispense(
        client, pharmacist, issued, lines, collected_by={"kind": "other", "name": "Voisin"}
    )
    unchecked = dispense(client, pharmacist, issued, lines)
    checked = dispense(client, pharmacist, issued, lines, identity_confirmed=True)

    assert_problem(other, 403, "pickup_refused")
    assert_problem(unchecked, 403, "pickup_refused")
    assert checked.status_code == 201


def test_the_service_itself_refuses_a_collector_nobody_identified_whatever_the_face(
    client, db_session, people, products, packs
):
    """Neither the API schema nor the page is in the way here: the service call alone."""
    account = add_account(db_session, Role.PHARMACIST)
    issued = issue(client, people, products)
    expiry = date.today() + timedelta(days=400)
    lines = [
        dispensed_packs.PackLine(1, 1, cip13=packs["doliprane"].cip13, batch="B1", expiry=expiry)
    ]

    def by_service(collector):
        credentials = counter_access.Credentials(qr_text=issued["qr_text"])
        with unit_of_work(account) as uow:
            dispensing.dispense(
                uow, issued["id"], dispensing.DispenseRequest(credentials, lines, collector)
            )

    for nobody in (dispensing.Collector("other"), dispensing.Collector("representative", " ")):
        with pytest.raises(ValidationFailed) as refused:
            by_service(nobody)
        assert refused.value.errors == {"collected_by": {"national_id": [COLLECTOR_UNIDENTIFIED]}}
    assert item_quantities(db_session, issued) == [0, 0]
    by_service(dispensing.Collector("other", name="Voisin"))
    assert item_quantities(db_session, issued) == [1, 0]


# -- reversal -----------------------------------------------------------------------------------


def test_the_same_pharmacy_reverses_within_24_hours_and_the_quantities_come_back(
    client, db_session, people, products, packs, pharmacist, other_pharmacist
):
    issued = issue(client, people, products)
    receipt = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])]).get_json()
    url = f"/api/v1/dispensations/{receipt['id']}/reversal"

    foreign = client.post(url, json={"reason": "erreur"}, headers=other_pharmacist)
    reversed_ = client.post(url, json={"reason": "erreur de boîte"}, headers=pharmacist)
    twice = client.post(url, json={"reason": "encore"}, headers=pharmacist)

    assert_problem(foreign, 403, "dispensation_of_another_pharmacy")
    assert reversed_.status_code == 200, reversed_.get_data(as_text=True)
    assert reversed_.get_json()["prescription_status"] == "active"
    assert_problem(twice, 409, "reversal_refused")
    assert item_quantities(db_session, issued) == [0, 0]
    actions = db_session.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "reverse"))
    assert sorted(actions) == ["dispensation_of_another_pharmacy", "reversal_refused", "success"]


def test_a_reversal_after_24_hours_is_refused(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    receipt = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])]).get_json()
    stored = db_session.get(Dispensation, receipt["id"])
    stored.dispensed_at = stored.dispensed_at - timedelta(hours=25)
    db_session.commit()

    response = client.post(
        f"/api/v1/dispensations/{receipt['id']}/reversal",
        json={"reason": "trop tard"},
        headers=pharmacist,
    )

    assert_problem(response, 409, "reversal_refused")
    assert item_quantities(db_session, issued) == [1, 0]


def verified_with_pyjwt(token: str) -> dict:
    """The content of a service-signed JWS, checked by PyJWT with the x5c leaf certificate."""
    header = jwt.get_unverified_header(token)
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    assert "eprescription service" in leaf.subject.rfc4514_string()
    return json.loads(jwt.PyJWS().decode(token, leaf.public_key(), algorithms=["ES256"]))


def test_the_reversal_is_a_document_signed_by_the_service_like_the_receipt(
    client, db_session, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    lines = [pack_line(1, packs["doliprane"]), pack_line(2, packs["amoxicilline"])]
    receipt = dispense(client, pharmacist, issued, lines).get_json()
    url = f"/api/v1/dispensations/{receipt['id']}/reversal"

    answer = client.post(url, json={"reason": "  mauvaise   boîte "}, headers=pharmacist)

    assert answer.status_code == 200, answer.get_data(as_text=True)
    reversal = answer.get_json()["reversal"]
    assert reversal["reason"] == "mauvaise boîte"
    assert answer.get_json()["reversed_at"] == reversal["reversed_at"]
    content = verified_with_pyjwt(reversal["jws"])
    assert content == reversal["document"]
    assert content["type"] == "eprescription.dispensation_reversal"
    assert content["issued_at"] == reversal["reversed_at"]
    assert content["reason"] == "mauvaise boîte"
    assert content["prescription"]["number"] == issued["id"]
    assert content["pharmacy"]["finess"] == PHARMACY_FINESS
    assert [(line["line"], line["quantity"]) for line in content["lines"]] == [(1, 1), (2, 1)]
    assert item_quantities(db_session, issued) == [0, 0]
    stored = db_session.get(Dispensation, receipt["id"])
    db_session.refresh(stored)
    assert content["dispensation"]["receipt_sha256"] == hashlib.sha256(stored.payload).hexdigest()
    assert stored.reversal_jws == reversal["jws"]
    forged = stored.reversal_payload.replace(b"mauvaise", b"bonne")
    with operator(db_session) as uow:
        report = verification.verify_document(uow, stored.reversal_jws, stored.reversal_payload)
        # Tampering with the stored reversal is caught against the signature.
        forged_report = verification.verify_document(uow, stored.reversal_jws, forged)
    assert report.valid, report.checks
    assert not forged_report.valid


# -- reopening a dispensation -------------------------------------------------------------------


def test_a_pharmacy_reopens_its_dispensation_and_another_pharmacy_gets_the_unknown_answer(
    client, db_session, people, products, packs, pharmacist, other_pharmacist
):
    issued = issue(client, people, products)
    receipt = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])]).get_json()
    url = f"/api/v1/dispensations/{receipt['id']}"

    own = client.get(url, headers=pharmacist)
    foreign = client.get(url, headers=other_pharmacist)
    unknown = client.get("/api/v1/dispensations/" + "0" * 32, headers=pharmacist)
    patient = client.get(url, headers=people["patient"])

    assert own.status_code == 200, own.get_data(as_text=True)
    assert own.headers["Cache-Control"] == "no-store"
    view = own.get_json()
    assert view["jws"] == receipt["jws"] and view["lines"] == receipt["lines"]
    assert view["reversible"] is True and view["reversal"] is None
    assert view["reversible_until"] > view["issued_at"]
    assert verified_with_pyjwt(view["jws"])["id"] == receipt["id"]
    first, second = (
        assert_problem(foreign, 404, "not_found"),
        assert_problem(unknown, 404, "not_found"),
    )
    assert first["detail"] == second["detail"]
    assert patient.status_code == 403
    events = db_session.execute(
        select(AuditEvent.outcome, AuditEvent.patient_person_id)
        .where(AuditEvent.action == "read")
        .where(AuditEvent.object_type == "dispensation")
        .order_by(AuditEvent.id)
    ).all()
    assert [outcome for outcome, _ in events] == ["success", "other_pharmacy", "not_found"]
    assert events[0][1] is not None and events[1][1] == events[0][1] and events[2][1] is None


def test_a_reopened_reversed_dispensation_shows_the_verified_reversal_and_is_no_longer_reversible(
    client, people, products, packs, pharmacist
):
    issued = issue(client, people, products)
    receipt = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])]).get_json()
    client.post(
        f"/api/v1/dispensations/{receipt['id']}/reversal",
        json={"reason": "erreur"},
        headers=pharmacist,
    )

    view = client.get(f"/api/v1/dispensations/{receipt['id']}", headers=pharmacist).get_json()

    assert view["reversible"] is False
    assert view["reversal"]["reason"] == "erreur"
    assert verified_with_pyjwt(view["reversal"]["jws"])["id"] == receipt["id"]
    assert view["prescription_status"] == "active"


def test_the_pharmacys_dispensations_are_listed_newest_first_a_page_at_a_time(
    client, db_session, people, products, packs, pharmacist, other_pharmacist
):
    issued = issue(client, people, products)
    first = dispense(client, pharmacist, issued, [pack_line(1, packs["doliprane"])]).get_json()
    # Not in the same second (times are kept to the second); moving the stored time instead
    # would make the receipt disagree with its row (docs/signing.md).
    time.sleep(1)
    second = dispense(client, pharmacist, issued, [pack_line(2, packs["amoxicilline"])]).get_json()
    url = "/api/v1/dispensations"

    page1 = client.get(url + "?per_page=1", headers=pharmacist).get_json()
    page2 = client.get(url + "?per_page=1&page=2", headers=pharmacist).get_json()
    whole = client.get(url, headers=pharmacist).get_json()
    theirs = client.get(url, headers=other_pharmacist).get_json()
    bad = client.get(url + "?page=0", headers=pharmacist)

    assert [d["id"] for d in whole["dispensations"]] == [second["id"], first["id"]]
    assert [d["id"] for d in page1["dispensations"]] == [second["id"]] and page1["has_next"]
    assert [d["id"] for d in page2["dispensations"]] == [first["id"]] and not page2["has_next"]
    row = whole["dispensations"][0]
    assert row["prescription_number"] == issued["id"]
    assert row["patient"] == {"given_name": "Camille", "family_name": "Dubois"}
    assert row["total_cents"] == second["total_cents"] and row["reversed_at"] is None
    assert theirs["dispensations"] == []
    assert bad.status_code == 422
    listed = db_session.scalars(
        select(AuditEvent.object_id).where(AuditEvent.action == "list")
    ).all()
    assert sorted(listed) == sorted([second["id"], first["id"]] * 2)


# -- lookup by card -----------------------------------------------------------------------------


def test_the_card_shows_public_prescriptions_and_private_ones_once_identity_is_confirmed(
    client, db_session, people, products, pharmacist
):
    public = issue(client, people, products)
    private = issue(client, people, products, pickup_mode="private")
    holder = client.post(CARD_LOOKUP, json={"nir": PATIENT_NIR}, headers=pharmacist).get_json()
    in_person = client.post(
        CARD_LOOKUP, json={"nir": PATIENT_NIR, "identity_confirmed": True}, headers=pharmacist
    ).get_json()

    assert [p["id"] for p in holder["prescriptions"]] == [public["id"]]
    assert holder["withheld"] == 1
    assert {p["id"] for p in in_person["prescriptions"]} == {public["id"], private["id"]}
    assert all(p["signature"]["valid"] for p in in_person["prescriptions"])
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "lookup_by_card")
    ).all()
    assert len(events) == 3 and all(e.patient_person_id for e in events)


CARD_LOOKUP = "/api/v1/pharmacy/card-lookup"  # the NIR in the body, never in a URL
STRANGER_NIR = make_nir("1850175056123")  # valid, and nobody the patient named


def name_representative(client, people) -> dict:
    """The patient names Léa Roux (the second patient) through their health space."""
    response = client.post(
        "/api/v1/me/representatives",
        json={"nir": people["other_patient_nir"], "family_name": "Roux"},
        headers=people["patient"],
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def three_modes(client, people, products) -> dict:
    """One prescription of the patient per pickup mode."""
    return {
        mode: issue(client, people, products, pickup_mode=mode)["id"]
        for mode in ("public", "private", "authorised")
    }


def looked_up(client, headers, **fields) -> tuple[set, int]:
    response = client.post(CARD_LOOKUP, json={"nir": PATIENT_NIR, **fields}, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    return {p["id"] for p in body["prescriptions"]}, body["withheld"]


def test_by_card_a_checked_representative_sees_authorised_prescriptions_but_never_private_ones(
    client, db_session, people, three_modes, pharmacist
):
    representation = name_representative(client, people)
    lea = people["other_patient_nir"]

    patient = looked_up(client, pharmacist, identity_confirmed=True)
    representative = looked_up(client, pharmacist, identity_confirmed=True, presenter_nir=lea)
    unchecked = looked_up(client, pharmacist, presenter_nir=lea)
    spaced = " ".join([lea[:1], lea[1:3], lea[3:5], lea[5:7], lea[7:10], lea[10:13], lea[13:]])
    as_typed = looked_up(client, pharmacist, identity_confirmed=True, presenter_nir=spaced)

    assert patient == (set(three_modes.values()), 0)
    assert representative == ({three_modes["public"], three_modes["authorised"]}, 1)
    assert as_typed == representative
    assert unchecked == ({three_modes["public"]}, 2)
    presenters = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "lookup_by_card", AuditEvent.object_type == "representative")
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.object_id, e.outcome) for e in presenters] == [
        (str(representation["id"]), "success"),
        (str(representation["id"]), "identity_not_confirmed"),
        (str(representation["id"]), "success"),
    ]
    log = client.get("/api/v1/me/access-log", headers=people["patient"]).get_json()["items"]
    words = [entry["what"] for entry in log]
    authorised = display_number(three_modes["authorised"])
    assert words.count(f"read your card and looked up prescription {authorised}") == 3
    assert "looked up your prescriptions with a representative's card" in words
    assert (
        "tried: looked up your prescriptions with a representative's card "
        "(refused: identity not confirmed)"
    ) in words
    every_value = " ".join(
        str(value)
        for event in db_session.scalars(select(AuditEvent))
        for value in vars(event).values()
    )
    assert lea not in every_value and PATIENT_NIR not in every_value


def test_by_card_a_revoked_representative_or_a_stranger_sees_public_prescriptions_only(
    client, db_session, people, three_modes, pharmacist
):
    representation = name_representative(client, people)
    revoked = client.post(
        f"/api/v1/me/representatives/{representation['id']}/revoke", headers=people["patient"]
    )
    assert revoked.status_code == 200, revoked.get_data(as_text=True)

    former = looked_up(
        client, pharmacist, identity_confirmed=True, presenter_nir=people["other_patient_nir"]
    )
    stranger = looked_up(client, pharmacist, identity_confirmed=True, presenter_nir=STRANGER_NIR)

    assert former == stranger == ({three_modes["public"]}, 2)
    outcomes = db_session.scalars(
        select(AuditEvent.outcome)
        .where(AuditEvent.object_type == "representative")
        .where(AuditEvent.action == "lookup_by_card")
    ).all()
    assert outcomes == ["not_representative", "not_representative"]


@pytest.mark.parametrize("presenter_nir", ["1234", "295067505612300", ""])
def test_an_invalid_presenter_nir_is_refused_with_its_field_and_nothing_is_audited(
    client, db_session, people, three_modes, pharmacist, presenter_nir
):
    before = count(db_session, AuditEvent)

    response = client.post(
        CARD_LOOKUP,
        json={"nir": PATIENT_NIR, "identity_confirmed": True, "presenter_nir": presenter_nir},
        headers=pharmacist,
    )

    problem = assert_problem(
        response, 422, "validation_failed" if not presenter_nir else "invalid_identifier"
    )
    assert list(problem["errors"]) == ["presenter_nir"]
    assert count(db_session, AuditEvent) == before


def test_a_representative_opens_and_collects_an_authorised_prescription_by_number_and_nirs(
    client, db_session, people, products, packs, pharmacist
):
    name_representative(client, people)
    lea = people["other_patient_nir"]
    authorised = issue(client, people, products, pickup_mode="authorised")
    private = issue(client, people, products, pickup_mode="private")

    def manual(issued, **fields):
        return {"number": issued["number"], "patient_nir": PATIENT_NIR, **fields}

    opened = client.post(
        SCAN,
        json=manual(authorised, presenter_nir=lea, identity_confirmed=True),
        headers=pharmacist,
    )
    unchecked = client.post(SCAN, json=manual(authorised, presenter_nir=lea), headers=pharmacist)
    stranger = client.post(
        SCAN,
        json=manual(authorised, presenter_nir=STRANGER_NIR, identity_confirmed=True),
        headers=pharmacist,
    )
    not_private = client.post(
        SCAN, json=manual(private, presenter_nir=lea, identity_confirmed=True), headers=pharmacist
    )
    with_code = client.post(
        SCAN, json={"code": authorised["qr_text"], "presenter_nir": lea}, headers=pharmacist
    )

    assert opened.status_code == 200 and opened.get_json()["id"] == authorised["id"]
    assert_problem(unchecked, 403, "pickup_refused")
    assert_problem(stranger, 403, "pickup_refused")
    assert "patient in person only" in assert_problem(not_private, 403, "pickup_refused")["detail"]
    assert assert_problem(with_code, 422, "validation_failed")["errors"] == {
        "presenter_nir": ["presenter_nir goes with manual entry (number and patient_nir)"]
    }

    lines = [pack_line(1, packs["doliprane"])]
    lea_collects = {"kind": "representative", "national_id": lea, "name": "Léa Roux"}

    def by_number(issued, collected_by, **fields):
        body = {**manual(issued, **fields), "lines": lines, "collected_by": collected_by}
        return client.post(dispensations_url(issued), json=body, headers=pharmacist)

    as_patient = by_number(
        authorised, {"kind": "patient"}, presenter_nir=lea, identity_confirmed=True
    )
    private_refused = by_number(private, lea_collects, presenter_nir=lea, identity_confirmed=True)
    assert item_quantities(db_session, authorised) == [0, 0]
    given = by_number(authorised, lea_collects, presenter_nir=lea, identity_confirmed=True)

    assert_problem(as_patient, 422, "validation_failed")
    assert as_patient.get_json()["errors"] == {
        "collected_by": {
            "national_id": [
                "the person at the counter collects it: their NIR, as read from their card"
            ]
        }
    }
    assert_problem(private_refused, 403, "pickup_refused")
    assert given.status_code == 201, given.get_data(as_text=True)
    assert given.get_json()["collected_by"] == lea_collects
    assert item_quantities(db_session, authorised) == [1, 0]
    assert item_quantities(db_session, private) == [0, 0]


# -- the race -----------------------------------------------------------------------------------

RACERS = 32


def test_32_pharmacies_dispensing_the_whole_prescription_at_once_succeed_exactly_once(
    app, client, db_session, engine_name, people, products, packs, pharmacist
):
    """Each thread is its own request (own app context, own session and connection).

    On SQLite the threads are real too: writers queue on the database lock (busy_timeout), the
    no-op UPDATE that opens each dispensation takes that lock before anything is read.
    """
    issued = issue(client, people, products)
    lines = [pack_line(1, packs["doliprane"]), pack_line(2, packs["amoxicilline"], 2)]
    start = threading.Barrier(RACERS)
    statuses: list[int] = []
    codes: list[str] = []

    def racer():
        with app.test_client() as own:
            start.wait()
            response = dispense(own, pharmacist, issued, lines)
            statuses.append(response.status_code)
            if response.status_code != 201:
                codes.append(response.get_json()["code"])

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201] + [409] * (RACERS - 1), (engine_name, statuses, codes)
    assert set(codes) == {"prescription_completed"}
    assert item_quantities(db_session, issued) == [1, 2]
    assert count(db_session, Dispensation) == 1


def test_32_retries_of_one_idempotency_key_at_once_dispense_once_and_answer_alike(
    app, client, db_session, engine_name, people, products, packs, pharmacist
):
    """The same request sent 32 times at once with one key: the first claim wins, the others
    wait on it (the key's unique index; on SQLite the database lock), then replay its answer."""
    issued = issue(client, people, products)
    lines = [pack_line(1, packs["doliprane"]), pack_line(2, packs["amoxicilline"], 2)]
    key = {"Idempotency-Key": "one-key-32-clicks"}
    start = threading.Barrier(RACERS)
    answers: list[tuple[int, bytes]] = []

    def racer():
        with app.test_client() as own:
            start.wait()
            response = dispense(own, pharmacist, issued, lines, extra_headers=key)
            answers.append((response.status_code, response.data))

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = [status for status, _ in answers]
    assert statuses == [201] * RACERS, (engine_name, statuses, answers[0][1][:300])
    assert len({data for _, data in answers}) == 1
    assert count(db_session, Dispensation) == 1
    assert item_quantities(db_session, issued) == [1, 2]
